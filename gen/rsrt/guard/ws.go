package guard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/transport"
)

// WSConn is a checking rsocket-go connection over WebSocket: one RSocket
// frame per binary message, without length prefix. It implements
// transport.Conn.
type WSConn struct {
	checker
	ws *websocket.Conn

	// wmu serialises the writes through gorilla, which allows one
	// writer at a time; a server's connection writes into its batch
	// instead, under the batch's lock (see writeFramed).
	wmu sync.Mutex
	wdl lazyDeadline // under wmu, or the batch's lock
	// wdeadline is the deadline wdl last set, under the batch's lock.
	wdeadline time.Time
	// closeSent is set once a close frame was written: no message may
	// follow it.
	closeSent atomic.Bool

	rdl lazyDeadline // only the reading goroutine uses it

	// batch, on a server's connection, holds the messages written until
	// Flush (see batchConn); nil on other connections, whose messages
	// go out as they are written.
	batch *batchConn

	// rbuf is the message buffer, reused between messages up to keepBuf
	// bytes, and given back to msgBuffers while the connection waits for
	// its peer; only the reading goroutine uses it.
	rbuf []byte

	// idle is gorilla's read buffer on a server's connection: while it
	// holds nothing, Read waits in batchConn.waitIdle. nil on other
	// connections.
	idle *bufio.Reader
}

var _ transport.AddrConn = (*WSConn)(nil)

// NewWSConn wraps an upgraded WebSocket connection; messages over
// Limits.WSReadLimit close it. Its SETUP deadline starts now.
func NewWSConn(ws *websocket.Conn, opt Options) *WSConn {
	opt = opt.withDefaults()
	return newWSConn(ws, &opt)
}

// newWSConn is NewWSConn with options that have their defaults, shared
// with the other connections of a server.
func newWSConn(ws *websocket.Conn, opt *Options) *WSConn {
	c := &WSConn{checker: newChecker(opt), ws: ws}
	c.closeConn = func() { _ = ws.NetConn().Close() }
	c.out = c
	if b, ok := ws.NetConn().(*batchConn); ok {
		c.batch = b
		b.rd = &c.checker // before the connection reads: only its reader uses it
		b.wq.mu.Lock()
		b.wq.stats = opt.Stats // not before: the handshake is not counted
		b.wq.mu.Unlock()
		// gorilla answers pings and closes from the read loop; with
		// writes held for the next flush, the answers are flushed here.
		ws.SetPingHandler(func(data string) error {
			return c.control(websocket.PongMessage, []byte(data))
		})
		ws.SetCloseHandler(func(code int, _ string) error {
			_ = c.control(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
			return nil
		})
	}
	return c
}

// control writes a control message and flushes it, as gorilla's default
// handlers write their answers.
func (c *WSConn) control(typ int, data []byte) error {
	if typ == websocket.CloseMessage {
		c.closeSent.Store(true)
	}
	err := c.ws.WriteControl(typ, data, time.Now().Add(controlWriteTimeout))
	if err == nil {
		err = c.batch.Flush()
	}
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}

// controlWriteTimeout bounds the write of a control message (gorilla's
// own handlers allow a second).
const controlWriteTimeout = time.Second

// Addr returns the peer address.
func (c *WSConn) Addr() string { return c.ws.RemoteAddr().String() }

// SetDeadline is ignored, as for [TCPConn.SetDeadline].
func (c *WSConn) SetDeadline(time.Time) error { return nil }

// SetCounter binds a counter of the bytes read and written.
func (c *WSConn) SetCounter(ctr *core.TrafficCounter) { c.setCounter(ctr) }

// Read returns the next frame that passed the check; see [TCPConn.Read].
// Text messages are dropped, as rsocket-go does.
//
// An idle server connection's read loop waits here, with few frames down
// to the goroutine's start (see wsidle.go).
func (c *WSConn) Read() (core.BufferedFrame, error) {
	if f := c.next(); f != nil {
		return f, nil
	}
	if err := c.armReadDeadline(); err != nil {
		return nil, err
	}
	if c.idle != nil && c.idle.Buffered() == 0 {
		c.releaseMsgBuffer()
		c.yieldBeforeWait()
		c.batch.waitIdle()
	}
	return c.read()
}

// msgBuffers holds the message buffers of connections waiting for their
// peer: the size a buffer starts at, which most messages fit in.
var msgBuffers = sync.Pool{New: func() any { return new([msgBufStart]byte) }}

// msgBufStart is the size a message buffer starts at and grows by.
const msgBufStart = 512

// releaseMsgBuffer gives the message buffer back to msgBuffers before the
// connection waits for its peer, if it is of the pool's size (a grown
// one is dropped).
func (c *WSConn) releaseMsgBuffer() {
	if cap(c.rbuf) == msgBufStart {
		msgBuffers.Put((*[msgBufStart]byte)(c.rbuf[:msgBufStart]))
	}
	c.rbuf = nil
}

// armReadDeadline moves the read deadline when it is due (see
// lazyDeadline).
func (c *WSConn) armReadDeadline() error {
	if dl, ok := c.rdl.next(c.deadline(), c.readSpan()); ok {
		if err := c.ws.SetReadDeadline(dl); err != nil {
			return c.readError(err)
		}
	}
	return nil
}

// read reads messages until one gives a frame or an error. Read armed
// the read deadline for the first; read arms it for each next one.
func (c *WSConn) read() (core.BufferedFrame, error) {
	for {
		typ, raw, err := c.readMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.publishIn() // the read loop ends
				return nil, io.EOF
			}
			return nil, err
		}
		if typ == websocket.BinaryMessage {
			f, err := c.process(raw)
			// process copies what it keeps: the buffer can serve the
			// next message, unless a large message grew it.
			c.rbuf = raw[:0]
			if cap(raw) > keepBuf {
				c.rbuf = nil
			}
			if err != nil || f != nil {
				return f, err
			}
		} else {
			c.opt.Stats.dropped.Add(1)
			c.logger().Debug("rsocket guard: non-binary WebSocket message dropped")
		}
		if err := c.armReadDeadline(); err != nil {
			return nil, err
		}
	}
}

// readMessage reads the next message, up to the read limit, into c.rbuf
// (grown on demand, from a small size: most messages are small). The
// limit is enforced here rather than with gorilla's SetReadLimit, so that
// the violation is counted and logged before the peer sees the connection
// close.
func (c *WSConn) readMessage() (int, []byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, c.wsError(err)
	}
	limit := c.opt.Limits.WSReadLimit
	lr := io.LimitReader(r, limit+1)
	if c.rbuf == nil && c.idle != nil {
		c.rbuf = msgBuffers.Get().(*[msgBufStart]byte)[:0]
	}
	raw := c.rbuf[:0]
	for {
		if len(raw) == cap(raw) {
			raw = slices.Grow(raw, msgBufStart)
		}
		n, err := lr.Read(raw[len(raw):cap(raw)])
		raw = raw[:len(raw)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, c.wsError(err)
		}
	}
	if int64(len(raw)) > limit {
		return 0, nil, c.violation(&Violation{Reason: fmt.Sprintf("WebSocket message over the %d-byte read limit", limit)})
	}
	return typ, raw, nil
}

func (c *WSConn) wsError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return err
	}
	return c.readError(err)
}

// Write writes a frame as one binary message: on a server's connection
// into its batch (writeFramed), on others through gorilla.
func (c *WSConn) Write(f core.WriteableFrame) error {
	if c.batch != nil {
		return c.writeFramed(f)
	}
	h := f.Header()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := frameBuffers.Get().(*bytes.Buffer)
	defer putFrameBuffer(buf)
	if _, err := f.WriteTo(buf); err != nil {
		return err
	}
	if ctr := c.counter.Load(); ctr != nil && h.Resumable() {
		ctr.IncWriteBytes(buf.Len())
	}
	msg := buf.Bytes()
	if h.Type() == core.FrameTypeError && h.StreamID() == 0 {
		if r := rewriteSetupError(msg); r != nil {
			msg = r
		}
	}
	flags, send := c.outbound(h, msg)
	if !send {
		return nil
	}
	if flags != h.Flag() {
		setFlags(msg, flags)
	}
	if dl, ok := c.wdl.next(time.Now().Add(c.opt.Limits.WriteTimeout), c.opt.Limits.WriteTimeout); ok {
		if err := c.ws.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	err := c.ws.WriteMessage(websocket.BinaryMessage, msg)
	if err == nil {
		c.opt.Stats.wrote(1, &traffic{frames: 1, bytes: uint64(len(msg))})
	}
	return c.writeError(err)
}

// writeFramed writes f as one binary message into the batch, framed here
// as frames are over TCP: a server's messages are not masked, so a
// message is a header of two to ten bytes before the frame, which
// serialises itself into the batch. gorilla's writer, which this replaces
// for the server's messages, copied each frame once more, through a
// buffer of its own, and applied a deadline to each. Control messages
// still go through gorilla (see control), into the same batch; the
// batch's lock serialises both.
func (c *WSConn) writeFramed(f core.WriteableFrame) error {
	b := c.batch
	size := f.Len()
	b.wq.mu.Lock()
	defer b.wq.mu.Unlock()
	if b.wq.err != nil {
		return b.wq.err
	}
	if c.closeSent.Load() {
		// As gorilla's writer: no message after a close frame.
		return c.writeError(websocket.ErrCloseSent)
	}
	raw, tmp, send, err := c.frameOut(f, size)
	if tmp != nil {
		defer putFrameBuffer(tmp)
	}
	if err != nil || !send {
		return err
	}
	if dl, ok := c.wdl.next(time.Now().Add(c.opt.Limits.WriteTimeout), c.opt.Limits.WriteTimeout); ok {
		c.wdeadline = dl
	}
	b.deadline = c.wdeadline // a control message may have set its own
	if raw != nil {
		size = len(raw)
	}
	b.wq.out.count(size)
	if err := b.putHeader(size); err != nil {
		return c.writeError(err)
	}
	if raw != nil {
		_, err = b.writeLocked(raw)
	} else {
		_, err = f.WriteTo(wsSink{b})
	}
	return c.writeError(err)
}

// frameBuffers holds the frame buffers of WebSocket connections between
// their writes: a connection takes one for its first frame and gives it
// back at the flush, so that an idle connection holds none. A TCP
// connection takes one for a frame it must see serialised before it
// writes it.
var frameBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putFrameBuffer gives a frame buffer back to frameBuffers, unless a
// large frame grew it (it is dropped then).
func putFrameBuffer(b *bytes.Buffer) {
	if b.Cap() <= keepBuf {
		b.Reset()
		frameBuffers.Put(b)
	}
}

// Flush writes out the messages written since the last flush, in one
// system call.
func (c *WSConn) Flush() error {
	if c.batch == nil {
		return nil
	}
	return c.writeError(c.batch.Flush())
}

// Close writes out what is buffered, within closeFlushTimeout (see
// lockToClose), and closes the connection. A server's connection whose
// last frame is a connection ERROR (a refused SETUP) ends with a close
// frame and lingers first, as a TCP connection does (see lingerClose):
// the peer reads the ERROR and a normal closure (a browser's close event
// has code 1000), not a reset (code 1006), which could reach it before
// the ERROR.
func (c *WSConn) Close() error {
	if c.batch != nil {
		c.batch.closeFlush()
		if c.st.Linger() {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			c.closeSent.Store(true)
			if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(controlWriteTimeout)) == nil {
				c.batch.closeFlush()
			}
			// From the socket itself: the library's read loop may
			// still be reading through the connection's buffers.
			lingerClose(c.batch.Conn)
		}
	}
	err := c.ws.Close()
	c.afterClose()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
