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

// tryWrite writes as much of b as the socket takes without waiting for it
// and returns how much that was; n < len(b) with a nil error means the
// socket is full.
func tryWrite(rc syscall.RawConn, b []byte) (n int, err error) {
	werr := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				break // full
			}
			if e != nil {
				err = e
				break
			}
			if m <= 0 {
				err = io.ErrShortWrite
				break
			}
			n += m
		}
		return true // never wait: a full socket is the caller's to handle
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// rawRead reads from the socket fd without waiting (see waitIdle).
func rawRead(fd uintptr, b []byte) (int, error) {
	n, err := syscall.Read(int(fd), b)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), b)
	}
	return n, err
}
