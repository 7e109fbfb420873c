package rsrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// defaultPrefetch is the stream demand window a client starts with;
// maxAutoPrefetch is what the window grows to while the consumer keeps up.
const (
	defaultPrefetch = 64
	maxAutoPrefetch = 1024
)

// ErrClosed is returned (wrapped, with the peer's reason when it gave one)
// by calls that the end of their connection cut short.
var ErrClosed = rsock.ErrClosed

// Caller sends requests to a peer: the server through a [ClientConn], or a
// client through a server-side [Conn]. It is safe for concurrent use.
type Caller struct {
	// conn is the connection's requesting side, in the boundary: every
	// call into the library goes through it.
	conn  *rsock.Conn
	scope *connScope
	// done is closed when the connection closed.
	done     <-chan struct{}
	prefetch int
	// peerServes reports whether the peer serves a route: on a server,
	// what the client declared in SETUP; a client calls every route (the
	// server answers those it lacks with an error).
	peerServes func(Interaction, string) bool
	// closeReason returns why the connection closed, when the peer said.
	closeReason func() error
}

// everyRoute is the peerServes of a client's caller.
func everyRoute(Interaction, string) bool { return true }

// noReason is the closeReason of a server's caller: the server learns
// nothing of why a client went.
func noReason() error { return nil }

func (c *Caller) check(ctx context.Context, i Interaction, route string) error {
	if !c.peerServes(i, route) {
		return &UndeclaredRouteError{Interaction: i, Route: route}
	}
	return ctx.Err()
}

// callErr maps the library's errors for a call on a closed connection
// ("socket closed already", with no reason) to closedErr.
func (c *Caller) callErr(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	select {
	case <-c.done:
		return c.closedErr()
	default:
		return err
	}
}

// closedErr is the error of a call the connection's end cut short; it
// carries the reason the peer gave when there is one (a refused SETUP, for
// example).
func (c *Caller) closedErr() error {
	if err := c.closeReason(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, peerError(err))
	}
	return ErrClosed
}

// convResponse converts a response payload; its metadata, when present,
// is composite metadata with entries (and no routing).
func convResponse(p rsock.Payload, _ bool) item {
	it := convItem(p, false)
	if it.err != nil {
		it.err = &badItem{err: it.err}
	}
	return it
}

// badItem marks a response item whose metadata could not be parsed; the
// sequence reports it as BadResponse of its route.
type badItem struct{ err error }

func (b *badItem) Error() string { return b.err.Error() }
func (b *badItem) Unwrap() error { return b.err }

// RequestResponse sends a request-response and waits for the answer.
func (c *Caller) RequestResponse(ctx context.Context, route string, req Payload) (*Payload, error) {
	if err := c.check(ctx, RequestResponse, route); err != nil {
		return nil, err
	}
	p, err := requestPayload(route, req)
	if err != nil {
		return nil, err
	}
	sub := &monoSub{done: make(chan struct{})}
	if err := c.conn.RequestResponse(p, sub); err != nil {
		return nil, err
	}
	select {
	case <-sub.done:
	case <-ctx.Done():
		sub.cancel()
		return nil, ctx.Err()
	case <-c.done:
		select {
		case <-sub.done: // the library failed it with its own reason
		default:
			sub.cancel()
			return nil, c.closedErr()
		}
	}
	if sub.err != nil {
		return nil, c.callErr(sub.err)
	}
	if sub.res.err == ErrClosed {
		return nil, c.closedErr()
	}
	if sub.res.err != nil {
		return nil, BadResponse(route, sub.res.err)
	}
	if sub.res.p == nil {
		return &Payload{}, nil
	}
	return sub.res.p, nil
}

// monoSub receives the one response of a request-response.
type monoSub struct {
	mu   sync.Mutex
	su   *rsock.Subscription
	over bool
	res  item
	err  error
	done chan struct{}
}

func (s *monoSub) OnSubscribe(su *rsock.Subscription) {
	s.mu.Lock()
	s.su = su
	s.mu.Unlock()
	su.Request(1)
}

func (s *monoSub) OnNext(p rsock.Payload) {
	it := convItem(p, false)
	s.mu.Lock()
	s.res = it
	s.mu.Unlock()
}

func (s *monoSub) OnComplete() { s.end(nil) }

func (s *monoSub) OnError(err error) {
	if err == rsock.ErrReleased {
		// The answer's frame was released by the closing connection
		// under the read loop: the answer is lost, and the library
		// ends the call next.
		s.mu.Lock()
		s.res = item{err: ErrClosed}
		s.mu.Unlock()
		return
	}
	s.end(peerError(err))
}

func (s *monoSub) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return
	}
	s.over, s.err = true, err
	close(s.done)
}

func (s *monoSub) cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over || s.su == nil {
		return
	}
	s.over = true
	close(s.done)
	s.su.Cancel()
}

// FireAndForget sends a fire-and-forget request.
func (c *Caller) FireAndForget(ctx context.Context, route string, req Payload) error {
	if err := c.check(ctx, FireAndForget, route); err != nil {
		return err
	}
	p, err := requestPayload(route, req)
	if err != nil {
		return err
	}
	return c.conn.FireAndForget(p)
}

// MetadataPush sends a METADATA_PUSH carrying the route and entries.
func (c *Caller) MetadataPush(ctx context.Context, route string, entries Metadata) error {
	if err := c.check(ctx, MetadataPush, route); err != nil {
		return err
	}
	if route == "" {
		return errors.New("rsrt: empty route")
	}
	md, err := EncodeComposite(route, entries)
	if err != nil {
		return err
	}
	return c.conn.MetadataPush(rsock.Payload{Metadata: md})
}

// RequestStream opens a request-stream. Breaking out of the loop or
// cancelling ctx sends CANCEL. Demand is issued in windows of the
// connection's prefetch size, from inside the library's delivery callback.
func (c *Caller) RequestStream(ctx context.Context, route string, req Payload) iter.Seq2[*Payload, error] {
	return func(yield func(*Payload, error) bool) {
		if err := c.check(ctx, RequestStream, route); err != nil {
			yield(nil, err)
			return
		}
		p, err := requestPayload(route, req)
		if err != nil {
			yield(nil, err)
			return
		}
		sid := &rsock.StreamID{}
		b := newInbound(inboundConfig{window: c.prefetch, maxWindow: max(c.prefetch, maxAutoPrefetch), conv: convResponse,
			tapped: c.conn.Tapped(), onCancel: c.conn.Canceller(sid),
			done: c.done, doneErr: c.closedErr})
		// ctx is watched by Recv, not handed to the library.
		if err := c.conn.RequestStream(p, sid, (*inboundSub)(b)); err != nil {
			yield(nil, err)
			return
		}
		drain(ctx, b, route, c.callErr, yield, b.cancel)
	}
}

// drain yields the items of an inbound until it ends, the loop breaks or
// ctx ends; stop cancels the exchange in the last two cases.
func drain(ctx context.Context, b *RawInbound, route string, mapErr func(error) error, yield func(*Payload, error) bool, stop func() bool) {
	for {
		p, err := b.Recv(ctx)
		if err == io.EOF {
			return
		}
		if err != nil {
			var bi *badItem
			if errors.As(err, &bi) {
				err = BadResponse(route, bi.err)
			} else if ctx.Err() == nil {
				err = mapErr(err)
			}
			stop()
			yield(nil, err)
			return
		}
		if !yield(p, nil) {
			stop()
			return
		}
	}
}

// RequestChannel opens a request-channel. When first is nil the
// REQUEST_CHANNEL frame carries the route only.
func (c *Caller) RequestChannel(ctx context.Context, route string, first *Payload) (*RawChannel, error) {
	if err := c.check(ctx, RequestChannel, route); err != nil {
		return nil, err
	}
	var fp Payload
	if first != nil {
		fp = *first
	}
	p, err := requestPayload(route, fp)
	if err != nil {
		return nil, err
	}
	out := newSender(c.scope, &handlerCtx{Context: ctx, b: c.scope.budget}, c.done, nil)
	ch := &RawChannel{route: route, ctx: ctx, out: out, callErr: c.callErr}
	ch.in = newInbound(inboundConfig{window: c.prefetch, maxWindow: max(c.prefetch, maxAutoPrefetch), conv: convResponse,
		tapped: c.conn.Tapped(), onCancel: c.conn.Canceller(&ch.sid),
		onTerm: out.noMoreCredit, done: c.done, doneErr: c.closedErr})
	// The library subscribes our outbound and asks it for the
	// REQUEST_CHANNEL payload, which goes out first.
	opening, err := c.conn.RequestChannel((*senderSub)(out), &ch.sid, (*inboundSub)(ch.in))
	if err != nil {
		return nil, err
	}
	err = out.sendRaw(ctx, p)
	opening(err == nil)
	if err != nil {
		_ = ch.Close()
		return nil, err
	}
	return ch, nil
}

// RawChannel is the client side of an open request-channel.
type RawChannel struct {
	route   string
	ctx     context.Context
	callErr func(error) error
	out     *RawSender
	in      *RawInbound
	sid     rsock.StreamID // set by the tap once the REQUEST_CHANNEL frame is written

	closeOnce sync.Once
}

// Send sends one item to the responder, waiting for its demand.
func (c *RawChannel) Send(ctx context.Context, r Payload) error {
	p, err := responsePayload(r)
	if err != nil {
		return err
	}
	return c.out.sendRaw(ctx, p)
}

// CloseSend completes the outbound side.
func (c *RawChannel) CloseSend() error {
	c.out.finish(nil)
	return nil
}

// Recv returns the responses; breaking out of the loop cancels the channel.
func (c *RawChannel) Recv() iter.Seq2[*Payload, error] {
	return func(yield func(*Payload, error) bool) {
		drain(c.ctx, c.in, c.route, c.callErr, yield, func() bool { _ = c.Close(); return true })
	}
}

// Close cancels both sides: our outbound stops locally, and the inbound
// cancel sends the CANCEL frame, at once, through the boundary (rsock's
// doc, entry "Channel and stream CANCEL").
func (c *RawChannel) Close() error {
	c.closeOnce.Do(func() {
		c.out.cancel()
		c.in.cancel()
	})
	return nil
}

// decodeSeq maps a raw sequence through dec; see DecodeSeq.
func decodeSeq[T any](raw iter.Seq2[*Payload, error], route string, dec func(*Payload) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for p, err := range raw {
			if err != nil {
				yield(zero, err)
				return
			}
			v, err := dec(p)
			if err != nil {
				yield(zero, BadResponse(route, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// inboundAll is Inbound.All.
func inboundAll[T any](in *Inbound[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			v, err := in.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}
