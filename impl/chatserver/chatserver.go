// Package chatserver runs a complete chat server (file store, chat service,
// TCP and WebSocket transports) in-process. cmd/chat-server is a thin
// command-line wrapper around it, and the chat client's demo embeds it.
//
// Start opens the store, starts the listeners and returns once they are
// bound, with their addresses (use port 0 to let the system choose). Stop
// shuts down gracefully: new requests are refused, in-flight requests get
// up to ShutdownTimeout to finish, then every connection is closed.
//
// With Config.MetricsAddr, an operations listener of its own serves the
// server's Prometheus metrics (the runtime's, see gen/rsrt/rsmetrics, and
// the chat's: sessions, messages, queues, uploads, files), /healthz and
// /readyz (503 while draining), and with Config.Pprof net/http/pprof.
package chatserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// Defaults of [DefaultConfig].
const (
	// DefaultTCPAddr is the tutorial's address.
	DefaultTCPAddr = "localhost:6565"
	// DefaultWSAddr is the WebSocket address: the next port.
	DefaultWSAddr = "localhost:6566"
	// DefaultPageURL is the chat page of a server on DefaultWSAddr.
	DefaultPageURL = "http://" + DefaultWSAddr + "/"
	// DefaultDataDir is where files are stored, relative to the working
	// directory.
	DefaultDataDir = "data"
	// DefaultShutdownTimeout is how long Stop lets in-flight requests finish.
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultBusyPoll is how long a connection's read loop polls its
	// socket, after a request that came quickly, before it sleeps (see
	// Config.BusyPoll).
	DefaultBusyPoll = 100 * time.Microsecond
)

// Config configures a server.
type Config struct {
	// TCPAddr is the TCP listen address; "" disables TCP.
	TCPAddr string
	// WSAddr is the WebSocket listen address (path "/"); "" disables
	// WebSocket. Plain HTTP requests on it get the chat page
	// (impl/chatweb).
	WSAddr string
	// AllowedOrigins are the web origins ("https://chat.example.com"), or
	// "*" for any, whose pages may open WebSocket connections besides the
	// server's own page; clients that send no Origin (native ones) are
	// always accepted. See guard.OriginPolicy.
	AllowedOrigins []string
	// DataDir is the file store's directory, created if needed.
	DataDir string
	// Files bounds the file store; zero values mean the store's defaults
	// (16 MiB per file, 1 GiB in total with 4 KiB and the name charged per
	// file, 10,000 files).
	Files filestore.Limits
	// Chat configures the chat service (queue bounds, content limit,
	// upload memory budget...); its Logger field is ignored: Start sets
	// it. Its Files field, when set (a cluster's shared store, see package
	// chatcluster, with its Hub), replaces the store in DataDir, and
	// Files above is then unused.
	Chat chatsvc.Config
	// ResponseBudget bounds the bytes of responses all connections
	// together have not read yet (default
	// rsrt.DefaultServerResponseBudget); each connection also has its own
	// bound (rsrt.DefaultResponseBudget). Past it, the handlers that
	// produce more (downloads) wait.
	ResponseBudget int64
	// ReassemblyMemory bounds the bytes of requests still arriving in
	// fragments that all connections together hold (default
	// guard.DefaultMaxServerPendingBytes, and at least what one
	// connection may hold). A request that would go over it is refused
	// as busy; its connection goes on.
	ReassemblyMemory int64
	// ShutdownTimeout bounds the drain of in-flight requests on Stop
	// (default 5s).
	ShutdownTimeout time.Duration
	// BusyPoll is how long a connection's read loop polls its socket
	// before it sleeps, when the client's last request came within that
	// long (one connection polls at a time): a client that sends one
	// request at a time finds the server awake, for CPU spent while it
	// polls (gen/rsrt/guard, Options.BusyPoll). 0 is DefaultBusyPoll; a
	// negative value never polls.
	BusyPoll time.Duration
	// Logger receives the server's structured logs (default slog.Default()).
	Logger *slog.Logger
	// TLS, when set, secures both transports: TCP over TLS, and
	// WebSocket as wss:// (see gen/rsrt/server.Config.TLS).
	TLS *tls.Config
	// MetricsAddr, when set, is the address of the operations listener:
	// /metrics (Prometheus), /healthz and /readyz (see
	// gen/rsrt/rsmetrics.Handler). "" serves none, and no metrics are
	// collected.
	MetricsAddr string
	// Cluster, in cluster mode, reports the node's link to the others
	// (chat-server adapts chatcluster.Node.Health): its state is
	// exported with the metrics, and /readyz answers 503 while the NATS
	// connection is down. Nil on a single node.
	Cluster func() ClusterState
	// Pprof adds net/http/pprof to the operations listener (MetricsAddr
	// must be set).
	Pprof bool
}

// DefaultConfig returns the configuration of a stand-alone server: TCP on
// localhost:6565, WebSocket on localhost:6566, files in ./data.
func DefaultConfig() Config {
	return Config{
		TCPAddr:         DefaultTCPAddr,
		WSAddr:          DefaultWSAddr,
		DataDir:         DefaultDataDir,
		ShutdownTimeout: DefaultShutdownTimeout,
	}
}

// Running is a started server.
type Running struct {
	svc   *chatsvc.Service
	store *filestore.Store
	log   *slog.Logger
	tp    *transports
	ops   *ops // nil without MetricsAddr

	stopOnce sync.Once
	stopped  chan struct{}
	err      error
}

// Start starts a server and returns once its listeners are bound. The
// server stops gracefully when ctx is done or Stop is called.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	if cfg.TCPAddr == "" && cfg.WSAddr == "" {
		return nil, errors.New("chatserver: no listen address: set a TCP or WebSocket address")
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	switch {
	case cfg.BusyPoll == 0:
		cfg.BusyPoll = DefaultBusyPoll
	case cfg.BusyPoll < 0:
		cfg.BusyPoll = 0
	}
	if cfg.Pprof && cfg.MetricsAddr == "" {
		return nil, errors.New("chatserver: pprof needs a metrics address")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Names, the client's answer to time, error texts: much of what the
	// server logs comes from peers, and no line may be as long as what a
	// peer sent.
	log = slog.New(rslog.NewClipHandler(log.Handler()))
	origins, err := guard.NewOriginPolicy(cfg.AllowedOrigins...)
	if err != nil {
		return nil, fmt.Errorf("chatserver: allowed origins: %w", err)
	}
	chatCfg := cfg.Chat
	var store *filestore.Store
	if chatCfg.Files == nil {
		if store, err = filestore.Open(cfg.DataDir, cfg.Files); err != nil {
			return nil, fmt.Errorf("chatserver: %w", err)
		}
		chatCfg.Files = store
	}
	chatCfg.Logger = log
	limits := chatCfg.Files.Limits()
	svc := chatsvc.New(chatCfg)
	opts := []rsrt.AcceptOption{rsrt.WithLogger(log), rsrt.WithServerResponseBudget(cfg.ResponseBudget)}
	var o *ops
	if cfg.MetricsAddr != "" {
		// Bound first: a busy metrics port fails Start before the chat
		// ports accept anyone.
		if o, err = listenOps(cfg.MetricsAddr, cfg.Pprof); err != nil {
			return nil, fmt.Errorf("chatserver: %w", err)
		}
		// Before the login check, so that the calls it refuses are
		// recorded too.
		opts = append(opts, o.metrics.AcceptOptions()...)
	}
	opts = append(opts, rsrt.WithInterceptors(chatsvc.RequireLogin), rsrt.WithInline(svc.InlineRoutes()...))
	acceptor := chat.NewAcceptor(svc.NewSession, opts...)

	tp, err := startTransports(acceptor, transportConfig{
		tcpAddr:    cfg.TCPAddr,
		wsAddr:     cfg.WSAddr,
		maxFile:    limits.MaxFileBytes,
		reassembly: cfg.ReassemblyMemory,
		shutdown:   cfg.ShutdownTimeout,
		busyPoll:   cfg.BusyPoll,
		origins:    origins,
		log:        log,
		tls:        cfg.TLS,
	})
	if err != nil {
		if o != nil {
			o.close()
		}
		return nil, fmt.Errorf("chatserver: %w", err)
	}
	if o != nil {
		if err := o.serve(tp.srv, svc, store, cfg.Cluster, log); err != nil {
			o.close()
			_ = tp.close()
			return nil, fmt.Errorf("chatserver: %w", err)
		}
	}
	r := &Running{svc: svc, store: store, log: log, tp: tp, ops: o, stopped: make(chan struct{})}
	dataDir := "(shared store)"
	if store != nil {
		dataDir = store.Dir()
	}
	log.Info("chat server started",
		"tcp", r.TCPAddr(), "ws", r.WSURL(), "page", r.PageURL(), "allowed_origins", origins.Allowed(), "metrics", r.MetricsAddr(), "data_dir", dataDir,
		"max_file_bytes", limits.MaxFileBytes, "max_total_bytes", limits.MaxTotalBytes,
		"max_files", limits.MaxFiles, "upload_memory_bytes", svc.UploadMemoryBytes())
	go func() {
		select {
		case <-ctx.Done():
		case <-tp.done: // a listener failed: the server has stopped
		}
		r.shutdown()
	}()
	return r, nil
}

// shutdown stops the server once and records the result.
func (r *Running) shutdown() {
	r.stopOnce.Do(func() {
		// The operations listener outlives the drain, so that /readyz
		// says "not ready" while it lasts.
		r.err = r.tp.close()
		if r.ops != nil {
			r.ops.close()
		}
		st := r.svc.Stats()
		r.log.Info("chat server stopped", "delivered", st.Delivered, "dropped", st.Dropped)
		close(r.stopped)
	})
}

// TCPAddr returns the bound TCP address ("127.0.0.1:6565"), or "" when
// TCP is disabled. Pass it to chat.Dial as is.
func (r *Running) TCPAddr() string { return r.tp.tcpAddr }

// WSAddr returns the bound WebSocket host:port, or "" when disabled.
func (r *Running) WSAddr() string { return r.tp.wsAddr }

// WSURL returns the WebSocket URL to pass to chat.Dial
// ("ws://127.0.0.1:6566/", wss:// with TLS), or "" when WebSocket is
// disabled.
func (r *Running) WSURL() string {
	if r.tp.wsAddr == "" {
		return ""
	}
	if r.tp.tls {
		return "wss://" + r.tp.wsAddr + "/"
	}
	return "ws://" + r.tp.wsAddr + "/"
}

// PageURL returns the URL of the chat page, served on the WebSocket
// listener ("http://127.0.0.1:6566/"), or "" when WebSocket is disabled.
func (r *Running) PageURL() string {
	if r.tp.wsAddr == "" {
		return ""
	}
	return "http://" + r.tp.wsAddr + "/"
}

// MetricsAddr returns the bound address of the operations listener
// ("127.0.0.1:9090"), or "" without one.
func (r *Running) MetricsAddr() string {
	if r.ops == nil {
		return ""
	}
	return r.ops.ln.Addr().String()
}

// Service returns the chat service, for its statistics.
func (r *Running) Service() *chatsvc.Service { return r.svc }

// Store returns the file store in DataDir; nil when Config.Chat.Files
// replaced it.
func (r *Running) Store() *filestore.Store { return r.store }

// Stop shuts the server down gracefully: the listeners stop accepting,
// new requests are refused, open streams end, in-flight requests get up to
// ShutdownTimeout to finish, then every connection closes. Stop returns
// the server's error once it has stopped, or ctx's error if ctx ends first
// (the shutdown then goes on; see Done). Calling it again is harmless.
func (r *Running) Stop(ctx context.Context) error {
	go r.shutdown()
	select {
	case <-r.stopped:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed once the server has stopped.
func (r *Running) Done() <-chan struct{} { return r.stopped }

// Wait blocks until the server has stopped and returns the error that
// stopped it, if any.
func (r *Running) Wait() error {
	<-r.stopped
	return r.err
}
