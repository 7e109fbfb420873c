// Types of impl/testdata/interop-js/lib/server.js, the interop suite's
// chat-server launcher, which these tests share.
export interface ChatServer {
  wsUrl: string;
  tcpPort: number;
  wsPort: number;
  output(): string;
  stop(): Promise<void>;
}
export function startChatServer(): Promise<ChatServer>;
