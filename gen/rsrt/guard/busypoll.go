package guard

import (
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Busy polling (Options.BusyPoll). With one request in flight, most of a
// round trip is waking up: the read loop that answered parks in the
// runtime's poller, the process's threads sleep, and the peer's next
// request must wake them, then the peer's own threads once the answer
// leaves (about 30 us each way in a trace of the chat server with each
// process on a core of its own, on a virtual machine where a sleeping
// core is a halted vCPU; the server's own work took 20). A read loop
// whose peer answered within the poll window last time reads its socket
// without parking for up to that long, so that the next request finds it
// running. It costs CPU only while it polls, and is bounded: one read
// loop of the process polls at a time, and only after a short wait.

// pollers is the number of read loops polling (at most one).
var pollers atomic.Int32

// socketPoll reads a socket without parking; pooled, so that a poll
// allocates nothing (a closure given to RawConn.Read escapes).
type socketPoll struct {
	fn  func(fd uintptr) bool // read, bound once
	b   []byte
	n   int
	err error
}

var socketPolls = sync.Pool{New: func() any {
	p := new(socketPoll)
	p.fn = p.read
	return p
}}

func (p *socketPoll) read(fd uintptr) bool {
	p.n, p.err = rawRead(fd, p.b)
	return true // never park: the caller decides
}

// pollSocket reads from raw into b, without parking, until bytes, the end
// of the stream or an error arrive, or d passes: it returns what a read
// would (a failed read as an *os.SyscallError, as readSocket reports it),
// or 0 and a nil error when it gave up or another read loop was
// polling. Between reads it yields, so that a goroutine that becomes
// ready on this processor runs.
func pollSocket(raw syscall.RawConn, b []byte, d time.Duration) (int, error) {
	if pollers.Add(1) > 1 {
		pollers.Add(-1)
		return 0, nil
	}
	defer pollers.Add(-1)
	p := socketPolls.Get().(*socketPoll)
	defer func() { p.b, p.err = nil, nil; socketPolls.Put(p) }()
	p.b = b
	start := time.Now()
	for {
		if err := raw.Read(p.fn); err != nil {
			return 0, err
		}
		switch {
		case p.err == nil && p.n == 0:
			return 0, io.EOF
		case p.err == nil:
			if h := testHookPolled.Load(); h != nil {
				(*h)(p.n)
			}
			return p.n, nil
		case p.err != syscall.EAGAIN:
			return 0, os.NewSyscallError("read", p.err)
		}
		last := time.Now()
		if last.Sub(start) >= d {
			if h := testHookPolled.Load(); h != nil {
				(*h)(0)
			}
			return 0, nil
		}
		// The socket is read every pollInterval at most: a read that
		// finds nothing is a system call, and on a busy server the
		// yields run other goroutines meanwhile.
		for time.Since(last) < pollInterval {
			runtime.Gosched()
		}
	}
}

// testHookPolled, set by tests only, is called when a poll ends with n
// bytes, or gives up (n = 0).
var testHookPolled atomic.Pointer[func(n int)]

// pollInterval is the least time between two reads of a polled socket.
const pollInterval = 2 * time.Microsecond

// pollAgain reports whether the next wait of a read loop polls first:
// when its peer answered within d of the wait that began at start.
func pollAgain(start time.Time, d time.Duration) bool {
	return d > 0 && time.Since(start) < d
}
