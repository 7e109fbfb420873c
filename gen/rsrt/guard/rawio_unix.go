//go:build unix

package guard

import (
	"io"
	"net"
	"syscall"
)

// rawConn returns what tryWrite writes through: nc's raw connection when
// it has one (a plain TCP connection), nil otherwise (TLS), whose flushes
// are written at once and may block.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawWriter writes without waiting for the socket. Its callback is bound
// once, so a write allocates nothing (a closure given to RawConn.Write
// escapes); one goroutine at a time may use it.
type rawWriter struct {
	fn    func(fd uintptr) bool // write, bound once
	b     []byte
	n     int
	calls int // the system calls that wrote bytes
	err   error
}

// tryWrite writes as much of b to rc as its socket takes without waiting
// and returns how much that was, in how many system calls; n < len(b)
// with a nil error means the socket is full.
func (w *rawWriter) tryWrite(rc syscall.RawConn, b []byte) (n, calls int, err error) {
	if w.fn == nil {
		w.fn = w.write
	}
	w.b, w.n, w.calls, w.err = b, 0, 0, nil
	werr := rc.Write(w.fn)
	n, calls, err = w.n, w.calls, w.err
	w.b, w.err = nil, nil
	if err == nil {
		err = werr
	}
	return n, calls, err
}

// write is the raw write of tryWrite: it never asks the runtime to wait,
// since a full socket is the caller's to handle.
func (w *rawWriter) write(fd uintptr) bool {
	for w.n < len(w.b) {
		m, e := syscall.Write(int(fd), w.b[w.n:])
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			break // full
		}
		if e != nil {
			w.err = e
			break
		}
		if m <= 0 {
			w.err = io.ErrShortWrite
			break
		}
		w.n += m
		w.calls++
	}
	return true
}

// rawRead reads from the socket fd without waiting (see waitIdle).
func rawRead(fd uintptr, b []byte) (int, error) {
	n, err := syscall.Read(int(fd), b)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), b)
	}
	return n, err
}
