package rsrt

// The inbound side of streams and channels: an rsock.Subscriber that
// queues each item (rsock copied it out of the library's buffers) in a
// bounded queue, and issues demand in windows. The demand accounting
// below is the rest of rsock's entry "Demand outside OnNext": the
// boundary gives it the two paths (Subscription.Request, from OnNext, and
// Subscription.Refill, through the tap); this file decides when each is
// used.
//
// Every inbound flux of rsocket-go v0.8.16 is a reactor-go unicast
// processor behind a DoOnRequest hook, and demand issued from outside the
// subscriber's OnNext gets lost: Request(n) first writes the REQUEST_N
// frame and waits for it to be written, and only then adds n to the
// processor's counter, without draining. Items the peer sends in between
// find a zero counter and stay queued inside the processor until another
// item arrives, or for good if the peer completes instead. (The processor
// also ends its drain loop with CompareAndSwap(-1, 0), which eats a unit
// of credit added concurrently.) Demand issued from inside OnNext is
// always seen: the read loop is busy in OnNext, so no item can arrive
// before the counter is updated. Measured: a stream with a consumer that
// fell behind stalled in 4 runs out of 8 when demand was renewed from the
// consumer's goroutine.
//
// So the inbound requests more from OnNext whenever its buffer has room.
// When a slow consumer let the credit run out with a full buffer, the
// demand must come from outside OnNext; a client does that through its
// transport tap (rsock.Subscription.Refill): the library's REQUEST_N
// frame is swallowed while Request updates the processor's counter, then
// the tap writes the frame itself, so the counter is always ahead of the
// peer. And so that such an update never meets the drain loop's
// CompareAndSwap(-1, 0), the processor holds one unit of credit the peer
// never hears of (its REQUEST_N is swallowed and not rewritten): with it,
// the counter never reaches zero while the peer respects its credit. Measured under the race detector:
// without the reserve unit the streaming tests stalled about once in 70
// runs when the machine was loaded; with it, none in 900 runs alongside
// six full runs of the package's tests.
//
// Where there is no tap (server-side channels and server-to-client
// streams) the inbound runs in "reserve" mode: it never lets the counter
// reach zero (it requests one more from OnNext when it would), and bounds
// memory with a hard cap instead: a peer that keeps the buffer above
// channelHardCap unread items fails the inbound with errInboundOverflow,
// and gets no more credit.
//
// The server side of a channel has one more reason for reserve mode: the
// REQUEST_CHANNEL payload is pushed into the processor without costing the
// peer credit, so the processor's counter stays one below the peer's
// credit for the whole exchange; at zero, the peer's last credited item
// would be stuck.

import (
	"context"
	"io"
	"sync"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// errInboundOverflow ends an inbound (a channel handler's, or a server's
// stream from a client) whose reader leaves too many items unread.
var errInboundOverflow = NewError("inbound overflow: more than %d items left unread", channelHardCap)

// Inbound windows.
const (
	// channelWindow is the demand a request-channel responder issues at a
	// time for its inbound.
	channelWindow = 32
	// channelHardCap is how many unread inbound items a channel handler
	// may leave before its inbound fails.
	channelHardCap = 8 * channelWindow
)

type item struct {
	p   *Payload
	err error
}

// RawInbound is the inbound side of a request-channel (and, inside the
// runtime, of every stream whose items the peer sends): the items arrive
// through inboundSub, the library's subscriber, and wait in a bounded
// queue for Recv.
type RawInbound struct {
	inboundConfig
	limit int // target bound on buffered items plus outstanding credit

	gotFirst bool   // touched only by OnNext, which the library serialises
	reserved bool   // the processor holds its reserve unit (refill mode)
	route    string // set by onFirst: the route every later item is marked with

	mu        sync.Mutex
	sub       *rsock.Subscription
	q         []item
	head      int
	credit    int
	starved   bool
	term      error // io.EOF, the peer's error, or a local end
	termSet   bool
	peerEnded bool // the library delivered OnComplete/OnError
	cancelled bool
	// cancelPending defers the library's cancel to OnNext (see cancel).
	cancelPending bool
	waitCh        chan struct{}
}

// inboundConfig is what a RawInbound is built with. The optional hooks
// may be nil.
type inboundConfig struct {
	window int // the demand issued at a time, to begin with
	// maxWindow is what window may grow to while the consumer keeps up
	// (see OnNext); at most window, it does not grow.
	maxWindow int
	conv      func(rsock.Payload, bool) item // parses an item
	// tapped: demand from outside OnNext goes through the transport tap
	// (client side; Subscription.Refill, see the top of this file);
	// unset in reserve mode.
	tapped  bool
	onFirst func(item) bool // called with the first item; false = do not queue it
	onTerm  func()          // called once when the inbound terminates (peer side)
	// onCancel sends a CANCEL frame at once (client side, via the tap).
	onCancel func()
	// done is closed when the connection closed; Recv then returns
	// doneErr() unless the library ended the inbound first. Both nil
	// when the handler's context ends with the connection anyway.
	done    <-chan struct{}
	doneErr func() error
}

// newInbound returns the inbound of a stream or channel: in reserve mode
// unless cfg is tapped.
func newInbound(cfg inboundConfig) *RawInbound {
	cfg.window = max(cfg.window, 1)
	return &RawInbound{inboundConfig: cfg, limit: 2 * cfg.window}
}

// inboundSub is the rsock.Subscriber through which the library feeds a
// RawInbound. (A type of its own, so that handlers holding a RawInbound
// see Recv only.)
type inboundSub RawInbound

// OnSubscribe implements rsock.Subscriber.
func (in *inboundSub) OnSubscribe(s *rsock.Subscription) {
	b := (*RawInbound)(in)
	b.mu.Lock()
	b.sub = s
	if b.cancelled {
		b.mu.Unlock()
		s.Cancel()
		return
	}
	b.credit = b.window
	defer b.mu.Unlock()
	s.Request(b.window)
}

// OnNext implements rsock.Subscriber. It runs on the connection's read
// loop and never waits for the consumer.
func (in *inboundSub) OnNext(p rsock.Payload) {
	b := (*RawInbound)(in)
	first := !b.gotFirst
	b.gotFirst = true
	it := b.conv(p, first)
	queue := true
	if first && b.onFirst != nil {
		queue = b.onFirst(it)
	} else if it.p != nil && b.route != "" {
		it.p.Route = b.route
	}
	b.mu.Lock()
	b.credit--
	if b.cancelPending {
		b.cancelPending = false
		b.sub.Cancel() // see cancel
	}
	if b.tapped && !b.reserved && !b.termSet {
		// Give the processor its reserve unit, which the peer never
		// hears of (see the top of this file). Not counted in credit,
		// which mirrors the peer's.
		b.reserved = true
		b.sub.Refill(1, false)
	}
	if b.termSet {
		b.mu.Unlock()
		return
	}
	if queue {
		b.q = append(b.q, it)
	}
	buffered := len(b.q) - b.head
	n := 0
	switch {
	case b.credit <= b.window/2 && buffered+b.credit+b.window <= b.limit:
		if buffered <= b.window/2 && b.window < b.maxWindow {
			// The consumer holds less than half a window unread: its
			// own demand, not its pace, limits the stream. A fixed window
			// delivers at most window items per round trip, and the
			// round trip grows with everything else the connection
			// carries (256 requests in flight on the same connection
			// held a 64-item window to a third of the messages they
			// produced, and the server's queue dropped the rest).
			// Doubling it, like grpc-go's BDP estimator grows its flow
			// control window, lets a reader that keeps up keep up; a
			// reader that falls behind stops the growth, and the buffer
			// stays bounded by 2 × maxWindow items.
			b.window = min(2*b.window, b.maxWindow)
			b.limit = 2 * b.window
		}
		n = b.window
	case b.credit <= 0 && !b.tapped:
		n = 1
	case b.credit <= 0:
		b.starved = true
	}
	defer b.mu.Unlock()
	// Calls into the subscription are made under the lock: reactor-go's
	// subscriptions are not safe for concurrent Request and Cancel.
	if !b.tapped && buffered > channelHardCap {
		// Fail the inbound and stop granting credit; later items are
		// dropped. The library's cancel waits for the handler to end
		// (see responder.endChannel): a CANCEL now, with our outbound
		// still open, would crash a v0.8.16 requester.
		b.q, b.head = nil, 0
		b.endLocked(errInboundOverflow)
		return
	}
	b.credit += n
	b.signalLocked()
	if n > 0 {
		b.sub.Request(n)
	}
}

// OnComplete implements rsock.Subscriber.
func (in *inboundSub) OnComplete() { (*RawInbound)(in).peerEnd(io.EOF) }

// OnError implements rsock.Subscriber.
func (in *inboundSub) OnError(err error) { (*RawInbound)(in).peerEnd(peerError(err)) }

func (b *RawInbound) peerEnd(err error) {
	b.mu.Lock()
	b.peerEnded = true
	b.endLocked(err)
	b.mu.Unlock()
	if b.onTerm != nil {
		b.onTerm()
	}
}

func (b *RawInbound) endLocked(err error) {
	if !b.termSet {
		b.termSet, b.term = true, err
	}
	b.signalLocked()
}

func (b *RawInbound) signalLocked() {
	if b.waitCh != nil {
		close(b.waitCh)
		b.waitCh = nil
	}
}

// Recv returns the next inbound item, or, once every queued item was
// returned, io.EOF when the peer completed its side, or the peer's error.
func (b *RawInbound) Recv(ctx context.Context) (*Payload, error) {
	for {
		b.mu.Lock()
		if b.head < len(b.q) && !b.cancelled {
			it := b.q[b.head]
			b.q[b.head] = item{}
			b.head++
			if b.head == len(b.q) {
				b.q, b.head = b.q[:0], 0
			}
			if b.starved && !b.termSet && len(b.q)-b.head+b.window <= b.limit {
				// Credit ran out while the buffer was full: renew it
				// from here, through the refill path (see the top of
				// this file). The lock is held throughout so that the
				// subscription cannot be recycled by a concurrent
				// termination (the library pools it).
				b.starved = false
				b.credit += b.window
				b.sub.Refill(b.window, true)
			}
			b.mu.Unlock()
			if it.err != nil {
				return nil, it.err
			}
			return it.p, nil
		}
		if b.termSet {
			err := b.term
			b.mu.Unlock()
			return nil, err
		}
		if b.waitCh == nil {
			b.waitCh = make(chan struct{})
		}
		ch := b.waitCh
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.done:
			b.mu.Lock()
			ended := b.termSet || b.head < len(b.q)
			b.mu.Unlock()
			if !ended {
				return nil, b.doneErr()
			}
		}
	}
}

// cancel stops the inbound: queued items are dropped and Recv returns
// ErrCancelled. It reports whether the peer may still be sending (so a
// CANCEL frame was due); onCancel, when set, sends it right away.
//
// The library's own cancel (Subscription.Cancel, which also writes a CANCEL
// frame) is deferred to the next OnNext: it closes the processor's queue,
// and the read loop may be putting an item in that queue at the same
// moment, a "send on closed channel" panic that kills the process. Inside
// OnNext the read loop is ours, so there it is safe. When no item comes any
// more, the library keeps the stream registered until the connection
// closes, a few hundred bytes.
func (b *RawInbound) cancel() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancelled || b.peerEnded {
		b.cancelled = true
		return false
	}
	b.cancelled = true
	b.q, b.head = nil, 0
	b.endLocked(ErrCancelled)
	if b.sub == nil {
		return true // OnSubscribe cancels it (the queue is not fed yet then)
	}
	b.cancelPending = true
	if b.onCancel != nil {
		b.onCancel()
	}
	return true
}

// convItem converts an inbound payload: data, and the composite-metadata
// entries when the payload has metadata. When withRoute is set the routing
// entry must be there and its first tag becomes Route.
func convItem(p rsock.Payload, withRoute bool) item {
	out := &Payload{Data: p.Data}
	md := p.Metadata
	if len(md) == 0 {
		if withRoute {
			return item{p: out, err: NewError("invalid request: %v", errNoRouting)}
		}
		return item{p: out}
	}
	route, entries, err := ParseComposite(md)
	if err != nil {
		return item{p: out, err: NewError("invalid metadata: %v", err)}
	}
	if withRoute && route == "" {
		return item{p: out, err: NewError("invalid request: %v", errNoRouting)}
	}
	out.Route, out.Metadata = route, entries
	return item{p: out}
}
