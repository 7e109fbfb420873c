'use strict';
// Behaviour the tutorial leaves open, as the contract settles it, checked with rsocket-js:
// a client that declares no client routes is never called; bad requests get an RSocket
// APPLICATION_ERROR and the connection keeps working; an unusable SETUP is refused.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startChatServer, chatServerBinary } = require('../lib/server');
const { ChatClient, decodeMetadata, expectRSocketError, sleep, withTimeout, ERROR } = require('../lib/rsocket');
const { encodeCompositeMetadata } = require('rsocket-core');

const CLIENT_ROUTES_MIME = 'application/x.rsgen.client-routes.v0';
const { Single, Flowable } = require('rsocket-flowable');

/** A responder that records every request the server makes and fails it. */
function recordingResponder(calls) {
  const record = (kind) => (payload) => {
    calls.push({
      kind,
      data: payload && payload.data ? Buffer.from(payload.data).toString('utf8') : null,
      metadata: payload && payload.metadata ? Buffer.from(payload.metadata).toString('hex') : null,
    });
  };
  return {
    fireAndForget: (p) => record('fireAndForget')(p),
    requestResponse: (p) => {
      record('requestResponse')(p);
      return Single.error(new Error('this client serves no routes'));
    },
    requestStream: (p) => {
      record('requestStream')(p);
      return Flowable.error(new Error('this client serves no routes'));
    },
    requestChannel: (f) => {
      record('requestChannel')(null);
      return Flowable.error(new Error('this client serves no routes'));
    },
    metadataPush: (p) => {
      record('metadataPush')(p);
      return Single.error(new Error('this client serves no routes'));
    },
  };
}

// Build the server (unless CHAT_SERVER_BIN is set) before any suite starts its clock: a cold
// `go build` may take minutes, which must not count against a suite's timeout.
before(() => chatServerBinary());

for (const transport of ['tcp', 'ws']) {
  describe(`robustness over ${transport}`, { timeout: 90000 }, () => {
    let server;
    const clients = [];
    const connect = async (label, extra = {}) => {
      const c = await ChatClient.connect({
        transport,
        tcpPort: server.tcpPort,
        wsUrl: server.wsUrl,
        label: `${transport}/${label}`,
        ...extra,
      });
      clients.push(c);
      return c;
    };

    before(async () => {
      server = await startChatServer();
    });

    after(async () => {
      for (const c of clients) c.close();
      if (server) await server.stop();
    });

    it('a client that declares no client routes is never called by the server', async () => {
      const calls = [];
      const c = await connect('quiet', { responder: recordingResponder(calls) });
      await c.requestResponse('login', 'quiet');
      const incoming = c.openStream('messages.incoming');
      await c.requestResponse('channel.join', 'quiet-room');
      // Stay connected a while (several keepalive periods) after login.
      await sleep(2500);
      await c.requestResponse('message', { content: 'still here', channel: 'quiet-room' });
      assert.deepEqual(await incoming.nextJSON(), { user: 'quiet', content: 'still here', channel: 'quiet-room' });
      await sleep(500);
      incoming.cancel();
      assert.deepEqual(calls, [], 'the server made no request to the client');
      assert.equal(c.status, 'CONNECTED');
      assert.deepEqual(c.connectionErrors.map(String), []);
    });

    it('a client that declares `request-response time` in its SETUP is called on route time', async () => {
      const calls = [];
      const responder = {
        requestResponse: (p) => {
          const entries = decodeMetadata(p.metadata);
          calls.push({ entries, data: p.data ? Buffer.from(p.data).toString('utf8') : '' });
          return Single.of({ data: Buffer.from('2026-01-02 03:04:05', 'utf8'), metadata: undefined });
        },
      };
      // Our generated clients declare their routes in a SETUP composite-metadata entry
      // (gen/rsrt: application/x.rsgen.client-routes.v0, one "interaction route" per line).
      const setupPayload = {
        data: null,
        metadata: encodeCompositeMetadata([[CLIENT_ROUTES_MIME, Buffer.from('request-response time', 'utf8')]]),
      };
      const c = await connect('timely', { responder, setupPayload });
      await c.requestResponse('login', 'timely');
      const deadline = Date.now() + 5000;
      while (calls.length === 0 && Date.now() < deadline) await sleep(50);
      assert.equal(calls.length, 1, 'the server called the client once');
      const routing = calls[0].entries.find((e) => e.mime === 'message/x.rsocket.routing.v0');
      assert.ok(routing, `a routing entry in ${JSON.stringify(calls[0].entries)}`);
      assert.equal(routing.content.toString('hex'), Buffer.concat([Buffer.from([4]), Buffer.from('time')]).toString('hex'));
      assert.equal(calls[0].data, '');
      // The connection carries on after the call.
      assert.deepEqual(await c.streamStrings('channel.users', 'nobody-joined-this'), []);
      assert.equal(c.status, 'CONNECTED');
    });

    it('a request before login gets APPLICATION_ERROR; login then works', async () => {
      const c = await connect('early');
      const err = await expectRSocketError(c.requestResponse('channel.join', 'early-room'));
      assert.equal(err.code, ERROR.APPLICATION_ERROR, JSON.stringify(err));
      assert.match(err.message, /log.?in/i);
      const r = await c.requestResponse('login', 'early');
      assert.ok(r.data.length > 0);
      await c.requestResponse('channel.join', 'early-room');
    });

    it('bad requests get APPLICATION_ERROR and the connection keeps working', async () => {
      const c = await connect('bad');
      await c.requestResponse('login', 'bad');
      const incoming = c.openStream('messages.incoming');
      await c.requestResponse('channel.join', 'bad-room');

      // Unknown route: APPLICATION_ERROR (or REJECTED, which the contract also allows) naming it.
      const e1 = await expectRSocketError(c.requestResponse('no.such.route', 'x'));
      assert.ok([ERROR.APPLICATION_ERROR, ERROR.REJECTED].includes(e1.code), JSON.stringify(e1));
      assert.match(e1.message, /no\.such\.route/);
      const e1s = await expectRSocketError(c.requestStreamAll('no.such.stream'));
      assert.ok([ERROR.APPLICATION_ERROR, ERROR.REJECTED].includes(e1s.code), JSON.stringify(e1s));
      assert.match(e1s.message, /no\.such\.stream/);

      // Bad JSON to `message`.
      const e2 = await expectRSocketError(c.requestResponse('message', Buffer.from('{"content": "x", ', 'utf8')));
      assert.equal(e2.code, ERROR.APPLICATION_ERROR, JSON.stringify(e2));
      assert.match(e2.message, /JSON/);

      // Private message to a user who is not logged in.
      const e3 = await expectRSocketError(c.requestResponse('message', { user: 'nobody-here', content: 'hi' }));
      assert.equal(e3.code, ERROR.APPLICATION_ERROR, JSON.stringify(e3));
      assert.match(e3.message, /nobody-here/);

      // A message with neither user nor channel.
      const e4 = await expectRSocketError(c.requestResponse('message', { content: 'to whom?' }));
      assert.equal(e4.code, ERROR.APPLICATION_ERROR, JSON.stringify(e4));
      assert.match(e4.message, /user/);
      assert.match(e4.message, /channel/);

      // A message to a channel the sender has not joined / that does not exist.
      const e5 = await expectRSocketError(c.requestResponse('message', { content: 'x', channel: 'no-such-channel' }));
      assert.equal(e5.code, ERROR.APPLICATION_ERROR, JSON.stringify(e5));
      assert.match(e5.message, /no-such-channel/);

      // A message to a channel that exists but that the sender has left.
      await c.requestResponse('channel.join', 'left-room');
      await c.requestResponse('channel.leave', 'left-room');
      const e5b = await expectRSocketError(c.requestResponse('message', { content: 'x', channel: 'left-room' }));
      assert.equal(e5b.code, ERROR.APPLICATION_ERROR, JSON.stringify(e5b));
      assert.match(e5b.message, /left-room/);

      // Download of a file that does not exist.
      const e6 = await expectRSocketError(
        c.requestResponse('file.download', null, [['chat/file-name', 'missing.txt']]),
      );
      assert.equal(e6.code, ERROR.APPLICATION_ERROR, JSON.stringify(e6));
      assert.match(e6.message, /missing\.txt/);

      // Invalid UTF-8 as a channel name.
      const e7 = await expectRSocketError(c.requestResponse('channel.join', Buffer.from([0xff, 0xfe, 0x41])));
      assert.equal(e7.code, ERROR.APPLICATION_ERROR, JSON.stringify(e7));
      assert.match(e7.message, /UTF-8/i);

      // An empty channel name; an upload without the chat/file-name entry.
      const e8 = await expectRSocketError(c.requestResponse('channel.join', ''));
      assert.equal(e8.code, ERROR.APPLICATION_ERROR, JSON.stringify(e8));
      assert.match(e8.message, /empty/);
      const e9 = await expectRSocketError(c.requestResponse('file.upload', Buffer.from('no name')));
      assert.equal(e9.code, ERROR.APPLICATION_ERROR, JSON.stringify(e9));
      assert.match(e9.message, /chat\/file-name/);

      // The connection keeps working: a following request succeeds and delivery still works.
      await c.requestResponse('message', { content: 'after errors', channel: 'bad-room' });
      assert.deepEqual(await incoming.nextJSON(), { user: 'bad', content: 'after errors', channel: 'bad-room' });
      assert.deepEqual(await c.streamStrings('channel.users', 'bad-room'), ['bad']);
      incoming.cancel();
      assert.equal(c.status, 'CONNECTED');
    });

    it('an unknown channel lists no users; the same user name may log in twice', async () => {
      const a = await connect('twin-a');
      const b = await connect('twin-b');
      await a.requestResponse('login', 'twin');
      await b.requestResponse('login', 'twin');
      assert.deepEqual(await a.streamStrings('channel.users', 'never-created'), []);
      const inB = b.openStream('messages.incoming');
      await a.requestResponse('channel.join', 'twins');
      await b.requestResponse('channel.join', 'twins');
      await a.requestResponse('message', { content: 'to both', channel: 'twins' });
      assert.deepEqual(await inB.nextJSON(), { user: 'twin', content: 'to both', channel: 'twins' });
      inB.cancel();
    });

    it('messages are queued until messages.incoming takes them', async () => {
      const sender = await connect('q-sender');
      const receiver = await connect('q-receiver');
      await sender.requestResponse('login', 'q-sender');
      await receiver.requestResponse('login', 'q-receiver');
      await sender.requestResponse('message', { user: 'q-receiver', content: 'first' });
      await sender.requestResponse('message', { user: 'q-receiver', content: 'second' });
      await sleep(200);
      const incoming = receiver.openStream('messages.incoming');
      const got = [await incoming.nextJSON(), await incoming.nextJSON()];
      incoming.cancel();
      assert.deepEqual(
        got.map((m) => [m.user, m.content, m.channel ?? null]),
        [
          ['q-sender', 'first', null],
          ['q-sender', 'second', null],
        ],
      );
    });

    it('a SETUP with a metadata MIME type the server cannot route on is refused, not hung', async () => {
      const c = await connect('badsetup', { metadataMimeType: 'text/plain' });
      // A request on the refused connection fails, with the connection's ERROR frame.
      const req = c.requestResponse('login', 'badsetup', [], 5000).then(
        () => null,
        (e) => e,
      );
      const deadline = Date.now() + 5000;
      while (c.connectionErrors.length === 0 && Date.now() < deadline) await sleep(50);
      const err = c.connectionErrors[0];
      assert.ok(err, `the server answered the SETUP with an error within 5 s (status ${c.status})`);
      assert.ok(err.source, `a connection ERROR frame was received, got: ${err.message}`);
      assert.ok(
        [ERROR.INVALID_SETUP, ERROR.UNSUPPORTED_SETUP].includes(err.source.code),
        `INVALID_SETUP (0x001) or UNSUPPORTED_SETUP (0x002), got ${JSON.stringify(err.source)}`,
      );
      const reqErr = await withTimeout(req, 6000, 'request on a refused connection');
      assert.ok(reqErr instanceof Error, 'the request on the refused connection failed');
    });
  });
}
