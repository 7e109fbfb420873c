'use strict';
// Builds (or takes from CHAT_SERVER_BIN) the Go chat server of this checkout and runs it on
// free 127.0.0.1 ports with a fresh data directory. The process is always killed on stop().

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const live = new Set();

let builtBinary = null;

/** The chat-server binary: $CHAT_SERVER_BIN, or built once per process from ./cmd/chat-server. */
function chatServerBinary() {
  if (process.env.CHAT_SERVER_BIN) return path.resolve(process.env.CHAT_SERVER_BIN);
  if (builtBinary) return builtBinary;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-js-bin-'));
  const bin = path.join(dir, 'chat-server');
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('go', ['build', '-o', bin, './cmd/chat-server'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 8 * 60 * 1000,
  });
  builtBinary = bin;
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts the chat server, with extraArgs after the address and data flags
 * (--auth FILE, for instance); resolves with {tcpPort, wsPort, wsUrl,
 * dataDir, output(), stop()}. Waits until both ports accept TCP
 * connections (at most 20 s).
 */
async function startChatServer(extraArgs = []) {
  const bin = chatServerBinary();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-js-data-'));
  const tcpPort = await freePort();
  let wsPort = await freePort();
  while (wsPort === tcpPort) wsPort = await freePort();
  const args = [
    `--tcp-addr=127.0.0.1:${tcpPort}`,
    `--ws-addr=127.0.0.1:${wsPort}`,
    `--data-dir=${dataDir}`,
    ...extraArgs,
  ];
  // CHAT_INTEROP_CLUSTER=1: the server is a node of a chat cluster, with
  // an embedded NATS server (JetStream in a fresh directory), so that
  // membership, messages and files go through NATS.
  let natsDir = null;
  if (process.env.CHAT_INTEROP_CLUSTER) {
    natsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-js-nats-'));
    args.push('--nats=embedded', '--nats-port=-1', `--nats-store=${natsDir}`);
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let stdout = '';
  child.stdout.on('data', (d) => {
    out += d;
    stdout += d;
  });
  child.stderr.on('data', (d) => (out += d));
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    live.delete(child);
  });

  const stop = async () => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (natsDir) fs.rmSync(natsDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`chat-server exited early (${JSON.stringify(exited)}): ${bin} ${args.join(' ')}\n${out}`);
    }
    if ((await canConnect(tcpPort)) && (await canConnect(wsPort))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`chat-server did not listen on ${tcpPort}/${wsPort} within 20 s\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The server announces its bound addresses on stdout ("tcp ADDR", "ws URL"); prefer the
  // announced WebSocket URL (it carries the path) when it names our port.
  let wsUrl = `ws://127.0.0.1:${wsPort}${process.env.CHAT_WS_PATH || '/'}`;
  const announced = /^ws (\S+)$/m.exec(stdout);
  if (announced && !process.env.CHAT_WS_PATH && announced[1].includes(`:${wsPort}`)) wsUrl = announced[1];
  return {
    tcpPort,
    wsPort,
    wsUrl,
    dataDir,
    output: () => out,
    exited: () => exited,
    stop,
  };
}

// Never leave a server behind, whatever happens to the test process.
function killAll() {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch (_) {
      // gone
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(1);
  });
}

module.exports = { startChatServer, chatServerBinary, REPO_ROOT };
