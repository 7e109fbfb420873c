package guard

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// batchConn is the network connection under a server's WebSocket
// connection. It holds the messages written until the library flushes
// (after each batch of frames it sends), so that the frames of a batch,
// each a WebSocket message of its own, leave in one system call instead
// of one each; rsocket-go's own WebSocket transport makes one per frame.
// The write deadline is applied once per flush, and only when it changed.
//
// Over plain TCP, a flush goes through the combiner, as a TCP
// connection's does (see combine.go).
//
// The connection frames its messages into the batch itself
// (WSConn.writeFramed), from the library's write loop; gorilla writes the
// handshake's answer and the control frames it answers (pong, close),
// from the read loop: the outbox's lock serialises them and the flushes.
type batchConn struct {
	net.Conn

	wq       outbox    // the pending bytes; its lock guards the fields below
	deadline time.Time // the write deadline of the next flush
	applied  time.Time // the one set on the connection

	idle idleWait // see wsidle.go
	// rd is the checker of the connection over it, told before each
	// read from the socket (checker.publishIn); nil until it exists.
	rd *checker
}

// newBatchConn returns a batchConn over nc, an accepted connection of a
// WebSocket listener.
func newBatchConn(nc net.Conn) *batchConn {
	b := &batchConn{Conn: nc}
	b.wq.raw = plainSocket(nc)
	return b
}

// Write implements net.Conn: p is kept for the next Flush. A batch that
// would grow past maxBatch is written out first, and a write that large
// by itself goes out at once.
func (b *batchConn) Write(p []byte) (int, error) {
	b.wq.mu.Lock()
	defer b.wq.mu.Unlock()
	return b.writeLocked(p)
}

// writeLocked is Write, the lock held.
func (b *batchConn) writeLocked(p []byte) (int, error) {
	if b.wq.err != nil {
		return 0, b.wq.err
	}
	if b.wq.size()+len(p) > maxBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) > maxBatch {
		if err := b.applyDeadlineLocked(); err != nil {
			return 0, err
		}
		n, err := b.Conn.Write(p)
		b.wq.wrote(n)
		return n, err
	}
	b.wq.add(p)
	return len(p), nil
}

// putHeader adds the header of an unmasked, final, binary WebSocket
// message of n bytes (RFC 6455, section 5.2). The lock is held.
func (b *batchConn) putHeader(n int) error {
	var h [10]byte
	h[0] = 0x80 | websocket.BinaryMessage // FIN
	k := 2
	switch {
	case n < 126:
		h[1] = byte(n)
	case n <= 0xFFFF:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		k = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		k = 10
	}
	if b.wq.err != nil {
		return b.wq.err
	}
	if b.wq.size()+k > maxBatch {
		if err := b.flushLocked(); err != nil {
			return err
		}
	}
	// Appended, never written from h: h stays on the stack.
	b.wq.add(h[:k])
	return nil
}

// wsSink is the io.Writer a server's frames serialise themselves into:
// the batch, its lock held.
type wsSink struct{ b *batchConn }

// Write implements io.Writer.
func (w wsSink) Write(p []byte) (int, error) { return w.b.writeLocked(p) }

// SetWriteDeadline implements net.Conn: the deadline applies to the next
// flush.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.wq.mu.Lock()
	b.deadline = t
	b.wq.mu.Unlock()
	return nil
}

// SetDeadline implements net.Conn.
func (b *batchConn) SetDeadline(t time.Time) error {
	if err := b.SetReadDeadline(t); err != nil {
		return err
	}
	return b.SetWriteDeadline(t)
}

// Flush writes the pending bytes out: through the combiner over plain
// TCP, else at once.
func (b *batchConn) Flush() error { return flush(b) }

func (b *batchConn) outbox() *outbox { return &b.wq }

// spill implements flushed: the pending bytes go out within the
// write deadline gorilla asked for.
func (b *batchConn) spill() error { return b.flushLocked() }

// failWrite implements flushed: the connection closes, so that the
// read loop sees the failure, and later writes fail with err.
func (b *batchConn) failWrite(err error) error {
	if b.wq.err == nil {
		b.wq.err = err
		_ = b.Conn.Close()
	}
	b.wq.release()
	return b.wq.err
}

// flushWithin flushes with a write deadline d from now, whatever gorilla
// asked: the handshake's answer, and the last bytes before a close.
func (b *batchConn) flushWithin(d time.Duration) error {
	b.wq.mu.Lock()
	defer b.wq.mu.Unlock()
	b.deadline = time.Now().Add(d)
	return b.flushLocked()
}

// closeFlush flushes before a close, within closeFlushTimeout (see
// lockToClose).
func (b *batchConn) closeFlush() {
	b.wq.lockToClose(b.Conn.SetWriteDeadline)
	defer b.wq.mu.Unlock()
	b.deadline = time.Unix(0, b.wq.closeBy.Load())
	_ = b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if b.wq.buf == nil {
		return b.wq.err
	}
	defer b.wq.release()
	if err := b.applyDeadlineLocked(); err != nil {
		return err
	}
	n, err := b.Conn.Write(*b.wq.buf)
	b.wq.wrote(n)
	return err
}

// clearWriteDeadline implements flushed: the next flush that waits
// applies gorilla's deadline again.
func (b *batchConn) clearWriteDeadline() error {
	b.applied = time.Time{}
	return b.wq.setDeadline(b.Conn.SetWriteDeadline, time.Time{})
}

func (b *batchConn) applyDeadlineLocked() error {
	if b.deadline.Equal(b.applied) {
		return nil
	}
	b.applied = b.deadline
	return b.wq.setDeadline(b.Conn.SetWriteDeadline, b.deadline)
}

// maxBatch bounds the bytes a batch holds before they are written out.
const maxBatch = 64 << 10

// batchBuffers holds the write buffers of every connection, WebSocket
// and TCP: an idle connection holds none.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// batchWriter is the http.ResponseWriter handed to the WebSocket upgrader:
// its Hijack gives gorilla a batchConn over the connection.
type batchWriter struct {
	http.ResponseWriter
	conn *batchConn
	// br is the connection's read buffer, ours so that WSConn.Read can
	// see when it is empty (see batchConn.waitIdle); gorilla reads
	// through it.
	br *bufio.Reader
}

// Hijack implements http.Hijacker.
func (w *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = newBatchConn(nc)
	if brw.Reader.Buffered() == 0 {
		// gorilla refuses a connection whose reader holds bytes
		// already; otherwise it keeps the reader it is given.
		w.br = bufio.NewReaderSize(w.conn, wsReadBuffer)
		brw = bufio.NewReadWriter(w.br, brw.Writer)
		w.conn.watchSocket()
	}
	return w.conn, brw, nil
}

// wsReadBuffer is gorilla's read buffer on a server connection: held for
// the connection's life, so memory per session decides its size. gorilla
// keeps the reader it is given only when it is over 256 bytes (288 is the
// allocator's next size class), and reads control frames (up to 125
// bytes) and headers through it; the bytes of a burst come from the idle
// wait's larger buffer (wsIdleBuffer), and a message's payload goes past
// it into the message buffer.
const wsReadBuffer = 288
