'use strict';
// A thin promise-based layer over rsocket-js 0.0.27 (rsocket-core, rsocket-tcp-client,
// rsocket-websocket-client from npm), configured like the rsocket-py tutorial clients:
// composite metadata with a routing entry, JSON data, keepalive 500 ms, lifetime 10 min.

const {
  RSocketClient,
  BufferEncoders,
  encodeCompositeMetadata,
  decodeCompositeMetadata,
  encodeRoute,
  MESSAGE_RSOCKET_ROUTING,
  MESSAGE_RSOCKET_COMPOSITE_METADATA,
  APPLICATION_JSON,
} = require('rsocket-core');
const { Flowable } = require('rsocket-flowable');
const RSocketTcpClient = require('rsocket-tcp-client').default;
const RSocketWebSocketClient = require('rsocket-websocket-client').default;
const WebSocket = require('ws');

const FILE_NAME_MIME = 'chat/file-name';
const MAX_REQUEST_N = 0x7fffffff;

/** Composite metadata: the routing entry first, then the given [mime, Buffer|string] entries. */
function requestMetadata(route, extra = []) {
  const entries = [[MESSAGE_RSOCKET_ROUTING, encodeRoute(route)]];
  for (const [mime, value] of extra) {
    entries.push([mime, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')]);
  }
  return encodeCompositeMetadata(entries);
}

/** Decodes composite metadata into [{mime, content}] (content: Buffer). */
function decodeMetadata(buf) {
  if (buf == null) return [];
  return [...decodeCompositeMetadata(buf)].map((e) => ({ mime: e.mimeType, content: Buffer.from(e.content) }));
}

function jsonData(obj) {
  return Buffer.from(JSON.stringify(obj), 'utf8');
}

function toData(data) {
  if (data == null) return null;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return jsonData(data);
}

/** Rejects after ms with a descriptive error unless p settles first. */
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A Flowable whose items are pushed by the test and emitted on the peer's demand. */
class PushSource {
  constructor() {
    this.queue = [];
    this.demand = 0;
    this.subscriber = null;
    this.completed = false;
    this.flowable = new Flowable((subscriber) => {
      this.subscriber = subscriber;
      subscriber.onSubscribe({
        request: (n) => {
          this.demand += n;
          this._drain();
        },
        cancel: () => {
          this.cancelled = true;
        },
      });
    });
  }

  push(payload) {
    this.queue.push(payload);
    this._drain();
  }

  /** How many pushed payloads are still waiting for the peer's demand. */
  get pending() {
    return this.queue.length;
  }

  _drain() {
    while (this.subscriber && this.demand > 0 && this.queue.length > 0) {
      this.demand--;
      this.subscriber.onNext(this.queue.shift());
    }
  }
}

/** Collects the items of an endless stream; next() awaits the next one. */
class StreamReader {
  constructor(flowable, label) {
    this.label = label;
    this.items = [];
    this.waiters = [];
    this.error = null;
    this.completed = false;
    this.subscription = null;
    flowable.subscribe({
      onSubscribe: (s) => {
        this.subscription = s;
        s.request(MAX_REQUEST_N);
      },
      onNext: (p) => this._push({ data: p.data, metadata: p.metadata }),
      onError: (e) => {
        this.error = e;
        this._wake();
      },
      onComplete: () => {
        this.completed = true;
        this._wake();
      },
    });
  }

  _push(item) {
    this.items.push(item);
    this._wake();
  }

  _wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the next payload, or rejects on error/completion/timeout. */
  async next(ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.items.length > 0) return this.items.shift();
      if (this.error) throw this.error;
      if (this.completed) throw new Error(`${this.label}: stream completed, no more items`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no item within ${ms} ms`);
      await withTimeout(new Promise((r) => this.waiters.push(r)), left, `${this.label}: next item`).catch(() => {});
    }
  }

  /** Resolves with the next payload's data parsed as JSON. */
  async nextJSON(ms) {
    const p = await this.next(ms);
    return JSON.parse(p.data.toString('utf8'));
  }

  cancel() {
    if (this.subscription) this.subscription.cancel();
  }
}

/**
 * A connected rsocket-js client. transport: 'tcp' | 'ws'.
 * responder: optional rsocket-js Responder for server-to-client requests.
 */
class ChatClient {
  static async connect({ transport, tcpPort, wsUrl, responder, metadataMimeType, setupPayload, label }) {
    const c = new ChatClient();
    c.label = label || transport;
    c.closed = false;
    c.connectionErrors = [];
    let t;
    if (transport === 'tcp') {
      t = new RSocketTcpClient({ host: '127.0.0.1', port: tcpPort }, BufferEncoders);
    } else if (transport === 'ws') {
      t = new RSocketWebSocketClient({ url: wsUrl, wsCreator: (url) => new WebSocket(url) }, BufferEncoders);
    } else {
      throw new Error(`unknown transport ${transport}`);
    }
    c.transport = t;
    c.client = new RSocketClient({
      setup: {
        keepAlive: 500,
        lifetime: 10 * 60 * 1000,
        dataMimeType: APPLICATION_JSON.string,
        metadataMimeType: metadataMimeType || MESSAGE_RSOCKET_COMPOSITE_METADATA.string,
        ...(setupPayload ? { payload: setupPayload } : {}),
      },
      transport: t,
      responder,
      errorHandler: (e) => c.connectionErrors.push(e),
    });
    c.socket = await withTimeout(
      new Promise((resolve, reject) => c.client.connect().subscribe({ onComplete: resolve, onError: reject })),
      5000,
      `${c.label}: connect`,
    );
    c.statuses = [];
    c.socket.connectionStatus().subscribe({
      onSubscribe: (s) => s.request(MAX_REQUEST_N),
      onNext: (st) => c.statuses.push(st),
    });
    return c;
  }

  /** The latest connection status kind: CONNECTED, CLOSED, ERROR, ... */
  get status() {
    const s = this.statuses[this.statuses.length - 1];
    return s ? s.kind : 'UNKNOWN';
  }

  /** request-response; resolves with {data: Buffer|null, metadata: Buffer|null}. */
  requestResponse(route, data, extra = [], ms = 5000) {
    const p = new Promise((resolve, reject) => {
      this.socket
        .requestResponse({ data: toData(data), metadata: requestMetadata(route, extra) })
        .subscribe({ onComplete: (v) => resolve({ data: v.data, metadata: v.metadata }), onError: reject });
    });
    return withTimeout(p, ms, `${this.label}: request-response ${route}`);
  }

  /** request-stream that completes; resolves with the list of payloads. */
  requestStreamAll(route, data, extra = [], ms = 5000) {
    const p = new Promise((resolve, reject) => {
      const items = [];
      this.socket.requestStream({ data: toData(data), metadata: requestMetadata(route, extra) }).subscribe({
        onSubscribe: (s) => s.request(MAX_REQUEST_N),
        onNext: (v) => items.push({ data: v.data, metadata: v.metadata }),
        onError: reject,
        onComplete: () => resolve(items),
      });
    });
    return withTimeout(p, ms, `${this.label}: request-stream ${route}`);
  }

  /** request-stream that completes; resolves with the items' data as UTF-8 strings. */
  async streamStrings(route, data, ms) {
    const items = await this.requestStreamAll(route, data, [], ms);
    return items.map((i) => i.data.toString('utf8'));
  }

  /** An endless request-stream, read item by item. */
  openStream(route, data, extra = []) {
    const f = this.socket.requestStream({ data: toData(data), metadata: requestMetadata(route, extra) });
    return new StreamReader(f, `${this.label}: stream ${route}`);
  }

  fireAndForget(route, data, extra = []) {
    this.socket.fireAndForget({ data: toData(data), metadata: requestMetadata(route, extra) });
  }

  /**
   * request-channel: the first payload carries the route only (no data).
   * Returns {reader, source}; source.push({data}) sends an update.
   */
  openChannel(route) {
    const source = new PushSource();
    source.push({ data: null, metadata: requestMetadata(route) });
    const reader = new StreamReader(this.socket.requestChannel(source.flowable), `${this.label}: channel ${route}`);
    return { reader, source };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    // rsocket-tcp-client 0.0.27 closes by removing every listener of its
    // socket and ending it (a half-close). A reset that comes after that,
    // as when the server shuts down with this client's last frames
    // unread, is then an 'error' event with no listener: an uncaught
    // exception that ends the test process. The test is done with the
    // connection; what becomes of it after its close is not checked.
    const socket = this.transport && this.transport._socket;
    try {
      this.client.close();
    } catch (_) {
      // already closed
    }
    if (socket) socket.on('error', () => {});
  }
}

/** Awaits a rejected request; returns the RSocket error source {code, message}. */
async function expectRSocketError(promise) {
  let value;
  try {
    value = await promise;
  } catch (e) {
    if (!e || !e.source) throw new Error(`expected an RSocket ERROR frame, got: ${e && e.stack}`);
    return e.source;
  }
  throw new Error(`expected an RSocket error, got a response: ${JSON.stringify(value)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  ChatClient,
  StreamReader,
  PushSource,
  requestMetadata,
  decodeMetadata,
  jsonData,
  withTimeout,
  expectRSocketError,
  sleep,
  FILE_NAME_MIME,
  ERROR: { APPLICATION_ERROR: 0x201, REJECTED: 0x202, INVALID_SETUP: 0x001, UNSUPPORTED_SETUP: 0x002 },
};
