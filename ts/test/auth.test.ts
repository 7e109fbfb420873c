// The generated chat client's SETUP credentials (rsrt's simpleAuth and
// bearerAuth, the RSocket authentication extension) against a real chat
// server started with --auth: the Node.js counterpart of the chat page's
// login with a password (impl/chatweb).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { Client, connect, RsgenError } from "../../generated/chat-ts/chat";
import { bearerAuth, Entry, simpleAuth } from "../rsrt";
import { ChatServer, startChatServer } from "./server";

const bin = process.env.CHAT_SERVER_BIN;
if (!bin) {
  throw new Error("set CHAT_SERVER_BIN to a chat-server binary (make test-ts does)");
}

const wsCreator = (url: string) => new WebSocket(url) as unknown as globalThis.WebSocket;

describe("SETUP credentials against chat-server --auth", { timeout: 120_000 }, () => {
  let server: ChatServer;
  let dir: string;
  let token: string;
  const clients: Client[] = [];
  const dial = async (credentials: Entry[]): Promise<Client> => {
    const c = await connect({ url: server.wsUrl, wsCreator, setupEntries: credentials });
    clients.push(c);
    return c;
  };
  /** refusal logs in over a connection whose SETUP the server must refuse, and returns the error. */
  const refusal = async (credentials: Entry[], user: string): Promise<RsgenError> => {
    try {
      const c = await dial(credentials);
      await c.login(user);
    } catch (e) {
      assert.ok(e instanceof RsgenError, `want an RsgenError, got ${String(e)}`);
      return e;
    }
    assert.fail(`logged in as ${user}; want a refused SETUP`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ts-auth-"));
    const users = join(dir, "users");
    execFileSync(bin, ["users", "add", "--auth", users, "alice"], { input: "wonderland\n" });
    token = execFileSync(bin, ["users", "token", "--auth", users, "alice"]).toString().trim();
    server = await startChatServer(["--auth", users]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs in with a user name and password, only as that user", async () => {
    const c = await dial([simpleAuth("alice", "wonderland")]);
    assert.match(await c.login("alice"), /^[0-9a-f-]{36}$/);
    await assert.rejects(c.login("bob"), (e: unknown) => e instanceof RsgenError && /alice/.test(e.message));
  });

  it("logs in with a bearer token", async () => {
    const c = await dial([bearerAuth(token)]);
    assert.match(await c.login("alice"), /^[0-9a-f-]{36}$/);
  });

  it("is refused with a wrong password, an unknown user or no credentials", async () => {
    for (const [credentials, user] of [
      [[simpleAuth("alice", "guess")], "alice"],
      [[simpleAuth("mallory", "wonderland")], "mallory"],
      [[], "alice"],
    ] as const) {
      const e = await refusal([...credentials], user);
      assert.match(e.message, /authentication|credentials/, e.message);
    }
  });
});
