package guard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

// Options configures the checking transports.
type Options struct {
	// Limits are the per-connection limits; unset fields take defaults.
	Limits Limits
	// Stats, when set, receives the counts of the transports (several
	// transports may share one).
	Stats *Stats
	// Logger receives one line per refused connection or frame (default
	// slog.Default()); each connection logs through rslog.PerConn, so
	// that values a peer controls are clipped and its lines rate-limited.
	Logger *slog.Logger
	// Reassembly is the budget of unfinished fragment chains the
	// connections share (default: one per Server, or per connection made
	// with NewTCPConn or NewWSConn, of Limits.MaxServerPendingBytes);
	// server.Server gives both its transports one.
	Reassembly *Reassembly
	// ConnContext, when set, derives the context handed to the library's
	// acceptor for each connection a Server accepts, and returns a
	// function the connection calls when it is closed: after the network
	// connection is closed and before its Close returns, which is before
	// rsocket-go tears its socket down. gen/rsrt/server sets it to hand
	// each connection its gate and the boundary's fence (rsock.Prepare).
	ConnContext func(ctx context.Context) (context.Context, func())
	// Origins decides which web pages may open WebSocket connections
	// (WebSocket servers only); the zero value allows the server's own
	// pages and clients that send no Origin.
	Origins OriginPolicy
	// BusyPoll, when positive, is how long a connection's read loop
	// polls its socket before it parks to wait for the peer, when the
	// peer's last request came within that long (one read loop of the
	// process polls at a time): a request that comes meanwhile finds
	// the server running instead of waking it, which at one request in
	// flight is most of a round trip. Zero, the default, never polls.
	// Over TLS, connections never poll. Keep it short (the chat server's
	// default is 100 us): a poll ends at its own time, not at the read
	// deadline.
	BusyPoll time.Duration
	// HTTP, when set, serves the HTTP requests of a WebSocket server's
	// listener that are not WebSocket upgrades (a web page and its
	// assets), on any path; when nil they are answered 400 on the
	// WebSocket path and 404 elsewhere. It runs under the listener's
	// timeouts and connection count.
	HTTP http.Handler
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Reassembly == nil {
		o.Reassembly = NewReassembly(o.Limits.MaxServerPendingBytes)
	}
	return o
}

// ErrSetupTimeout is returned by the Read of a connection that sent no
// SETUP within Limits.SetupTimeout.
var ErrSetupTimeout = errors.New("rsocket guard: no SETUP within the setup timeout")

// ErrIdleTimeout is returned by the Read of a connection that sent nothing
// during its max lifetime.
var ErrIdleTimeout = errors.New("rsocket guard: nothing received during the max lifetime")

// yieldBeforeWait is called by a read loop that has nothing buffered,
// before it waits for its peer. The library hands each frame the loop
// reads to a dispatching goroutine of its own, made ready on this core
// but not running yet; a read that finds nothing would make it wait for a
// system call and the park that follows. Yielding first lets the frame's
// handler run at once; the read follows on the other core, or after it.
func (c *checker) yieldBeforeWait() {
	c.publishIn()
	runtime.Gosched()
	if h := testHookWait.Load(); h != nil {
		(*h)(c)
	}
}

// testHookWait, set by tests only, is called as a read loop waits for its
// peer.
var testHookWait atomic.Pointer[func(*checker)]

// checker is the part of a checking connection that does not depend on
// the transport: it runs State.Check on raw frames and turns the decisions
// into the frames the library reads.
type checker struct {
	st *State
	// opt is shared with the server's other connections, not copied
	// into each: 176 bytes a session.
	opt     *Options
	log     atomic.Pointer[slog.Logger] // see logger
	setupBy time.Time
	// queue holds substituted frames not yet read; only the reading
	// goroutine uses it.
	queue   []core.BufferedFrame
	counter atomic.Pointer[core.TrafficCounter]
	// in counts the frames read since they were last added to
	// opt.Stats; only the reading goroutine uses it.
	in traffic
	// out is the connection itself, through which the checker writes
	// frames of its own (see send).
	out frameWriter
	// closeConn closes the underlying connection without flushing.
	closeConn func()
	// closed, when set, is called by Close once the underlying connection
	// is closed (see Options.ConnContext).
	closed func()
	// arrivals, when set, observes every frame handed to the library, in
	// order (see rsock.Arrivals; the runtime puts it in the context
	// Options.ConnContext returns).
	arrivals *rsock.Arrivals
}

// newChecker returns the checker of a connection with opt, which has its
// defaults (Options.withDefaults) and is not changed from then on.
func newChecker(opt *Options) checker {
	st := NewState(opt.Limits)
	st.shared = opt.Reassembly
	return checker{
		st:      st,
		opt:     opt,
		setupBy: time.Now().Add(opt.Limits.SetupTimeout),
	}
}

// logger returns the connection's logger: Options.Logger with the peer's
// address, its lines clipped and rate-limited (rslog.PerConn). It is made
// at the connection's first line: most connections never log one, and a
// logger made in advance cost a server about half a KiB a session.
func (c *checker) logger() *slog.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	c.log.CompareAndSwap(nil, rslog.PerConn(c.opt.Logger.With("remote", c.out.Addr())))
	return c.log.Load()
}

// deadline is the read deadline of the next frame: the setup deadline
// until SETUP, then the max lifetime from now. rsocket-go sets its own
// deadline after every frame, a fixed 90 s on servers whatever the client
// declared; the connections ignore it and use this one.
func (c *checker) deadline() time.Time {
	if life := c.st.Lifetime(); life > 0 {
		return time.Now().Add(life)
	}
	return c.setupBy
}

// frameWriter is the writing side of a checking connection.
type frameWriter interface {
	Write(f core.WriteableFrame) error
	Flush() error
	Addr() string // the peer's, for the connection's log lines
}

// send writes a frame of the transport's own (a KEEPALIVE echo, a
// rejection) through the connection's writer, and returns once it is
// written out.
func (c *checker) send(f core.WriteableFrame) error {
	if err := c.out.Write(f); err != nil {
		return err
	}
	return c.out.Flush()
}

// reject answers a refused request.
func (c *checker) reject(sid uint32, reason string) error { return c.send(rejectFrame(sid, reason)) }

// readSpan is the span of the read deadline after SETUP, the max
// lifetime; 0 before, when the deadline is the fixed setup deadline.
func (c *checker) readSpan() time.Duration { return c.st.Lifetime() }

// lazyDeadline is a connection's read or write deadline, moved only every
// eighth of its span: it is set an eighth of the span later than wanted,
// and left alone while it is no earlier than wanted, so a peer gets
// between all of the span and 9/8 of it, never less. Setting a deadline
// updates a runtime timer under a lock, a cost every frame paid when each
// read and write moved it.
type lazyDeadline struct{ at time.Time }

// next returns the deadline to set for want, a deadline span from now,
// and whether it must be set; it records it as set.
func (d *lazyDeadline) next(want time.Time, span time.Duration) (time.Time, bool) {
	slack := span / 8
	if !d.at.Before(want) && !d.at.After(want.Add(slack)) {
		return time.Time{}, false
	}
	d.at = want.Add(slack)
	return d.at, true
}

// next returns a substituted frame waiting to be read, if any.
func (c *checker) next() core.BufferedFrame {
	if len(c.queue) == 0 {
		return nil
	}
	f := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	return f
}

// process checks one raw frame and returns the frame to hand to the
// library, nil when there is none, or the error that closes the
// connection.
func (c *checker) process(raw []byte) (f core.BufferedFrame, err error) {
	defer func() {
		// The check is written not to panic; this keeps a bug in it from
		// taking the process down.
		if r := recover(); r != nil {
			f, err = nil, c.violation(&Violation{Reason: fmt.Sprintf("internal error: %v", r)})
		}
		if err != nil {
			c.publishIn() // the read loop ends
		}
	}()
	if c.in.count(len(raw)) {
		c.publishIn()
	}
	d, err := c.st.Check(raw)
	if err != nil {
		return nil, c.violation(err)
	}
	switch d.Action {
	case Drop:
		c.opt.Stats.dropped.Add(1)
		c.logger().Debug("rsocket guard: frame dropped", "stream", d.StreamID, "reason", d.Reason)
		return nil, nil
	case Reject:
		c.opt.Stats.rejected.Add(1)
		c.logger().Info("rsocket guard: request rejected", "stream", d.StreamID, "reason", d.Reason)
		if err := c.reject(d.StreamID, d.Reason); err != nil {
			return nil, err
		}
		if d.Cancel {
			// The library holds fragments of the request: a CANCEL frees them.
			c.queue = append(c.queue, framing.NewCancelFrame(d.StreamID))
		}
		return c.next(), nil
	case Echo:
		body := raw[core.FrameHeaderLen:]
		// raw is a view of the read buffer: written out before the next
		// read reuses it.
		return nil, c.send(framing.NewWriteableKeepaliveFrame(binary.BigEndian.Uint64(body), body[8:], false))
	case Substitute:
		c.opt.Stats.substituted.Add(1)
		c.logger().Debug("rsocket guard: frame substituted", "stream", d.StreamID, "reason", d.Reason, "cancel", d.Cancel, "complete", d.Complete)
		if d.Cancel {
			c.queue = append(c.queue, framing.NewCancelFrame(d.StreamID))
		}
		if d.Complete {
			c.queue = append(c.queue, framing.NewPayloadFrame(d.StreamID, nil, nil, core.FlagComplete))
		}
		return c.next(), nil
	}
	f, err = framing.FromBytes(raw)
	if err != nil {
		return nil, c.violation(&Violation{Reason: err.Error()})
	}
	if err := f.Validate(); err != nil {
		f.Release()
		return nil, c.violation(&Violation{Type: f.Header().Type(), StreamID: f.Header().StreamID(), Reason: err.Error()})
	}
	if ctr := c.counter.Load(); ctr != nil && f.Header().Resumable() {
		ctr.IncReadBytes(f.Len())
	}
	if c.arrivals != nil {
		c.arrivals.Observe(f)
	}
	return f, nil
}

// publishIn adds the frames read since its last call to the Stats. The
// reading goroutine calls it before every read from the socket, which may
// wait for the peer, and as the read loop ends, so that the counts are
// current whenever the connection is idle or gone.
func (c *checker) publishIn() { c.opt.Stats.received(&c.in) }

// violation counts and logs the error that closes the connection.
func (c *checker) violation(err error) error {
	c.publishIn() // the read loop ends
	c.opt.Stats.violations.Add(1)
	c.logger().Warn("rsocket guard: connection closed", "reason", err.Error())
	return err
}

// readError maps an error of the underlying connection to what the
// library expects: io.EOF (exactly) for a closed connection, so that it
// exits quietly, or the reason the connection was closed.
func (c *checker) readError(err error) error {
	c.publishIn() // the read loop ends
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		if !c.st.SetupDone() {
			c.opt.Stats.setupTimeouts.Add(1)
			c.logger().Info("rsocket guard: connection closed: no SETUP in time", "timeout", c.opt.Limits.SetupTimeout)
			return ErrSetupTimeout
		}
		c.opt.Stats.idleTimeouts.Add(1)
		c.logger().Info("rsocket guard: connection closed: nothing received during the max lifetime", "lifetime", c.st.Lifetime())
		return ErrIdleTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return io.EOF
	}
	return err
}

// writeError closes the connection after a failed write, counting and
// logging a write that timed out. rsocket-go does not close a connection
// it cannot write to: it keeps the frames for a resumption that never
// comes, and the peer would stay connected.
func (c *checker) writeError(err error) error {
	if err == nil {
		return nil
	}
	defer c.closeConn()
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		c.opt.Stats.writeTimeouts.Add(1)
		c.logger().Info("rsocket guard: connection closed: the peer does not read", "timeout", c.opt.Limits.WriteTimeout)
	}
	return err
}

// frameOut counts f's size bytes (for resumption, when the library keeps
// a counter), feeds f, about to be written to the peer, to the state (see
// outbound: before the bytes leave, so that the state is up to date
// before the peer can react to the frame) and returns how it goes out:
// send is false for a frame not to write; raw, when not nil, is f
// serialised first, as it must be written, because the state reads its
// bytes (REQUEST_N, and a connection ERROR, which may be a SETUP refusal
// to rewrite: small frames) or changes its flags (a fragment, rarely);
// otherwise f serialises itself into the connection, with its own flags.
// tmp, when not nil, holds raw and goes back with putFrameBuffer once raw
// is written. Called with the connection's write lock held.
func (c *checker) frameOut(f core.WriteableFrame, size int) (raw []byte, tmp *bytes.Buffer, send bool, err error) {
	h := f.Header()
	if ctr := c.counter.Load(); ctr != nil && h.Resumable() {
		ctr.IncWriteBytes(size)
	}
	if h.Type() == core.FrameTypeRequestN || h.Type() == core.FrameTypeError && h.StreamID() == 0 {
		tmp = frameBuffers.Get().(*bytes.Buffer)
		if _, err := f.WriteTo(tmp); err != nil {
			return nil, tmp, false, err
		}
		raw = tmp.Bytes()
		if h.Type() == core.FrameTypeError {
			if r := rewriteSetupError(raw); r != nil {
				raw = r
			}
		}
		c.outbound(h, raw)
		return raw, tmp, true, nil
	}
	flags, send := c.outbound(h, nil)
	if !send || flags == h.Flag() {
		return nil, nil, send, nil
	}
	tmp = frameBuffers.Get().(*bytes.Buffer)
	if _, err := f.WriteTo(tmp); err != nil {
		return nil, tmp, false, err
	}
	raw = tmp.Bytes()
	setFlags(raw, flags)
	return raw, tmp, true, nil
}

// outbound feeds a frame written to the peer to the state and returns the
// flags to write it with, and whether to write it at all (see
// State.Outbound). For REQUEST_N, raw holds the frame's bytes (n follows
// the header), and for an ERROR on stream 0 too (a refused SETUP is
// counted).
func (c *checker) outbound(h core.FrameHeader, raw []byte) (core.FrameFlag, bool) {
	var n uint32
	if h.Type() == core.FrameTypeRequestN && len(raw) >= core.FrameHeaderLen+4 {
		n = binary.BigEndian.Uint32(raw[core.FrameHeaderLen:])
	}
	if h.Type() == core.FrameTypeError && h.StreamID() == 0 && len(raw) >= core.FrameHeaderLen+4 &&
		isSetupErrorCode(core.ErrorCode(binary.BigEndian.Uint32(raw[core.FrameHeaderLen:]))) {
		c.opt.Stats.refusedSetups.Add(1)
	}
	flags, send := c.st.Outbound(h, n)
	if !send {
		c.opt.Stats.cancels.Add(1)
		c.logger().Debug("rsocket guard: CANCEL on a client-initiated stream not sent", "stream", h.StreamID())
	}
	return flags, send
}

// setFlags rewrites the flags in the header of a serialised frame.
func setFlags(raw []byte, flags core.FrameFlag) {
	h := binary.BigEndian.Uint16(raw[4:])
	binary.BigEndian.PutUint16(raw[4:], h&^0x03FF|uint16(flags))
}

// afterClose releases the connection's share of the reassembly budget and
// calls the closed hook, if any.
func (c *checker) afterClose() {
	c.st.Release()
	if c.closed != nil {
		c.closed()
	}
}

// setCounter implements transport.Conn.SetCounter.
func (c *checker) setCounter(ctr *core.TrafficCounter) { c.counter.Store(ctr) }

// rejectFrame is the answer to a request refused (Decision Reject): a
// REJECTED error whose text is the decision's reason.
func rejectFrame(sid uint32, reason string) core.WriteableFrame {
	return framing.NewWriteableErrorFrame(sid, core.ErrorCodeRejected, []byte(reason))
}

// setClosed installs the hook Close calls (see Options.ConnContext); it
// must be called before the connection is handed to the library.
func (c *checker) setClosed(f func()) { c.closed = f }

// setArrivals installs the Arrivals the connection observes frames for;
// it must be called before the connection is handed to the library.
func (c *checker) setArrivals(a *rsock.Arrivals) { c.arrivals = a }
