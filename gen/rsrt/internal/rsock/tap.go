package rsock

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
	"github.com/rsocket/rsocket-go/rx"
)

// StreamID is the stream id of a stream or channel a client opened, learnt
// by its Tap when the stream's first frame is written.
type StreamID struct {
	mu sync.Mutex
	id uint32
	ok bool
}

func (s *StreamID) set(id uint32) {
	s.mu.Lock()
	s.id, s.ok = id, true
	s.mu.Unlock()
}

func (s *StreamID) get() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id, s.ok
}

// Tap sits between rsocket-go and a client connection's transport. It
// works around two gaps of rsocket-go v0.8.16 that need stream ids the
// library keeps to itself (see the package doc, entries "Channel and
// stream CANCEL" and "Demand outside OnNext"):
//   - it sends no CANCEL for a channel it requested (cancelling the
//     response flux only forgets the stream), so the tap writes the CANCEL;
//   - demand issued outside OnNext reaches the peer before the inbound
//     processor counts it, so for such refills the tap swallows the
//     library's REQUEST_N frame and writes its own once the processor
//     counted the credit.
//
// The tap learns the id of each stream from its first frame
// (REQUEST_STREAM or REQUEST_CHANNEL) as the library writes it: openings
// of streams and channels are serialised per connection, so the next such
// frame is known to be the one expected. Every Write is one whole frame
// and the tap serialises them, so its own frames go between the library's.
//
// On the way in, it takes the server's connection ERROR away from the
// library, and tells when the server first answered (see Probe).
type Tap struct {
	done <-chan struct{}

	// answered is closed by the first frame the server sends that is not
	// a connection ERROR: the server accepted the SETUP (see Probe).
	answered     chan struct{}
	answeredOnce sync.Once
	// connErr is the connection ERROR the server sent, if any.
	connErr atomic.Pointer[ConnError]

	openMu sync.Mutex // one stream or channel opening at a time

	mu      sync.Mutex // guards the fields below and serialises writes
	conn    transport.Conn
	expect  *StreamID
	seen    chan struct{}
	swallow map[uint32]int // REQUEST_N frames of the library to drop, by stream

	// arrivals observes the frames read, to order the one-way requests
	// the server sends (see Arrivals).
	arrivals *Arrivals
}

// NewTap returns the tap of a client connection; done is closed when the
// connection has closed.
func NewTap(done <-chan struct{}) *Tap {
	return &Tap{done: done, answered: make(chan struct{}), arrivals: NewArrivals()}
}

// Arrivals returns the arrivals the tap observes inbound frames for.
func (t *Tap) Arrivals() *Arrivals { return t.arrivals }

// Wrap returns the transport connection the library must be given: c,
// with the tap in its read and write paths.
func (t *Tap) Wrap(c transport.Conn) transport.Conn {
	t.mu.Lock()
	t.conn = c
	t.mu.Unlock()
	return &tapConn{Conn: c, tap: t}
}

// ConnError is a connection ERROR (stream 0) the server sent.
type ConnError struct {
	Code    core.ErrorCode
	Message string
}

// Probe writes a KEEPALIVE with RESPOND. A server processes frames in
// order and must echo it, so once Answered is closed the server accepted
// what was written before the probe (the SETUP); a refusal arrives as a
// connection ERROR (ConnError) before the connection closes. It costs one
// round trip.
func (t *Tap) Probe() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writeLocked(framing.NewWriteableKeepaliveFrame(0, nil, true))
}

// Answered is closed once the server sent a frame other than a connection
// ERROR.
func (t *Tap) Answered() <-chan struct{} { return t.answered }

// ConnError returns the connection ERROR the server sent, or nil.
func (t *Tap) ConnError() *ConnError { return t.connErr.Load() }

// ExpectStream registers dst as the stream whose first frame (of type
// REQUEST_STREAM or REQUEST_CHANNEL) is written next. The returned function
// must be called once the library was asked to send it (sent reports
// whether it was); it waits for the frame to be written, so that openings
// do not overlap.
func (t *Tap) ExpectStream(dst *StreamID) func(sent bool) {
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

// Requester returns the function through which an inbound on stream id
// issues demand that its processor must count before the peer learns of
// it: the library's REQUEST_N frame is swallowed while Request updates the
// processor's counter, then, when grant is set, the tap writes the frame
// itself. With grant unset the peer never hears of the demand: that is the
// inbound's reserve unit (see gen/rsrt's inbound.go).
func (t *Tap) Requester(id *StreamID) func(sub rx.Subscription, n int, grant bool) {
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

// Canceller returns a function that writes a CANCEL frame for stream id.
func (t *Tap) Canceller(id *StreamID) func() {
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

func (t *Tap) writeLocked(f core.WriteableFrame) {
	if t.conn == nil {
		return
	}
	select {
	case <-t.done:
		return
	default:
	}
	defer func() { _ = recover() }() // a connection torn down under us
	if t.conn.Write(f) == nil {
		_ = t.conn.Flush()
	}
}

// tapConn is the transport.Conn wrapper of a Tap.
type tapConn struct {
	transport.Conn
	tap *Tap
}

// Write writes one frame, noting the stream id of an expected stream.
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
// trace, on the program's stderr, and the runtime reports it anyway
// (see ConnError).
func (c *tapConn) Read() (core.BufferedFrame, error) {
	f, err := c.Conn.Read()
	if err != nil {
		return f, err
	}
	if ef, ok := f.(*framing.ErrorFrame); ok && ef.Header().StreamID() == 0 {
		e := &ConnError{Code: ef.ErrorCode(), Message: string(ef.ErrorData())} // string copies
		f.Release()
		c.tap.connErr.CompareAndSwap(nil, e)
		return nil, io.EOF
	}
	c.tap.answeredOnce.Do(func() { close(c.tap.answered) })
	c.tap.arrivals.Observe(f)
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
