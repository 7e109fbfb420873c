package rsrt

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// Client defaults, as the tutorial's clients use them.
const (
	defaultKeepalive   = 500 * time.Millisecond
	defaultMaxLifetime = 10 * time.Minute
	// fragmentSize is the fragment size every peer of the contract uses.
	fragmentSize = 1_000_000
)

type dialConfig struct {
	setupData   []byte
	prefetch    int
	keepalive   time.Duration
	maxLifetime time.Duration
	log         *slog.Logger
	onClose     func(error)
	decls       []Declaration
	auth        *Credentials
	responder   func(ctx context.Context, scope *connScope) rsock.Responder
	tls         *tls.Config // see WithTLS
	// interceptors wrap the connection's calls, both ways.
	interceptors interceptors
}

// parseAddr splits a Dial address into a transport and its target.
func parseAddr(addr string) (network, target string, err error) {
	switch {
	case strings.HasPrefix(addr, "ws://"), strings.HasPrefix(addr, "wss://"):
		if _, err := url.Parse(addr); err != nil {
			return "", "", fmt.Errorf("rsrt: bad address %q: %w", addr, err)
		}
		return "ws", addr, nil
	case strings.HasPrefix(addr, "tcp://"):
		addr = strings.TrimPrefix(addr, "tcp://")
	case strings.Contains(addr, "://"):
		return "", "", fmt.Errorf("rsrt: bad address %q: unsupported scheme", addr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("rsrt: bad address %q: %w", addr, err)
	}
	return "tcp", addr, nil
}

func dial(ctx context.Context, addr string, opts []DialOption) (*ClientConn, error) {
	cfg := dialConfig{prefetch: defaultPrefetch, keepalive: defaultKeepalive, maxLifetime: defaultMaxLifetime, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.prefetch < 1 {
		cfg.prefetch = 1
	}
	network, target, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if err := checkTLS(target, cfg.tls); err != nil {
		return nil, err
	}
	var entries Metadata
	if cfg.auth != nil {
		b, err := cfg.auth.Encode()
		if err != nil {
			return nil, err
		}
		entries = append(entries, Entry{MIME: MIMEAuthentication, Data: b})
	}
	if len(cfg.decls) > 0 {
		entries = append(entries, Entry{MIME: MIMEClientRoutes, Data: encodeDeclarations(cfg.decls)})
	}
	var md []byte
	if len(entries) > 0 {
		if md, err = EncodeComposite("", entries); err != nil {
			return nil, err
		}
	}
	// The connection outlives Dial's ctx (which bounds connecting only):
	// rsocket-go closes the connection when the ctx given to Start ends.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cc := &ClientConn{done: make(chan struct{}), cancel: cancel, onClose: cfg.onClose, log: cfg.log, addr: target}
	cc.tap = rsock.NewTap(cc.done)
	scope := clientScope(cc.tap.Arrivals(), cfg.log)
	scope.ic, scope.peer = cfg.interceptors, Peer{Addr: target}
	rc := rsock.ClientConfig{
		Network: network, Target: target,
		DataMIME: MIMEJSON, MetadataMIME: MIMECompositeMetadata,
		SetupData: cfg.setupData, SetupMetadata: md,
		Keepalive: cfg.keepalive, MaxLifetime: cfg.maxLifetime,
		FragmentSize: fragmentSize,
		Tap:          cc.tap,
		TLS:          cfg.tls,
		OnClose:      cc.closed,
	}
	if cfg.responder != nil {
		rc.Responder = func() rsock.Responder { return cfg.responder(cctx, scope) }
	}
	client, err := rsock.Dial(ctx, cctx, rc)
	if err != nil {
		cancel()
		return nil, err
	}
	cc.client = client
	if err := cc.awaitSetup(ctx); err != nil {
		_ = cc.Close()
		return nil, err
	}
	cc.caller = &Caller{conn: &client.Conn, scope: scope, done: cc.done, prefetch: cfg.prefetch,
		peerServes: everyRoute, closeReason: cc.reason}
	cfg.log.Debug("rsrt: connected", "remote", target)
	return cc, nil
}

// ClientConn is a client connection.
type ClientConn struct {
	caller *Caller
	// client is the connection in the boundary: its requesting side,
	// its transport tap, its fence.
	client  *rsock.Client
	tap     *rsock.Tap // the client's transport tap (see rsock.Tap)
	done    chan struct{}
	cancel  context.CancelFunc
	onClose func(error)
	log     *slog.Logger
	addr    string
	once    sync.Once
	// doneOnce closes done: when the library reports the connection
	// closed, or as Close begins.
	doneOnce sync.Once
	mu       sync.Mutex
	err      error // why the connection closed
}

// Caller returns the caller for requests to the server.
func (c *ClientConn) Caller() *Caller { return c.caller }

// Done is closed when the connection has closed, or Close was called.
func (c *ClientConn) Done() <-chan struct{} { return c.done }

// reason returns why the connection closed, nil when it closed normally.
func (c *ClientConn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// closed runs once when the library reports the connection closed.
func (c *ClientConn) closed(err error) {
	if err == nil {
		err = c.peerError()
	}
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		c.markDone()
		c.cancel()
		c.log.Debug("rsrt: connection closed", "remote", c.addr, "error", err)
		if c.onClose != nil {
			c.onClose(err)
		}
	})
}

// setupTimeout bounds how long Dial waits for the server's answer to its
// SETUP when ctx has no earlier deadline.
const setupTimeout = 10 * time.Second

// awaitSetup makes Dial fail when the server refuses the SETUP. RSocket
// has no positive answer to SETUP, and rsocket-go's Start returns before
// the server could refuse: a refusal would only surface as the error of
// the first call. So Dial probes the server right after the SETUP (see
// rsock.Tap.Probe) and waits for any frame from the server: an answer
// other than a connection ERROR means the SETUP was accepted; a refusal
// arrives as that ERROR (returned as *Error, with the server's code and
// text) before the connection closes. It costs one round trip.
func (c *ClientConn) awaitSetup(ctx context.Context) error {
	c.tap.Probe()
	timer := time.NewTimer(setupTimeout)
	defer timer.Stop()
	select {
	case <-c.tap.Answered():
		return nil
	case <-c.done:
		if err := c.peerError(); err != nil {
			return err
		}
		return fmt.Errorf("rsrt: the server closed the connection before answering its SETUP: %w", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("rsrt: no answer to SETUP within %v", setupTimeout)
	}
}

// peerError returns the connection ERROR the server sent, or nil.
func (c *ClientConn) peerError() error {
	if e := c.tap.ConnError(); e != nil {
		return &Error{Code: e.Code, Message: e.Message}
	}
	return nil
}

// Close closes the connection.
func (c *ClientConn) Close() error {
	// Later calls skip, and those in progress are waited for (see
	// rsock.Fence), before calls in flight see the connection closed:
	// from then on, without waiting for the library to tear its socket
	// down, which could otherwise fail one with its own error ("socket
	// closed already") instead of ErrClosed.
	c.client.Shut()
	c.markDone()
	err := c.client.Close()
	c.closed(nil)
	return err
}

func (c *ClientConn) markDone() { c.doneOnce.Do(func() { close(c.done) }) }

// RouteLibraryLogs sends rsocket-go's own log lines, which go to the
// standard logger by default, to l (nil: nowhere). The library's warnings
// are mostly about frames a peer got wrong or raced (unmatched CANCEL,
// REQUEST_N), so they are logged at debug level; its errors at info
// level. Its debug mode, which dumps every frame, stays off. The setting
// is global to the process.
func RouteLibraryLogs(l *slog.Logger) { rsock.RouteLogs(l) }
