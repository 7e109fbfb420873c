'use strict';
// The interop suite's chat-server launcher (types in server.d.ts).
module.exports = require('../../impl/testdata/interop-js/lib/server.js');
