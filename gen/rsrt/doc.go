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
// # Per-connection policy
//
// Each connection gets one policy value when it opens (connScope, in
// scope.go), which the responder, the caller and every stream of the
// connection share: the [Gate] that admits its requests, the fence that
// orders its calls into rsocket-go before the library closes it, and the
// budget of its unwritten responses (see [ReserveResponse]; charged to the
// server-wide budget too, see [WithServerResponseBudget]). What is
// turned off is a part that does nothing, never a nil: a gate nobody
// closes, a fence nobody shuts, a budget without bound. A client's scope
// is built by [Dial]. A server's is built by the acceptor, from its
// options and from what the server's transport prepared for the
// connection ([Gate.ConnContext]: the server's gate, and the fence the
// transport shuts), so that gen/rsrt/server needs the gate only once, in
// its configuration.
//
// # Design around rsocket-go v0.8.16
//
// The runtime is written around the behaviour of rsocket-go v0.8.16 and
// reactor-go v0.5.6 as measured over loopback (v0.8.16 is the newest
// release the module proxy serves; several fixes landed upstream after it).
// The workarounds are moving, one at a time, into the internal package
// gen/rsrt/internal/rsock, whose doc lists every one of them with the test
// that fails without it and says which have moved (opening a client
// connection, its frame tap and the publisher of outbound streams so
// far). In short:
//
//   - Composite metadata is parsed by hand ([ParseComposite]): the
//     library's scanner indexes without bounds checks and panics on a
//     length that points past the end. Every length is checked, and what is
//     kept is copied. [EncodeComposite] encodes byte for byte as the
//     library's builder (and rsocket-py) do.
//
//   - Payload bytes are views of pooled frame buffers that are reused once
//     the library's callback returns, so the responder copies data and
//     metadata before it returns, and hands handlers owned copies.
//
//   - Responder methods run on the connection's read loop: they only parse
//     and copy. Request-response handlers run inside mono.Create (which the
//     library subscribes on its unbounded pool), fire-and-forget and
//     metadata-push handlers already run on that pool, and stream and
//     channel handlers get a goroutine of their own.
//
//   - Handler panics are recovered by the runtime and answered with
//     APPLICATION_ERROR "internal error" (the panic and its stack go to the
//     log at error level): the library would send the raw panic text, and a
//     panic on a goroutine of the handler's would kill the process. Calls
//     into the library that can panic on a torn-down connection are
//     recovered too.
//
//   - Outbound streams use a Publisher of our own (sender.go), not
//     flux.Create, whose sink buffers 256 items ahead of demand, whose Next
//     drops or panics after a cancel, and whose ctx is not cancelled when
//     the peer cancels. The sender counts the peer's REQUEST_N under a
//     mutex, emits exactly one item per unit of credit, makes Send wait
//     (without timers) until credit arrives, and turns CANCEL into an error
//     from Send and the cancellation of the handler's context. It sends no
//     signal after a cancel: the library pools its stream subscribers once
//     terminated, so a late signal could land on another stream.
//
//   - Inbound streams (inbound.go) request demand from inside OnNext only:
//     reactor-go's processor loses demand issued from other goroutines (the
//     library writes REQUEST_N before the processor counts it, so items
//     arriving in between stay stuck; a slow consumer stalled a stream in 4
//     runs out of 8 in measurements). When a slow consumer let the credit
//     run out, a client renews it through its transport tap, which swallows
//     the library's REQUEST_N and writes it once the processor counted the
//     credit; the processor also holds one unit of credit the peer never
//     hears of, so that its counter never reaches zero and no renewal meets
//     the drain loop's lossy CompareAndSwap. Without a tap (server side)
//     the inbound keeps one unit of credit in reserve and caps its buffer
//     instead.
//
//   - The library's cancel of an inbound closes the processor's queue,
//     which races with the read loop putting an item in it ("send on closed
//     channel" kills the process), so it is deferred to the next OnNext;
//     the peer learns of the cancel at once through the client's tap. And
//     the library releases the frames it holds when a connection closes,
//     under the read loop: copying a released frame panics, so the copy is
//     recovered and the item dropped.
//
//   - A request-channel handler's inbound is always subscribed (the library
//     blocks the read loop until it is), its first item carries the route,
//     and when the handler returns with the inbound still open the runtime
//     completes the outbound first and cancels the inbound after: a v0.8.16
//     requester panics on a CANCEL for a channel it still has registered,
//     and unregisters it on our COMPLETE or ERROR.
//
//   - A v0.8.16 requester sends no CANCEL when the response flux of its
//     channel is cancelled. [Dial] wraps the client transport in a frame
//     tap (rsock.Tap) that learns the stream id of each stream and
//     channel from its first frame and writes the CANCEL frame itself.
//
//   - The acceptor's ctx is the server's, so a connection's context is
//     derived from it and cancelled by the sending socket's OnClose.
//     rsocket-go answers every acceptor error with REJECTED_SETUP; the
//     *Error the acceptor returns (UNSUPPORTED_SETUP for a SETUP that does
//     not use composite metadata, INVALID_SETUP for malformed SETUP
//     metadata) is in that frame's text.
//
//   - rsocket-go has no graceful shutdown: [Gate] admits requests, rejects
//     them once closed, tells streams to finish, and lets the server wait
//     for what is in flight before it stops serving.
//
//   - The client's connection outlives Dial's ctx: the library closes the
//     connection when the ctx given to its Start ends, so Dial uses its ctx
//     for connecting only.
//
//   - rsocket-go closes its send queue while other goroutines may still
//     queue frames on it (it recovers the resulting panic, but it is a data
//     race, and the frame is lost). Every call of the runtime that may
//     queue a frame runs inside a per-connection fence (fence.go), which is
//     shut before the library closes: by ClientConn.Close on a client, by
//     the server's transport on a server ([Gate.ConnContext]). Shutting waits,
//     for at most a second, for the calls inside and makes later ones skip.
//
// Errors the peer sends arrive as *[Error] (whatever type the library used
// to carry them), so errors.As works on every call.
//
// What this runtime does not fix is at the frame level (malformed frames,
// fragment floods, peers ignoring REQUEST_N, SETUP timeouts): the server's
// checking transport (package guard) handles those before the library sees
// the frames.
package rsrt
