// The generated chat client as a browser bundle would use it. make test-ts
// bundles this file with esbuild for the browser platform; chat.test.ts
// runs the bundle in a Node.js process made browser-like (no global Buffer,
// the WHATWG WebSocket) to check that the browser build works: the buffer
// polyfill is installed before @rsocket/core needs it, and nothing pulls in
// a Node.js module.
import { connect } from "../../generated/chat-ts/chat";

/** The result of browserCheck, printed as JSON by the child process. */
export interface BrowserCheck {
  session: string;
  fileName: string;
  size: number;
  same: boolean;
  timeCalled: boolean;
}

async function browserCheck(url: string): Promise<BrowserCheck> {
  let timeCalled = false;
  const c = await connect({
    url,
    handler: {
      time: async () => {
        timeCalled = true;
        return new Date().toISOString();
      },
    },
  });
  try {
    const session = await c.login("browser");
    // Over the 1,000,000-byte fragment size, so it is fragmented both ways.
    const data = new Uint8Array(2_500_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    await c.fileUpload(data, "browser.bin");
    const got = await c.fileDownload("browser.bin");
    const same = got.data.length === data.length && got.data.every((b, i) => b === data[i]);
    // The server calls time right after login; a round trip after it
    // makes sure the call has been answered.
    for await (const _ of c.channels()) break;
    return { session, fileName: got.fileName, size: got.data.length, same, timeCalled };
  } finally {
    c.close();
  }
}

(globalThis as { browserCheck?: typeof browserCheck }).browserCheck = browserCheck;
