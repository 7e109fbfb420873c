package rsrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

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

// outgoing returns req with the entries every request made with ctx
// carries after its own: those AppendMetadata put in ctx, then ctx's
// deadline (MIMEDeadline). It copies rather than appends to req's
// entries, which belong to the caller.
func outgoing(ctx context.Context, req Payload) Payload {
	extra := outgoingMetadata(ctx)
	dl, hasDL := deadlineEntry(ctx)
	if len(extra) == 0 && !hasDL {
		return req
	}
	md := make(Metadata, 0, len(req.Metadata)+len(extra)+1)
	md = append(append(md, req.Metadata...), extra...)
	if hasDL {
		md = append(md, dl)
	}
	req.Metadata = md
	return req
}

// unary sends a request-response, fire-and-forget or metadata-push (send)
// through the connection's interceptors.
func (c *Caller) unary(ctx context.Context, i Interaction, route string, req Payload, send func(ctx context.Context, req *Payload) (*Payload, error)) (*Payload, error) {
	if err := c.check(ctx, i, route); err != nil {
		return nil, err
	}
	req = outgoing(ctx, req)
	if len(c.scope.ic) == 0 {
		return send(ctx, &req)
	}
	return c.scope.ic.unary(func(ctx context.Context, _ *Call, req *Payload) (*Payload, error) {
		return send(ctx, req)
	})(ctx, c.scope.requested(i, route, req.Metadata), &req)
}

// RequestResponse sends a request-response and waits for the answer.
func (c *Caller) RequestResponse(ctx context.Context, route string, req Payload) (*Payload, error) {
	return c.unary(ctx, RequestResponse, route, req, func(ctx context.Context, req *Payload) (*Payload, error) {
		return c.requestResponse(ctx, route, req)
	})
}

func (c *Caller) requestResponse(ctx context.Context, route string, req *Payload) (*Payload, error) {
	p, err := requestPayload(route, *req)
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
		if err := ctxEnded(ctx); err != nil {
			return nil, err // the answer and ctx's end came together
		}
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
	_, err := c.unary(ctx, FireAndForget, route, req, func(_ context.Context, req *Payload) (*Payload, error) {
		p, err := requestPayload(route, *req)
		if err != nil {
			return nil, err
		}
		return nil, c.conn.FireAndForget(p)
	})
	return err
}

// MetadataPush sends a METADATA_PUSH carrying the route and entries.
func (c *Caller) MetadataPush(ctx context.Context, route string, entries Metadata) error {
	_, err := c.unary(ctx, MetadataPush, route, Payload{Metadata: entries}, func(_ context.Context, req *Payload) (*Payload, error) {
		if route == "" {
			return nil, errors.New("rsrt: empty route")
		}
		md, err := EncodeComposite(route, req.Metadata)
		if err != nil {
			return nil, err
		}
		return nil, c.conn.MetadataPush(rsock.Payload{Metadata: md})
	})
	return err
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
		req := outgoing(ctx, req)
		open := c.openStream
		if len(c.scope.ic) > 0 {
			open = c.scope.ic.streamClient(open)
		}
		cs, err := open(ctx, c.scope.requested(RequestStream, route, req.Metadata), &req)
		if err != nil {
			yield(nil, err)
			return
		}
		drain(ctx, cs, yield)
	}
}

// openStream opens a request-stream: the innermost StreamClientFunc.
func (c *Caller) openStream(ctx context.Context, call *Call, req *Payload) (ClientStream, error) {
	route := call.Route
	p, err := requestPayload(route, *req)
	if err != nil {
		return nil, err
	}
	sid := &rsock.StreamID{}
	b := newInbound(inboundConfig{window: c.prefetch, maxWindow: max(c.prefetch, maxAutoPrefetch), conv: convResponse,
		tapped: c.conn.Tapped(), onCancel: c.conn.Canceller(sid),
		done: c.done, doneErr: c.closedErr})
	// ctx is watched by Recv, not handed to the library.
	if err := c.conn.RequestStream(p, sid, (*inboundSub)(b)); err != nil {
		return nil, err
	}
	return &streamCall{in: b, route: route, callErr: c.callErr}, nil
}

// streamCall is the innermost ClientStream of a request-stream.
type streamCall struct {
	in      *RawInbound
	route   string
	callErr func(error) error
}

func (s *streamCall) Send(context.Context, Payload) error { return errNotAChannel }

func (s *streamCall) Recv(ctx context.Context) (*Payload, error) {
	return recvResponse(ctx, s.in, s.route, s.callErr)
}

func (s *streamCall) CloseSend() error { return nil }

func (s *streamCall) Close() error {
	s.in.cancel()
	return nil
}

// ctxEnded returns ctx's error, or context.DeadlineExceeded once its
// deadline has passed even if its timer has not fired yet (on a loaded
// machine it can be late, and the peer's answer to our deadline come
// first).
func ctxEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// recvResponse returns the next item of a requester's inbound, its
// errors made into what callers see: an item that cannot be read is
// BadResponse of route, a library error is mapped by mapErr.
func recvResponse(ctx context.Context, b *RawInbound, route string, mapErr func(error) error) (*Payload, error) {
	p, err := b.Recv(ctx)
	if err == nil || err == io.EOF {
		return p, err
	}
	if err := ctxEnded(ctx); err != nil {
		// Whatever ended the exchange too (the peer's error after
		// our deadline, say), the caller gave up first.
		return nil, err
	}
	var bi *badItem
	if errors.As(err, &bi) {
		err = BadResponse(route, bi.err)
	} else {
		err = mapErr(err)
	}
	return nil, err
}

// drain yields the items of a stream until it ends, the loop breaks or
// ctx ends; it closes the stream (a CANCEL) in the last two cases and on
// an error.
func drain(ctx context.Context, s ClientStream, yield func(*Payload, error) bool) {
	for {
		p, err := s.Recv(ctx)
		if err == io.EOF {
			return
		}
		if err != nil {
			_ = s.Close()
			yield(nil, err)
			return
		}
		if !yield(p, nil) {
			_ = s.Close()
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
	fp = outgoing(ctx, fp)
	if first != nil {
		first = &fp
	}
	open := c.openChannel
	if len(c.scope.ic) > 0 {
		open = c.scope.ic.streamClient(open)
	}
	cs, err := open(ctx, c.scope.requested(RequestChannel, route, fp.Metadata), first)
	if err != nil {
		return nil, err
	}
	return &RawChannel{route: route, ctx: ctx, cs: cs}, nil
}

// openChannel opens a request-channel: the innermost StreamClientFunc.
// first is nil when the first frame carries no item.
func (c *Caller) openChannel(ctx context.Context, call *Call, first *Payload) (ClientStream, error) {
	route := call.Route
	fp := Payload{Metadata: call.Metadata}
	if first != nil {
		fp = *first
	}
	p, err := requestPayload(route, fp)
	if err != nil {
		return nil, err
	}
	out := newSender(c.scope, &handlerCtx{Context: ctx, b: c.scope.budget}, c.done, nil)
	ch := &channelCall{route: route, out: out, callErr: c.callErr}
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
	route string
	ctx   context.Context
	// cs is the exchange, through the connection's interceptors.
	cs ClientStream
}

// Send sends one item to the responder, waiting for its demand.
func (c *RawChannel) Send(ctx context.Context, r Payload) error { return c.cs.Send(ctx, r) }

// CloseSend completes the outbound side.
func (c *RawChannel) CloseSend() error { return c.cs.CloseSend() }

// Recv returns the responses; breaking out of the loop cancels the channel.
func (c *RawChannel) Recv() iter.Seq2[*Payload, error] {
	return func(yield func(*Payload, error) bool) { drain(c.ctx, c.cs, yield) }
}

// Close cancels the channel.
func (c *RawChannel) Close() error { return c.cs.Close() }

// channelCall is the innermost ClientStream of a request-channel.
type channelCall struct {
	route   string
	callErr func(error) error
	out     *RawSender
	in      *RawInbound
	sid     rsock.StreamID // set by the tap once the REQUEST_CHANNEL frame is written

	closeOnce sync.Once
}

func (c *channelCall) Send(ctx context.Context, r Payload) error {
	p, err := responsePayload(r)
	if err != nil {
		return err
	}
	return c.out.sendRaw(ctx, p)
}

func (c *channelCall) CloseSend() error {
	c.out.finish(nil)
	return nil
}

func (c *channelCall) Recv(ctx context.Context) (*Payload, error) {
	return recvResponse(ctx, c.in, c.route, c.callErr)
}

// Close cancels both sides: our outbound stops locally, and the inbound
// cancel sends the CANCEL frame, at once, through the boundary (rsock's
// doc, entry "Channel and stream CANCEL").
func (c *channelCall) Close() error {
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
