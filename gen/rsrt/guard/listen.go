package guard

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core/transport"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

// Server is a checking rsocket-go server transport on a listener, for TCP
// or WebSocket. Unlike the library's own, it can stop accepting without
// closing its connections, which a graceful shutdown needs, and it waits
// for the goroutines of its connections before Listen returns.
type Server struct {
	l    net.Listener
	opt  Options
	path string // WebSocket only
	ws   bool

	stop     chan struct{} // closed by StopAccepting
	done     chan struct{} // closed by Close
	stopOnce sync.Once
	doneOnce sync.Once

	mu       sync.Mutex
	acceptor transport.ServerTransportAcceptor
	conns    map[*transport.Transport]*State
	reserved int // connections counted but not yet in conns
	// HTTP connections of a WebSocket listener not (or no longer)
	// upgraded: counted against MaxConnections like upgraded ones
	// (httpConns), or over it and waiting for their 503 (overflow).
	httpConns, overflow int
	// refusals logs refused connections, rate-limited: a connection
	// flood must not turn into a log flood.
	refusals *slog.Logger
	httpSrv  *http.Server
	started  bool
	refusing bool // RefuseRequests was called
	wg       sync.WaitGroup
}

var _ transport.ServerTransport = (*Server)(nil)

// NewTCPServer returns a checking server transport that accepts RSocket
// TCP connections on l.
func NewTCPServer(l net.Listener, opt Options) *Server {
	return newServer(l, opt, false, "")
}

// NewWebSocketServer returns a checking server transport that accepts
// RSocket WebSocket connections on l, upgrading HTTP requests for path
// (default "/"). Upgrades from web pages are checked against
// opt.Origins first; other HTTP requests go to opt.HTTP when it is set.
func NewWebSocketServer(l net.Listener, path string, opt Options) *Server {
	if path == "" {
		path = "/"
	}
	return newServer(l, opt, true, path)
}

func newServer(l net.Listener, opt Options, ws bool, path string) *Server {
	opt = opt.withDefaults()
	return &Server{
		l:        l,
		opt:      opt,
		refusals: rslog.PerConn(opt.Logger),
		ws:       ws,
		path:     path,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		conns:    make(map[*transport.Transport]*State),
	}
}

// Transporter returns s in the form rsocket.Receive()...Transport takes.
func (s *Server) Transporter() transport.ServerTransporter {
	return func(context.Context) (transport.ServerTransport, error) { return s, nil }
}

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Stats returns the counters of s.
func (s *Server) Stats() *Stats { return s.opt.Stats }

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// PendingResponses returns how many streams clients opened on the open
// connections still wait for the end of their response: requests whose
// answer, COMPLETE or ERROR has not been written yet. A graceful shutdown
// waits for it to reach zero before closing connections, since the
// library drops what it has not written when it closes them.
func (s *Server) PendingResponses() int { return s.sum((*State).PendingResponses) }

// sum adds up count over the connections.
func (s *Server) sum(count func(*State) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.conns {
		n += count(st)
	}
	return n
}

// Accept registers the library's handler of new connections.
func (s *Server) Accept(acceptor transport.ServerTransportAcceptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptor = acceptor
}

// Listen serves connections until Close or until ctx is done, then closes
// every connection and waits for their goroutines. StopAccepting ends
// accepting but not Listen. notifier, if not nil, receives one value:
// true once serving started, false when ctx was already done or Listen
// was called before (see notify).
func (s *Server) Listen(ctx context.Context, notifier chan<- bool) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		notify(notifier, false)
		return errors.New("rsocket guard: Listen called twice")
	}
	s.started = true
	s.mu.Unlock()

	notify(notifier, ctx.Err() == nil)
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()

	var err error
	if s.ws {
		err = s.serveWS(ctx)
	} else {
		err = s.serveTCP(ctx)
	}
	if err != nil {
		_ = s.Close()
	}
	<-s.done
	s.wg.Wait()
	return err
}

// notify gives the library's Serve the answer it waits for: Serve starts
// a goroutine that receives once from notifier before it calls Listen,
// and that goroutine ends only once it has (rsocket-go's own transports
// send on every path too). So every call of Listen sends, even one whose
// context is already done.
func notify(notifier chan<- bool, listening bool) {
	if notifier != nil {
		notifier <- listening
	}
}

// StopAccepting closes the listener; open connections go on.
func (s *Server) StopAccepting() error {
	var err error
	s.stopOnce.Do(func() {
		close(s.stop)
		err = s.l.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		s.mu.Lock()
		h := s.httpSrv
		s.mu.Unlock()
		if h != nil {
			// Also drops WebSocket handshakes in progress; upgraded
			// connections are hijacked and stay.
			_ = h.Close()
		}
	})
	return err
}

// Close stops accepting and closes every connection.
func (s *Server) Close() error {
	err := s.StopAccepting()
	s.doneOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		tps := make([]*transport.Transport, 0, len(s.conns))
		for tp := range s.conns {
			tps = append(tps, tp)
		}
		s.mu.Unlock()
		// In parallel: each close may wait to flush to a slow peer.
		var wg sync.WaitGroup
		for _, tp := range tps {
			wg.Go(func() { _ = tp.Close() })
		}
		wg.Wait()
	})
	return err
}

func (s *Server) serveTCP(ctx context.Context) error {
	var backoff time.Duration
	for {
		nc, err := s.l.Accept()
		if err != nil {
			select {
			case <-s.stop:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.opt.Logger.Warn("rsocket guard: accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.stop:
				return nil
			}
		}
		backoff = 0
		if !s.reserve() {
			_ = nc.Close()
			continue
		}
		c := newTCPConn(nc, &s.opt)
		s.serve(ctx, c, c.st)
	}
}

// wsWriteBuffers is the pool of the WebSocket write buffers, shared by
// every server (gorilla wants one pool per buffer size).
var wsWriteBuffers sync.Pool

func (s *Server) serveWS(ctx context.Context) error {
	up := &websocket.Upgrader{
		HandshakeTimeout: s.opt.Limits.SetupTimeout,
		// No read buffer size: gorilla then reads through the reader
		// the hijack returns, which batchWriter makes (wsReadBuffer)
		// in place of the HTTP server's 4 KiB. Write buffers come
		// from a pool for the time of a write, so that an idle
		// connection holds none.
		WriteBufferSize: 4 << 10,
		WriteBufferPool: &wsWriteBuffers,
		// Checked before the upgrade, with a reason in the answer (see
		// upgradeAllowed).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc(s.path, func(w http.ResponseWriter, r *http.Request) {
		if !s.upgradeAllowed(w, r) {
			return
		}
		hc, _ := r.Context().Value(httpConnKey{}).(*httpConn)
		if hc == nil || !s.promote(hc) {
			w.Header().Set("Connection", "close")
			http.Error(w, "too many connections", http.StatusServiceUnavailable)
			return
		}
		bw := &batchWriter{ResponseWriter: w}
		ws, err := up.Upgrade(bw, r, nil)
		if err != nil {
			// The upgrader answered the request with the error; the
			// connection is an HTTP connection again.
			s.demote(hc)
			return
		}
		// The handshake's answer is held like every later write. A
		// connection that cannot take it is closed, and served anyway:
		// its first read fails, and serve does the accounting.
		if err := bw.conn.flushWithin(s.opt.Limits.SetupTimeout); err != nil {
			_ = ws.Close()
		}
		c := newWSConn(ws, &s.opt)
		c.idle = bw.br
		s.serve(ctx, c, c.st)
	})
	// Plain requests (a web client's page) go to the HTTP handler, on
	// any path; upgrades to the WebSocket endpoint.
	var handler http.Handler = mux
	if s.opt.HTTP != nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if websocket.IsWebSocketUpgrade(r) {
				mux.ServeHTTP(w, r)
				return
			}
			s.opt.HTTP.ServeHTTP(w, r)
		})
	}
	// Every timeout is set: an HTTP connection that is never upgraded
	// (a plain GET answered 400, then silence) must not stay open. The
	// read and write timeouts end with the upgrade, since the WebSocket
	// connection sets its own deadlines on every read and write.
	h := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.opt.Limits.SetupTimeout,
		ReadTimeout:       s.opt.Limits.SetupTimeout,
		WriteTimeout:      s.opt.Limits.WriteTimeout,
		IdleTimeout:       s.opt.Limits.SetupTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, httpConnKey{}, nc)
		},
	}
	s.mu.Lock()
	s.httpSrv = h
	s.mu.Unlock()
	select {
	case <-s.stop:
		return nil
	default:
	}
	err := h.Serve(&httpListener{Listener: s.l, s: s})
	select {
	case <-s.stop:
		return nil
	default:
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// upgradeAllowed answers 403 with the reason, and reports false, when the
// origin policy refuses the upgrade request r. It runs before the
// connection is counted as a WebSocket one.
func (s *Server) upgradeAllowed(w http.ResponseWriter, r *http.Request) bool {
	err := s.opt.Origins.Check(r)
	if err == nil {
		return true
	}
	s.opt.Stats.refusedOrigin.Add(1)
	s.refusals.Warn("rsocket guard: WebSocket upgrade refused", "remote", r.RemoteAddr, "err", err)
	http.Error(w, err.Error(), http.StatusForbidden)
	return false
}

// reserve counts a new connection against MaxConnections.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.roomLocked() {
		s.refusedLocked()
		return false
	}
	s.reserved++
	return true
}

// roomLocked reports whether one more connection may be served.
func (s *Server) roomLocked() bool {
	select {
	case <-s.done:
		return false
	default:
	}
	return len(s.conns)+s.reserved+s.httpConns < s.opt.Limits.MaxConnections
}

func (s *Server) refusedLocked() {
	s.opt.Stats.refusedConns.Add(1)
	s.refusals.Warn("rsocket guard: connection refused: too many connections", "limit", s.opt.Limits.MaxConnections)
}

// maxOverflow bounds the HTTP connections over MaxConnections that a
// WebSocket listener keeps long enough to answer 503: beyond it they are
// closed on accept.
const maxOverflow = 64

// httpConnKey is the request context key of the *httpConn a request
// arrived on.
type httpConnKey struct{}

// httpListener counts the HTTP connections of a WebSocket listener.
type httpListener struct {
	net.Listener
	s *Server
}

func (l *httpListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if hc := l.s.admitHTTP(nc); hc != nil {
			return hc, nil
		}
		_ = nc.Close()
	}
}

// httpConn is an accepted connection of a WebSocket listener; its fields
// other than Conn are guarded by the server's mu.
type httpConn struct {
	net.Conn
	s        *Server
	over     bool // over MaxConnections: answered 503
	promoted bool // upgraded: counted among the reserved connections
	closed   bool
}

// admitHTTP counts a new HTTP connection, or returns nil when it must be
// closed at once.
func (s *Server) admitHTTP(nc net.Conn) *httpConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	hc := &httpConn{Conn: nc, s: s}
	switch {
	case s.roomLocked():
		s.httpConns++
	case s.overflow < maxOverflow:
		s.overflow++
		hc.over = true
	default:
		s.refusedLocked()
		return nil
	}
	return hc
}

// promote turns a counted HTTP connection into one reserved for a
// WebSocket connection; it reports false for one over the limit, which
// counts as refused.
func (s *Server) promote(hc *httpConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hc.over || hc.closed {
		s.refusedLocked()
		return false
	}
	hc.promoted = true
	s.httpConns--
	s.reserved++
	return true
}

// demote undoes promote after a failed upgrade.
func (s *Server) demote(hc *httpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hc.promoted = false
	s.reserved--
	s.httpConns++
}

// CloseWrite half-closes the connection, when its own connection can (see
// lingerClose).
func (hc *httpConn) CloseWrite() error {
	if cw, ok := hc.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Close uncounts the connection, unless it was upgraded: the WebSocket
// connection's own accounting (conns) covers it then.
func (hc *httpConn) Close() error {
	s := hc.s
	s.mu.Lock()
	if !hc.closed && !hc.promoted {
		if hc.over {
			s.overflow--
		} else {
			s.httpConns--
		}
	}
	hc.closed = true
	s.mu.Unlock()
	return hc.Conn.Close()
}

// serve hands a reserved connection to the library on its own goroutine.
//
// The library gets a context of the connection's own, which ends only once
// the connection is closed. rsocket-go closes a connection's socket (and
// its send queue) as soon as the context it was given ends, from its write
// loop, without closing the transport first: the closed hook of
// Options.ConnContext would then come too late. The server's own context
// still ends every connection: Listen closes them all when it is done.
func (s *Server) serve(ctx context.Context, c transport.Conn, st *State) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	closed := cancel
	if s.opt.ConnContext != nil {
		var hook func()
		ctx, hook = s.opt.ConnContext(ctx)
		closed = func() {
			hook()
			cancel()
		}
	}
	// Installed before the connection is visible to Close.
	if h, ok := c.(interface{ setClosed(func()) }); ok {
		h.setClosed(closed)
	}
	if h, ok := c.(interface{ setArrivals(*rsock.Arrivals) }); ok {
		if a := rsock.ArrivalsFrom(ctx); a != nil {
			h.setArrivals(a)
		}
	}
	tp := transport.NewTransport(c)
	s.mu.Lock()
	s.reserved--
	select {
	case <-s.done:
		s.mu.Unlock()
		_ = c.Close()
		return
	default:
	}
	s.conns[tp] = st
	if s.refusing {
		st.RefuseRequests()
	}
	acc := s.acceptor
	s.wg.Add(1)
	s.mu.Unlock()
	s.opt.Stats.connections.Add(1)

	// The acceptor reads the connection's frames until it ends. This
	// goroutine's frame lies under every frame of the connection's read
	// loop while the loop waits for the peer, so it is kept small (no
	// defer: a panic in the library's acceptor ends the process anyway):
	// a waiting loop using less than a quarter of its 8 KiB stack has it
	// halved by the GC, 4 KiB per idle connection.
	if acc == nil {
		s.finish(tp, cancel)
		return
	}
	remove := s.remove
	finish := func() { s.finish(tp, cancel) }
	go func() {
		acc(ctx, tp, remove)
		finish()
	}()
}

// finish forgets a connection whose acceptor returned.
func (s *Server) finish(tp *transport.Transport, cancel context.CancelFunc) {
	s.remove(tp)
	cancel()
	s.wg.Done()
}

// RefuseRequests makes every connection, and any accepted later, refuse
// new requests (State.RefuseRequests), for a shutdown: requests arriving
// in fragments may still complete.
func (s *Server) RefuseRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusing = true
	for _, st := range s.conns {
		st.RefuseRequests()
	}
}

// Assembling returns how many requests are still arriving in fragments,
// on every connection.
func (s *Server) Assembling() int { return s.sum((*State).Assembling) }

func (s *Server) remove(tp *transport.Transport) {
	_ = tp.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, tp)
}
