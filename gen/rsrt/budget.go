package rsrt

// The response budget of a server connection: a bound on the bytes of
// responses produced for a peer and not yet written to it.
//
// Without it, a client that sends requests and does not read the answers
// pins them in memory: each answer waits in rsocket-go's send queue, or in
// its handler's goroutine blocked on that queue, until the write timeout
// cuts the peer off. MaxStreams bounds how many, not how large: 300 unread
// 1 MiB downloads held 300 MiB.
//
// The boundary (rsock) tells when the library is done with a payload: it
// calls the payload's Done once its last frame is written, or dropped with
// the connection. A response charged to the budget gives its bytes back
// there.
//
// Charging at hand-off bounds what the library holds, but by then the
// bytes exist. A handler about to build a large response reserves first
// (ReserveResponse), and waits there, before the bytes exist, while the
// connection has too much unwritten; its next response then uses the
// reservation.

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// DefaultResponseBudget is the default of WithResponseBudget: room for a
// 16 MiB response (the largest payload the server's transport accepts by
// default) with its metadata.
const DefaultResponseBudget = 16<<20 + 64<<10

// DefaultServerResponseBudget is the default of WithServerResponseBudget:
// 256 MiB of unwritten responses for all connections together, which
// fits a machine of a few GiB; per connection, the 10,000 connections a
// listener accepts could otherwise pin 160 GiB.
const DefaultServerResponseBudget = 256 << 20

// smallResponse is the size under which a response is not charged unless
// its handler reserved: the many small ones (stream items, short answers)
// then cost no accounting. What they can pin is bounded anyway, by
// rsocket-go's send queue (64 frames) plus one blocked response per open
// stream (guard.Limits.MaxStreams): 1024 × 4 KiB by default.
const smallResponse = 4 << 10

// errNegativeReserve is returned by ReserveResponse for a negative size.
var errNegativeReserve = errors.New("rsrt: negative response reservation")

// WithResponseBudget bounds the bytes of responses each connection has
// produced and the peer has not read yet to n (default
// DefaultResponseBudget); n < 0 removes the bound. A response that does
// not fit waits for earlier ones to be written (first come, first
// served); one larger than n waits until nothing else is pending and goes
// alone. See [ReserveResponse].
func WithResponseBudget(n int64) AcceptOption {
	return func(c *acceptConfig) { c.budget = n }
}

// WithServerResponseBudget bounds the bytes of unwritten responses of all
// the connections of the acceptor together to n (default
// DefaultServerResponseBudget, and never less than one connection's
// budget); n < 0 removes the bound. A connection's response is charged to
// its own budget first, then to this one: when the server's budget is
// exhausted, the connections that produce more wait, in arrival order,
// while the ones that do not are served as before (small responses are
// never charged). A peer that does not read is cut off by the transport's
// write timeout, which gives its bytes back.
func WithServerResponseBudget(n int64) AcceptOption {
	return func(c *acceptConfig) { c.serverBudget = n }
}

// budget is one connection's response budget, charged against the
// server's (shared) when there is one. A budget of size 0 bounds nothing:
// it never waits and charges nothing (clients, and servers built with
// WithResponseBudget(n < 0)).
type budget struct {
	sem    *semaphore.Weighted
	size   int64
	server *semaphore.Weighted // nil without a server-wide bound
	stats  *ServerStats        // counts the waits; the scope's (see connScope)
}

func newBudget(size int64, server *semaphore.Weighted) *budget {
	size = max(size, 0)
	return &budget{sem: semaphore.NewWeighted(size), size: size, server: server, stats: new(ServerStats)}
}

// serverBudget returns the semaphore of a server-wide budget of n bytes
// for connections whose own budget is perConn: nil when n < 0 or there is
// no per-connection budget, the default for 0, and never smaller than
// perConn, so that any response fits.
func serverBudget(n, perConn int64) *semaphore.Weighted {
	switch {
	case n < 0 || perConn <= 0:
		return nil
	case n == 0:
		n = DefaultServerResponseBudget
	}
	return semaphore.NewWeighted(max(n, perConn))
}

// acquire waits for n bytes (at most the whole budget), from the
// connection's budget and then from the server's, and returns how many it
// took. Always in that order, so that two waits never wait for each other.
// A wait (when the bytes are not there at once) is counted, against the
// first budget that made it wait, with its duration.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.size)
	if n <= 0 {
		return 0, nil
	}
	var start time.Time
	defer func() {
		if !start.IsZero() {
			b.stats.waitNanos.Add(int64(time.Since(start)))
		}
	}()
	if !b.sem.TryAcquire(n) {
		start = time.Now()
		b.stats.connWaits.Add(1)
		if err := b.sem.Acquire(ctx, n); err != nil {
			return 0, err
		}
	}
	if b.server != nil && !b.server.TryAcquire(n) {
		if start.IsZero() {
			start = time.Now()
			b.stats.serverWaits.Add(1)
		}
		if err := b.server.Acquire(ctx, n); err != nil {
			b.sem.Release(n)
			return 0, err
		}
	}
	return n, nil
}

func (b *budget) release(n int64) {
	if n > 0 {
		if b.server != nil {
			b.server.Release(n)
		}
		b.sem.Release(n)
	}
}

// handlerKey is the context key of a handler's *handlerCtx.
type handlerKey struct{}

// handlerCtx is the context a handler runs with: the connection's (or
// the stream's) context, plus what the handler reserved for its next
// response on the connection's budget.
type handlerCtx struct {
	context.Context
	b        *budget
	reserved atomic.Int64
	// call is the call the handler serves (see CallOf), once served is
	// set; never on the requesting side of a channel.
	call   Call
	served bool
	// req, for a request-response, is what ends its context: Context
	// is then the connection's, and req decides Done, Err and Deadline
	// (see lazyRequest).
	req *lazyRequest
	// out, for a request-response, is where the end of the connection's
	// interceptor chain puts the answer (responder.serveRR).
	out *Payload
	// route is the *route[S] the call came on, for the end of the
	// connection's interceptor chains (responder.routeOf); nil on the
	// requesting side of a channel.
	route any
	// sender, for a stream or channel served, is its outbound side, and
	// ends what OnStreamEnd registered for its end.
	sender *RawSender
	ends   []func(error)
}

// Deadline implements context.Context.
func (h *handlerCtx) Deadline() (time.Time, bool) {
	if h.req != nil {
		return h.req.deadline()
	}
	return h.Context.Deadline()
}

// Done implements context.Context.
func (h *handlerCtx) Done() <-chan struct{} {
	if h.req != nil {
		return h.req.done()
	}
	return h.Context.Done()
}

// Err implements context.Context.
func (h *handlerCtx) Err() error {
	if h.req != nil {
		return h.req.err()
	}
	return h.Context.Err()
}

// serve records the call the handler serves.
func (h *handlerCtx) serve(c Call) {
	h.call, h.served = c, true
}

// Value implements context.Context.
func (h *handlerCtx) Value(key any) any {
	switch key {
	case handlerKey{}:
		return h
	case callKey{}:
		if h.served {
			return &h.call
		}
	}
	if h.req != nil {
		return h.req.value(key)
	}
	return h.Context.Value(key)
}

// handlerOf returns the handler context in ctx, or nil.
func handlerOf(ctx context.Context) *handlerCtx {
	h, _ := ctx.Value(handlerKey{}).(*handlerCtx)
	return h
}

// ReserveResponse prepares a server handler (ctx is the context it was
// given, or one derived from it) to produce a response of n bytes (data
// and metadata): it waits until the connection's response budget (see
// [WithResponseBudget]) has room, then holds the room for the handler's
// next response: the answer of a request-response, the next item a
// stream or channel handler sends. The room is given back once that
// response has been written to the peer, or when the handler ends without
// it. A second call before that response resizes the reservation to n.
//
// In a stream or channel handler the reservation is held while Send waits
// for the peer's demand: reserve for the item about to be sent, not ahead.
//
// A handler that builds large responses (files, blobs) calls it before
// building them, so that a peer that sends requests without reading the
// answers makes the handlers wait instead of filling the server's memory.
// Responses are charged to the budget when they are handed over anyway,
// but by then their bytes exist.
//
// It returns ctx's error if ctx ends first (the connection closed, the
// stream was cancelled). Outside a handler, or without a budget, it
// returns nil at once.
func ReserveResponse(ctx context.Context, n int64) error {
	if n < 0 {
		return errNegativeReserve
	}
	h := handlerOf(ctx)
	if h == nil {
		return nil
	}
	want := min(n, h.b.size)
	have := h.reserved.Load()
	switch {
	case want > have:
		got, err := h.b.acquire(ctx, want-have)
		if err != nil {
			return err
		}
		h.reserved.Add(got)
	case want < have:
		h.b.release(have - want)
		h.reserved.Add(want - have)
	}
	return nil
}

// hold charges a response payload to the budget, using the handler's
// reservation first, and returns the payload to hand to the library: with
// a Done that gives the bytes back, when it was charged.
func (h *handlerCtx) hold(ctx context.Context, p rsock.Payload) (rsock.Payload, error) {
	size := int64(len(p.Data) + len(p.Metadata))
	reserved := h.reserved.Swap(0)
	if !charged(size, reserved) {
		return p, nil
	}
	charge := reserved
	if need := min(size, h.b.size); need > reserved {
		got, err := h.b.acquire(ctx, need-reserved)
		if err != nil {
			h.b.release(reserved)
			return rsock.Payload{}, err
		}
		charge += got
	}
	if charge == 0 {
		return p, nil // an unbounded budget charges nothing
	}
	b := h.b
	p.Done = func() { b.release(charge) } // called once (rsock)
	return p, nil
}

// charged reports whether a response of size bytes, with reserved bytes
// reserved for it, is charged to the budget: small ones are not, unless
// their handler reserved.
func charged(size, reserved int64) bool { return reserved != 0 || size >= smallResponse }

// mayWait reports whether hold may wait for room to charge p: when the
// budget is bounded and p is charged.
func (h *handlerCtx) mayWait(p rsock.Payload) bool {
	return h.b.size > 0 && charged(int64(len(p.Data)+len(p.Metadata)), h.reserved.Load())
}

// drop gives back a reservation no response used.
func (h *handlerCtx) drop() {
	h.b.release(h.reserved.Swap(0))
}
