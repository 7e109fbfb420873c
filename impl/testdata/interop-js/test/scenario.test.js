'use strict';
// The contract's reference scenario, driven by rsocket-js clients over TCP and over WebSocket,
// each against a fresh chat server.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startChatServer, chatServerBinary } = require('../lib/server');
const { ChatClient, decodeMetadata, sleep, FILE_NAME_MIME } = require('../lib/rsocket');

const BIG = 3 * 1024 * 1024 + 7;

/** Deterministic, non-repeating-looking bytes. */
function patterned(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Build the server (unless CHAT_SERVER_BIN is set) before any suite starts its clock: a cold
// `go build` may take minutes, which must not count against a suite's timeout.
before(() => chatServerBinary());

for (const transport of ['tcp', 'ws']) {
  describe(`reference scenario over ${transport}`, { timeout: 120000 }, () => {
    let server;
    let c1;
    let c2;
    let in1;
    let in2;
    const connect = (label) =>
      ChatClient.connect({ transport, tcpPort: server.tcpPort, wsUrl: server.wsUrl, label: `${transport}/${label}` });

    before(async () => {
      server = await startChatServer();
    });

    after(async () => {
      for (const c of [c1, c2]) if (c) c.close();
      if (server) await server.stop();
    });

    it('1. two connections log in as user1 and user2; each gets a UUID session id', async () => {
      c1 = await connect('user1');
      c2 = await connect('user2');
      const r1 = await c1.requestResponse('login', 'user1');
      const r2 = await c2.requestResponse('login', 'user2');
      const id1 = r1.data.toString('utf8');
      const id2 = r2.data.toString('utf8');
      assert.match(id1, UUID_RE);
      assert.match(id2, UUID_RE);
      assert.notEqual(id1, id2);
    });

    it('2-3. both open messages.incoming and join channel1 (empty responses)', async () => {
      in1 = c1.openStream('messages.incoming');
      in2 = c2.openStream('messages.incoming');
      for (const c of [c1, c2]) {
        const r = await c.requestResponse('channel.join', 'channel1');
        assert.equal(r.data == null ? 0 : r.data.length, 0, 'join answers empty data');
        assert.equal(r.metadata, null, 'join answers without metadata (no M flag)');
      }
    });

    it('4. channels lists channel1; channel.users lists both users', async () => {
      assert.deepEqual(await c1.streamStrings('channels'), ['channel1']);
      assert.deepEqual((await c2.streamStrings('channel.users', 'channel1')).sort(), ['user1', 'user2']);
    });

    it('5. a private message from user1 reaches user2 with the sender name and no channel', async () => {
      // For a private message `user` names the recipient on the way in; the recipient sees the
      // sender's logged-in name there.
      const r = await c1.requestResponse('message', { user: 'user2', content: 'private hello', channel: null });
      assert.equal(r.data == null ? 0 : r.data.length, 0);
      const m = await in2.nextJSON();
      assert.equal(m.user, 'user1');
      assert.equal(m.content, 'private hello');
      assert.equal(m.channel ?? null, null);
      assert.deepEqual(Object.keys(m).filter((k) => !['user', 'content', 'channel'].includes(k)), [], 'no other keys');
    });

    it('6. a channel message from user1 reaches user1 and user2', async () => {
      await c1.requestResponse('message', { user: 'impostor', content: 'hello channel', channel: 'channel1' });
      const want = { user: 'user1', content: 'hello channel', channel: 'channel1' };
      assert.deepEqual(await in1.nextJSON(), want);
      assert.deepEqual(await in2.nextJSON(), want);
    });

    it('7. user1 leaves channel1; channel.users lists user2 only', async () => {
      await c1.requestResponse('channel.leave', 'channel1');
      assert.deepEqual(await c1.streamStrings('channel.users', 'channel1'), ['user2']);
      // user1 no longer receives channel1 messages; user2 still does.
      await c2.requestResponse('message', { content: 'after leave', channel: 'channel1' });
      assert.deepEqual(await in2.nextJSON(), { user: 'user2', content: 'after leave', channel: 'channel1' });
      await sleep(300);
      assert.equal(in1.items.length, 0, `user1 got nothing more: ${JSON.stringify(in1.items.map((i) => String(i.data)))}`);
    });

    it('8. both cancel their incoming streams; the connections keep working', async () => {
      in1.cancel();
      in2.cancel();
      assert.deepEqual(await c1.streamStrings('channels'), ['channel1']);
      assert.equal(in1.error, null);
      assert.equal(in2.error, null);
    });

    it('9. statistics: fire-and-forget, then the statistics channel with an ids update', async () => {
      c1.fireAndForget('statistics', { memory_usage: process.memoryUsage().rss });
      const { reader, source } = c1.openChannel('statistics');
      try {
        const t0 = Date.now();
        const s1 = await reader.nextJSON(4000);
        const s2 = await reader.nextJSON(4000);
        const dt = Date.now() - t0;
        for (const s of [s1, s2]) assert.deepEqual(s, { user_count: 2, channel_count: 1 });
        assert.ok(dt >= 500 && dt <= 3500, `two reports took ${dt} ms at a 1 s period`);

        source.push({ data: Buffer.from(JSON.stringify({ ids: ['users'] })), metadata: undefined });
        // Reports already in flight may still carry both counts; within a few periods, the
        // reports must carry user_count only.
        let s;
        const deadline = Date.now() + 5000;
        for (;;) {
          s = await reader.nextJSON(Math.max(100, deadline - Date.now()));
          if (s.channel_count == null || Date.now() > deadline) break;
        }
        assert.equal(source.pending, 0, 'the server requested (REQUEST_N) the update payload');
        assert.equal(s.user_count, 2);
        assert.equal(s.channel_count ?? null, null, `channel_count absent or null: ${JSON.stringify(s)}`);
        assert.deepEqual(Object.keys(s).filter((k) => k !== 'user_count' && k !== 'channel_count'), []);
        const next = await reader.nextJSON(3000);
        assert.equal(next.user_count, 2);
        assert.equal(next.channel_count ?? null, null);
      } finally {
        reader.cancel();
      }
      // The connection keeps working after the cancel.
      assert.deepEqual(await c1.streamStrings('channel.users', 'channel1'), ['user2']);
    });

    it('10. upload file_name_1.txt, list files, download it on the other connection', async () => {
      const name = 'file_name_1.txt';
      const bytes = Buffer.from('Hello, World!\n', 'utf8');
      assert.equal(bytes.length, 14);
      const up = await c1.requestResponse('file.upload', bytes, [[FILE_NAME_MIME, name]]);
      assert.equal(up.data == null ? 0 : up.data.length, 0);
      assert.deepEqual(await c1.streamStrings('files'), [name]);

      const down = await c2.requestResponse('file.download', null, [[FILE_NAME_MIME, name]]);
      assert.equal(Buffer.from(down.data).toString('hex'), bytes.toString('hex'));
      const entries = decodeMetadata(down.metadata);
      const fileEntries = entries.filter((e) => e.mime === FILE_NAME_MIME);
      assert.equal(fileEntries.length, 1, `one chat/file-name entry in ${JSON.stringify(entries)}`);
      assert.equal(fileEntries[0].content.toString('utf8'), name);
    });

    it('a 900,000-byte file (under the 1,000,000-byte fragment size) round-trips', async () => {
      const name = 'near-limit.bin';
      const bytes = patterned(900000);
      await c1.requestResponse('file.upload', bytes, [[FILE_NAME_MIME, name]], 20000);
      const down = await c2.requestResponse('file.download', null, [[FILE_NAME_MIME, name]], 20000);
      assert.equal(down.data.length, bytes.length);
      assert.ok(Buffer.from(down.data).equals(bytes), 'downloaded bytes equal uploaded bytes');
      const fileEntries = decodeMetadata(down.metadata).filter((e) => e.mime === FILE_NAME_MIME);
      assert.deepEqual(fileEntries.map((e) => e.content.toString('utf8')), [name]);
    });

    it('a 3 MiB upload (one unfragmented frame from rsocket-js) is accepted and listed', async () => {
      await c1.requestResponse('file.upload', patterned(BIG), [[FILE_NAME_MIME, 'big.bin']], 20000);
      assert.deepEqual((await c2.streamStrings('files')).sort(), ['big.bin', 'file_name_1.txt', 'near-limit.bin']);
    });

    // rsocket-go fragments the 3 MiB response at 1,000,000 bytes and puts the response's
    // COMPLETE on the first fragment; rsocket-js 0.0.27's ReassemblyDuplexConnection ends
    // reassembly at any fragment carrying C, even with F set, and delivered 999,966 bytes.
    // The guard transport (gen/rsrt/guard) now moves COMPLETE to the last fragment, the
    // layout every reassembler handles, so the whole file must arrive.
    it('a 3 MiB download, fragmented by the server, is reassembled by rsocket-js', async () => {
      const down = await c2.requestResponse('file.download', null, [[FILE_NAME_MIME, 'big.bin']], 20000);
      assert.equal(down.data.length, BIG);
      assert.ok(Buffer.from(down.data).equals(patterned(BIG)), 'downloaded bytes equal uploaded bytes');
    });

    it('a closed connection leaves the user count and the channel', async () => {
      c2.close();
      const deadline = Date.now() + 5000;
      let users;
      do {
        await sleep(100);
        users = await c1.streamStrings('channel.users', 'channel1');
      } while (users.length > 0 && Date.now() < deadline);
      assert.deepEqual(users, []);
      const { reader } = c1.openChannel('statistics');
      try {
        // The first report may race the session's removal; within a few periods it must show 1.
        let s = await reader.nextJSON(4000);
        const until = Date.now() + 4000;
        while (s.user_count !== 1 && Date.now() < until) s = await reader.nextJSON(4000);
        assert.equal(s.user_count, 1, JSON.stringify(s));
        assert.equal(typeof s.channel_count, 'number', JSON.stringify(s));
      } finally {
        reader.cancel();
      }
    });
  });
}
