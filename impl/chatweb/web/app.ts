// The chat page: a plain TypeScript program on the client that rsgen
// generates from schema/chat.yaml (generated/chat-ts), bundled by
// impl/chatweb/bundle and served by chat-server on its WebSocket port.
//
// No framework: the page has a handful of lists and forms, and the DOM
// API keeps the bundle small and the code readable. Every text that comes
// from the server or another user is set with textContent, never parsed
// as HTML.
import { connect, Client, Message, RsgenError } from "../../../generated/chat-ts/chat";
import { simpleAuth } from "@rsgen/rsrt";

/** $ returns the element with the id, typed; the page's HTML has every id this file uses. */
function $<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page element #${id} is missing`);
  return e as T;
}

/** el makes an element with text content and optional class. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls !== undefined) e.className = cls;
  return e;
}

/** button makes a button that runs action, showing its failure in the error element. */
function button(text: string, label: string, action: () => Promise<void>, errorEl: HTMLElement): HTMLButtonElement {
  const b = el("button", text, "secondary");
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.addEventListener("click", () => void run(action, errorEl, b));
  return b;
}

/** describe turns a failure into the text shown to the user: the server's message for its errors. */
function describe(e: unknown): string {
  if (e instanceof RsgenError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** run runs an action, disabling the control meanwhile, and shows its error in errorEl. */
async function run(action: () => Promise<void>, errorEl: HTMLElement, control?: HTMLButtonElement): Promise<void> {
  errorEl.textContent = "";
  if (control) control.disabled = true;
  try {
    await action();
  } catch (e) {
    errorEl.textContent = describe(e);
  } finally {
    if (control) control.disabled = false;
  }
}

/** collect reads a stream that completes (channels, files, channel.users) into an array. */
async function collect(items: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const s of items) out.push(s);
  return out;
}

/** byteLength is the size of what rsocket-js hands the WebSocket. */
function byteLength(d: string | ArrayBufferLike | Blob | ArrayBufferView): number {
  if (typeof d === "string") return new TextEncoder().encode(d).length;
  if (d instanceof Blob) return d.size;
  return d.byteLength;
}

/**
 * Meter counts the bytes handed to the page's WebSocket, so that the
 * upload's progress is what actually left the browser: the bytes queued
 * minus the socket's bufferedAmount. rsocket-js queues all the fragments
 * of a request at once; the browser sends them at the network's pace.
 */
class Meter {
  private socket: WebSocket | undefined;
  private queued = 0;

  /** create is the WebSocket factory given to connect. */
  readonly create = (url: string): WebSocket => {
    const ws = new WebSocket(url);
    const send = ws.send.bind(ws);
    ws.send = (d) => {
      this.queued += byteLength(d);
      send(d);
    };
    this.socket = ws;
    return ws;
  };

  /** sent returns the bytes that left the browser so far. */
  sent(): number {
    return this.queued - (this.socket?.bufferedAmount ?? 0);
  }
}

/** The page's state while logged in. */
interface Session {
  client: Client;
  user: string;
  meter: Meter;
  joined: Set<string>;
  /** selected is the channel whose members are shown. */
  selected: string | undefined;
  /** stop ends the live streams (messages, statistics). */
  stop: AbortController;
}

let session: Session | undefined;

const status = $("status");

function setStatus(text: string): void {
  status.textContent = text;
}

/** wsURL is the WebSocket endpoint of the server that served the page. */
function wsURL(): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

async function login(user: string, password: string): Promise<void> {
  setStatus("Connecting...");
  const meter = new Meter();
  const client = await connect({
    url: wsURL(),
    // The server asks every client for its time right after login.
    handler: { time: async () => new Date().toString() },
    setupEntries: password !== "" ? [simpleAuth(user, password)] : [],
    wsCreator: meter.create,
  });
  try {
    await client.login(user);
  } catch (e) {
    client.close();
    // A refused SETUP closes the connection; rsocket-js reports it as
    // "Closed. Original cause [Error: <the server's reason>]."
    const refused = /Original cause \[\w*Error: (.*)\]\.?$/.exec(describe(e));
    if (refused) throw new Error(`The server refused the connection: ${refused[1]}`);
    throw e;
  }
  const s: Session = { client, user, meter, joined: new Set(), selected: undefined, stop: new AbortController() };
  session = s;
  client.conn.onClose((err) => {
    if (session !== s) return; // logged out on purpose
    loggedOut(err ? `Disconnected: ${describe(err)}` : "Disconnected");
  });
  $("me").textContent = user;
  $("login").hidden = true;
  $("chat").hidden = false;
  setStatus(`Connected to ${location.host} as ${user}`);
  void receive(s);
  void statistics(s);
  void reportMemory(s);
  await Promise.all([refreshChannels(), refreshFiles()]);
}

/** loggedOut returns to the login form, with the reason in the status line. */
function loggedOut(reason: string): void {
  const s = session;
  session = undefined;
  if (s) {
    s.stop.abort();
    s.client.close();
  }
  for (const id of ["messages", "channel-list", "member-list", "file-list"]) $(id).replaceChildren();
  for (const id of ["stat-users", "stat-channels"]) $(id).textContent = "-";
  $("members-title").textContent = "Members";
  $("chat").hidden = true;
  $("login").hidden = false;
  setStatus(reason);
}

/** addMessage appends a line to the conversation and keeps it scrolled to the end. */
function addMessage(tag: string, from: string, content: string, isPrivate: boolean): void {
  const list = $("messages");
  const li = el("li", undefined, isPrivate ? "private" : undefined);
  li.append(el("span", tag, "tag"), el("span", from, "from"), el("span", content, "content"));
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

/** receive shows the messages.incoming stream until the session ends. */
async function receive(s: Session): Promise<void> {
  try {
    for await (const m of s.client.messagesIncoming({ signal: s.stop.signal })) {
      showIncoming(m);
    }
  } catch (e) {
    if (!s.stop.signal.aborted) setStatus(`Message stream ended: ${describe(e)}`);
  }
}

function showIncoming(m: Message): void {
  if (m.channel !== undefined) addMessage(`#${m.channel}`, m.user ?? "?", m.content ?? "", false);
  else addMessage("private", m.user ?? "?", m.content ?? "", true);
}

/** statistics keeps the statistics panel live from the statistics channel. */
async function statistics(s: Session): Promise<void> {
  const ch = s.client.statistics({ signal: s.stop.signal });
  try {
    await ch.send({ ids: ["users", "channels"], period_seconds: 1 });
    let last = "";
    for await (const st of ch) {
      if (st.user_count !== undefined) $("stat-users").textContent = String(st.user_count);
      if (st.channel_count !== undefined) $("stat-channels").textContent = String(st.channel_count);
      // Someone came, left, or made a channel: the lists may have
      // changed. (The channels and channel.users streams complete; the
      // statistics are the live signal the contract offers.)
      const now = `${st.user_count} ${st.channel_count}`;
      if (last !== "" && now !== last) void run(refreshChannels, $("channels-error"));
      last = now;
    }
  } catch (e) {
    if (!s.stop.signal.aborted) setStatus(`Statistics stopped: ${describe(e)}`);
  }
}

/** reportMemory sends the page's JavaScript heap size, where the browser tells it (Chromium does). */
async function reportMemory(s: Session): Promise<void> {
  const mem = (performance as { memory?: { usedJSHeapSize?: number } }).memory;
  if (mem?.usedJSHeapSize === undefined) return;
  try {
    await s.client.sendStatistics({ memory_usage: mem.usedJSHeapSize });
  } catch {
    // Fire-and-forget: nothing to show.
  }
}

function current(): Session {
  if (session === undefined) throw new Error("not logged in");
  return session;
}

async function refreshChannels(): Promise<void> {
  const s = current();
  const names = await collect(s.client.channels());
  const list = $("channel-list");
  const err = $("channels-error");
  list.replaceChildren(
    ...names.map((name) => {
      const li = el("li");
      li.dataset.channel = name;
      const label = el("span", `#${name}`);
      const actions = el("span");
      actions.append(button("Members", `Members of ${name}`, () => showMembers(name), err));
      if (s.joined.has(name)) {
        actions.append(button("Write", `Write to ${name}`, async () => writeTo("channel", name), err));
        actions.append(button("Leave", `Leave ${name}`, () => leave(name), err));
      } else {
        actions.append(button("Join", `Join ${name}`, () => join(name), err));
      }
      li.append(label, actions);
      return li;
    }),
  );
  if (s.selected !== undefined) await showMembers(s.selected);
}

async function showMembers(channel: string): Promise<void> {
  const s = current();
  s.selected = channel;
  const users = await collect(s.client.channelUsers(channel));
  $("members-title").textContent = `Members of #${channel}`;
  $("member-list").replaceChildren(
    ...users.map((u) => {
      const li = el("li");
      li.append(el("span", u));
      if (u !== s.user) li.append(button("Message", `Private message to ${u}`, async () => writeTo("user", u), $("channels-error")));
      return li;
    }),
  );
}

/** writeTo points the send form at a channel or user. */
function writeTo(kind: "channel" | "user", name: string): void {
  $<HTMLSelectElement>("send-kind").value = kind;
  $<HTMLInputElement>("send-to").value = name;
  $<HTMLInputElement>("send-text").focus();
}

async function join(channel: string): Promise<void> {
  const s = current();
  await s.client.channelJoin(channel);
  s.joined.add(channel);
  s.selected = channel;
  writeTo("channel", channel);
  await refreshChannels();
}

async function leave(channel: string): Promise<void> {
  const s = current();
  await s.client.channelLeave(channel);
  s.joined.delete(channel);
  await refreshChannels();
}

async function send(kind: string, to: string, content: string): Promise<void> {
  const s = current();
  if (kind === "channel") {
    await s.client.message({ channel: to, content });
    // The server sends channel messages back to every member, the sender
    // included: it shows up through the incoming stream.
  } else {
    await s.client.message({ user: to, content });
    addMessage(`to ${to}`, s.user, content, true);
  }
}

async function refreshFiles(): Promise<void> {
  const s = current();
  const names = await collect(s.client.files());
  const err = $("upload-status");
  $("file-list").replaceChildren(
    ...names.map((name) => {
      const li = el("li");
      li.dataset.file = name;
      li.append(el("span", name), button("Download", `Download ${name}`, () => download(name), err));
      return li;
    }),
  );
}

/** upload sends the file, with a progress bar of the bytes that left the browser. */
async function upload(file: File): Promise<void> {
  const s = current();
  const bar = $<HTMLProgressElement>("upload-progress");
  const note = $("upload-status");
  bar.value = 0;
  note.textContent = `Reading ${file.name}...`;
  const data = new Uint8Array(await file.arrayBuffer());
  const start = s.meter.sent();
  const tick = setInterval(() => {
    // The request's metadata is a few bytes more than the file: cap at
    // the end until the server answers.
    const sent = s.meter.sent() - start;
    bar.value = data.length === 0 ? 1 : Math.min(sent / data.length, 1);
    note.textContent = `Uploading ${file.name}: ${Math.round(bar.value * 100)}%`;
  }, 100);
  try {
    await s.client.fileUpload(data, file.name);
  } finally {
    clearInterval(tick);
  }
  bar.value = 1;
  note.textContent = `Uploaded ${file.name} (${data.length} bytes)`;
  await refreshFiles();
}

/** download fetches a file and hands it to the browser as a download. */
async function download(name: string): Promise<void> {
  const s = current();
  const note = $("upload-status");
  note.textContent = `Downloading ${name}...`;
  const f = await s.client.fileDownload(name);
  const url = URL.createObjectURL(new Blob([f.data as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const a = el("a");
  a.href = url;
  a.download = f.fileName;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has started the download by now; the URL only has to
  // outlive it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  note.textContent = `Downloaded ${f.fileName} (${f.data.length} bytes)`;
}

// Wiring.

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const user = $<HTMLInputElement>("login-user").value.trim();
  const password = $<HTMLInputElement>("login-password").value;
  void run(async () => {
    try {
      await login(user, password);
    } catch (e) {
      setStatus("Not connected");
      throw e;
    }
  }, $("login-error"), $<HTMLButtonElement>("login-submit"));
});

$("logout").addEventListener("click", () => loggedOut("Logged out"));

$("join").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>("join-name");
  void run(async () => {
    await join(input.value.trim());
    input.value = "";
  }, $("channels-error"), $<HTMLButtonElement>("join-submit"));
});

$("send").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $<HTMLInputElement>("send-text");
  const kind = $<HTMLSelectElement>("send-kind").value;
  const to = $<HTMLInputElement>("send-to").value.trim();
  void run(async () => {
    await send(kind, to, text.value);
    text.value = "";
  }, $("send-error"), $<HTMLButtonElement>("send-submit"));
});

$("upload").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $<HTMLInputElement>("upload-file");
  const file = input.files?.[0];
  if (file === undefined) return;
  void run(() => upload(file), $("upload-status"), $<HTMLButtonElement>("upload-submit"));
});

$("channels-refresh").addEventListener("click", () => void run(refreshChannels, $("channels-error")));
$("files-refresh").addEventListener("click", () => void run(refreshFiles, $("upload-status")));
