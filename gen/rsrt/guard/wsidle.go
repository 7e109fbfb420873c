package guard

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// An idle WebSocket connection's read loop waits in waitIdle, not in
// gorilla's reader: that takes 2 KiB of stack down to the socket, and the
// GC halves the loop's 8 KiB stack only while under a quarter of it is in
// use. waitIdle reads what arrives itself, straight from the socket, into
// a pooled buffer that Read then serves to gorilla first: no system call
// more than gorilla's own read, and no buffer held while idle.

// idleBuffers holds the buffers of idle waits: the first read of a
// burst, which Read then serves to gorilla.
var idleBuffers = sync.Pool{New: func() any { b := make([]byte, wsIdleBuffer); return &b }}

// wsIdleBuffer is the size of an idle wait's buffer: held only while it
// has bytes that gorilla has not read, so it can take several requests
// per read.
const wsIdleBuffer = 1 << 10

// idleWait is what a connection needs to wait for its socket; only the
// reading goroutine uses it.
type idleWait struct {
	// read is readSocket, bound once; nil when the wait is off (the
	// connection is not plain TCP, or gorilla reads through a reader
	// of its own).
	read func(fd uintptr) bool
	buf  *[]byte // from idleBuffers while it holds bytes
	pend []byte  // what the wait read and Read has not served yet
	err  error   // what the wait ended with, for the next Read
	// poll is set when the next wait polls first (see busypoll.go).
	poll bool
}

// watchSocket lets waitIdle read the connection's socket when it is an
// accepted connection over plain TCP (see plainSocket).
func (b *batchConn) watchSocket() {
	if b.wq.raw == nil {
		return
	}
	b.idle.read = b.readSocket
}

// plainSocket returns the socket of nc, an accepted connection of a
// WebSocket listener, when it is plain TCP; nil through TLS, which holds
// records of its own: the socket is not the stream gorilla reads and
// writes.
func plainSocket(nc net.Conn) syscall.RawConn {
	hc, ok := nc.(*httpConn)
	if !ok {
		return nil
	}
	tc, ok := hc.Conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	return rawConn(tc)
}

// waitIdle waits until the socket has bytes (or an error, or the read
// deadline passes) and keeps what it read for Read; it does nothing on a
// connection whose socket it cannot read.
func (b *batchConn) waitIdle() {
	w := &b.idle
	if w.read == nil || len(w.pend) > 0 || w.err != nil {
		return
	}
	b.publishIn()
	var d time.Duration
	if b.rd != nil {
		d = b.rd.opt.BusyPoll
	}
	var start time.Time
	if d > 0 {
		start = time.Now()
		if w.poll {
			b.poll(d)
		}
	}
	if len(w.pend) == 0 && w.err == nil {
		if err := b.wq.raw.Read(w.read); err != nil {
			w.err = b.opError(err)
		}
	}
	if len(w.pend) == 0 {
		w.release()
	}
	w.poll = pollAgain(start, d)
}

// poll polls the socket into the idle buffer for up to d before the wait
// parks (see busypoll.go), keeping what it read, or its error, for Read.
func (b *batchConn) poll(d time.Duration) {
	w := &b.idle
	if w.buf == nil {
		w.buf = idleBuffers.Get().(*[]byte)
	}
	n, err := pollSocket(b.wq.raw, *w.buf, d)
	switch {
	case err == io.EOF:
		w.err = err
	case err != nil:
		w.err = b.opError(err)
	case n > 0:
		w.pend = (*w.buf)[:n]
	}
}

// readSocket is the raw read of waitIdle: false asks the runtime to wait
// for the socket to be readable and call it again.
func (b *batchConn) readSocket(fd uintptr) bool {
	w := &b.idle
	if w.buf == nil {
		w.buf = idleBuffers.Get().(*[]byte)
	}
	n, err := rawRead(fd, *w.buf)
	switch {
	case err == syscall.EAGAIN:
		w.release() // not held while the socket is idle
		return false
	case err != nil:
		w.err = b.opError(os.NewSyscallError("read", err))
	case n == 0:
		w.err = io.EOF
	default:
		w.pend = (*w.buf)[:n]
	}
	return true
}

// opError wraps a read error as the connection's own Read would.
func (b *batchConn) opError(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: b.LocalAddr(), Addr: b.RemoteAddr(), Err: err}
}

func (w *idleWait) release() {
	if w.buf != nil {
		idleBuffers.Put(w.buf)
	}
	w.buf, w.pend = nil, nil
}

// Read implements net.Conn: the bytes the idle wait read, then its error,
// then the connection's own reads. gorilla reads through its small buffer
// (wsReadBuffer), which would take the rest of a burst that many bytes a
// system call; such reads refill the idle wait's larger buffer instead,
// in one.
func (b *batchConn) Read(p []byte) (int, error) {
	w := &b.idle
	if len(p) < wsIdleBuffer {
		b.waitIdle()
	}
	if len(w.pend) > 0 {
		n := copy(p, w.pend)
		w.pend = w.pend[n:]
		if len(w.pend) == 0 {
			w.release()
		}
		return n, nil
	}
	if err := w.err; err != nil {
		w.err = nil
		return 0, err
	}
	b.publishIn()
	return b.Conn.Read(p)
}

// publishIn tells the connection over b, if any, that its reading
// goroutine reads from the socket (see checker.publishIn).
func (b *batchConn) publishIn() {
	if b.rd != nil {
		b.rd.publishIn()
	}
}
