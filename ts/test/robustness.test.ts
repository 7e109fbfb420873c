// Cases of the rsocket-js interop suite's robustness tests
// (impl/testdata/interop-js/test/robustness.test.js) rewritten on the
// generated TypeScript client: what the typed API can express of them.
// (Unknown routes, bad JSON and invalid UTF-8 cannot be sent through typed
// calls; the interop suite keeps them on raw rsocket-js.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Client, connect, RsgenError } from "../../generated/chat-ts/chat";
import { APPLICATION_ERROR } from "../rsrt";
import { ChatServer, startChatServer } from "./server";

if (!process.env.CHAT_SERVER_BIN) {
  throw new Error("set CHAT_SERVER_BIN to a chat-server binary (make test-ts does)");
}

const wsCreator = (url: string) => new WebSocket(url) as unknown as globalThis.WebSocket;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** failsWith awaits a call that must fail with APPLICATION_ERROR whose text matches each pattern. */
async function failsWith(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RsgenError, `want an RsgenError, got ${String(e)}`);
    assert.equal(e.code, APPLICATION_ERROR, e.message);
    for (const re of patterns) assert.match(e.message, re);
    return;
  }
  assert.fail("the call succeeded; want APPLICATION_ERROR");
}

describe("robustness through the generated client", { timeout: 120_000 }, () => {
  let server: ChatServer;
  const clients: Client[] = [];
  const dial = async (): Promise<Client> => {
    const c = await connect({ url: server.wsUrl, wsCreator });
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

  it("bad requests get APPLICATION_ERROR and the connection keeps working", async () => {
    const c = await dial();
    await c.login("bad");
    const incoming = c.messagesIncoming();
    await c.channelJoin("bad-room");
    await failsWith(c.message({ user: "nobody-here", content: "hi" }), /nobody-here/);
    await failsWith(c.message({ content: "to whom?" }), /user/, /channel/);
    await failsWith(c.message({ channel: "no-such-channel", content: "x" }), /no-such-channel/);
    await c.channelJoin("left-room");
    await c.channelLeave("left-room");
    await failsWith(c.message({ channel: "left-room", content: "x" }), /left-room/);
    await failsWith(c.fileDownload("missing.txt"), /missing\.txt/);
    await failsWith(c.channelJoin(""), /empty/);
    // The connection keeps working: delivery included.
    await c.message({ channel: "bad-room", content: "after errors" });
    const r = await incoming.next();
    assert.deepEqual(r.value, { user: "bad", content: "after errors", channel: "bad-room" });
    incoming.cancel();
    assert.deepEqual(await collect(c.channelUsers("bad-room")), ["bad"]);
  });

  it("an unknown channel lists no users; the same user name may log in twice", async () => {
    const a = await dial();
    const b = await dial();
    await a.login("twin");
    await b.login("twin");
    assert.deepEqual(await collect(a.channelUsers("never-created")), []);
    const inB = b.messagesIncoming();
    await a.channelJoin("twins");
    await b.channelJoin("twins");
    await a.message({ channel: "twins", content: "to both" });
    assert.deepEqual((await inB.next()).value, { user: "twin", content: "to both", channel: "twins" });
    inB.cancel();
  });

  it("messages are queued until messages.incoming takes them", async () => {
    const sender = await dial();
    const receiver = await dial();
    await sender.login("q-sender");
    await receiver.login("q-receiver");
    await sender.message({ user: "q-receiver", content: "first" });
    await sender.message({ user: "q-receiver", content: "second" });
    // Both are queued once message() resolved; the stream opens after.
    const incoming = receiver.messagesIncoming();
    const got = [(await incoming.next()).value, (await incoming.next()).value];
    incoming.cancel();
    assert.deepEqual(got, [
      { user: "q-sender", content: "first" },
      { user: "q-sender", content: "second" },
    ]);
  });
});
