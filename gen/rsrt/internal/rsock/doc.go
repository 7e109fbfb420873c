// Package rsock is the runtime's boundary around rsocket-go v0.8.16 and
// reactor-go v0.5.6: the one package of the runtime that imports the
// library's socket API, and the list of everything the runtime does
// because of how that version behaves.
//
// Which room: the floor between the runtime (gen/rsrt: dispatch, typed
// streams, admission, budgets, codecs) and the library. Above it, the
// runtime speaks in its terms:
//   - a connection that opens ([Dial], a [Client]) and serves
//     ([NewAcceptor], [Serve], [Prepare]); its requesting side, [Conn],
//     sends requests;
//   - a stream the runtime receives: a [Subscriber] the library feeds,
//     holding a [Subscription] to request and cancel;
//   - a stream the runtime produces: an [Outbound] the library subscribes
//     to, sending through its [Downstream] (send, complete, error) and
//     controlled through a [Control] (request, cancel); a
//     request-response answers through an [Answer];
//   - the payload, [Payload]: bytes owned by whoever holds it, with a
//     Done hook for the response budget.
//
// Every call into the library that may queue a frame is made here, inside
// the connection's [Fence]. A test (gen/rsrt TestOneBoundaryAroundTheLibrary)
// fails when another package imports the library, outside the few its
// list allows with their reasons (the frame checker gen/rsrt/guard, the
// test-only gen/rsrt/internal/frametest, the load tool's hand-written
// baseline cmd/chat-load/internal/loadbase). Change this package when the
// library changes; change gen/rsrt when RSocket semantics do.
//
// Whoever upgrades the library reads this list, checks each behaviour
// against the new version, and deletes what is no longer needed; the
// test named with each entry is the one that shows whether it still is.
// "Measured" means the workaround was switched off and that test failed;
// "covered" means the test exercises the path but was not re-run without
// the workaround.
//
// # Workarounds
//
// Channel and stream CANCEL (here: [Conn.Canceller], [Tap.Canceller]). A v0.8.16 requester
// sends no CANCEL when the response flux of a channel it opened is
// cancelled, and the runtime defers the library's own cancel of any
// inbound to the next item (see "Cancel deferred to OnNext"), so a
// quiet stream would never hear of it. The client's tap learns each
// stream's id from its first frame and writes the CANCEL itself.
// Measured: TestRequestChannelCancel, TestNoGoroutineLeak,
// TestWebSocket, TestBudgetNotHeldByItemsWaitingForDemand (gen/rsrt),
// TestChannels (gen/e2e) and TestQueuedUntilIncomingOpens
// (impl/chatserver) fail.
//
// Request-response CANCEL (here: the cancel [Responder].RequestResponse
// returns, called by the answer Mono's Cancel; gen/rsrt responder.go
// cancels the handler's context with it). The library cancels the Mono a
// responder returned when the requester sends CANCEL; the responder
// learns of it only there, without which a handler would run on to its
// end unasked. Measured: TestRequestResponseCancel
// (gen/rsrt/server) fails without the hook.
//
// Demand outside OnNext (here: [Subscription.Refill], [Tap.Requester];
// when each path is taken is gen/rsrt inbound.go's accounting). Every
// inbound flux is a reactor-go unicast processor behind a DoOnRequest
// hook: Request(n) writes REQUEST_N and only then
// adds n to the processor's counter, so items arriving in between stay
// stuck; its drain loop's CompareAndSwap(-1, 0) also eats credit added
// concurrently. The inbound asks for more from OnNext; when a slow
// consumer let the credit run out, the tap swallows the library's
// REQUEST_N while the counter is updated and writes it afterwards, and
// one unit of credit the peer never hears of keeps the counter off zero.
// Measured (refill through the library instead of the tap):
// TestClientSlowLoopBody, TestRequestStream, TestRequestChannel,
// TestRequestChannelCancel, TestWebSocket (gen/rsrt) stall.
//
// A refused SETUP surfaces late, and loudly (here: [Tap.Probe],
// [Tap.ConnError]; gen/rsrt client.go awaitSetup). A client's Start
// returns before the server could refuse the SETUP, so a refusal would
// only show as the error of the first call; and the library prints a
// connection ERROR, with a stack trace, on the program's stderr. The tap
// keeps the connection ERROR from the library, and Dial probes with a
// KEEPALIVE the server must echo. Covered: TestDialSetupRefused
// (gen/rsrt/server), TestDialRefused (gen/rsrt).
//
// One-way requests dispatched out of order (here: [Arrivals], handed to
// the server's transport by [Prepare], claimed through [Incoming.Claim];
// observed by the tap and by gen/rsrt/guard's transports, waited on in
// gen/rsrt responder.go oneWay). The library reads frames in order but
// runs each fire-and-forget and metadata-push on a goroutine of its
// response pool, so handlers start shuffled. The transports note each
// complete one-way request as they read it and the responder runs them
// in that order. Measured: TestOneWayOrder (gen/rsrt/server) fails at its
// first request without the ordering.
//
// Send queue closed under senders (here: [Fence], [Prepare],
// [Client.Close], [Client.Shut]). DuplexConnection.Close closes the send queue while
// other goroutines may still queue frames on it: a data race, and a lost
// frame. Every frame-queuing call runs inside a per-connection fence that
// is shut before the library closes: by the server's transport (the
// function Prepare returns) or by Client.Close. Since every such call is
// made in this package, none can bypass it.
// Measured: TestSendCloseRace (impl/robustness) reports data races on
// every -race run without the fence.
//
// Own publisher instead of flux.Create (here: [Outbound], [Downstream],
// [Runner]; the credit accounting in gen/rsrt sender.go). The
// flux.Create sink buffers 256 items ahead of demand, its Next drops or
// panics after a cancel, and its ctx is not cancelled by the peer's
// CANCEL; the library also pools its stream subscribers once terminated,
// so a late signal could land on another stream. Covered:
// TestBackpressureExactDemand, TestRequestStreamCancel (gen/rsrt).
//
// Cancel deferred to OnNext (here: [Subscription.Cancel] documents it,
// copyIn recovers the copy; gen/rsrt inbound.go defers). The library's cancel
// of an inbound closes the processor's queue while the read loop may be
// putting an item in it ("send on closed channel" kills the process).
// And the library releases the frames it holds when a connection closes,
// under the read loop: copying a released frame panics, so the copy is
// recovered and the item dropped. Measured (cancelling at once):
// TestChannelCancelKeepsGoClientAlive (impl/chatserver) reports a data
// race on the processor's queue under -race. The recovered copy is
// covered by TestChurn (impl/robustness).
//
// Channel inbound always subscribed, with a context that never ends
// (here: the responder adapter's RequestChannel, and every subscription
// [Conn] makes). The library blocks its read loop until a
// channel's inbound is subscribed; subscribing with a done context makes
// reactor-go end and recycle the subscriber while the library still
// pushes the first item through it. Covered: TestRequestChannelErrors,
// TestRequestChannelHandlerReturnsEarly (gen/rsrt).
//
// COMPLETE before CANCEL when a channel handler returns early (gen/rsrt
// responder.go endChannel, sender.go noMoreCredit: an ordering of RSocket
// signals the runtime keeps, so it stays above the boundary). A v0.8.16 requester panics on a CANCEL for a
// channel it still has registered, and unregisters it on our COMPLETE or
// ERROR; after that it drops the responder's REQUEST_N as unmatched, so
// the client's outbound stops waiting for credit (sender.noMoreCredit).
// Covered: TestRequestChannelHandlerReturnsEarly (gen/rsrt),
// TestChannelCancelKeepsGoClientAlive (impl/chatserver).
//
// Payload bytes are views of pooled buffers (here: copyIn, [Incoming.Copy],
// [Accepted.Setup]). The library reuses them once its callback returns,
// so nothing leaves this package uncopied: the runtime only ever holds a
// [Payload] of its own. Covered:
// TestParseCompositeCopies, TestLargePayloads (gen/rsrt).
//
// Composite metadata parsed by hand (gen/rsrt metadata.go; here only the
// table of well-known MIME ids, [WellKnownMIME]). The library's scanner
// has no bounds checks and panics on a length past the end, so the
// runtime parses untrusted metadata itself, above the boundary. Covered: FuzzParseComposite, TestBadMetadata (gen/rsrt).
//
// Panics recovered (here: every call into the library, [Conn] returning
// ErrClosed, [Subscription] swallowing, [Downstream] returning
// *PanicError, copyIn; gen/rsrt responder.go and acceptor.go recover
// around handlers and around [Accepted.Setup]). The library sends a
// handler's raw panic text to the peer, a panic on a handler's own
// goroutine kills the process, calls into a torn-down connection panic,
// and a malformed SETUP makes the acceptor's accessors panic. Covered: TestPanicsAreLoggedNotSent
// (gen/rsrt), TestHostileTCP (gen/rsrt/server).
//
// Handlers off the read loop (here: [Responder]'s contract, the work
// RequestResponse returns runs when the library subscribes to the answer
// Mono, on its response pool; gen/rsrt responder.go
// starts streams and channels on a pooled goroutine). The library calls
// the responder on the connection's read loop, so a blocking handler
// stalls the connection. Covered: TestClientSlowLoopBody.
//
// Request-response on the read loop (here: [Reply].Inline and Reply.Raw;
// gen/rsrt WithInline sets it for the routes named). The library hands
// every request-response's answer Mono to its response pool, a goroutine
// hand-off per request, unless reactor-go reports the Mono as subscribing
// asynchronously (mono.IsSubscribeAsync, which looks at Raw for a Mono
// scheduled on a reactor-go scheduler); it then subscribes on the read
// loop, calling the Mono's own SubscribeWith. An inline Reply's Raw
// returns such a Mono, so its work runs on the read loop. Measured:
// TestInlineRunsOnTheReadLoop (gen/rsrt) fails when Raw is the embedded
// Mono's.
//
// The acceptor's context is the server's (here: [Accepted.OnClose];
// gen/rsrt acceptor.go derives the connection's context and cancels it
// there). Covered: TestSessionsEndWithConnections (impl/chatserver).
//
// The client connection outlives the dial's context (here: [Dial] takes
// two contexts; gen/rsrt's Dial passes one of its own for the
// connection's life). The library closes a client when the ctx given to
// Start ends. Covered: every test that dials with a timeout context and
// uses the connection after it, such as the dial helper of gen/rsrt's
// tests.
//
// Response budget through the library's Releasable interface (here:
// heldPayload, [Payload].Done; the accounting in gen/rsrt budget.go). The
// library calls IncRef and Release on a payload implementing its internal
// Releasable interface; the payload's Done runs on the last Release, or
// at once when the library never took the payload. Covered: the
// compile-time check and TestHeldPayloadCycle (here),
// TestUnreadDownloadsMemory (impl/robustness).
//
// Stream items in pooled payload values (here: [Downstream].Next). The
// library's stream subscribers read an item's Data and Metadata in OnNext
// and keep only those slices, in the frames they queue, never the payload
// value: so the value is back in a pool once OnNext returns, instead of
// one allocation per item (a fan-out's largest share of them in
// chat-load's allocation profile). An item the response budget holds
// keeps a payload of its own, whose Release the library calls later.
// Covered: TestRequestStream and TestRequestChannel (gen/rsrt) check
// every item's bytes, in order; TestStreamItemsInPooledValues (here), that
// the value holds them no longer than OnNext and allocates nothing.
//
// No graceful shutdown (here: [Serve] only serves; gen/rsrt gate.go and
// gen/rsrt/server drain). Cancelling Serve's context drops every
// connection at once; the drain gate and the server's drain do it in
// order.
//
// The acceptor learns of its connection only through a context (here:
// [Prepare], [Accepted].Policy). The library hands its acceptor the
// context the transport gave it and the socket, nothing else; what the
// server prepared for a connection (its gate, its fence) rides in that
// context, put there and read back in this package only, so the runtime
// above receives it as an argument. Covered: TestDrainWithRuntimeGate
// (gen/rsrt/server), TestSendCloseRace (impl/robustness).
//
// A refused SETUP keeps its code (here: [ServeConfig].SetupError; the
// frame rewritten by gen/rsrt/guard). The library answers every acceptor
// error with REJECTED_SETUP. Covered: TestDialSetupRefused
// (gen/rsrt/server).
//
// The library logs on its own (here: [RouteLogs]). It prints to the
// standard logger, warnings a peer can trigger included; the runtime
// routes them to slog at debug level. Covered: TestDrainWithRuntimeGate
// (gen/rsrt/server), TestGracefulDrain (impl/robustness).
//
// One request pool for all connections (here: [Serve] names reactor-go's
// shared elastic scheduler as the server's request scheduler). Given none,
// the library makes every server connection a goroutine pool of its own
// (for the channels it answers and the requests it sends), each with a
// goroutine that wakes every second to purge it, for the connection's
// lifetime: about 4 KiB per idle connection. The shared pool is the one
// the library already runs responses on; it is unbounded, as the
// per-connection pools nearly were (512 workers), and the guard's
// MaxStreams bounds what one connection can start. Measured: chat-load
// --scenarios memory (10,000 sessions) 55.5 -> 51.6 KiB RSS per session.
//
// The frame checker (gen/rsrt/guard) keeps using the library's frame and
// transport types, outside this package: its transports are the
// library's transports. Its own doc lists why, and what it guards against (crashes
// from malformed frames, REJECTED_SETUP rewriting, COMPLETE moved to the
// last fragment, the fixed 90 s read deadline).
package rsock
