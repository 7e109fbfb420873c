package rsrt

// Interceptors: the one hook for cross-cutting work (authentication,
// logging, metrics, deadlines of one's own), in the shape of connect-go's
// (interceptor.go there): an Interceptor wraps the function that performs a
// call, on either side, and sees the call's Call description. The runtime
// applies the connection's interceptors at the one place each interaction
// passes through: the responder for the calls a side serves, the Caller for
// the calls it makes.

import (
	"context"
	"errors"
	"io"
)

// Call describes one call as interceptors and handlers see it.
type Call struct {
	// Route is the route the call is made on.
	Route string
	// Interaction is the call's interaction model.
	Interaction Interaction
	// Requester is true on the side that sends the request (a generated
	// Client's call, or a server's call to a client route through its
	// Peer), false on the side that serves it.
	Requester bool
	// Peer is the other end of the connection.
	Peer Peer
	// Metadata holds the request's composite-metadata entries other than
	// routing, declared in the schema or not, in wire order: of the
	// request, or of the first frame of a stream or channel. On the
	// requesting side it is what is about to be sent, the deadline entry
	// included (see MIMEDeadline); on the serving side the runtime has
	// taken that entry out, and the handler's context carries the
	// deadline instead.
	Metadata Metadata
	// Handler is the value the call is dispatched to on the serving side
	// (the connection's generated Server, or the client's ClientHandler);
	// nil on the requesting side. An interceptor that checks per-session
	// state (a login, say) type-asserts it.
	Handler any
}

// Peer is the other end of a connection.
type Peer struct {
	// Addr is the peer's network address, "" when unknown.
	Addr string
	// Setup is the client's SETUP on a server; nil on a client.
	Setup *Setup
}

// UnaryFunc performs a request-response, fire-and-forget or metadata-push
// call: on the serving side it runs the handler, on the requesting side it
// sends the request and, for request-response, waits for the answer. The
// response is nil for fire-and-forget and metadata-push; a metadata-push
// request has no data.
type UnaryFunc func(ctx context.Context, call *Call, req *Payload) (*Payload, error)

// StreamHandlerFunc serves a request-stream or request-channel: it runs the
// handler until it returns, which ends the outbound side (nil completes
// it). req is the request of a request-stream, nil for a channel, whose
// items, the first one included, arrive through s.Recv.
type StreamHandlerFunc func(ctx context.Context, call *Call, req *Payload, s Stream) error

// StreamClientFunc opens a request-stream or request-channel and returns
// the stream the caller then reads (and, on a channel, writes). req is the
// request of a request-stream, or the first item of a channel that has
// one (nil when its first frame carries the route only).
type StreamClientFunc func(ctx context.Context, call *Call, req *Payload) (ClientStream, error)

// Stream is one open stream or channel, seen from one side: Send sends an
// item to the peer (waiting for its demand), Recv returns the next item
// from the peer and io.EOF once the peer completed. A request-stream has
// one direction only: on its serving side Recv returns io.EOF, on its
// requesting side Send returns an error.
type Stream interface {
	// Send sends one item, waiting for the peer's demand; ctx bounds
	// the wait. p's bytes may be shared with other streams (a fan-out's
	// message, see [Shared]): a wrapper that changes an item gives the
	// next Send new bytes, never writes to p's.
	Send(ctx context.Context, p Payload) error
	// Recv returns the next item, io.EOF once the peer completed, or
	// the error that ended the exchange; ctx bounds the wait.
	Recv(ctx context.Context) (*Payload, error)
}

// ClientStream is a stream or channel on its requesting side.
type ClientStream interface {
	Stream
	// CloseSend completes the outbound side of a channel.
	CloseSend() error
	// Close cancels the exchange (a CANCEL to the peer unless it ended).
	Close() error
}

// Interceptor wraps the calls of a connection, on both sides and for every
// interaction model. Each method returns the function that performs the
// call in next's place; it may check the Call and refuse it (return an
// error without calling next), derive the context it passes on, observe
// the result and the time the call took, and wrap the Stream or
// ClientStream to see every item and the end of the exchange.
//
// Interceptors are installed with [WithInterceptors] on an acceptor and
// [WithDialInterceptors] on Dial; the first one given is the outermost.
// An error from the serving side reaches the peer like a handler's (an
// *Error keeps its code and text).
type Interceptor interface {
	// WrapUnary wraps request-response, fire-and-forget and
	// metadata-push calls, on both sides.
	WrapUnary(next UnaryFunc) UnaryFunc
	// WrapStreamHandler wraps the serving side of request-stream and
	// request-channel.
	WrapStreamHandler(next StreamHandlerFunc) StreamHandlerFunc
	// WrapStreamClient wraps the requesting side of request-stream and
	// request-channel.
	WrapStreamClient(next StreamClientFunc) StreamClientFunc
}

// BeforeCall returns an Interceptor that runs check before every call of
// every interaction, on both sides: an error refuses the call (the peer
// gets it when we serve the call; the caller gets it when we make it), and
// the context check returns is the one the call goes on with.
func BeforeCall(check func(ctx context.Context, call *Call) (context.Context, error)) Interceptor {
	return beforeCall(check)
}

type beforeCall func(ctx context.Context, call *Call) (context.Context, error)

func (f beforeCall) WrapUnary(next UnaryFunc) UnaryFunc {
	return func(ctx context.Context, call *Call, req *Payload) (*Payload, error) {
		ctx, err := f(ctx, call)
		if err != nil {
			return nil, err
		}
		return next(ctx, call, req)
	}
}

func (f beforeCall) WrapStreamHandler(next StreamHandlerFunc) StreamHandlerFunc {
	return func(ctx context.Context, call *Call, req *Payload, s Stream) error {
		ctx, err := f(ctx, call)
		if err != nil {
			return err
		}
		return next(ctx, call, req, s)
	}
}

func (f beforeCall) WrapStreamClient(next StreamClientFunc) StreamClientFunc {
	return func(ctx context.Context, call *Call, req *Payload) (ClientStream, error) {
		ctx, err := f(ctx, call)
		if err != nil {
			return nil, err
		}
		return next(ctx, call, req)
	}
}

// UnaryInterceptorFunc is an Interceptor that wraps request-response,
// fire-and-forget and metadata-push calls only, on both sides, as
// connect-go's of the same name; streams and channels pass through.
type UnaryInterceptorFunc func(next UnaryFunc) UnaryFunc

// WrapUnary implements Interceptor.
func (f UnaryInterceptorFunc) WrapUnary(next UnaryFunc) UnaryFunc { return f(next) }

// WrapStreamHandler implements Interceptor: it returns next.
func (f UnaryInterceptorFunc) WrapStreamHandler(next StreamHandlerFunc) StreamHandlerFunc {
	return next
}

// WrapStreamClient implements Interceptor: it returns next.
func (f UnaryInterceptorFunc) WrapStreamClient(next StreamClientFunc) StreamClientFunc { return next }

// WithInterceptors installs interceptors on every connection an acceptor
// accepts: around the requests its clients send, and around the calls the
// server makes to client routes. The first is the outermost.
func WithInterceptors(ics ...Interceptor) AcceptOption {
	return func(c *acceptConfig) { c.interceptors = append(c.interceptors, ics...) }
}

// WithDialInterceptors installs interceptors on a client connection:
// around the calls the client makes, and around the server's calls to the
// routes the client serves. The first is the outermost.
func WithDialInterceptors(ics ...Interceptor) DialOption {
	return func(c *dialConfig) { c.interceptors = append(c.interceptors, ics...) }
}

// StreamEndHooker is an Interceptor whose WrapStreamHandler learns of a
// stream's end from OnStreamEnd, not from the return of the function it
// wraps. A stream fed from a Source (see [Sender.Feed]) outlives its
// handler only when every interceptor of the connection is a
// StreamEndHooker, a [BeforeCall] or a [UnaryInterceptorFunc]: its
// handler, and so that function, return while it is still open. The
// context a StreamEndHooker passes on must therefore stay alive when that
// function returns (no deferred cancel of a context it derived): the
// stream goes on with it, and ends when it ends.
type StreamEndHooker interface {
	Interceptor
	// HooksStreamEnd marks the interceptor; the runtime never calls it.
	HooksStreamEnd()
}

// OnStreamEnd registers f to be called once the request-stream or
// request-channel served with ctx is over (ctx is the context a stream
// interceptor or handler was given, or one derived from it), after its
// terminal frame, with its outcome: nil when it completed or was told to
// finish by the server's drain, else what ended it. It reports false,
// registering nothing, anywhere else. It is called by an interceptor or a
// handler before its handler returns.
func OnStreamEnd(ctx context.Context, f func(err error)) bool {
	h := handlerOf(ctx)
	if h == nil || h.sender == nil {
		return false
	}
	h.ends = append(h.ends, f)
	return true
}

// interceptors is a connection's chain; empty, it wraps nothing.
type interceptors []Interceptor

func (ics interceptors) unary(f UnaryFunc) UnaryFunc {
	for i := len(ics) - 1; i >= 0; i-- {
		f = ics[i].WrapUnary(f)
	}
	return f
}

func (ics interceptors) streamHandler(f StreamHandlerFunc) StreamHandlerFunc {
	for i := len(ics) - 1; i >= 0; i-- {
		f = ics[i].WrapStreamHandler(f)
	}
	return f
}

// endUnseen reports whether no interceptor of the chain reads the end of
// a stream it serves from its handler's return: each one is a BeforeCall,
// which checks the call before it starts, a UnaryInterceptorFunc, which
// lets streams pass, or a StreamEndHooker.
func (ics interceptors) endUnseen() bool {
	for _, ic := range ics {
		switch ic.(type) {
		case beforeCall, UnaryInterceptorFunc, StreamEndHooker:
		default:
			return false
		}
	}
	return true
}

func (ics interceptors) streamClient(f StreamClientFunc) StreamClientFunc {
	for i := len(ics) - 1; i >= 0; i-- {
		f = ics[i].WrapStreamClient(f)
	}
	return f
}

// callKey is the context key of the *Call a handler serves.
type callKey struct{}

// callCtx is the context of a fire-and-forget or metadata-push handler:
// the connection's, carrying the call (see CallOf).
type callCtx struct {
	context.Context
	call Call
}

// Value implements context.Context.
func (c *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return &c.call
	}
	return c.Context.Value(key)
}

// CallOf returns the call a handler serves (ctx is the context it was
// given, or one derived from it): its route, peer and every metadata entry
// of its request, declared in the schema or not. It returns nil outside a
// handler.
func CallOf(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// RequestMetadata returns every composite-metadata entry of the request a
// handler serves, routing excepted, declared in the schema or not, in wire
// order (see CallOf); nil outside a handler.
func RequestMetadata(ctx context.Context) Metadata {
	if c := CallOf(ctx); c != nil {
		return c.Metadata
	}
	return nil
}

// outgoingKey is the context key of the entries AppendMetadata adds.
type outgoingKey struct{}

// AppendMetadata returns a context whose calls carry entries in their
// request's composite metadata (in the first frame of a stream or
// channel), after the entries the schema declares; it adds to those an
// earlier AppendMetadata put in ctx. This is how a caller sends metadata
// the schema does not declare; the handler reads it with RequestMetadata.
// It applies to the calls made with the returned context, not to what a
// handler serving a request receives.
func AppendMetadata(ctx context.Context, entries ...Entry) context.Context {
	prev, _ := ctx.Value(outgoingKey{}).(Metadata)
	md := make(Metadata, 0, len(prev)+len(entries))
	md = append(append(md, prev...), entries...)
	return context.WithValue(ctx, outgoingKey{}, md)
}

// outgoingMetadata returns what AppendMetadata put in ctx.
func outgoingMetadata(ctx context.Context) Metadata {
	md, _ := ctx.Value(outgoingKey{}).(Metadata)
	return md
}

// errNotAChannel is what Send returns on the requesting side of a
// request-stream.
var errNotAChannel = errors.New("rsrt: a request-stream carries no items from its requester")

// streamOnly is the Stream of a request-stream's serving side: items go
// out through its sender, none come in.
type streamOnly struct{ out *RawSender }

func (s streamOnly) Send(ctx context.Context, p Payload) error { return s.out.Send(ctx, p) }

func (streamOnly) Recv(context.Context) (*Payload, error) { return nil, io.EOF }

// channelSides is the Stream of a request-channel's serving side.
type channelSides struct {
	in  *RawInbound
	out *RawSender
}

func (s channelSides) Send(ctx context.Context, p Payload) error { return s.out.Send(ctx, p) }

func (s channelSides) Recv(ctx context.Context) (*Payload, error) { return s.in.Recv(ctx) }
