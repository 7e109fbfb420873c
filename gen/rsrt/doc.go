// Package rsrt is the small runtime that rsgen-generated code calls.
//
// Everything that is the same for every route lives here, once: parsing the
// composite metadata of a request, dispatching on the pair (interaction,
// route), decoding and encoding payloads, demand-driven stream senders,
// typed inbound sequences for request-channel, the per-connection context,
// server-to-client calls, the client connection and the drain gate.
// Generated code is thin: it declares the routes of a schema and converts
// between typed Go values and the raw [Payload] values of this package.
//
// # Which room
//
// The runtime is in layers, each of which knows only the one below:
//
//	generated code (generated/NAME)    typed Server, Client, Peer
//	rsrt: entry points and dispatch    Routes, Caller, Sender, Inbound, codecs
//	rsrt: policy                       connScope: Gate, response budget; oneWayLimit
//	rsock: the boundary                the only importer of rsocket-go's socket API
//	guard: checking transports         every inbound frame checked first
//	the socket                         TCP, WebSocket
//
// This package speaks RSocket semantics only: it never imports rsocket-go
// (a test, TestOneBoundaryAroundTheLibrary, fails if it does). Everything
// it asks of the library goes through gen/rsrt/internal/rsock, whose doc
// lists each workaround for rsocket-go v0.8.16 with the test that fails
// without it: change rsock when the library changes, change this package
// when the protocol's semantics or the runtime's policies do. What is here
// because of the library, but is an RSocket-level decision, says so and
// names rsock's entry (the demand accounting of inbound.go, the order in
// which a channel's sides end in responder.go).
//
// # Per-connection policy
//
// Each connection gets one policy value when it opens (connScope, in
// scope.go), which the responder, the caller and every stream of the
// connection share: the [Gate] that admits its requests and the budget of
// its unwritten responses (see [ReserveResponse]; charged to the
// server-wide budget too, see [WithServerResponseBudget]). What is turned
// off is a part that does nothing, never a nil: a gate nobody closes, a
// budget without bound. The connection's send fence is the boundary's,
// since every call that needs it is made there. A client's scope is built
// by [Dial]. A server's is built by the acceptor, from its options and
// from what gen/rsrt/server made for the connection and handed it through
// the boundary (the server's gate), so that the server needs the gate only
// once, in its configuration.
//
// Handlers see the policy through their context: [ReserveResponse] finds
// the handler's reservation there, since a handler's context is all the
// generated signatures give it.
//
// # Entry points of generated code
//
// Generated code calls one generic function per interaction and side
// (entry.go): [ServeRequestResponse] and its siblings register a route in
// a [Routes] table with its codecs and handler method, and
// [CallRequestResponse] and its siblings make a typed call through a
// [Caller]. Decoding and encoding, the error that names the route,
// typing streams and channels are written here once; a generated package
// imports this package only (its acceptor is an [Acceptor]).
//
// # Interceptors, deadlines, metadata
//
// Every call passes through the runtime at one place per side: the
// responder (responder.go) for the calls a connection serves, the
// [Caller] for those it makes. There the connection's [Interceptor]s
// wrap it ([WithInterceptors] on an acceptor, [WithDialInterceptors] on
// Dial; interceptor.go), each seeing the call's [Call]. There too a
// caller's context deadline becomes the request's [MIMEDeadline] entry,
// and the serving side turns that entry back into its handler's context
// deadline (deadline.go); a request-response handler's context also ends
// when the requester cancels. [AppendMetadata] adds entries to the calls
// made with a context, and [RequestMetadata] gives a handler every entry
// of its request.
//
// # Handlers on the read loop
//
// A request-response handler normally runs on a pooled goroutine: the
// connection's read loop (the library's goroutine that hands the
// responder the frames of the streams the peer opens) hands it over and
// goes on, so a handler may block as long as it likes. For a small request that hand-off, and the
// flush it splits off, are most of what the request costs the server.
// [WithInline] names the routes whose handlers never wait; those run on
// the read loop itself, one at a time in arrival order, and their answers
// join the frames the connection writes next. An answer large enough to
// be charged to the response budget leaves the read loop before it waits
// for room, so that only the handler's own code holds the connection. A
// fed stream of the connection (see below) that an inline handler wakes
// starts its drain once the handler's answer is with the library: the
// answer is not queued behind the item, and the two often leave in one
// write (a chat message and its delivery to the sender's own stream).
//
// # Streams that outlive their handler
//
// A stream handler normally sends its items in a loop and returns when the
// stream is over, holding a goroutine (and its stack) for the stream's
// life. A stream whose items a producer pushes (a chat session's queue,
// say) can instead be fed: [Sender.Feed] takes them from a [Source] as the
// peer's demand allows, and the handler returns at once while the stream
// stays open, so that an idle subscriber holds no goroutine. The stream's
// end is then decided by its [Feeder], the peer or the connection, not by
// the handler's return. An interceptor that needs a stream's end learns of
// it from [OnStreamEnd] and says so by being a [StreamEndHooker]; on a
// connection with an interceptor that reads the end from the handler's
// return instead, fed streams are served on the handler's goroutine, so
// that it still does.
//
// # Errors
//
// Errors the peer sends arrive as *[Error] (whatever type the library used
// to carry them), so errors.As works on every call. Handler panics are
// recovered and answered with APPLICATION_ERROR "internal error" (the
// panic and its stack go to the log at error level).
//
// What this runtime does not fix is at the frame level (malformed frames,
// fragment floods, peers ignoring REQUEST_N, SETUP timeouts): the server's
// checking transport (package guard) handles those before the library sees
// the frames.
package rsrt
