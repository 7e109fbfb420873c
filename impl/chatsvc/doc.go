// Package chatsvc is the chat service logic: sessions, users, channels,
// message delivery, files and statistics, behind the generated chat.Server
// interface.
//
// A [Service] holds the shared state and is created once; its NewSession
// method, passed to chat.NewAcceptor, creates the [Session] of each
// connection. Session methods are thin adapters; the state and the rules
// live in the Service, the per-session queue and the statistics loop, which
// are plain Go and tested without a network.
//
// # Sessions and names
//
// A connection logs in once; a second login on the same connection is
// answered with an APPLICATION_ERROR ("already logged in as ...") and
// changes nothing. Several connections may log in with the same user name;
// each is a session and counts in user_count. Every route but login needs
// a login first. User and channel names (like file names) follow package
// chatname: normalized to Unicode NFC, then compared byte for byte; refused
// when blank, not UTF-8, longer than [MaxNameBytes] bytes, or when they
// contain control, format (zero-width, bidirectional), invisible (Hangul
// filler, variation selectors) or unassigned characters, white space other
// than the space or at either end, or stray combining marks. In a message,
// schema/chat.yaml already bounds user and channel (64 bytes as sent, no
// control characters) and content (64 KiB): the generated decoder refuses
// a message that breaks them before the session sees it, with an error
// naming the field ("content: longer than 65536 bytes"). When a
// connection closes, its session leaves its channels and the user count at
// once. A channel is created by its first join and disappears with its last
// member. Leaving a channel one has not joined is not an error.
//
// # Delivery
//
// A channel message goes to every session that joined the channel, the
// sender's included; a private message to every session logged in as the
// named user. Recipients always see the sender's login name as user.
// A message goes to the recipients registered when it is sent (a member
// who leaves at that moment may still get it). The fan-out of one
// channel's messages is serialised by a lock of that channel's own (the
// same for one user's private messages), so every recipient sees the
// messages of a channel in the same order; messages to different channels
// and the registry's other readers do not wait for each other.
//
// Each session has a bounded queue feeding its messages.incoming stream
// (Config.QueueLen messages, default 1024, and Config.QueueBytes content
// bytes, default 4 MiB). Enqueuing never blocks. When a queue is full the
// oldest queued message is dropped and counted (Stats.Dropped, and a warning
// logged at the first drop and every 1024th): a chat user who stops reading
// for a while comes back to the most recent conversation, and nobody else
// notices, since a reader that does not read can never block the sender, the
// channel or the other recipients, and holds at most its bound in memory.
// Messages queued before messages.incoming is opened are delivered when it
// opens; a message taken from the queue whose send fails is put back at the
// head.
//
// One connection has at most one messages.incoming stream. When a second
// one opens, the newest wins: the older stream completes (at once when it is
// waiting for messages, or once its pending send returns when it is waiting
// for the client's demand) and the newer one takes the queue. This keeps a
// client that re-opens its stream, or lost track of the old one, working.
//
// # Cluster
//
// A Service with a [Hub] (Config.Hub; package chatcluster has one on
// NATS) is a node of a cluster. It keeps its own sessions and delivers to
// them directly as above; the hub is told of every membership change
// (under the registry lock, in order), relays each message a local
// session sends (once, under the fan-out lock, so that the other nodes'
// recipients see this node's messages in the same order as its own),
// hands the other nodes' messages to DeliverChannel and DeliverPrivate,
// and answers the lists, the counts and whether a user is online
// anywhere. Login, join and leave are answered after the hub's Sync, and
// the channels and channel.users streams start with one, so that a change
// answered on one node is seen by a request that starts after it on
// another. Without a hub the service uses one of its own that answers
// from its registry and relays nothing: a single node, as before.
//
// # Lists
//
// The channels, files and channel.users streams send their names sorted,
// one per item, as fast as the client asks. They do not copy the list:
// each walks a sorted index shared by every stream (package nameset: one
// immutable snapshot, rebuilt at most once per change when next read) and
// holds only the last name it sent, so 1000 streams left at request(1)
// cost the same whether there are ten channels or fifty thousand. A stream
// sends every name present from its start to its end once, in order; a
// name added or removed meanwhile may or may not be sent.
//
// # Files
//
// An upload's payload counts against a server-wide budget
// (Config.UploadMemoryBytes) until the file store has written it; the
// store writes uploads in parallel, so a payload is dropped as soon as its
// own file is on disk. One connection's uploads hold at most a quarter of
// the budget (at least the largest file), so that a connection pipelining
// uploads leaves room for the others'. An upload that does not fit is
// refused at once with "server busy", since waiting would keep its payload
// in memory. The store's limits (file size, total charged, file count) answer
// with their own errors.
//
// # Statistics
//
// The statistics fire-and-forget report is counted (Stats.ClientReports)
// and logged (a session's first at info level, later ones at debug). The statistics channel sends a report at once, then every
// period_seconds (default 1, valid 1 to 3600), with only the requested
// counts ("users", "channels"; both by default); each update from the
// client applies at once and triggers a report. An invalid update (its
// ids and period are constrained in schema/chat.yaml, and refused by the
// generated decoder) ends the channel with an APPLICATION_ERROR naming the
// field.
//
// # The client's time route
//
// After a login, if the client declared in SETUP that it serves the time
// route, the session calls it on its own goroutine (bounded by
// Config.TimeCallTimeout) and logs the answer; a failure is logged and the
// connection carries on.
//
// # Logging
//
// Logins, session ends, uploads and slow-reader drops are logged at info
// or warn level with the remote address, user and session id (the runtime
// logs connections opening and closing); message contents never are.
package chatsvc
