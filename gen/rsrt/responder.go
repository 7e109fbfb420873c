package rsrt

// The responder: what dispatches one connection's requests to its handler
// value. The boundary (rsock) calls it on the connection's read loop, so
// each method only parses the request (rsock copies it out of the
// library's buffers) and leaves the handler to run elsewhere:
// request-response in the work it returns (run on the library's response
// pool, or on the read loop for the routes of WithInline), streams and
// channels on a goroutine of their own, fire-and-forget and metadata-push
// inline (the library already runs those on its response pool), one at a
// time in arrival order (see oneWay).

import (
	"context"
	"sync"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

type responder[S any] struct {
	// The connection's policy: its gate admits each request, its budget
	// bounds the unwritten responses.
	*connScope
	ctx context.Context // the connection's
	t   *Routes[S]
	s   S
	// oneWay bounds the connection's fire-and-forget and metadata-push
	// handlers running at once.
	oneWays oneWayLimit
	// rr and streams are the connection's request-response and stream
	// or channel handling through its interceptors, chained once rather
	// than for every request; nil without interceptors.
	rr      UnaryFunc
	streams StreamHandlerFunc
	// streamsOutlive is set when no interceptor reads a stream's end
	// from its handler's return, so that a fed stream may outlive it.
	streamsOutlive bool
}

func newResponder[S any](ctx context.Context, t *Routes[S], s S, scope *connScope) *responder[S] {
	r := &responder[S]{connScope: scope, ctx: ctx, t: t, s: s, streamsOutlive: scope.ic.endUnseen()}
	if len(r.ic) > 0 {
		r.rr = r.ic.unary(r.serveRR)
		r.streams = r.ic.streamHandler(r.serveStream)
	}
	return r
}

// serveRR is the end of the request-response chain: the handler of the
// route the request came on (see routeOf: the Call, which interceptors may
// change, does not decide it).
func (r *responder[S]) serveRR(ctx context.Context, call *Call, req *Payload) (*Payload, error) {
	rt, err := r.routeOf(ctx, call)
	if err != nil {
		return nil, err
	}
	var out *Payload
	if h := handlerOf(ctx); h != nil && h.out != nil {
		out = h.out // the request-response's own room
	} else {
		out = new(Payload)
	}
	*out, err = rt.h.rr(ctx, r.s, req)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// routeOf returns the route a call came on, which the handler context
// holds; for a context not derived from the handler's, the route of the
// call's name.
func (r *responder[S]) routeOf(ctx context.Context, call *Call) (*route[S], error) {
	if h := handlerOf(ctx); h != nil {
		if rt, ok := h.route.(*route[S]); ok {
			return rt, nil
		}
	}
	return r.t.lookup(call.Interaction, []byte(call.Route))
}

var _ rsock.Responder = (*responder[any])(nil)

// request copies an inbound request into req and finds its route; the
// deadline entry, if any, is taken out of the request's metadata, whose
// entries go in ents when they fit (a nil ents: a slice of their own).
func (r *responder[S]) request(i Interaction, in rsock.Incoming, req *Payload, ents Metadata) (*route[S], deadline, error) {
	rt, err := r.parse(i, in, req, ents)
	if err != nil {
		return nil, deadline{}, err
	}
	var dl deadline
	req.Metadata, dl, err = takeDeadline(req.Metadata)
	if err != nil {
		return nil, deadline{}, err
	}
	return rt, dl, nil
}

func (r *responder[S]) parse(i Interaction, in rsock.Incoming, req *Payload, ents Metadata) (*route[S], error) {
	msg, ok := in.Copy()
	if !ok {
		return nil, ErrClosed
	}
	if msg.Metadata == nil {
		return nil, NewError("invalid request: %v", errNoRouting)
	}
	name, others, err := parseRoute(msg.Metadata)
	if err != nil {
		return nil, NewError("invalid request metadata: %v", err)
	}
	rt, err := r.t.lookup(i, name)
	if err != nil {
		return nil, err
	}
	*req = Payload{Route: rt.name, Data: msg.Data}
	if others > 0 {
		// parseRoute checked the whole of it.
		req.Metadata = requestEntries(msg.Metadata, others, ents)
	}
	return rt, nil
}

// RequestResponse implements rsock.Responder.
func (r *responder[S]) RequestResponse(in rsock.Incoming) (w rsock.Work, err error) {
	defer func() {
		if p := recover(); p != nil {
			w, err = nil, recovered(r.log, p, RequestResponse, "")
		}
	}()
	// The handler's context ends when the requester cancels (Cancel,
	// rsock's entry "Request-response CANCEL"), when its deadline
	// passes, or when the connection closes.
	c := &rrCtx[S]{handlerCtx: handlerCtx{Context: r.ctx, b: r.budget}, req: lazyRequest{parent: r.ctx}, r: r}
	rt, dl, err := r.request(RequestResponse, in, &c.in, c.ents[:0])
	if err != nil {
		return nil, err
	}
	c.req.dl = dl
	c.handlerCtx.req = &c.req
	c.handlerCtx.out = &c.out
	c.route, c.rt = rt, rt
	c.reply.Inline = rt.inline
	return c, nil
}

// rrCtx is a request-response: its handler's context, what ends it, its
// request and answer, in one allocation.
type rrCtx[S any] struct {
	handlerCtx
	req   lazyRequest
	reply rsock.Reply
	r     *responder[S]
	rt    *route[S] // handlerCtx.route, typed for Run
	in    Payload
	ents  [2]Entry // in's metadata entries, when they fit
	out   Payload  // the answer, for the end of the interceptor chain
}

// Reply implements rsock.Work.
func (c *rrCtx[S]) Reply() *rsock.Reply { return &c.reply }

// Cancel implements rsock.Work: the requester's CANCEL.
func (c *rrCtx[S]) Cancel() { c.req.stop() }

// Run implements rsock.Work: it runs the handler and answers.
func (c *rrCtx[S]) Run(sink rsock.Answer) {
	r, h := c.r, &c.handlerCtx
	// Admitted here, not before: the library skips Run when its context
	// is done, and the gate must not count a request that never runs.
	if !r.gate.enter() {
		c.req.stop()
		sink.Error(errShuttingDown)
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			c.end()
		}
	}()
	if c.rt.inline {
		r.inlineStarts()
		defer r.inlineEnds() // after the answer (see holdWake)
	}
	h.serve(r.served(RequestResponse, c.rt.name, c.in.Metadata, r.s))
	resp, err := r.callRR(h, &h.call, c.rt, &c.in)
	if err == nil {
		var p rsock.Payload
		if p, err = responsePayload(resp); err == nil {
			if c.rt.inline && h.mayWait(p) {
				// The read loop must not wait for the budget's room.
				handedOff = true
				go c.answer(sink, p)
				return
			}
			r.answer(h, sink, p)
			return
		}
	}
	h.drop()
	sink.Error(wireError(err))
}

// answer answers with p off the read loop, then ends the request.
func (c *rrCtx[S]) answer(sink rsock.Answer, p rsock.Payload) {
	defer c.end()
	c.r.answer(&c.handlerCtx, sink, p)
}

// end ends an admitted request: its context, and its count in the gate.
func (c *rrCtx[S]) end() {
	c.req.stop()
	c.r.gate.leave()
}

func (r *responder[S]) callRR(ctx context.Context, call *Call, rt *route[S], req *Payload) (resp Payload, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(r.log, p, RequestResponse, rt.name)
		}
	}()
	if len(r.ic) == 0 {
		return rt.h.rr(ctx, r.s, req)
	}
	out, err := r.rr(ctx, call, req)
	if err != nil || out == nil {
		return Payload{}, err
	}
	return *out, nil
}

// handlerCtx returns the context of a handler on the connection's budget.
func (r *responder[S]) handlerCtx(ctx context.Context) *handlerCtx {
	return &handlerCtx{Context: ctx, b: r.budget}
}

// answer hands a request-response's answer to the library, charged to the
// connection's response budget (h; waiting for room).
func (r *responder[S]) answer(h *handlerCtx, sink rsock.Answer, p rsock.Payload) {
	p, err := h.hold(r.ctx, p)
	if err != nil {
		return // the connection closed while waiting for room
	}
	sink.Success(p)
}

// FireAndForget implements rsock.Responder.
func (r *responder[S]) FireAndForget(in rsock.Incoming) {
	r.oneWay(FireAndForget, in)
}

// MetadataPush implements rsock.Responder. The frame's metadata is
// composite metadata with a routing entry, like a request's.
func (r *responder[S]) MetadataPush(in rsock.Incoming) {
	r.oneWay(MetadataPush, in)
}

// oneWay serves a fire-and-forget or metadata-push request. Admitted, it
// waits for the connection's earlier one-way requests (see
// rsock.Arrivals): a connection's one-way handlers run one at a time, in
// the order their requests arrived. The admission bounds count the
// waiting ones too, so a backlog is bounded as before.
func (r *responder[S]) oneWay(i Interaction, in rsock.Incoming) {
	route := ""
	defer func() {
		if p := recover(); p != nil {
			_ = recovered(r.log, p, i, route)
		}
	}()
	// Claimed first, so that a request dropped or refused below ends its
	// turn at once rather than holding up the next ones.
	t, ordered := in.Claim(r.arrivals)
	if ordered {
		defer r.arrivals.Finish(t)
	}
	size := in.Size()
	if !r.oneWays.admit(size) {
		r.stats.oneWayOverLimit.Add(1)
		r.log.Warn("rsrt: request dropped: too many one-way requests in progress on the connection",
			"interaction", i.String(), "limit", maxOneWay, "bytes", size)
		return
	}
	defer r.oneWays.done(size)
	req := new(Payload)
	rt, dl, err := r.request(i, in, req, nil)
	if err != nil {
		r.log.Warn("rsrt: request refused", "interaction", i.String(), "error", err)
		return
	}
	route = rt.name
	if i == MetadataPush {
		req.Data = nil
	}
	// In flight from here, waiting included: a drain lets the connection's
	// admitted one-way requests run, in order.
	if !r.gate.enter() {
		r.stats.oneWayShuttingDown.Add(1)
		r.log.Debug("rsrt: request dropped, server shutting down", "interaction", i.String(), "route", route)
		return
	}
	defer r.gate.leave()
	if ordered {
		r.arrivals.Wait(t, r.ctx.Done())
	}
	cc := &callCtx{Context: r.ctx, call: r.served(i, route, req.Metadata, r.s)}
	call := &cc.call
	ctx, stop := dl.bound(cc)
	defer stop()
	h := rt.h.fnf
	if i == MetadataPush {
		h = rt.h.mp
	}
	if len(r.ic) == 0 {
		err = h(ctx, r.s, req)
	} else {
		_, err = r.ic.unary(func(ctx context.Context, _ *Call, req *Payload) (*Payload, error) {
			return nil, h(ctx, r.s, req)
		})(ctx, call, req)
	}
	if err != nil {
		r.log.Warn("rsrt: handler failed", "interaction", i.String(), "route", route, "error", err)
	}
}

// RequestStream implements rsock.Responder.
func (r *responder[S]) RequestStream(in rsock.Incoming) (o rsock.Outbound, err error) {
	defer func() {
		if p := recover(); p != nil {
			o, err = nil, recovered(r.log, p, RequestStream, "")
		}
	}()
	req := new(Payload)
	rt, dl, err := r.request(RequestStream, in, req, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel, s := r.newOutbound()
	ctx.serve(r.served(RequestStream, rt.name, req.Metadata, r.s))
	ctx.route = rt
	s.detachable = r.streamsOutlive
	// The handler starts once the library subscribed (right after this
	// method returns), so that neither it nor the gate's count exists for
	// a stream the library dropped.
	s.onSub = func() {
		if !r.gate.enter() {
			cancel()
			s.finish(errShuttingDown)
			return
		}
		s.run.Go(func() { r.runHandler(ctx, cancel, req, dl, streamOnly{s}, s.finish) })
	}
	return (*senderSub)(s), nil
}

// newOutbound returns the sender of a stream or channel response, and the
// context its handler runs with and the function that cancels it.
func (r *responder[S]) newOutbound() (*handlerCtx, context.CancelFunc, *RawSender) {
	ctx, cancel := context.WithCancel(r.ctx)
	h := r.handlerCtx(ctx) // its call is set once the route is known
	h.sender = newSender(r.connScope, h, r.ctx.Done(), cancel)
	return h, cancel, h.sender
}

// serveStream is the end of the stream and channel chain: the handler of
// the route the request came on.
func (r *responder[S]) serveStream(ctx context.Context, call *Call, req *Payload, st Stream) error {
	rt, err := r.routeOf(ctx, call)
	if err != nil {
		return err
	}
	if rt.h.rc != nil {
		return rt.h.rc(ctx, r.s, st)
	}
	return rt.h.rs(ctx, r.s, req, st)
}

// runHandler runs a stream or channel handler admitted into the gate, on
// the goroutine it keeps for the stream's life, or until the handler
// returns when it fed a stream that outlives it (see Sender.Feed): ctx is
// cancelled when the gate closes, and an error caused by the shutdown
// itself counts as a clean end. end receives the outcome before the
// request leaves the gate, so that a drain waits for the stream's last
// frame. (Its frames, and callStream's, are what the goroutine holds
// while the stream waits: the fewer, the likelier the GC halves its
// stack.)
func (r *responder[S]) runHandler(ctx *handlerCtx, cancel context.CancelFunc, req *Payload, dl deadline, st Stream, end func(error)) {
	stop := context.AfterFunc(r.gate.ending, cancel)
	stopDL, err := r.callStream(ctx, req, dl, st)
	if so, ok := st.(streamOnly); ok {
		if f := so.out.feeder(); f != nil {
			f.detach(func(err error) { r.endStream(ctx, cancel, stop, stopDL, end, err) }, err)
			return
		}
	}
	r.endStream(ctx, cancel, stop, stopDL, end, err)
}

// endStream ends a stream or channel whose handler runHandler ran, with
// err as its outcome, and takes it out of the gate.
func (r *responder[S]) endStream(ctx *handlerCtx, cancel context.CancelFunc, stop func() bool, stopDL context.CancelFunc, end func(error), err error) {
	defer r.gate.leave()
	defer cancel()
	defer stop()
	stopDL()
	if err != nil && r.gate.streamsEnding() && ctx.Err() != nil {
		// The gate told the stream to finish: a clean end.
		err = nil
	}
	end(err)
	ctx.drop() // a reservation no item used
	for _, f := range ctx.ends {
		f(err)
	}
}

// callStream runs the handler of a stream or channel through the
// connection's interceptors, with the deadline its request carries; a
// panic becomes an error. stop releases the deadline's timer, which a
// stream that outlives its handler keeps until it ends.
func (r *responder[S]) callStream(ctx *handlerCtx, req *Payload, dl deadline, st Stream) (stop context.CancelFunc, err error) {
	var dctx context.Context
	dctx, stop = dl.bound(ctx)
	defer func() {
		if p := recover(); p != nil {
			err = recovered(r.log, p, ctx.call.Interaction, ctx.call.Route)
		}
	}()
	if r.streams == nil {
		return stop, r.serveStream(dctx, &ctx.call, req, st)
	}
	return stop, r.streams(dctx, &ctx.call, req, st)
}

// RequestChannel implements rsock.Responder. The route is in the first
// item of the inbound (the REQUEST_CHANNEL payload), which the library
// pushes only after this method returned and the inbound was subscribed:
// the handler starts when that item arrives.
func (r *responder[S]) RequestChannel() (in rsock.Subscriber, out rsock.Outbound, err error) {
	defer func() {
		if p := recover(); p != nil {
			in, out, err = nil, nil, recovered(r.log, p, RequestChannel, "")
		}
	}()
	ctx, cancel, s := r.newOutbound()
	var b *RawInbound
	var dl deadline
	onFirst := func(it item) bool {
		if it.err != nil {
			go r.failChannel(cancel, b, s, it.err)
			return false
		}
		rt := r.t.m[routeKey{RequestChannel, it.p.Route}]
		if rt == nil {
			go r.failChannel(cancel, b, s, r.t.missing(RequestChannel, it.p.Route))
			return false
		}
		it.p.Route = rt.name
		b.route = rt.name
		var err error
		if it.p.Metadata, dl, err = takeDeadline(it.p.Metadata); err != nil {
			go r.failChannel(cancel, b, s, err)
			return false
		}
		ctx.serve(r.served(RequestChannel, rt.name, it.p.Metadata, r.s))
		ctx.route = rt
		if !r.gate.enter() {
			go r.failChannel(cancel, b, s, errShuttingDown)
			return false
		}
		go r.runHandler(ctx, cancel, nil, dl, channelSides{in: b, out: s}, func(err error) { r.endChannel(b, s, err) })
		return !rt.initialEmpty
	}
	b = newInbound(inboundConfig{window: channelWindow, conv: convItem, onFirst: onFirst})
	return (*inboundSub)(b), (*senderSub)(s), nil
}

func (r *responder[S]) failChannel(cancel context.CancelFunc, b *RawInbound, s *RawSender, err error) {
	defer cancel()
	r.endChannel(b, s, err)
}

// endChannel ends our side of a channel: outbound first, then, once that
// terminal frame is on its way, a CANCEL for an inbound still open. The
// order matters to rsocket-go peers (see rsock's doc, entry "COMPLETE
// before CANCEL"): v0.8.16 panics on a CANCEL for a channel it requested
// while the channel is still registered, and it unregisters the channel
// when it receives our COMPLETE or ERROR.
func (r *responder[S]) endChannel(b *RawInbound, s *RawSender, err error) {
	s.finish(err)
	s.wait()
	b.cancel()
}

// Bounds of oneWayLimit. A fire-and-forget handler may wait (on a lock, on
// the peer), and rsocket-go hands every one-way frame to a goroutine of
// its unbounded response pool, reading on without backpressure: without a
// bound, one connection could start handlers, and hold their payloads,
// without end.
const (
	maxOneWay      = 256
	maxOneWayBytes = DefaultResponseBudget
)

// oneWayLimit counts the one-way requests (fire-and-forget, metadata-push)
// of a connection whose handlers are running, and the bytes they hold.
// One over either bound is dropped, unseen by its handler: waiting would
// only move the backlog into the library's goroutines, and a one-way
// request carries no promise of delivery. A single request of any size up
// to the frame limits is always admitted when none runs.
type oneWayLimit struct {
	mu    sync.Mutex
	n     int
	bytes int
}

func (l *oneWayLimit) admit(size int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= maxOneWay || l.n > 0 && l.bytes+size > maxOneWayBytes {
		return false
	}
	l.n++
	l.bytes += size
	return true
}

func (l *oneWayLimit) done(size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	l.bytes -= size
}
