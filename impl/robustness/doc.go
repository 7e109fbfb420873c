// Package robustness holds the robustness tests of the chat server: the
// embedded server of impl/chatserver on 127.0.0.1, driven by the generated
// client (chat.Dial) for legitimate traffic and by raw TCP connections
// writing hand-built RSocket frames (rsocket-go's core/framing, with the
// 24-bit length prefix) for hostile traffic. The package has no code of its
// own, only tests:
//
//   - churn_test.go: thousands of connections (TCP and WebSocket) that log
//     in, join channels, open messages.incoming and statistics streams and
//     go away cleanly,
//     abruptly (raw socket closed) or in the middle of their streams; then
//     the server's goroutines, heap, sessions, user count and channel
//     member lists must be back to exactly what the remaining clients
//     account for.
//   - flood_test.go: a client that writes requests without reading the
//     answers, a request-channel peer that ignores REQUEST_N, fragment
//     chains that never finish, payloads over the size limit, and one
//     connection trying to join thousands of channels or log in as
//     thousands of users. Each is stopped by a documented limit with a
//     clear error (or the offender's connection is closed, the reason
//     logged), and a legitimate client is served after each.
//   - drain_test.go: a graceful stop with an upload, messages.incoming
//     streams and a statistics channel in flight: the upload completes or
//     leaves no file, streams end with COMPLETE or an ERROR frame rather
//     than a dropped socket, and the stop returns within its deadline.
//   - isolation_test.go: a client cannot send as another user, cannot read
//     another user's private messages, and cannot reach a file outside the
//     file store.
//   - uploads_test.go: connections pipelining uploads hold at most the
//     upload memory budget in the service (the rest is refused "server
//     busy"), not every payload behind one lock; empty uploads with long
//     names are charged their per-file overhead and stop at the file-count
//     limit or the store size.
//   - snapshots_test.go: 1000 channels streams left at request(1) over
//     thousands of channels take no copy of the names each.
//   - names_test.go: zero-width, bidirectional-control, invisible and
//     stray combining characters are refused in user, channel and file
//     names, and the decomposed spelling of a name is the composed one.
//
// The limits exercised, with their defaults: guard.Limits (MaxStreams 1024
// open streams per connection, answered with REJECTED; MaxPayloadSize 16 MiB
// per reassembled payload, raised by impl/chatserver to the largest file
// plus 64 KiB; MaxPendingBytes 32 MiB, or twice MaxPayloadSize if more, of
// unfinished fragments per connection; request-channel credit), chatsvc.Config (QueueLen 1024
// messages per session, oldest dropped; MaxContentBytes 64 KiB per message;
// MaxJoined 256 channels per connection; one login per connection;
// UploadMemoryBytes 256 MiB of upload payloads server-wide) and
// filestore.Limits (MaxFileBytes 16 MiB per file, MaxFiles 10,000, each
// file charged 4 KiB and its name beyond its content).
//
// The bytes of responses a client does not read are bounded by the
// connection's response budget (rsrt.DefaultResponseBudget, 16 MiB + 64 KiB;
// TestUnreadDownloadsMemory), and a connection that closes while the server
// writes to it does not race with rsocket-go closing its send queue
// (TestSendCloseRace, under -race).
//
// Run with: go test -race ./impl/robustness/ (add -short for a smaller
// churn and flood).
package robustness
