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
// (default "/"). Any origin is accepted: RSocket clients authenticate in
// their requests, not with cookies.
func NewWebSocketServer(l net.Listener, path string, opt Options) *Server {
	if path == "" {
		path = "/"
	}
	return newServer(l, opt, true, path)
}

func newServer(l net.Listener, opt Options, ws bool, path string) *Server {
	return &Server{
		l:     l,
		opt:   opt.withDefaults(),
		ws:    ws,
		path:  path,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		conns: make(map[*transport.Transport]*State),
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
// accepting but not Listen. notifier, if not nil, receives true once
// serving started.
func (s *Server) Listen(ctx context.Context, notifier chan<- bool) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("rsocket guard: Listen called twice")
	}
	s.started = true
	s.mu.Unlock()

	if notifier != nil {
		select {
		case notifier <- true:
		case <-ctx.Done():
		}
	}
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
		c := NewTCPConn(nc, s.opt)
		s.serve(ctx, c, c.st)
	}
}

// wsWriteBuffers is the pool of the WebSocket write buffers, shared by
// every server (gorilla wants one pool per buffer size).
var wsWriteBuffers sync.Pool

func (s *Server) serveWS(ctx context.Context) error {
	up := &websocket.Upgrader{
		HandshakeTimeout: s.opt.Limits.SetupTimeout,
		// No read buffer of its own: gorilla then reuses the HTTP
		// server's (4 KiB), which the hijack leaves unused. Write
		// buffers come from a pool for the time of a write, so that an
		// idle connection holds none.
		WriteBufferSize: 4 << 10,
		WriteBufferPool: &wsWriteBuffers,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc(s.path, func(w http.ResponseWriter, r *http.Request) {
		if !s.reserve() {
			http.Error(w, "too many connections", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			// The upgrader answered the request with the error.
			s.release()
			return
		}
		c := NewWSConn(ws, s.opt)
		s.serve(ctx, c, c.st)
	})
	h := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.opt.Limits.SetupTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	s.httpSrv = h
	s.mu.Unlock()
	select {
	case <-s.stop:
		return nil
	default:
	}
	err := h.Serve(s.l)
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

// reserve counts a new connection against MaxConnections.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	if len(s.conns)+s.reserved >= s.opt.Limits.MaxConnections {
		s.opt.Stats.refusedConns.Add(1)
		s.opt.Logger.Warn("rsocket guard: connection refused: too many connections", "limit", s.opt.Limits.MaxConnections)
		return false
	}
	s.reserved++
	return true
}

func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved--
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

	go func() {
		defer s.wg.Done()
		defer cancel()
		defer s.remove(tp)
		if acc == nil {
			return
		}
		acc(ctx, tp, s.remove)
	}()
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
