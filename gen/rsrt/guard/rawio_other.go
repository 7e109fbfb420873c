//go:build !unix

package guard

import (
	"errors"
	"net"
	"syscall"
)

// rawConn returns nil: without raw reads and writes that do not wait,
// flushes are written at once and may block, and an idle WebSocket
// connection waits in gorilla's reader.
func rawConn(net.Conn) syscall.RawConn { return nil }

// rawWriter has nothing to write through here.
type rawWriter struct{}

func (*rawWriter) tryWrite(syscall.RawConn, []byte) (n, calls int, err error) {
	return 0, 0, errUnsupported
}

func rawRead(uintptr, []byte) (int, error) { return 0, errUnsupported }

var errUnsupported = errors.New("rsocket guard: no raw socket I/O on this platform")
