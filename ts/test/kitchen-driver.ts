// The generated TypeScript kitchen client (gen/tsgen/testdata/kitchen.ts)
// driven against the Go kitchen server by gen/e2e's TestTypeScriptClient,
// which bundles this file with esbuild and runs it with Node: argv[2] is
// the server's WebSocket URL. It calls every server route and checks the
// answers, and serves every client route; the Go test calls those through
// its Peer and ends the run with the client.notify "done". Every event is
// printed as a JSON line; a failed check exits with status 1.
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ClientHandler, connect, Item, Point, RsgenError } from "../../gen/tsgen/testdata/kitchen";
import { APPLICATION_ERROR } from "../rsrt";

const log = (event: string, detail?: unknown) => console.log(JSON.stringify({ event, detail }));
const bytes = (...b: number[]) => Uint8Array.from(b);
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

let finish!: () => void;
const done = new Promise<void>((r) => (finish = r));

// The client routes, answering as gen/e2e's Go client does.
const handler: ClientHandler = {
  time: async () => "12:00",
  clientMeta: async (req, tag) => ({ data: req, traceID: tag ?? "" }),
  clientNotify: (req) => {
    log("notify", req.text);
    if (req.text === "done") finish();
  },
  clientPoints: async function* (req) {
    for (let i = 0; i <= req.x; i++) yield { x: i, y: -i };
  },
  clientChat: async function* (items) {
    for await (const v of items) yield "re: " + v;
  },
  clientExchange: async function* (items) {
    for await (const v of items) yield Uint8Array.from(v, (b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b));
  },
  clientPush: (traceID) => log("push", traceID),
  echo: async (req) => ({ text: "client " + req.text }),
};

async function main(url: string): Promise<void> {
  const c = await connect({ url, handler, wsCreator: (u) => new WebSocket(u) as unknown as globalThis.WebSocket });
  // A closed connection ends the wait for "done" with a failure.
  let closed: Error | undefined;
  c.conn.onClose((e) => {
    closed = e ?? new Error("connection closed");
    finish();
  });
  try {
    assert.equal(await c.rrString("héllo"), "héllo");
    assert.deepEqual(await c.rrBytes(bytes(0, 1, 255)), bytes(0, 1, 255));
    assert.equal(await c.rrEmpty(), undefined);
    const item: Item = {
      name: "n",
      count: 2,
      weight: 1.5,
      active: true,
      tags: ["a", "b"],
      origin: { x: 1, y: 2 },
      path: [{ x: 0, y: 0 }],
      parent: { name: "p", count: 0, weight: 0, active: false, tags: ["c"], origin: { x: 0, y: 0 }, path: [], note: "parent" },
      matrix: [[1.5, 2], [3]],
    };
    assert.deepEqual(await c.rrObject(item), item);
    assert.deepEqual(await c.rrMeta("req", "trace", "tag", bytes(7), undefined), {
      data: new TextEncoder().encode("req|\u0007"),
      traceID: "trace",
      tag: "tag",
      checksum: undefined,
    });
    assert.deepEqual(await c.rrMetaOnly("t1"), { tag: "tag of t1" });
    await c.fnfObject(item);
    await c.fnfEmpty();
    await c.fnfMeta(bytes(0x68, 0x69), "tr", undefined);

    const points: Point[] = await collect(c.streamPoints({ x: 3, y: 3 }));
    assert.deepEqual(points, [0, 1, 2, 3].map((i) => ({ x: i, y: i })));
    assert.deepEqual(await collect(c.streamStrings("a b  c")), ["a", "b", "c"]);
    // An endless stream, read with a small prefetch, then cancelled.
    let n = 0;
    for await (const v of c.streamEmpty({ prefetch: 3 })) {
      assert.equal(v, undefined);
      if (++n === 10) break;
    }
    assert.deepEqual(await collect(c.streamMeta(bytes(9))), [
      { data: bytes(9), traceID: "t0", tag: undefined },
      { data: bytes(9), traceID: "t1", tag: "odd1" },
      { data: bytes(9), traceID: "t2", tag: undefined },
    ]);

    const echo = c.channelEcho();
    await echo.send({ text: "a" });
    await echo.send({ text: "b" });
    echo.complete();
    assert.deepEqual(await collect(echo), [{ text: "a" }, { text: "b" }]);
    const strings = c.channelStrings("x");
    await strings.send("y");
    strings.complete();
    assert.deepEqual(await collect(strings), ["X", "Y"]);
    const meta = c.channelMeta({ data: bytes(1, 2, 3), tag: "ab" });
    await meta.send({ data: bytes(9) });
    meta.complete();
    assert.deepEqual(await collect(meta), [
      { data: { x: 3, y: 2 }, checksum: bytes(1, 2, 3) },
      { data: { x: 1, y: 0 }, checksum: bytes(9) },
    ]);
    // Open metadata: once, in the REQUEST_CHANNEL frame.
    const traced = c.channelTraced("trace-1", "blue", { data: "a", checksum: bytes(1, 2) });
    await traced.send({ data: "b" });
    traced.complete();
    assert.deepEqual(await collect(traced), ["trace-1 blue a 2", "trace-1 blue b 0"]);
    const tracedEmpty = c.channelTracedEmpty("trace-2");
    await tracedEmpty.send("x");
    tracedEmpty.complete();
    assert.deepEqual(await collect(tracedEmpty), ["trace-2 x"]);

    await c.pushMeta("tr", "tg");
    await c.pushBare();
    assert.deepEqual(await c.echo({ text: "hi" }), { text: "hi" });
    const err = await c.echo({ text: "fail" }).then(
      () => assert.fail("echo fail succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RsgenError);
    assert.equal(err.code, APPLICATION_ERROR);
    assert.equal(err.message, 'echo refuses "fail"');
    await c.echoAndForget({ text: "ff" });
    log("calls ok");
    await done;
    if (closed) throw closed;
  } finally {
    c.close();
  }
}

main(process.argv[2]).then(
  () => log("exit"),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
