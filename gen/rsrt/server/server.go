// Package server runs an RSocket service built on rsocket-go behind the
// checking transports of package guard, on TCP and/or WebSocket, and shuts
// it down gracefully.
//
// A typical main:
//
//	acc := rsrt.NewAcceptor(routes, newSession, rsrt.WithLogger(log))
//	srv, err := server.New(acc, server.Config{TCPAddr: ":6565", WSAddr: ":6566", Gate: rsrt.NewGate(), Logger: log})
//	if err != nil { ... }
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	err = srv.Serve(ctx) // returns after the drain
//
// When ctx is done, Serve stops accepting connections and new requests (the
// transports answer them REJECTED "server is shutting down"), lets the
// requests still arriving in fragments (an upload) complete, ends the open
// streams through the gate, waits for the requests in flight and for their
// responses to be written, all within Config.ShutdownTimeout, then closes
// every connection.
//
// The server makes what each connection needs and hands it to the
// acceptor: its gate (the server's) admits the connection's requests, and
// the connection's fence (the boundary's, rsock.Prepare), which the
// transport shuts before rsocket-go closes the connection. An rsrt
// acceptor therefore needs no gate of its own (rsrt.WithGate is for
// serving with rsocket-go's own transports), and nothing is wired twice.
//
// Which room: the outermost of the runtime's (see gen/rsrt's doc for the
// layers). Listeners, limits, drain; it knows of rsocket-go only through
// gen/rsrt/internal/rsock (serving) and gen/rsrt/guard (the transports).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// Defaults of [Config].
const (
	// DefaultWSPath is the HTTP path WebSocket clients connect to.
	DefaultWSPath = "/"
	// DefaultShutdownTimeout bounds the wait for in-flight requests.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultFragmentSize is the size outbound payloads are fragmented
	// at, the one the chat peers use.
	DefaultFragmentSize = 1_000_000
)

// Config configures a [Server]. At least one of TCPAddr and WSAddr must
// be set.
type Config struct {
	// TCPAddr is the "host:port" of the TCP listener; empty for none.
	// Port 0 picks a free port (see [Server.TCPAddr]).
	TCPAddr string
	// WSAddr is the "host:port" of the WebSocket listener; empty for
	// none.
	WSAddr string
	// WSPath is the HTTP path of the WebSocket endpoint (default
	// DefaultWSPath).
	WSPath string
	// Limits are the per-connection limits of the checking transports;
	// unset fields take the defaults documented on guard.Limits.
	Limits guard.Limits
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// Gate, when set, makes shutdown graceful: it refuses new requests
	// at the transports, lets those still arriving in fragments
	// complete, ends the open streams through the gate (EndStreams when
	// the gate has it, else Close), waits for its in-flight requests and
	// closes it. When nil, connections are closed at once.
	//
	// An *rsrt.Gate (rsrt.NewGate()) is handed to every connection: the
	// requests of an rsrt acceptor are admitted through it. Another
	// implementation is the drain of an acceptor not built with rsrt;
	// the connections then get a gate that nobody closes.
	Gate Gate
	// ShutdownTimeout bounds the wait for in-flight requests on shutdown
	// (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// FragmentSize is the size outbound payloads are fragmented at
	// (default DefaultFragmentSize).
	FragmentSize int
	// Origins decides which web pages may open WebSocket connections.
	// The zero value accepts clients that send no Origin (native ones)
	// and the pages the WebSocket listener itself serves (same host);
	// guard.NewOriginPolicy adds more. A refused upgrade is answered 403
	// with the reason.
	Origins guard.OriginPolicy
	// HTTPHandler, when set, serves the plain HTTP requests (not
	// WebSocket upgrades) that reach the WebSocket listener, on any path:
	// a web client's page and assets, for instance. It runs under the
	// listener's timeouts and connection limit. When nil, such requests
	// are answered with an error, as before.
	HTTPHandler http.Handler
	// TLS, when set, secures both listeners (TCP, and WebSocket as
	// wss://) with this configuration; see tls.go.
	TLS *tls.Config
	// BusyPoll is how long a connection's read loop polls its socket
	// before it sleeps, after a request that came quickly; 0 (the
	// default) never polls. See guard.Options.BusyPoll.
	BusyPoll time.Duration
}

// Gate is what shutdown needs of an *rsrt.Gate: stop admitting requests,
// wait for those in flight, count them. (An interface, so that an
// acceptor not built with rsrt can bring a drain of its own.)
type Gate interface {
	Close()
	Wait(ctx context.Context) error
	InFlight() int
}

// Server serves one rsocket-go acceptor on the configured listeners.
type Server struct {
	acc rsrt.Acceptor
	cfg Config
	// connGate is the gate handed to every connection: Config.Gate when
	// it is an *rsrt.Gate, else one that nobody closes.
	connGate *rsrt.Gate
	log      *slog.Logger
	stats    guard.Stats
	ready    chan struct{}

	// Set before ready is closed, read-only afterwards.
	tcp, ws *guard.Server
	served  atomic.Bool
	// draining is set when the drain starts, for Accepting.
	draining atomic.Bool
}

// New returns a server for acc; nothing listens before [Server.Serve].
func New(acc rsrt.Acceptor, cfg Config) (*Server, error) {
	if acc == nil {
		return nil, errors.New("server: nil acceptor")
	}
	if cfg.TCPAddr == "" && cfg.WSAddr == "" {
		return nil, errors.New("server: no TCP nor WebSocket address")
	}
	if err := checkTLS(cfg.TLS); err != nil {
		return nil, err
	}
	connGate := rsrt.NewGate()
	if g, ok := cfg.Gate.(*rsrt.Gate); ok {
		if g == nil {
			// A nil *rsrt.Gate in the interface means no gate, not a
			// gate whose methods panic.
			cfg.Gate = nil
		} else {
			connGate = g
		}
	}
	if cfg.WSPath == "" {
		cfg.WSPath = DefaultWSPath
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.FragmentSize <= 0 {
		cfg.FragmentSize = DefaultFragmentSize
	}
	// rsocket-go's bounds: a header and a REQUEST_N value, at least; at
	// most what the 24-bit length prefix expresses, less a metadata length.
	if cfg.FragmentSize < 10 || cfg.FragmentSize > 1<<24-4 {
		return nil, fmt.Errorf("server: fragment size %d out of [10, %d]", cfg.FragmentSize, 1<<24-4)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	return &Server{acc: acc, cfg: cfg, connGate: connGate, log: cfg.Logger, ready: make(chan struct{})}, nil
}

// connContext makes what one new connection needs, before rsocket-go
// reads its SETUP: the acceptor finds the server's gate there, and the
// connection's fence, which the transport shuts (the function returned)
// when it closes the connection, before the library tears its socket
// down. It is the guard's Options.ConnContext.
func (s *Server) connContext(ctx context.Context) (context.Context, func()) {
	return rsock.Prepare(ctx, s.connGate)
}

// Ready is closed once the listeners are bound and serving.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// TCPAddr returns the bound TCP address, or nil before Ready or without a
// TCP listener.
func (s *Server) TCPAddr() net.Addr { return s.addr(func() *guard.Server { return s.tcp }) }

// WSAddr returns the bound WebSocket address, or nil before Ready or
// without a WebSocket listener.
func (s *Server) WSAddr() net.Addr { return s.addr(func() *guard.Server { return s.ws }) }

func (s *Server) addr(get func() *guard.Server) net.Addr {
	select {
	case <-s.ready:
	default:
		return nil
	}
	if g := get(); g != nil {
		return g.Addr()
	}
	return nil
}

// Accepting reports whether the server accepts connections and requests:
// true once the listeners are bound (Ready), false again from the moment
// it starts draining. A readiness probe reports it, so that a load
// balancer stops sending clients before they are refused.
func (s *Server) Accepting() bool {
	select {
	case <-s.ready:
	default:
		return false
	}
	return !s.draining.Load()
}

// Stats returns what the checking transports accepted, refused, read and
// wrote so far.
func (s *Server) Stats() guard.Counts { return s.stats.Snapshot() }

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	select {
	case <-s.ready:
	default:
		return 0
	}
	n := 0
	for _, g := range s.transports() {
		n += g.Connections()
	}
	return n
}

func (s *Server) transports() []*guard.Server {
	var out []*guard.Server
	for _, g := range []*guard.Server{s.tcp, s.ws} {
		if g != nil {
			out = append(out, g)
		}
	}
	return out
}

// Serve listens and serves until ctx is done, then drains and returns
// nil; or it returns the error that made a listener fail (after closing
// everything). It may be called once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("server: Serve called twice")
	}
	// Each connection's requests go through the server's gate, and the
	// transports shut each connection's fence before rsocket-go closes
	// its send queue, so that no handler's frame races with that close.
	// Both transports share one reassembly budget, so that the bound on
	// unfinished fragment chains is server-wide.
	opt := guard.Options{
		Limits:      s.cfg.Limits,
		Stats:       &s.stats,
		Logger:      s.log,
		Reassembly:  guard.NewReassembly(s.cfg.Limits.WithDefaults().MaxServerPendingBytes),
		ConnContext: s.connContext,
		Origins:     s.cfg.Origins,
		HTTP:        s.cfg.HTTPHandler,
		BusyPoll:    s.cfg.BusyPoll,
	}
	var lc net.ListenConfig
	if s.cfg.TCPAddr != "" {
		l, err := lc.Listen(ctx, "tcp", s.cfg.TCPAddr)
		if err != nil {
			return fmt.Errorf("server: listen tcp: %w", err)
		}
		s.tcp = guard.NewTCPServer(s.secure(l), opt)
	}
	if s.cfg.WSAddr != "" {
		l, err := lc.Listen(ctx, "tcp", s.cfg.WSAddr)
		if err != nil {
			if s.tcp != nil {
				_ = s.tcp.Close()
			}
			return fmt.Errorf("server: listen websocket: %w", err)
		}
		s.ws = guard.NewWebSocketServer(s.secure(l), s.cfg.WSPath, opt)
	}

	// The library closes every connection at once when its ctx ends, so
	// it gets a ctx of its own, cancelled only after the drain.
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	ts := s.transports()
	errc := make(chan error, len(ts))
	for _, t := range ts {
		go func() {
			// An acceptor error with a SETUP error code (such as the
			// runtime's INVALID_SETUP or UNSUPPORTED_SETUP) reaches the
			// client with that code: the guard's transports rewrite the
			// frame of a guard.SetupError.
			errc <- rsock.Serve(serveCtx, rsock.ServeConfig{
				Transporter:  t.Transporter(),
				FragmentSize: s.cfg.FragmentSize,
				Acceptor:     s.acc,
				SetupError:   guard.AsSetupError,
			})
		}()
	}
	close(s.ready)
	attrs := []any{}
	if s.tcp != nil {
		attrs = append(attrs, "tcp", s.tcp.Addr().String())
	}
	if s.ws != nil {
		attrs = append(attrs, "websocket", s.ws.Addr().String(), "path", s.cfg.WSPath)
	}
	s.log.Info("rsocket server: serving", attrs...)

	running := len(ts)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		running--
		if err != nil {
			err = fmt.Errorf("server: %w", err)
			s.log.Error("rsocket server: transport failed", "err", err)
		}
	}
	s.drain()
	cancel()
	for ; running > 0; running-- {
		if e := <-errc; e != nil && err == nil {
			err = fmt.Errorf("server: %w", e)
		}
	}
	c := s.stats.Snapshot()
	s.log.Info("rsocket server: stopped", "connections", c.Connections, "violations", c.Violations,
		"setup_timeouts", c.SetupTimeouts, "idle_timeouts", c.IdleTimeouts, "write_timeouts", c.WriteTimeouts,
		"refused_connections", c.RefusedConnections, "refused_origins", c.RefusedOrigins, "rejected", c.Rejected, "dropped", c.Dropped, "substituted", c.Substituted)
	return err
}

// drainPoll is how often the drain checks that every response was
// written.
const drainPoll = 10 * time.Millisecond

// drain stops accepting and refuses new requests at the transports, lets
// the requests still arriving in fragments complete, tells the streams to
// finish, waits for the requests in flight and then for their responses to
// be written, all within the shutdown timeout.
func (s *Server) drain() {
	s.draining.Store(true)
	for _, t := range s.transports() {
		_ = t.StopAccepting()
	}
	g := s.cfg.Gate
	if g == nil {
		return
	}
	s.log.Info("rsocket server: draining", "in_flight", g.InFlight(), "timeout", s.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	defer g.Close()
	// New requests are refused from here on by the transports, which
	// still let the fragments of a request already arriving through (an
	// upload): the gate keeps admitting what they let through.
	for _, t := range s.transports() {
		t.RefuseRequests()
	}
	if !s.waitFor(ctx, s.assembling) {
		s.log.Warn("rsocket server: shutdown timeout, closing connections with requests still arriving", "assembling", s.assembling())
		return
	}
	if e, ok := g.(interface{ EndStreams() }); ok {
		e.EndStreams()
	} else {
		g.Close()
	}
	if err := g.Wait(ctx); err != nil {
		s.log.Warn("rsocket server: shutdown timeout, closing connections with requests in flight", "in_flight", g.InFlight())
		return
	}
	// A handler that returned has not necessarily had its response
	// written: the library queues it for its writer, and drops the queue
	// when the connection closes. And a request the transport let
	// through may not have reached its handler yet. The transports see
	// both: a stream stays pending until its last frame is written.
	if !s.waitFor(ctx, s.pendingResponses) {
		s.log.Warn("rsocket server: shutdown timeout, closing connections with responses unwritten", "pending", s.pendingResponses())
	}
}

// waitFor polls count until it is zero (true) or ctx ends (false).
func (s *Server) waitFor(ctx context.Context, count func() int) bool {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for count() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (s *Server) assembling() int {
	n := 0
	for _, t := range s.transports() {
		n += t.Assembling()
	}
	return n
}

func (s *Server) pendingResponses() int {
	n := 0
	for _, t := range s.transports() {
		n += t.PendingResponses()
	}
	return n
}

// RouteLibraryLogs is rsrt.RouteLibraryLogs, for the servers that call
// it from here.
//
// Deprecated: use rsrt.RouteLibraryLogs, which clients can call too.
func RouteLibraryLogs(l *slog.Logger) { rsrt.RouteLibraryLogs(l) }
