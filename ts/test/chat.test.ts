// The generated TypeScript chat client (generated/chat-ts) against a real
// chat server over WebSocket: cases of the rsocket-js interop suite
// (impl/testdata/interop-js/test/scenario.test.js, robustness.test.js)
// rewritten on the typed client instead of raw rsocket-js. make test-ts
// bundles this file with esbuild and runs it with Node's test runner;
// CHAT_SERVER_BIN names the server binary it builds.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import WebSocket from "ws";
import { Client, ClientHandler, connect, Message, RsgenError } from "../../generated/chat-ts/chat";
import { APPLICATION_ERROR } from "../rsrt";
// The interop suite's launcher: free ports, a temporary data directory,
// killed at exit. It builds the server only without CHAT_SERVER_BIN, which
// make test-ts always sets.
import { ChatServer, startChatServer } from "./server";
import type { BrowserCheck } from "./browser-entry";

if (!process.env.CHAT_SERVER_BIN) {
  throw new Error("set CHAT_SERVER_BIN to a chat-server binary (make test-ts does)");
}

// Node.js 20 has no global WebSocket; the browser's is the default.
const wsCreator = (url: string) => new WebSocket(url) as unknown as globalThis.WebSocket;

/** patterned returns n bytes that do not repeat in short cycles, so a misplaced fragment shows. */
function patterned(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

/** collect reads a stream that completes. */
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** next takes one item of an open stream. */
async function next<T>(it: AsyncIterator<T>): Promise<T> {
  const r = await it.next();
  assert.equal(r.done, false, "the stream ended early");
  return r.value as T;
}

/** rejection awaits a call that must fail and returns its RsgenError. */
async function rejection(p: Promise<unknown>): Promise<RsgenError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RsgenError, `want an RsgenError, got ${String(e)}`);
    return e;
  }
  assert.fail("the call succeeded; want an error");
}

describe("the generated chat client over WebSocket", { timeout: 120_000 }, () => {
  let server: ChatServer;
  const clients: Client[] = [];
  const dial = async (handler?: ClientHandler): Promise<Client> => {
    const c = await connect({ url: server.wsUrl, wsCreator, ...(handler ? { handler } : {}) });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startChatServer();
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
  });

  it("replays the reference scenario with typed calls", async () => {
    const c1 = await dial();
    const c2 = await dial();
    assert.match(await c1.login("user1"), /^[0-9a-f-]{36}$/);
    assert.match(await c2.login("user2"), /^[0-9a-f-]{36}$/);
    const in1 = c1.messagesIncoming()[Symbol.asyncIterator]();
    const in2 = c2.messagesIncoming()[Symbol.asyncIterator]();
    await c1.channelJoin("channel1");
    await c2.channelJoin("channel1");
    assert.deepEqual(await collect(c1.channels()), ["channel1"]);
    assert.deepEqual((await collect(c1.channelUsers("channel1"))).sort(), ["user1", "user2"]);

    await c1.message({ user: "user2", content: "private message from user1" });
    // A private message arrives with channel absent (null on the wire reads as absent).
    assert.deepEqual(await next(in2), { user: "user1", content: "private message from user1" } satisfies Message);
    await c1.message({ channel: "channel1", content: "channel message from user1" });
    const want: Message = { user: "user1", content: "channel message from user1", channel: "channel1" };
    assert.deepEqual(await next(in1), want);
    assert.deepEqual(await next(in2), want);

    await c1.channelLeave("channel1");
    assert.deepEqual(await collect(c1.channelUsers("channel1")), ["user2"]);
    await in1.return?.();
    await in2.return?.();

    await c1.sendStatistics({ memory_usage: 12345 });
    const stats = c1.statistics();
    const reports = stats[Symbol.asyncIterator]();
    assert.deepEqual(await next(reports), { user_count: 2, channel_count: 1 });
    await stats.send({ ids: ["users"] });
    // Reports already on their way may still carry both counts; the update shows within a few.
    let r = await next(reports);
    while (r.channel_count !== undefined) r = await next(reports);
    assert.deepEqual(r, { user_count: 2 });
    stats.cancel();
    await assert.rejects(stats.send({ ids: ["channels"] }), RsgenError);
  });

  it("uploads and downloads 3 MiB, fragmented both ways, with the chat/file-name entry", async () => {
    const c1 = await dial();
    const c2 = await dial();
    await c1.login("uploader");
    await c2.login("downloader");
    const data = patterned(3 * 1024 * 1024 + 7);
    await c1.fileUpload(data, "big.bin");
    assert.ok((await collect(c2.files())).includes("big.bin"));
    const got = await c2.fileDownload("big.bin");
    assert.equal(got.fileName, "big.bin");
    assert.equal(got.data.length, data.length);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(data)), "the downloaded bytes differ");
  });

  it("reads a stream with a small prefetch: the client asks for more as it reads", async () => {
    const c = await dial();
    await c.login("reader");
    const names = Array.from({ length: 12 }, (_, i) => `room${String(i).padStart(2, "0")}`);
    for (const n of names) await c.channelJoin(n);
    const got = await collect(c.channels({ prefetch: 2 }));
    assert.deepEqual(
      got.filter((n) => n.startsWith("room")),
      names,
    );
  });

  it("serves the declared time route when the server calls it", async () => {
    let called!: () => void;
    const calledOnce = new Promise<void>((r) => (called = r));
    const c = await dial({
      time: async () => {
        called();
        return "2026-01-02 03:04:05";
      },
    });
    await c.login("timely");
    await calledOnce;
    // The connection carries on after the call.
    assert.deepEqual(await collect(c.channelUsers("nobody-joined-this")), []);
  });

  it("rejects with the server's text and keeps the connection", async () => {
    const c = await dial();
    const e = await rejection(c.channelJoin("early-room"));
    assert.equal(e.code, APPLICATION_ERROR);
    assert.match(e.message, /log.?in/i);
    await c.login("late");
    const e2 = await rejection(c.fileDownload("no-such-file.txt"));
    assert.equal(e2.code, APPLICATION_ERROR);
    assert.match(e2.message, /no-such-file/);
    await c.channelJoin("early-room");
  });

  it("cancels a stream by signal and by leaving the loop", async () => {
    const c = await dial();
    await c.login("canceller");
    const ac = new AbortController();
    const incoming = c.messagesIncoming({ signal: ac.signal });
    const pending = incoming.next();
    ac.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof RsgenError && /cancel/.test(e.message));
    await c.channelJoin("loop-room");
    await c.message({ channel: "loop-room", content: "one" });
    for await (const m of c.messagesIncoming()) {
      assert.equal(m.content, "one");
      break; // sends CANCEL
    }
    // The connection still works after both cancels.
    assert.deepEqual(await collect(c.channelUsers("loop-room")), ["canceller"]);
  });

  it("works as a browser bundle: no global Buffer, the WHATWG WebSocket", async () => {
    const bundle = process.env.BROWSER_BUNDLE;
    assert.ok(bundle, "BROWSER_BUNDLE names the browser bundle of browser-entry.ts (make test-ts sets it)");
    // A child process, since this one has Node's Buffer: the child deletes
    // it before loading the bundle and uses Node's WHATWG WebSocket, as a
    // page would.
    const script = `
      delete globalThis.Buffer;
      require(process.argv[1]);
      globalThis.browserCheck(process.argv[2]).then(
        (r) => console.log(JSON.stringify(r)),
        (e) => { console.error(e); process.exitCode = 1; });`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-websocket", "--no-warnings", "-e", script, bundle, server.wsUrl]);
    const got = JSON.parse(stdout) as BrowserCheck;
    assert.match(got.session, /^[0-9a-f-]{36}$/);
    assert.deepEqual({ ...got, session: "" }, { session: "", fileName: "browser.bin", size: 2_500_000, same: true, timeCalled: true });
  });
});
