package rsrt

// This file fixes the API that generated code and applications use. It is the
// contract between the generator (gen/), the generated packages (generated/)
// and the runtime implementation in the other files of this package.

import (
	"context"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// Interaction is an RSocket interaction model.
type Interaction uint8

// The five RSocket interaction models a route can use.
const (
	RequestResponse Interaction = iota + 1
	FireAndForget
	RequestStream
	RequestChannel
	MetadataPush
)

// String returns the schema spelling of the interaction, such as
// "request-response".
func (i Interaction) String() string { return interactionString(i) }

// Well-known MIME types used on the wire.
const (
	// MIMECompositeMetadata is the SETUP metadata MIME type every peer uses.
	MIMECompositeMetadata = "message/x.rsocket.composite-metadata.v0"
	// MIMERouting is the composite-metadata entry that carries the route.
	MIMERouting = "message/x.rsocket.routing.v0"
	// MIMEJSON is the SETUP data MIME type.
	MIMEJSON = "application/json"
	// MIMEClientRoutes is the SETUP composite-metadata entry in which an
	// rsgen client declares the routes it serves. Its content is one
	// "interaction route" pair per line, e.g. "request-response time".
	// Peers that do not know this entry ignore it, as the composite
	// metadata extension requires.
	MIMEClientRoutes = "application/x.rsgen.client-routes.v0"
)

// Entry is one composite-metadata entry other than routing.
type Entry struct {
	// MIME is the entry's MIME type (well-known or custom).
	MIME string
	// Data is the entry's content. The runtime always hands out copies.
	Data []byte
}

// Metadata holds the composite-metadata entries of a request or response,
// the routing entry excluded, in wire order. (The runtime also takes the
// deadline entry out of the requests it hands to handlers; see
// MIMEDeadline.)
type Metadata []Entry

// Get returns the content of the first entry of the given MIME type.
func (m Metadata) Get(mime string) ([]byte, bool) {
	for _, e := range m {
		if e.MIME == mime {
			return e.Data, true
		}
	}
	return nil, false
}

// Payload is one RSocket payload as the runtime hands it over, in either
// direction. Inbound, its byte slices are owned by the receiver (copied out
// of the library's pooled buffers). Outbound, Route is ignored (the route is
// given to the call), and a Payload without entries is sent without
// metadata on responses, or with the routing entry alone on requests.
type Payload struct {
	// Route is the first routing tag of an inbound request; empty on
	// responses.
	Route string
	// Data is the payload data; empty when the peer sent none.
	Data []byte
	// Metadata holds the composite-metadata entries other than routing.
	Metadata Metadata
}

// Routes is the dispatch table of one schema side (the server routes or
// the client routes), built once by generated code and shared by every
// connection. S is the generated handler interface; each connection has its
// own S value.
//
// It is written only while generated code builds it (package
// initialisation) and read-only after.
type Routes[S any] struct {
	m     map[routeKey]*route[S]
	names map[string][]Interaction
	decls []Declaration
}

// NewRoutes returns an empty dispatch table.
func NewRoutes[S any]() *Routes[S] {
	return &Routes[S]{m: make(map[routeKey]*route[S]), names: make(map[string][]Interaction)}
}

// HandleRequestResponse registers a request-response route.
func (r *Routes[S]) HandleRequestResponse(route string, h func(ctx context.Context, s S, req *Payload) (Payload, error)) {
	r.add(RequestResponse, route, false, handler[S]{rr: h})
}

// HandleFireAndForget registers a fire-and-forget route.
func (r *Routes[S]) HandleFireAndForget(route string, h func(ctx context.Context, s S, req *Payload) error) {
	r.add(FireAndForget, route, false, handler[S]{fnf: h})
}

// HandleRequestStream registers a request-stream route. The handler sends
// items through out (whose Recv returns io.EOF) and returns nil to
// complete the stream or an error to end it with an ERROR frame.
func (r *Routes[S]) HandleRequestStream(route string, h func(ctx context.Context, s S, req *Payload, out Stream) error) {
	r.add(RequestStream, route, false, handler[S]{rs: h})
}

// HandleRequestChannel registers a request-channel route. When
// initialEmpty is true the REQUEST_CHANNEL frame carries the route only and
// is not an item of the stream; otherwise it is the first item Recv
// returns.
func (r *Routes[S]) HandleRequestChannel(route string, initialEmpty bool, h func(ctx context.Context, s S, st Stream) error) {
	r.add(RequestChannel, route, initialEmpty, handler[S]{rc: h})
}

// HandleMetadataPush registers a metadata-push route; the request has no
// data, only metadata entries.
func (r *Routes[S]) HandleMetadataPush(route string, h func(ctx context.Context, s S, req *Payload) error) {
	r.add(MetadataPush, route, false, handler[S]{mp: h})
}

// Declarations lists the (interaction, route) pairs of the table in
// registration order. A client uses it to declare its routes in SETUP.
func (r *Routes[S]) Declarations() []Declaration {
	return append([]Declaration(nil), r.decls...)
}

// Declaration is one (interaction, route) pair.
type Declaration struct {
	Interaction Interaction
	Route       string
}

// Responder returns the handler, in rsocket-go's type, that dispatches the
// requests of one connection to s, for serving routes outside
// [NewAcceptor] and [WithRoutes] (benchmarks, say): its requests are
// always admitted, its responses not bounded, and nothing orders its
// calls before the library closes the connection. Like every responder of
// the runtime's, it is made for the library to call: the Mono it answers
// a request-response with supports SubscribeWith only, and its other
// methods fail.
func (r *Routes[S]) Responder(ctx context.Context, s S, log *slog.Logger) rsock.RSocket {
	if log == nil {
		log = slog.Default()
	}
	return rsock.Serving(newResponder(ctx, r, s, clientScope(rsock.NewArrivals(), log)), nil)
}

// Sender is the typed sender of a stream or channel response.
type Sender[T any] struct {
	raw Stream
	ctx context.Context
	enc func(T) (Payload, error)
}

// NewSender wraps the outbound side of raw with the encoder of T. ctx
// bounds every Send.
func NewSender[T any](ctx context.Context, raw Stream, enc func(T) (Payload, error)) *Sender[T] {
	return &Sender[T]{raw: raw, ctx: ctx, enc: enc}
}

// Send encodes v and sends it, waiting while the peer has no demand. It
// returns an error once the peer cancelled or disconnected.
func (s *Sender[T]) Send(v T) error {
	r, err := s.enc(v)
	if err != nil {
		return err
	}
	return s.raw.Send(s.ctx, r)
}

// SendShared sends a value that many streams carry, encoding it only if
// no stream has yet: a fan-out encodes its message once, not once per
// recipient. It waits and fails as Send does.
func (s *Sender[T]) SendShared(v *Shared[T]) error {
	r, err := v.payload(s.enc)
	if err != nil {
		return err
	}
	return s.raw.Send(s.ctx, r)
}

// Shared is a value sent on many streams (see [Sender.SendShared]). The
// first stream to send it encodes it, with its Sender's encoder; the
// others send the same bytes. Every Sender of a T encodes it the same
// way (one encoder per payload kind), so which one goes first does not
// matter.
type Shared[T any] struct {
	v    T
	once sync.Once
	p    Payload
	err  error
}

// NewShared returns v, to be sent on many streams. v must not change once
// shared.
func NewShared[T any](v T) *Shared[T] { return &Shared[T]{v: v} }

// Set gives s its value: for a Shared that is a field of a value of its
// user's rather than made by NewShared, so that both are one allocation.
// It must be called before s is sent, and not after.
func (s *Shared[T]) Set(v T) { s.v = v }

// Value returns the shared value.
func (s *Shared[T]) Value() T { return s.v }

// payload returns the value encoded, encoding it on the first call. The
// payload's bytes are never written to: the library only reads them, and
// an interceptor that changes an item replaces its bytes (a Stream's Send
// must not write to the Payload it is given).
func (s *Shared[T]) payload(enc func(T) (Payload, error)) (Payload, error) {
	s.once.Do(func() { s.p, s.err = enc(s.v) })
	return s.p, s.err
}

// Inbound is the typed inbound sequence of a request-channel.
type Inbound[T any] struct {
	raw Stream
	ctx context.Context
	dec func(*Payload) (T, error)
}

// NewInbound wraps the inbound side of raw with the decoder of T. ctx
// bounds every Recv.
func NewInbound[T any](ctx context.Context, raw Stream, dec func(*Payload) (T, error)) *Inbound[T] {
	return &Inbound[T]{raw: raw, ctx: ctx, dec: dec}
}

// Recv returns the next item, io.EOF when the peer completed its side, or
// an error. An item that cannot be decoded is returned as a *Error with
// code APPLICATION_ERROR; the channel goes on.
func (in *Inbound[T]) Recv() (T, error) {
	var zero T
	r, err := in.raw.Recv(in.ctx)
	if err != nil {
		return zero, err
	}
	v, err := in.dec(r)
	if err != nil {
		return zero, BadRequest(r.Route, "request data", err)
	}
	return v, nil
}

// All returns the remaining items as a sequence; it ends at the peer's
// completion and yields a non-nil error at most once, last.
func (in *Inbound[T]) All() iter.Seq2[T, error] { return inboundAll(in) }

// AcceptOption configures [NewAcceptor].
type AcceptOption func(*acceptConfig)

// WithLogger sets the structured logger (default slog.Default()).
func WithLogger(l *slog.Logger) AcceptOption { return func(c *acceptConfig) { c.log = l } }

// WithGate makes every request of every accepted connection pass through g,
// which a server uses to drain in-flight requests on shutdown. It is for
// serving with rsocket-go's own transports: gen/rsrt/server hands each
// connection its own gate, which overrides it. Without a gate, requests
// are always admitted.
func WithGate(g *Gate) AcceptOption { return func(c *acceptConfig) { c.gate = g } }

// WithInline runs the handlers of the request-response routes named on
// their connection's read loop (the library's goroutine that hands the
// responder the frames of the streams the peer opens, one at a time),
// instead of handing each request to a pooled goroutine: the fastest way
// to answer (the hand-off is most of what a small request costs the
// server), for handlers that never wait. While such a handler runs, the
// connection's other requests, and the demand and cancels of the streams
// its peer opened, wait for it to return; the connection goes on reading
// them, and on handling keepalives and the answers to the server's own
// calls to the peer. So its handler and the interceptors
// around it must not block: no network or disk I/O, no waiting on a
// channel, a lock held for long or [ReserveResponse]. A response of 4 KiB
// or more, charged to the response budget, is handed off the read loop
// before it waits for room. Inline requests of one connection run one at
// a time, in the order they arrived.
//
// It panics when a name is not a request-response route of the
// acceptor's routes.
func WithInline(routes ...string) AcceptOption {
	return func(c *acceptConfig) { c.inline = append(c.inline, routes...) }
}

// Acceptor accepts the connections of a server: what [NewAcceptor] returns
// and gen/rsrt/server serves. It is rsocket-go's acceptor type (an alias,
// through the boundary package), named here so that generated packages
// and applications need not import rsocket-go. It stays the library's
// type because tests serve it on the library's own transports
// (rsocket.Receive().Acceptor, in gen/e2e and websocket_test.go), which
// packages outside gen/rsrt could not do with a type of this package.
type Acceptor = rsock.Acceptor

// NewAcceptor returns the acceptor of a server: for each accepted
// connection it checks the SETUP, builds the connection's [Conn] (whose
// context ends when the connection closes), asks newServer for that
// connection's handler and dispatches the connection's requests to it
// through routes. A SETUP whose metadata MIME type is not composite metadata
// is refused.
func NewAcceptor[S any](routes *Routes[S], newServer func(ctx context.Context, conn *Conn) (S, error), opts ...AcceptOption) Acceptor {
	return newAcceptor(routes, newServer, opts)
}

// Setup is what a client sent in its SETUP frame.
type Setup struct {
	DataMIME          string
	MetadataMIME      string
	KeepaliveInterval time.Duration
	MaxLifetime       time.Duration
	// Data is the SETUP payload data (copied).
	Data []byte
	// Metadata holds the SETUP composite-metadata entries (copied).
	Metadata Metadata
}

// Channel is the typed client side of a request-channel.
type Channel[In, Out any] struct {
	raw *RawChannel
	ctx context.Context
	enc func(In) (Payload, error)
	dec func(*Payload) (Out, error)
}

// NewChannel wraps raw with the codecs of the channel's item types.
func NewChannel[In, Out any](ctx context.Context, raw *RawChannel, enc func(In) (Payload, error), dec func(*Payload) (Out, error)) *Channel[In, Out] {
	return &Channel[In, Out]{raw: raw, ctx: ctx, enc: enc, dec: dec}
}

// Send encodes and sends one item to the server.
func (c *Channel[In, Out]) Send(v In) error {
	r, err := c.enc(v)
	if err != nil {
		return err
	}
	return c.raw.Send(c.ctx, r)
}

// CloseSend completes the outbound side; responses keep arriving.
func (c *Channel[In, Out]) CloseSend() error { return c.raw.CloseSend() }

// Recv returns the responses as a sequence; breaking out of the loop cancels
// the channel.
func (c *Channel[In, Out]) Recv() iter.Seq2[Out, error] {
	return DecodeSeq(c.raw.Recv(), c.raw.route, c.dec)
}

// Close cancels the channel.
func (c *Channel[In, Out]) Close() error { return c.raw.Close() }

// DecodeSeq maps a raw response sequence of route through dec. A decoding
// error is yielded as BadResponse and ends the sequence (which cancels the
// underlying stream).
func DecodeSeq[T any](raw iter.Seq2[*Payload, error], route string, dec func(*Payload) (T, error)) iter.Seq2[T, error] {
	return decodeSeq(raw, route, dec)
}

// ErrorSeq returns a sequence that yields err once. Generated clients return
// it when a stream's request cannot be encoded.
func ErrorSeq[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// DialOption configures [Dial].
type DialOption func(*dialConfig)

// WithSetupData sets the SETUP payload data.
func WithSetupData(data []byte) DialOption { return func(c *dialConfig) { c.setupData = data } }

// WithAuthentication sends c in the SETUP, as the authentication
// extension's composite-metadata entry (see Credentials).
func WithAuthentication(c Credentials) DialOption {
	return func(cfg *dialConfig) { cfg.auth = &c }
}

// WithPrefetch sets how many stream items a client requests at first
// (default 64). While the consumer keeps up (takes each item before the
// next arrives), the window doubles, up to 1024 items or n if that is
// more, so that a fast reader is not held back by its own demand; the
// items buffered stay under twice the window.
func WithPrefetch(n int) DialOption { return func(c *dialConfig) { c.prefetch = n } }

// WithKeepalive sets the keepalive interval and max lifetime (defaults
// 500ms and 10 minutes, as the tutorial's clients use).
func WithKeepalive(interval, maxLifetime time.Duration) DialOption {
	return func(c *dialConfig) { c.keepalive, c.maxLifetime = interval, maxLifetime }
}

// WithDialLogger sets the client's logger.
func WithDialLogger(l *slog.Logger) DialOption { return func(c *dialConfig) { c.log = l } }

// WithOnClose registers a function called once when the connection closes.
func WithOnClose(f func(error)) DialOption { return func(c *dialConfig) { c.onClose = f } }

// WithRoutes makes the client serve routes with h: the routes are declared
// in SETUP (entry MIMEClientRoutes) and the server's requests are
// dispatched to h.
func WithRoutes[S any](routes *Routes[S], h S) DialOption {
	return func(c *dialConfig) {
		c.decls = routes.Declarations()
		c.responder = func(ctx context.Context, scope *connScope) rsock.Responder {
			return newResponder(ctx, routes, h, scope)
		}
	}
}

// Dial connects to an RSocket server. addr is "host:port" or
// "tcp://host:port" for TCP, "ws://host:port/path" for WebSocket.
func Dial(ctx context.Context, addr string, opts ...DialOption) (*ClientConn, error) {
	return dial(ctx, addr, opts)
}
