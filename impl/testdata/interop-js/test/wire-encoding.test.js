'use strict';
// Checks, against the RSocket spec, the bytes rsocket-js puts on the wire with the
// configuration the interop tests use. No chat server is needed: a raw 127.0.0.1 TCP
// listener captures what the rsocket-js TCP client sends.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { ChatClient, requestMetadata, decodeMetadata, withTimeout, FILE_NAME_MIME } = require('../lib/rsocket');

function u24(n) {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
const ascii = (s) => Buffer.from(s, 'ascii');

// Composite metadata extension: a well-known MIME entry is 1 byte (0x80 | id), then a 24-bit
// length; message/x.rsocket.routing.v0 has id 0x7E. The routing extension: each tag is a
// 1-byte length then UTF-8. A custom MIME entry is 1 byte (length - 1, high bit clear), the
// US-ASCII MIME string, then a 24-bit length.
test('composite metadata: routing entry and chat/file-name custom entry bytes', () => {
  const got = requestMetadata('file.upload', [[FILE_NAME_MIME, 'file_name_1.txt']]);
  const route = Buffer.concat([Buffer.from([11]), ascii('file.upload')]);
  const want = Buffer.concat([
    Buffer.from([0x80 | 0x7e]),
    u24(route.length),
    route,
    Buffer.from(['chat/file-name'.length - 1]),
    ascii('chat/file-name'),
    u24(15),
    ascii('file_name_1.txt'),
  ]);
  assert.equal(got.toString('hex'), want.toString('hex'));

  const entries = decodeMetadata(got);
  assert.deepEqual(
    entries.map((e) => [e.mime, e.content.toString('hex')]),
    [
      ['message/x.rsocket.routing.v0', route.toString('hex')],
      ['chat/file-name', ascii('file_name_1.txt').toString('hex')],
    ],
  );
});

test('composite metadata: route only, UTF-8 route tag', () => {
  const got = requestMetadata('channel.users');
  assert.equal(got.toString('hex'), Buffer.concat([Buffer.from([0xfe]), u24(14), Buffer.from([13]), ascii('channel.users')]).toString('hex'));
  // The length prefix of a tag counts UTF-8 bytes, not characters.
  const utf = requestMetadata('é');
  assert.equal(utf.toString('hex'), 'fe000003' + '02' + 'c3a9');
});

// Captures the first frames the rsocket-js TCP client sends, and checks SETUP and
// REQUEST_RESPONSE header by header (RSocket protocol 1.0, TCP framing: 24-bit length prefix).
test('rsocket-js TCP client SETUP and REQUEST_RESPONSE frames match the spec', async () => {
  let chunks = [];
  let gotBytes;
  const received = new Promise((resolve) => (gotBytes = resolve));
  const socks = [];
  const server = net.createServer((sock) => {
    socks.push(sock);
    sock.on('data', (d) => {
      chunks.push(d);
      gotBytes();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  let client;
  try {
    client = await ChatClient.connect({ transport: 'tcp', tcpPort: port, label: 'capture' });
    const pending = client.requestResponse('login', 'user1', [], 60000).catch(() => {});
    await withTimeout(received, 3000, 'bytes from the client');
    // Read frames until SETUP and the request have arrived (keepalives may interleave).
    const frames = [];
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const buf = Buffer.concat(chunks);
      frames.length = 0;
      let off = 0;
      while (off + 3 <= buf.length) {
        const len = buf.readUIntBE(off, 3);
        if (off + 3 + len > buf.length) break;
        frames.push(buf.subarray(off + 3, off + 3 + len));
        off += 3 + len;
      }
      if (frames.some((f) => f.readUInt16BE(4) >> 10 === 0x04)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    void pending;

    const setup = frames[0];
    const metaMime = 'message/x.rsocket.composite-metadata.v0';
    const dataMime = 'application/json';
    const wantSetup = Buffer.concat([
      u32(0), // stream 0
      u16((0x01 << 10) | 0), // SETUP, no M/R/L flags
      u16(1),
      u16(0), // version 1.0
      u32(500), // keepalive interval
      u32(600000), // max lifetime
      Buffer.from([metaMime.length]),
      ascii(metaMime),
      Buffer.from([dataMime.length]),
      ascii(dataMime),
    ]);
    assert.equal(setup.toString('hex'), wantSetup.toString('hex'));

    const req = frames.find((f) => f.readUInt16BE(4) >> 10 === 0x04);
    assert.ok(req, 'a REQUEST_RESPONSE frame was sent');
    const md = requestMetadata('login');
    const wantReq = Buffer.concat([u32(1), u16((0x04 << 10) | 0x100), u24(md.length), md, ascii('user1')]);
    assert.equal(req.toString('hex'), wantReq.toString('hex'));
  } finally {
    if (client) client.close();
    chunks = [];
    for (const s of socks) s.destroy();
    await new Promise((r) => server.close(r));
  }
});
