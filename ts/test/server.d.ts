// Types of impl/testdata/interop-js/lib/server.js, the interop suite's
// chat-server launcher, which these tests share.
export interface ChatServer {
  wsUrl: string;
  tcpPort: number;
  wsPort: number;
  output(): string;
  stop(): Promise<void>;
}
/** Starts a chat server; extraArgs follow the address and data flags (--auth FILE, for instance). */
export function startChatServer(extraArgs?: string[]): Promise<ChatServer>;
