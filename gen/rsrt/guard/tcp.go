package guard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/transport"
)

// ioBufSize is the size of a TCP connection's bufio reader, pooled (see
// readers), and of the largest write it buffers. Memory per idle
// connection is what limits how many sessions a server holds (16 KiB
// buffers, and a 64 KiB read buffer, were most of a server's heap at
// 10,000 sessions); 4 KiB still takes in the usual request, keepalive and
// message frames whole, and a frame that fits is checked in place in the
// reader's buffer, with no copy.
const ioBufSize = 4 << 10

// idleBufSize is the size of the buffer an idle connection waits for its
// peer with, inside the connection: what one read of a waking peer
// usually brings (a request, a keepalive) fits, so that waking costs no
// more reads than with a full buffer; a larger burst costs one more.
const idleBufSize = 512

// keepBuf is the largest buffer a connection keeps between frames: a
// larger frame (an upload) gets a buffer that is dropped once the frame is
// handed over, so that one large frame does not pin its size for the
// connection's lifetime.
const keepBuf = 16 << 10

// TCPConn is a checking rsocket-go connection over TCP, with the RSocket
// 24-bit length-prefixed framing. It implements transport.Conn.
type TCPConn struct {
	checker
	nc   net.Conn
	r    *bufio.Reader // nil while waiting for the peer (see Read)
	src  pending       // what r reads: the bytes the idle wait read, then nc
	idle [idleBufSize]byte
	buf  []byte

	rdl lazyDeadline // only the reading goroutine uses it

	// wq holds the frames written since the last flush: no buffer when
	// there are none, so an idle connection (most of them, in a server
	// with many sessions) holds none. Its lock serialises writes (the
	// library's and rejections) and guards wdl too.
	wq  outbox
	wdl lazyDeadline
}

// tcpSink is the io.Writer frames serialise themselves into: the
// connection's write buffer.
type tcpSink struct{ c *TCPConn }

// Write implements io.Writer.
func (w tcpSink) Write(p []byte) (int, error) {
	if err := w.c.put(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// put adds p to the frames waiting to be flushed. c.wq.mu is held. A p
// larger than ioBufSize is written at once, as bufio would, and so are the
// pending frames before it or that p would grow past keepBuf: the buffer
// stays small enough to go back to the pool.
func (c *TCPConn) put(p []byte) error {
	if c.wq.err != nil {
		return c.wq.err
	}
	if c.wq.buf != nil && (len(p) > ioBufSize || c.wq.size()+len(p) > keepBuf) {
		if err := c.spill(); err != nil {
			return err
		}
	}
	if len(p) > ioBufSize {
		if err := c.writeDeadline(); err != nil {
			return err
		}
		n, err := c.nc.Write(p)
		c.wq.wrote(n)
		return c.failWrite(err)
	}
	c.wq.add(p)
	return nil
}

// putLength adds a frame's 24-bit length prefix. c.wq.mu is held.
func (c *TCPConn) putLength(n int) error {
	if c.wq.err != nil {
		return c.wq.err
	}
	if c.wq.size()+3 > keepBuf {
		if err := c.spill(); err != nil {
			return err
		}
	}
	// Not through put, whose large writes would make the three bytes
	// escape: an allocation a frame.
	c.wq.add([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
	return nil
}

// spill writes the pending frames out, waiting for the socket within the
// write deadline. c.wq.mu is held. It implements flushed.
func (c *TCPConn) spill() error {
	if c.wq.buf == nil {
		return c.wq.err
	}
	if err := c.writeDeadline(); err != nil {
		return err
	}
	n, err := c.nc.Write(*c.wq.buf)
	c.wq.wrote(n)
	c.wq.release()
	return c.failWrite(err)
}

// failWrite records a write error, which closes the connection; nil for
// none. c.wq.mu is held. It implements flushed.
func (c *TCPConn) failWrite(err error) error {
	if err == nil {
		return nil
	}
	if c.wq.err == nil {
		c.wq.err = c.writeError(err)
	}
	c.wq.release()
	return c.wq.err
}

// readers holds the bufio readers of TCP connections waiting for their
// peer: a connection whose reader has nothing buffered waits with its
// small idle buffer instead (see Read), and takes a reader again for what
// arrives.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ioBufSize) }}

// pending is the source of a connection's reader: the bytes the idle wait
// read first, then the connection.
type pending struct {
	b  []byte
	nc net.Conn
	// busy is set while reads bring more than the idle buffer holds: the
	// connection keeps its reader and reads into it, so that a peer
	// sending in bursts costs no more reads than with a buffer of its
	// own. The first read that brings less ends it.
	busy bool
	// poll is set when the next wait for the peer polls first (see
	// busypoll.go).
	poll bool
	c    *checker // the connection's, told before each read (publishIn)
}

// Read implements io.Reader.
func (p *pending) Read(b []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	p.c.publishIn()
	n, err := p.nc.Read(b)
	p.busy = n >= idleBufSize
	return n, err
}

// releaseReader puts the connection's reader back in the pool before it
// waits for its peer with its idle buffer (Read): the reader holds nothing.
//
//go:noinline
func (c *TCPConn) releaseReader() {
	if c.r != nil {
		c.r.Reset(nil)
		readers.Put(c.r)
		c.r = nil
	}
}

// poll polls the socket into the idle buffer for up to d before the idle
// wait parks, when the last wait was short (see busypoll.go).
//
//go:noinline
func (c *TCPConn) poll(d time.Duration) (int, error) {
	if d <= 0 || !c.src.poll || c.wq.raw == nil {
		return 0, nil
	}
	return pollSocket(c.wq.raw, c.idle[:], d)
}

// woke takes a reader for the n bytes the idle wait read.
//
//go:noinline
func (c *TCPConn) woke(n int, err error) error {
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return c.readError(err)
	}
	// An error that came with bytes comes again on the next read.
	c.src.b = c.idle[:n]
	c.src.busy = n == len(c.idle)
	c.r = readers.Get().(*bufio.Reader)
	c.r.Reset(&c.src)
	return nil
}

var _ transport.AddrConn = (*TCPConn)(nil)

// NewTCPConn wraps an accepted connection. Its SETUP deadline starts now.
func NewTCPConn(nc net.Conn, opt Options) *TCPConn {
	opt = opt.withDefaults()
	return newTCPConn(nc, &opt)
}

// newTCPConn is NewTCPConn with options that have their defaults, shared
// with the other connections of a server.
func newTCPConn(nc net.Conn, opt *Options) *TCPConn {
	c := &TCPConn{
		checker: newChecker(opt),
		nc:      nc,
		src:     pending{nc: nc},
	}
	c.src.c = &c.checker
	c.wq.raw = rawConn(nc)
	c.wq.stats = opt.Stats
	c.closeConn = func() { _ = nc.Close() }
	c.out = c
	return c
}

// Addr returns the peer address.
func (c *TCPConn) Addr() string { return c.nc.RemoteAddr().String() }

// SetDeadline is called by the library after every frame with a deadline
// of its own choosing (90 s on servers); it is ignored because the
// connection sets the SETUP timeout and the client's max lifetime itself.
func (c *TCPConn) SetDeadline(time.Time) error { return nil }

// SetCounter binds a counter of the bytes read and written.
func (c *TCPConn) SetCounter(ctr *core.TrafficCounter) { c.setCounter(ctr) }

// Read returns the next frame that passed the check. It returns io.EOF
// when the peer closed the connection, and an error (then the library
// closes the connection) for a frame that breaks the protocol or a limit.
func (c *TCPConn) Read() (core.BufferedFrame, error) {
	if f := c.next(); f != nil {
		return f, nil
	}
	for {
		if err := c.armDeadline(); err != nil {
			return nil, err
		}
		if c.r == nil || c.r.Buffered() == 0 && len(c.src.b) == 0 && !c.src.busy {
			// Nothing buffered, and the last read was small: wait
			// for the peer with the small idle buffer, the reader
			// back in the pool. An idle connection's read loop
			// waits here, with every frame down to the goroutine's
			// start on its stack; the read is made in Read itself,
			// the rest in small functions, so that the loop uses
			// less than a quarter of an 8 KiB stack and the GC
			// halves it (4 KiB per idle connection).
			c.releaseReader()
			c.yieldBeforeWait()
			var start time.Time
			d := c.opt.BusyPoll
			if d > 0 {
				start = time.Now()
			}
			n, err := c.poll(d)
			if n == 0 && err == nil {
				n, err = c.nc.Read(c.idle[:])
			}
			c.src.poll = pollAgain(start, d)
			if err := c.woke(n, err); err != nil {
				return nil, err
			}
		}
		prefix, err := c.r.Peek(3)
		if err != nil {
			return nil, c.readError(err) // EOF and a partial prefix alike
		}
		n := int(prefix[0])<<16 | int(prefix[1])<<8 | int(prefix[2])
		if n < core.FrameHeaderLen || n > c.opt.Limits.MaxFrameSize {
			return nil, c.lengthViolation(n)
		}
		f, err := c.readFrame(n)
		if err != nil || f != nil {
			return f, err
		}
	}
}

// armDeadline sets or moves the read deadline, out of Read for
// the same reason as lengthViolation.
//
//go:noinline
func (c *TCPConn) armDeadline() error {
	if dl, ok := c.rdl.next(c.deadline(), c.readSpan()); ok {
		if err := c.nc.SetReadDeadline(dl); err != nil {
			return c.readError(err)
		}
	}
	return nil
}

// lengthViolation is the error for a frame length out of bounds, out of
// Read so that its formatting does not enlarge Read's frame.
//
//go:noinline
func (c *TCPConn) lengthViolation(n int) error {
	return c.violation(&Violation{Reason: fmt.Sprintf("frame length %d out of bounds [%d, %d]", n, core.FrameHeaderLen, c.opt.Limits.MaxFrameSize)})
}

// readFrame reads the n bytes of a frame, after its 3-byte length prefix
// that Read peeked at, and processes them. process copies what it keeps
// (framing.FromBytes copies into a buffer of the library's), so the bytes
// can be a view of a reused buffer.
func (c *TCPConn) readFrame(n int) (core.BufferedFrame, error) {
	_, _ = c.r.Discard(3) // cannot fail: Read peeked at the 3 bytes
	if n <= c.r.Size() {
		// In place: the view stays valid until the next read from c.r.
		raw, err := c.r.Peek(n)
		if err != nil {
			return nil, c.readError(err)
		}
		f, err := c.process(raw)
		_, _ = c.r.Discard(n) // cannot fail: the n bytes are buffered
		return f, err
	}
	raw, err := c.readBody(n)
	if err != nil {
		return nil, c.readError(err)
	}
	f, err := c.process(raw)
	if cap(c.buf) > keepBuf {
		c.buf = nil
	}
	return f, err
}

// readBody reads the n bytes of a frame larger than the reader's buffer.
// The buffer grows with the bytes that actually arrive (doubling, from the
// one kept between frames), never to the declared length up front: a peer
// that declares 16 MiB and sends nothing more costs the server nothing
// more than what it sent. Growing by doubling costs at most one extra copy
// of each byte.
func (c *TCPConn) readBody(n int) ([]byte, error) {
	raw := c.buf[:0]
	for len(raw) < n {
		if len(raw) == cap(raw) {
			// At least one buffer's worth, at most what the frame still
			// needs; append's growth doubles it.
			raw = slices.Grow(raw, min(max(len(raw), ioBufSize), n-len(raw)))
		}
		m, err := c.r.Read(raw[len(raw):min(cap(raw), n)])
		raw = raw[:len(raw)+m]
		if err != nil && len(raw) < n {
			c.buf = raw[:0]
			return nil, err
		}
	}
	c.buf = raw[:0]
	return raw, nil
}

// Write writes a frame with its length prefix.
func (c *TCPConn) Write(f core.WriteableFrame) error {
	size := f.Len()
	if size > 1<<24-1 {
		return fmt.Errorf("rsocket guard: frame of %d bytes too large for the TCP framing", size)
	}
	c.wq.mu.Lock()
	defer c.wq.mu.Unlock()
	if c.wq.err != nil {
		return c.wq.err
	}
	raw, tmp, send, err := c.frameOut(f, size)
	if tmp != nil {
		defer putFrameBuffer(tmp)
	}
	if err != nil || !send {
		return err
	}
	if raw != nil {
		c.wq.out.count(len(raw))
		return c.writeRaw(raw)
	}
	c.wq.out.count(size)
	if err := c.putLength(size); err != nil {
		return err
	}
	_, err = f.WriteTo(tcpSink{c})
	return err
}

// writeRaw writes a serialised frame with its length prefix.
func (c *TCPConn) writeRaw(b []byte) error {
	if err := c.putLength(len(b)); err != nil {
		return err
	}
	return c.put(b)
}

// Flush writes the frames written since the last flush out: through the
// combiner (see combine.go), or at once on a connection without writes
// that do not wait.
func (c *TCPConn) Flush() error { return flush(c) }

func (c *TCPConn) outbox() *outbox { return &c.wq }

// clearWriteDeadline implements flushed. Called under c.wq.mu.
func (c *TCPConn) clearWriteDeadline() error {
	c.wdl = lazyDeadline{}
	return c.wq.setDeadline(c.nc.SetWriteDeadline, time.Time{})
}

// writeDeadline moves the write deadline to WriteTimeout from now, when
// it is stale (see lazyDeadline), before a write that may wait for the
// socket. Called under c.wq.mu.
func (c *TCPConn) writeDeadline() error {
	if dl, ok := c.wdl.next(time.Now().Add(c.opt.Limits.WriteTimeout), c.opt.Limits.WriteTimeout); ok {
		return c.wq.setDeadline(c.nc.SetWriteDeadline, dl)
	}
	return nil
}

// closeFlushTimeout bounds the flush of buffered frames on Close.
const closeFlushTimeout = 500 * time.Millisecond

// Close writes out what is buffered, within closeFlushTimeout (see
// lockToClose), and closes the connection.
func (c *TCPConn) Close() error {
	c.wq.lockToClose(c.nc.SetWriteDeadline)
	c.wdl = lazyDeadline{} // whatever is set, it is not this one
	if c.wq.buf != nil && c.wq.err == nil {
		n, _ := c.nc.Write(*c.wq.buf)
		c.wq.wrote(n)
	}
	c.wq.release()
	if c.wq.err == nil {
		c.wq.err = net.ErrClosed
	}
	c.wq.mu.Unlock()
	if c.st.Linger() {
		lingerClose(c.nc)
	}
	err := c.nc.Close()
	c.afterClose()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// lingerClose ends a connection whose last frame is a connection ERROR
// the way net/http ends one it refused: it half-closes, so that the peer
// reads the ERROR and then the end of the stream, and reads and drops
// what the peer still sends until the peer closes too, for at most
// lingerTime and lingerBytes; the caller then closes. A socket closed
// with bytes unread, or that bytes reach after its close, answers with a
// reset, which can reach the peer before it has read the ERROR (a client
// that sends its first request once its SETUP is out gets one when the
// SETUP is refused; rsocket-js 0.0.27 throws it as an uncaught
// exception). The connection stays counted meanwhile; a second Close,
// as when the server shuts down, closes it at once.
func lingerClose(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
}

// lingerTime and lingerBytes bound lingerClose; lingerTime is a
// variable for tests.
var lingerTime = 500 * time.Millisecond

const lingerBytes = 64 << 10
