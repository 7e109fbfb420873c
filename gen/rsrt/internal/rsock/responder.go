package rsock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jjeffcaii/reactor-go"
	rmono "github.com/jjeffcaii/reactor-go/mono"
	"github.com/jjeffcaii/reactor-go/scheduler"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"
	"github.com/rsocket/rsocket-go/logger"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
	"github.com/rsocket/rsocket-go/rx/mono"
)

// Responder serves the requests of one connection (gen/rsrt implements
// it). The library calls it on the connection's read loop, so each method
// only looks at the request and leaves the handler to run elsewhere (see
// the package doc, entry "Handlers off the read loop"), unless it asks
// for the read loop ([Reply].Inline). A request is an
// Incoming: valid during the call only.
type Responder interface {
	// RequestResponse returns the work that answers the request, or an
	// error answered at once.
	RequestResponse(req Incoming) (Work, error)
	// FireAndForget and MetadataPush run the handler; the library
	// already calls them on its response pool.
	FireAndForget(req Incoming)
	MetadataPush(req Incoming)
	// RequestStream returns the stream of responses, or an error
	// answered at once.
	RequestStream(req Incoming) (Outbound, error)
	// RequestChannel returns the subscriber of the channel's requests
	// (whose first item carries the route) and the stream of responses,
	// or an error answered at once.
	RequestChannel() (Subscriber, Outbound, error)
}

// RSocket is the library's handler type, which a Responder is served as.
type RSocket = rsocket.RSocket

// Serving returns r as the library's handler, its calls into the library
// inside fence (nil: a fence nobody shuts), for serving it outside
// NewAcceptor and Dial (benchmarks).
func Serving(r Responder, fence *Fence) RSocket {
	if fence == nil {
		fence = new(Fence)
	}
	return &responder{r: r, fence: fence}
}

// Work is what answers one request-response. Run runs off the read loop
// (on the library's response pool), or on it when the work's Reply is
// Inline, unless the connection ended before it could; Cancel is called,
// once, if the requester cancels the request (a CANCEL frame), whether or
// not Run started or answered (see the package doc, entry
// "Request-response CANCEL"). Reply returns the Reply the work embeds,
// so that the work and its answer's state are one allocation.
type Work interface {
	Run(Answer)
	Cancel()
	Reply() *Reply
}

// Reply is the state of a request-response's answer, and the Mono the
// library is given for it: not mono.Create hooked with DoOnCancel, whose
// layers cost eight allocations a request. The library
// only subscribes to a responder's Mono, once; its other methods are an
// error Mono's. Its zero value is ready; a Work embeds it.
type Reply struct {
	mono.Mono
	// Inline makes the library run the work on the connection's read
	// loop (the goroutine that dispatches the frames of the streams the
	// peer opens), without the hand-off to its response pool: no other
	// such frame is dispatched until Run returns (see the package doc,
	// entry "Request-response on the read loop"). Set before the work is
	// returned to the library.
	Inline    bool
	work      Work
	fence     *Fence
	sub       rx.Subscriber
	ended     atomic.Bool // answered or cancelled: the subscriber is the library's again
	cancelled atomic.Bool
	// answer is the answer in the library's type: its outPayload alone
	// when it has no Done.
	answer heldPayload
}

// prepare returns the Reply of w, ready for the library to subscribe to.
func prepare(w Work, fence *Fence) *Reply {
	m := w.Reply()
	m.Mono, m.work, m.fence = errNotSubscribed, w, fence
	return m
}

// lib is Payload.lib for the answer, in the Reply's own room.
func (m *Reply) lib(p Payload) payload.Payload {
	m.answer.outPayload = outPayload{data: p.Data, md: p.Metadata}
	if p.Done == nil {
		return &m.answer.outPayload
	}
	m.answer.done = p.Done
	return &m.answer
}

// Raw implements mono.Mono. The library asks it only whether the Mono
// subscribes asynchronously (mono.IsSubscribeAsync): an inline Reply
// says so, and the library then calls its SubscribeWith on the read loop.
func (m *Reply) Raw() rmono.Mono {
	if m.Inline {
		return onReadLoop
	}
	return m.Mono.Raw()
}

// onReadLoop is a Mono that reactor-go reports as subscribing
// asynchronously; it is never subscribed to.
var onReadLoop = rmono.Just(struct{}{}).SubscribeOn(scheduler.Parallel())

// errNotSubscribed is what the methods the library never calls on a
// Reply give.
var errNotSubscribed = mono.Error(errors.New("rsock: a request-response answer is only subscribed to"))

// SubscribeWith implements rx.Publisher: it runs the work, unless ctx
// (the connection's) is done. The library's subscriber registers the
// subscription for a CANCEL frame in OnSubscribe, and ends itself there
// when ctx is done.
func (m *Reply) SubscribeWith(ctx context.Context, s rx.Subscriber) {
	m.sub = s
	s.OnSubscribe(ctx, m)
	if ctx.Err() != nil {
		m.ended.Store(true)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			Answer{m}.Error(fmt.Errorf("rsock: request-response work panicked: %v", p))
		}
	}()
	m.work.Run(Answer{m})
}

// Request implements rx.Subscription: the one answer needs no demand.
func (m *Reply) Request(int) {}

// Cancel implements rx.Subscription: the requester's CANCEL. The
// library's subscriber is ended as reactor-go's sink ends it, so that it
// unregisters the stream and is recycled.
func (m *Reply) Cancel() {
	if m.cancelled.Swap(true) {
		return
	}
	m.work.Cancel()
	if m.end() {
		m.fence.do(func() { m.sub.OnError(reactor.ErrSubscribeCancelled) })
	}
}

// end reports whether the caller is the one that ends the answer.
func (m *Reply) end() bool { return m.ended.CompareAndSwap(false, true) }

// Answer is the sink of a request-response's one answer. Its calls run
// inside the connection's fence; only the first of them, or a cancel,
// reaches the library.
type Answer struct{ m *Reply }

// Success sends p as the answer; p's Done is called once the library is
// done with it.
func (a Answer) Success(p Payload) {
	lp := a.m.lib(p)
	if a.m.end() {
		a.m.fence.do(func() {
			a.m.sub.OnNext(lp)
			a.m.sub.OnComplete()
		})
	}
	settle(lp)
}

// Error answers with an ERROR frame (see Downstream.Error for the code).
func (a Answer) Error(err error) {
	if a.m.end() {
		a.m.fence.do(func() { a.m.sub.OnError(err) })
	}
}

// responder adapts a Responder to rsocket.RSocket.
type responder struct {
	r     Responder
	fence *Fence
}

func (a *responder) RequestResponse(msg payload.Payload) mono.Mono {
	w, err := a.r.RequestResponse(Incoming{msg})
	if err != nil {
		return mono.Error(err)
	}
	return prepare(w, a.fence)
}

func (a *responder) FireAndForget(msg payload.Payload) { a.r.FireAndForget(Incoming{msg}) }

func (a *responder) MetadataPush(msg payload.Payload) { a.r.MetadataPush(Incoming{msg}) }

func (a *responder) RequestStream(msg payload.Payload) flux.Flux {
	o, err := a.r.RequestStream(Incoming{msg})
	if err != nil {
		return flux.Error(err)
	}
	return publish(o, a.fence)
}

// RequestChannel always subscribes to in: the library blocks its read
// loop until a channel's inbound has a subscriber. With a context that is
// never done: subscribing with a done one makes reactor-go end and
// recycle its subscriber while the library still pushes the first item
// through it (entry "Channel inbound always subscribed").
func (a *responder) RequestChannel(in flux.Flux) flux.Flux {
	s, o, err := a.r.RequestChannel()
	if err != nil {
		return flux.Error(err)
	}
	in.SubscribeWith(context.Background(), &subscriber{s: s, fence: a.fence})
	return publish(o, a.fence)
}

// Acceptor is the library's acceptor type, which NewAcceptor returns.
type Acceptor = rsocket.ServerAcceptor

// Accepted is a connection whose SETUP the library read, as NewAcceptor's
// function sees it.
type Accepted struct {
	setup payload.SetupPayload
	sock  rsocket.CloseableRSocket
	// Conn is the connection's requesting side, for calls to the client.
	Conn *Conn
	// Policy is what the server's transport prepared for the connection
	// (Prepare), or nil when it was served by a transport that did not.
	Policy any
	// Arrivals orders the connection's one-way requests: the one its
	// transport observes frames for (Prepare), or one nothing observes.
	Arrivals *Arrivals
}

// Setup is what a client sent in its SETUP frame, copied.
type Setup struct {
	DataMIME, MetadataMIME string
	Keepalive, MaxLifetime time.Duration
	// Data is nil when empty; Metadata is nil when absent or empty.
	Data, Metadata []byte
}

// Setup copies the SETUP. It panics on a malformed SETUP (the library's
// accessors do, entry "Panics recovered"): the acceptor recovers.
func (a *Accepted) Setup() Setup {
	s := a.setup
	st := Setup{
		// The library's strings are views of the frame buffer: clone.
		DataMIME:     strings.Clone(s.DataMimeType()),
		MetadataMIME: strings.Clone(s.MetadataMimeType()),
		Keepalive:    s.TimeBetweenKeepalive(),
		MaxLifetime:  s.MaxLifetime(),
	}
	if d := s.Data(); len(d) > 0 {
		st.Data = append([]byte(nil), d...)
	}
	if md, ok := s.Metadata(); ok && len(md) > 0 {
		st.Metadata = append([]byte(nil), md...)
	}
	return st
}

// Addr returns the peer's address, or "" when unknown.
func (a *Accepted) Addr() string {
	addr, _ := rsocket.GetAddr(a.sock)
	return addr
}

// OnClose registers f, called once the connection closed. The acceptor's
// context is the server's, not the connection's: this is how the
// connection's end is learnt (entry "The acceptor's context is the
// server's").
func (a *Accepted) OnClose(f func(error)) { a.sock.OnClose(f) }

// NewAcceptor returns the library's acceptor for accept, which returns the
// responder of each accepted connection or the error that refuses it.
func NewAcceptor(accept func(ctx context.Context, a *Accepted) (Responder, error)) Acceptor {
	return func(ctx context.Context, setup payload.SetupPayload, sock rsocket.CloseableRSocket) (rsocket.RSocket, error) {
		fence, policy, arrivals := new(Fence), any(nil), NewArrivals()
		if sv, ok := ctx.Value(servedKey{}).(*served); ok {
			fence, policy, arrivals = sv.fence, sv.policy, sv.arrivals
		}
		a := &Accepted{setup: setup, sock: sock, Conn: &Conn{rs: sock, fence: fence, tap: noTap{}},
			Policy: policy, Arrivals: arrivals}
		r, err := accept(ctx, a)
		if err != nil {
			return nil, err
		}
		return &responder{r: r, fence: fence}, nil
	}
}

// served is what Prepare put in a connection's context.
type served struct {
	fence    *Fence
	policy   any
	arrivals *Arrivals
}

// servedKey is the context key of a *served. rsocket-go hands its
// acceptor nothing of the connection but a context (the one the transport
// gave it) and the socket, so this one value is how what a server's
// transport prepared reaches the acceptor (entry "The acceptor learns of
// its connection through a context"); NewAcceptor reads it once and hands
// it on as Accepted.Policy and the connection's fence.
type servedKey struct{}

// Prepare derives the context a server's transport gives the library for
// one new connection (guard.Options.ConnContext): the acceptor will find
// policy there, the connection's fence and its Arrivals (which the
// transport takes from the context too, to observe the frames). It
// returns the function the transport must call when it closes that
// connection: after the network
// connection is closed, and before the library tears its socket down
// (returning from the transport's Close is that moment). The function
// shuts the fence (see Fence.Close). It may be called more than once.
func Prepare(ctx context.Context, policy any) (context.Context, func()) {
	sv := &served{fence: new(Fence), policy: policy, arrivals: NewArrivals()}
	ctx = WithArrivals(ctx, sv.arrivals)
	return context.WithValue(ctx, servedKey{}, sv), sv.fence.Close
}

// ServeConfig is what serving on one transport takes.
type ServeConfig struct {
	// Transporter is the server transport (gen/rsrt/guard's).
	Transporter transport.ServerTransporter
	// FragmentSize is the size outbound payloads are fragmented at.
	FragmentSize int
	// Acceptor accepts each connection.
	Acceptor Acceptor
	// SetupError maps an error of the acceptor before the library
	// answers the SETUP with it (gen/rsrt/guard.AsSetupError keeps a
	// SETUP error's code, entry "A refused SETUP keeps its code").
	SetupError func(error) error
}

// Serve serves on the transport until ctx ends; then the library closes
// every connection at once (entry "No graceful shutdown").
func Serve(ctx context.Context, cfg ServeConfig) error {
	acc := cfg.Acceptor
	if cfg.SetupError != nil {
		acc = func(ctx context.Context, setup payload.SetupPayload, sock rsocket.CloseableRSocket) (rsocket.RSocket, error) {
			r, err := cfg.Acceptor(ctx, setup, sock)
			if err != nil {
				return nil, cfg.SetupError(err)
			}
			return r, nil
		}
	}
	return rsocket.Receive().
		// Without a request scheduler the library gives every connection
		// a goroutine pool of its own, with a goroutine that purges it
		// every second for the connection's lifetime (entry "One
		// request pool for all connections").
		Scheduler(scheduler.Elastic(), nil).
		Fragment(cfg.FragmentSize).
		Acceptor(acc).
		Transport(cfg.Transporter).
		Serve(ctx)
}

// RouteLogs sends the library's own log lines, which go to the standard
// logger by default, to l (nil: nowhere). Its warnings are mostly about
// frames a peer got wrong or raced (unmatched CANCEL, REQUEST_N), so they
// are logged at debug level; its errors at info level. Its debug mode,
// which dumps every frame, stays off. The setting is global to the
// process.
func RouteLogs(l *slog.Logger) {
	if l == nil {
		logger.SetLogger(nil)
		return
	}
	logger.SetLogger(libLogger{l})
	logger.SetLevel(logger.LevelInfo)
}

// libLogger adapts slog to the library's logger interface.
type libLogger struct{ l *slog.Logger }

// Debugf logs at debug level.
func (g libLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Infof logs at debug level: the library's info lines are routine.
func (g libLogger) Infof(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Warnf logs at debug level: a peer can trigger the library's warnings.
func (g libLogger) Warnf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }

// Errorf logs at info level.
func (g libLogger) Errorf(format string, args ...any) { g.log(slog.LevelInfo, format, args) }

func (g libLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	g.l.Log(ctx, level, "rsocket-go: "+msg)
}
