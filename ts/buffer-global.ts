// @rsocket/core 1.0.0-alpha.3 calls the Node.js global Buffer without
// importing it, so in a browser it fails with "Buffer is not defined". This
// module installs the npm "buffer" package (the same API) as that global.
// rsrt.ts imports it before any @rsocket module, so the global exists before
// their code runs; in Node.js, where the global exists, it does nothing.
import { Buffer } from "buffer";

const g = globalThis as { Buffer?: unknown };
if (g.Buffer === undefined) {
  g.Buffer = Buffer;
}
