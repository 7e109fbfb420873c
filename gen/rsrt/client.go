package rsrt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
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
	tap := newFrameTap(cc.done)
	cc.tap = tap
	scope := clientScope(&tap.fence, cfg.log)
	transporter := func(context.Context) (*transport.Transport, error) {
		var c transport.Conn
		switch network {
		case "ws":
			wc, _, err := websocket.DefaultDialer.DialContext(ctx, target, nil)
			if err != nil {
				return nil, err
			}
			c = transport.NewWebsocketConnection(wc)
		default:
			nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
			if err != nil {
				return nil, err
			}
			c = transport.NewTCPConn(nc)
		}
		tap.mu.Lock()
		tap.conn = c
		tap.mu.Unlock()
		return transport.NewTransport(&tapConn{Conn: c, tap: tap}), nil
	}
	b := rsocket.Connect().
		MetadataMimeType(MIMECompositeMetadata).
		DataMimeType(MIMEJSON).
		KeepAlive(cfg.keepalive, cfg.maxLifetime, 1).
		Fragment(fragmentSize).
		SetupPayload(payload.New(cfg.setupData, md)).
		OnClose(cc.closed)
	var starter rsocket.ToClientStarter = b
	if cfg.responder != nil {
		starter = b.Acceptor(func(context.Context, rsocket.RSocket) rsocket.RSocket {
			// The responder's calls into the library go through the
			// tap's fence, like the caller's.
			return cfg.responder(cctx, scope)
		})
	}
	var client rsocket.Client
	if perr := protect(func() { client, err = starter.Transport(transporter).Start(cctx) }); perr != nil {
		err = perr
	}
	if err != nil {
		cancel()
		return nil, err
	}
	cc.client = client
	if err := tap.awaitSetup(ctx, cc.done); err != nil {
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
	caller  *Caller
	tap     *frameTap
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

// reason returns why the connection closed, nil when it closed normally.
// Caller returns the caller for requests to the server.
func (c *ClientConn) Caller() *Caller { return c.caller }

// Done is closed when the connection has closed.
func (c *ClientConn) Done() <-chan struct{} { return c.done }

func (c *ClientConn) reason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// closed runs once when the library reports the connection closed.
func (c *ClientConn) closed(err error) {
	if err == nil {
		err = c.tap.peerError()
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

// Close closes the connection.
func (c *ClientConn) Close() error {
	c.tap.beginClose()
	err := protect(func() { _ = c.client.Close() })
	c.closed(nil)
	return err
}

// streamTap is what a caller needs of its connection's transport tap: the
// client's frameTap, or noTap on a server.
type streamTap interface {
	// expectStream registers dst as the stream whose first frame is
	// written next; see frameTap.expectStream.
	expectStream(dst *streamID) func(sent bool)
	// requester returns the refill of an inbound on stream id (see
	// RawInbound.refill), or nil when the inbound must run in reserve
	// mode.
	requester(id *streamID) func(sub rx.Subscription, n int, grant bool)
	// canceller returns the function that writes the CANCEL of stream id
	// at once, or nil when the library's own cancel has to do.
	canceller(id *streamID) func()
}

// noTap is the streamTap of a server's caller: the server's transport is
// not tapped, so the inbounds of its calls run in reserve mode (see
// inbound.go) and cancel through the library alone.
type noTap struct{}

func (noTap) expectStream(*streamID) func(bool) { return func(bool) {} }

func (noTap) requester(*streamID) func(rx.Subscription, int, bool) { return nil }

func (noTap) canceller(*streamID) func() { return nil }

// streamID is the stream id of a channel, learnt when its first frame is
// written.
type streamID struct {
	mu sync.Mutex
	id uint32
	ok bool
}

func (s *streamID) set(id uint32) {
	s.mu.Lock()
	s.id, s.ok = id, true
	s.mu.Unlock()
}

func (s *streamID) get() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id, s.ok
}

// frameTap sits between rsocket-go and a client connection's transport.
// It works around two gaps of rsocket-go v0.8.16 that need stream ids the
// library keeps to itself:
//   - it sends no CANCEL for a channel it requested (cancelling the
//     response flux only forgets the stream), so the tap writes the CANCEL;
//   - demand issued outside OnNext reaches the peer before the inbound
//     processor counts it (see inbound.go), so for such refills the tap
//     swallows the library's REQUEST_N frame and writes its own once the
//     processor counted the credit.
//
// The tap learns the id of each stream from its first frame
// (REQUEST_STREAM or REQUEST_CHANNEL) as the library writes it: openings
// of streams and channels are serialised per connection, so the next such
// frame is known to be the one expected. Every Write is one whole frame
// and the tap serialises them, so its own frames go between the library's.
type frameTap struct {
	done <-chan struct{}

	// answered is closed by the first frame the server sends that is not
	// a connection ERROR: the server accepted the SETUP (see awaitSetup).
	answered     chan struct{}
	answeredOnce sync.Once
	// connErr is the connection ERROR the server sent, if any.
	connErr atomic.Pointer[Error]

	openMu sync.Mutex // one stream or channel opening at a time

	// fence orders the runtime's own frame-queuing library calls (demand
	// and cancels issued as items arrive, answers, new requests) before
	// Close: see fence.
	fence fence

	mu      sync.Mutex // guards the fields below and serialises writes
	conn    transport.Conn
	expect  *streamID
	seen    chan struct{}
	swallow map[uint32]int // REQUEST_N frames of the library to drop, by stream
}

func newFrameTap(done <-chan struct{}) *frameTap {
	return &frameTap{done: done, answered: make(chan struct{})}
}

// setupTimeout bounds how long Dial waits for the server's answer to its
// SETUP when ctx has no earlier deadline.
const setupTimeout = 10 * time.Second

// awaitSetup makes Dial fail when the server refuses the SETUP. RSocket
// has no positive answer to SETUP, and rsocket-go's Start returns before
// the server could refuse: a refusal would only surface as the error of
// the first call. So Dial sends a KEEPALIVE with RESPOND right after the
// SETUP and waits for any frame from the server: a server processes
// frames in order and must echo the KEEPALIVE, so an answer other than a
// connection ERROR means the SETUP was accepted; a refusal arrives as that
// ERROR (returned as *Error, with the server's code and text) before the
// connection closes. It costs one round trip.
func (t *frameTap) awaitSetup(ctx context.Context, closed <-chan struct{}) error {
	t.mu.Lock()
	t.writeLocked(framing.NewWriteableKeepaliveFrame(0, nil, true))
	t.mu.Unlock()
	timer := time.NewTimer(setupTimeout)
	defer timer.Stop()
	select {
	case <-t.answered:
		return nil
	case <-closed:
		if err := t.peerError(); err != nil {
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
func (t *frameTap) peerError() error {
	if e := t.connErr.Load(); e != nil {
		return e
	}
	return nil
}

// beginClose makes later calls skip and waits for the calls in progress,
// boundedly: one stuck on a full send queue (a peer that stopped reading)
// must not make Close hang.
func (t *frameTap) beginClose() { t.fence.close(fenceWait) }

// expectStream registers dst as the stream whose first frame (of type
// REQUEST_STREAM or REQUEST_CHANNEL) is written next. The returned function
// must be called once the library was asked to send it (sent reports
// whether it was); it waits for the frame to be written, so that openings
// do not overlap.
func (t *frameTap) expectStream(dst *streamID) func(sent bool) {
	t.openMu.Lock()
	seen := make(chan struct{})
	t.mu.Lock()
	t.expect, t.seen = dst, seen
	t.mu.Unlock()
	return func(sent bool) {
		if sent {
			select {
			case <-seen:
			case <-t.done:
			}
		}
		t.mu.Lock()
		t.expect, t.seen = nil, nil
		t.mu.Unlock()
		t.openMu.Unlock()
	}
}

// requester returns the function through which an inbound on stream id
// issues demand that its processor must count before the peer learns of
// it: the library's REQUEST_N frame is swallowed while Request updates the
// processor's counter, then, when grant is set, the tap writes the frame
// itself. With grant unset the peer never hears of the demand: that is the
// inbound's reserve unit (see inbound.go).
func (t *frameTap) requester(id *streamID) func(sub rx.Subscription, n int, grant bool) {
	return func(sub rx.Subscription, n int, grant bool) {
		sid, ok := id.get()
		if !ok {
			// Unreachable (items arrived, so the first frame was
			// written); fall back to the library's own path.
			if grant {
				sub.Request(n)
			}
			return
		}
		t.mu.Lock()
		if t.swallow == nil {
			t.swallow = make(map[uint32]int)
		}
		t.swallow[sid]++
		t.mu.Unlock()
		sub.Request(n) // returns once the (swallowed) frame went through Write
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.swallow[sid] > 0 {
			// The library did not write it: the connection closed.
			delete(t.swallow, sid)
			return
		}
		if grant {
			t.writeLocked(framing.NewWriteableRequestNFrame(sid, uint32(n), 0))
		}
	}
}

// canceller returns a function that writes a CANCEL frame for stream id.
func (t *frameTap) canceller(id *streamID) func() {
	return func() {
		sid, ok := id.get()
		if !ok {
			return // the first frame never went out
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.writeLocked(framing.NewWriteableCancelFrame(sid))
	}
}

func (t *frameTap) writeLocked(f core.WriteableFrame) {
	if t.conn == nil {
		return
	}
	select {
	case <-t.done:
		return
	default:
	}
	safely(func() {
		if t.conn.Write(f) == nil {
			_ = t.conn.Flush()
		}
	})
}

// tapConn is the transport.Conn wrapper of a frameTap.
type tapConn struct {
	transport.Conn
	tap *frameTap
}

// Write writes one frame, noting the stream id of an expected channel.
func (c *tapConn) Write(f core.WriteableFrame) error {
	t := c.tap
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn = c.Conn
	switch h := f.Header(); h.Type() {
	case core.FrameTypeRequestStream, core.FrameTypeRequestChannel:
		if t.expect != nil {
			t.expect.set(h.StreamID())
			close(t.seen)
			t.expect, t.seen = nil, nil
		}
	case core.FrameTypeRequestN:
		if n := t.swallow[h.StreamID()]; n > 0 {
			if n == 1 {
				delete(t.swallow, h.StreamID())
			} else {
				t.swallow[h.StreamID()] = n - 1
			}
			return nil // the refill writes it once the processor counted it
		}
	}
	return c.Conn.Write(f)
}

// Read reads the next frame. A connection ERROR (stream 0) is kept as the
// reason the connection closed and the library reads the end of the
// connection instead: rsocket-go v0.8.16 would print it, with a stack
// trace, on the program's stderr, and the caller gets it as an *Error
// anyway (see awaitSetup and ClientConn's close reason).
func (c *tapConn) Read() (core.BufferedFrame, error) {
	f, err := c.Conn.Read()
	if err != nil {
		return f, err
	}
	if ef, ok := f.(*framing.ErrorFrame); ok && ef.Header().StreamID() == 0 {
		e := &Error{Code: ef.ErrorCode(), Message: string(ef.ErrorData())} // string copies
		f.Release()
		c.tap.connErr.CompareAndSwap(nil, e)
		return nil, io.EOF
	}
	c.tap.answeredOnce.Do(func() { close(c.tap.answered) })
	return f, nil
}

// Flush flushes written frames.
func (c *tapConn) Flush() error {
	c.tap.mu.Lock()
	defer c.tap.mu.Unlock()
	return c.Conn.Flush()
}

// Addr returns the remote address when the wrapped connection knows it.
func (c *tapConn) Addr() string {
	if a, ok := c.Conn.(transport.AddrConn); ok {
		return a.Addr()
	}
	return ""
}
