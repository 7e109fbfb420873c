'use strict';
// Frame-level checks of what the chat server sends, read off a raw TCP socket (frames encoded
// with rsocket-core's serializer, decoded by hand from the spec's layout): the fragmentation
// of a several-MiB response, and the flags of an empty response.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { serializeFrameWithLength, BufferEncoders, FRAME_TYPES, FLAGS } = require('rsocket-core');
const { startChatServer, chatServerBinary } = require('../lib/server');
const { requestMetadata, decodeMetadata, withTimeout, FILE_NAME_MIME } = require('../lib/rsocket');

const FRAGMENT_SIZE = 1000000; // the contract's fragment size
const F = { M: 0x100, F: 0x80, C: 0x40, N: 0x20 };

/** A raw RSocket-over-TCP connection collecting every inbound frame, parsed. */
class RawConn {
  constructor(port) {
    this.frames = [];
    this.waiters = [];
    this.buf = Buffer.alloc(0);
    this.sock = net.connect({ host: '127.0.0.1', port });
    this.sock.on('data', (d) => this._onData(d));
    this.sock.on('error', () => {});
  }

  _onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 3) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 3 + len) break;
      const f = this.buf.subarray(3, 3 + len);
      this.buf = this.buf.subarray(3 + len);
      const typeFlags = f.readUInt16BE(4);
      const frame = { length: len, streamId: f.readUInt32BE(0), type: typeFlags >> 10, flags: typeFlags & 0x3ff };
      if (frame.type === FRAME_TYPES.PAYLOAD) {
        let off = 6;
        frame.metadata = null;
        if (frame.flags & F.M) {
          const ml = f.readUIntBE(off, 3);
          frame.metadata = Buffer.from(f.subarray(off + 3, off + 3 + ml));
          off += 3 + ml;
        }
        frame.data = Buffer.from(f.subarray(off));
      } else if (frame.type === FRAME_TYPES.ERROR) {
        frame.code = f.readUInt32BE(6);
        frame.message = f.subarray(10).toString('utf8');
      }
      this.frames.push(frame);
    }
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  send(frame) {
    this.sock.write(serializeFrameWithLength(frame, BufferEncoders));
  }

  setup() {
    this.send({
      type: FRAME_TYPES.SETUP,
      streamId: 0,
      flags: 0,
      majorVersion: 1,
      minorVersion: 0,
      keepAlive: 500,
      lifetime: 600000,
      metadataMimeType: 'message/x.rsocket.composite-metadata.v0',
      dataMimeType: 'application/json',
      data: null,
      metadata: null,
      resumeToken: null,
    });
  }

  requestResponse(streamId, route, data, extra = []) {
    this.send({
      type: FRAME_TYPES.REQUEST_RESPONSE,
      streamId,
      flags: FLAGS.METADATA,
      metadata: requestMetadata(route, extra),
      data: data == null ? null : Buffer.from(data),
    });
  }

  /** Resolves with the frames of streamId up to and including the one with C (or an ERROR). */
  async response(streamId, ms = 20000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const mine = this.frames.filter((f) => f.streamId === streamId);
      const end = mine.findIndex((f) => f.type === FRAME_TYPES.ERROR || (f.flags & F.C && !(f.flags & F.F)));
      if (end >= 0) return mine.slice(0, end + 1);
      // A fragmented response may carry C on its first fragment: it ends with the fragment
      // without F.
      const lastNoFollows = mine.findIndex((f) => f.type === FRAME_TYPES.PAYLOAD && !(f.flags & F.F));
      if (lastNoFollows >= 0 && mine.slice(0, lastNoFollows + 1).some((f) => f.flags & F.C)) {
        return mine.slice(0, lastNoFollows + 1);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete response on stream ${streamId}: ${JSON.stringify(mine.map(summary))}`);
      await withTimeout(new Promise((r) => this.waiters.push(r)), left, `frames on stream ${streamId}`).catch(() => {});
    }
  }

  close() {
    this.sock.destroy();
  }
}

function summary(f) {
  const names = Object.entries(F)
    .filter(([, bit]) => f.flags & bit)
    .map(([n]) => n)
    .join('|');
  return `type=0x${f.type.toString(16)} flags=${names || '-'} len=${f.length}`;
}

describe('server framing over raw TCP', { timeout: 60000 }, () => {
  let server;
  let conn;

  before(async () => {
    chatServerBinary();
    server = await startChatServer();
    conn = new RawConn(server.tcpPort);
    conn.setup();
    conn.requestResponse(1, 'login', 'raw-user');
    const login = await conn.response(1);
    assert.equal(login.length, 1);
    assert.equal(login[0].type, FRAME_TYPES.PAYLOAD, JSON.stringify(login.map(summary)));
  });

  after(async () => {
    if (conn) conn.close();
    if (server) await server.stop();
  });

  it('an empty response is one PAYLOAD with N|C, no metadata and no data', async () => {
    conn.requestResponse(3, 'channel.join', 'raw-room');
    const frames = await conn.response(3);
    assert.deepEqual(frames.map(summary), ['type=0xa flags=C|N len=6']);
  });

  it('a 3 MiB download arrives in fragments of at most 1,000,000 bytes that reassemble exactly', async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff;
    const name = 'raw-big.bin';
    conn.requestResponse(5, 'file.upload', bytes, [[FILE_NAME_MIME, name]]);
    const up = await conn.response(5);
    assert.deepEqual(up.map(summary), ['type=0xa flags=C|N len=6']);

    conn.requestResponse(7, 'file.download', null, [[FILE_NAME_MIME, name]]);
    const frames = await conn.response(7);
    const shape = frames.map(summary);
    assert.ok(frames.length >= 4, `fragmented: ${JSON.stringify(shape)}`);
    for (const f of frames) {
      assert.equal(f.type, FRAME_TYPES.PAYLOAD, JSON.stringify(shape));
      assert.ok(f.length <= FRAGMENT_SIZE, `fragment of ${f.length} bytes: ${JSON.stringify(shape)}`);
    }
    // F on every fragment but the last; N on every fragment; metadata only in the first;
    // C exactly once, on the last fragment (rsocket-js 0.0.27 stops reassembling at C).
    assert.deepEqual(
      frames.map((f) => Boolean(f.flags & F.F)),
      frames.map((_, i) => i < frames.length - 1),
      JSON.stringify(shape),
    );
    assert.ok(frames.every((f) => f.flags & F.N), JSON.stringify(shape));
    assert.deepEqual(
      frames.map((f) => Boolean(f.flags & F.C)),
      frames.map((_, i) => i === frames.length - 1),
      JSON.stringify(shape),
    );
    const data = Buffer.concat(frames.map((f) => f.data));
    assert.equal(data.length, bytes.length);
    assert.ok(data.equals(bytes), 'reassembled bytes equal the uploaded bytes');
    const metadata = Buffer.concat(frames.filter((f) => f.metadata).map((f) => f.metadata));
    const entries = decodeMetadata(metadata).filter((e) => e.mime === FILE_NAME_MIME);
    assert.deepEqual(entries.map((e) => e.content.toString('utf8')), [name]);
  });
});
