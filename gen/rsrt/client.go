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

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/rx"

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
	responder   func(ctx context.Context, scope *connScope) rsocket.RSocket
	tls         *tls.Config // see WithTLS
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
	tap := rsock.NewTap(cc.done)
	cc.tap = tap
	scope := clientScope(&cc.fence, tap.Arrivals(), cfg.log)
	rc := rsock.ClientConfig{
		Network: network, Target: target,
		DataMIME: MIMEJSON, MetadataMIME: MIMECompositeMetadata,
		SetupData: cfg.setupData, SetupMetadata: md,
		Keepalive: cfg.keepalive, MaxLifetime: cfg.maxLifetime,
		FragmentSize: fragmentSize,
		Tap:          tap,
		OnClose:      cc.closed,
		TLS:          cfg.tls,
	}
	if cfg.responder != nil {
		rc.Responder = func() rsocket.RSocket {
			// The responder's calls into the library go through the
			// connection's fence, like the caller's.
			return cfg.responder(cctx, scope)
		}
	}
	var client rsocket.Client
	if perr := protect(func() { client, err = rsock.Dial(ctx, cctx, rc) }); perr != nil {
		err = perr
	}
	if err != nil {
		cancel()
		return nil, err
	}
	cc.client = client
	if err := cc.awaitSetup(ctx); err != nil {
		_ = cc.Close()
		return nil, err
	}
	cc.caller = &Caller{rs: client, scope: scope, done: cc.done, prefetch: cfg.prefetch,
		peerServes: everyRoute, tap: tap, closeReason: cc.reason}
	cfg.log.Debug("rsrt: connected", "remote", target)
	return cc, nil
}

// ClientConn is a client connection.
type ClientConn struct {
	caller *Caller
	// fence orders the runtime's own frame-queuing library calls (demand
	// and cancels issued as items arrive, answers, new requests) before
	// Close: see fence.
	fence fence
	// tap is the connection's transport tap (see rsock.Tap).
	tap     *rsock.Tap
	done    chan struct{}
	client  rsocket.Client
	cancel  context.CancelFunc
	onClose func(error)
	log     *slog.Logger
	addr    string
	once    sync.Once
	mu      sync.Mutex
	err     error // why the connection closed
}

// Caller returns the caller for requests to the server.
func (c *ClientConn) Caller() *Caller { return c.caller }

// Done is closed when the connection has closed.
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
		close(c.done)
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
	// Later calls skip, and those in progress are waited for, boundedly:
	// one stuck on a full send queue (a peer that stopped reading) must
	// not make Close hang.
	c.fence.close(fenceWait)
	err := protect(func() { _ = c.client.Close() })
	c.closed(nil)
	return err
}

// streamTap is what a caller needs of its connection's transport tap: the
// client's rsock.Tap, or noTap on a server.
type streamTap interface {
	// ExpectStream registers dst as the stream whose first frame is
	// written next; see rsock.Tap.ExpectStream.
	ExpectStream(dst *rsock.StreamID) func(sent bool)
	// Requester returns the refill of an inbound on stream id (see
	// RawInbound.refill), or nil when the inbound must run in reserve
	// mode.
	Requester(id *rsock.StreamID) func(sub rx.Subscription, n int, grant bool)
	// Canceller returns the function that writes the CANCEL of stream id
	// at once, or nil when the library's own cancel has to do.
	Canceller(id *rsock.StreamID) func()
}

// noTap is the streamTap of a server's caller: the server's transport is
// not tapped, so the inbounds of its calls run in reserve mode (see
// inbound.go) and cancel through the library alone.
type noTap struct{}

func (noTap) ExpectStream(*rsock.StreamID) func(bool) { return func(bool) {} }

func (noTap) Requester(*rsock.StreamID) func(rx.Subscription, int, bool) { return nil }

func (noTap) Canceller(*rsock.StreamID) func() { return nil }
