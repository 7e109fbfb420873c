// Package e2e holds the end-to-end tests of generated code: a generated
// client against a generated server, over TCP on 127.0.0.1, with the
// runtime gen/rsrt in between; the interceptors, deadlines on the wire,
// cancellation, metadata beyond the schema and open metadata, over TCP and
// WebSocket through gen/rsrt/server; and the generated TypeScript client,
// run by Node.js, against the generated Go server over WebSocket. The
// package has no code of its own.
package e2e
