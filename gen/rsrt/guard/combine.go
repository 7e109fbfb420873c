package guard

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Combined flushes. rsocket-go's write loop flushes after every frame that
// reaches it alone, so a server fanning a message out to many connections
// makes one write system call per delivery (42% of its CPU time in the
// chat server's fan-out profile). Instead, a connection's Flush joins a
// queue that a goroutine of the combiner's own writes out. The flush that
// finds it idle starts it and returns: the frames that reach the
// connection while the goroutine is being scheduled leave with the
// flushed ones (the next answers of a burst), and while
// it is in the kernel the connections that flush meanwhile queue behind
// it and gather more frames each, which then leave in one system call per
// connection. The busier the server, the larger the batches; an idle one
// pays nothing, and a connection's frames never wait for a timer.
//
// The combining goroutine never blocks on a peer: it writes without
// waiting (writeOut), and a connection whose socket does not take all of
// its bytes gets a goroutine of its own for the rest, with the write
// deadline, which is where a peer that reads slowly holds up its own
// connection only.

// combiner is the queue of connections waiting to be written out.
type combiner struct {
	mu    sync.Mutex
	q     []flushed
	spare []flushed // the last batch's array, reused
	busy  bool      // a goroutine is writing the queue out
	w     rawWriter // the writes of that goroutine
}

// flushed is a connection whose flushes the combiner writes out: its
// outbox, and what differs between connections. spill and failWrite are
// called with the outbox's lock held.
type flushed interface {
	outbox() *outbox
	// spill writes everything waiting out, waiting for the socket
	// within the connection's write deadline.
	spill() error
	// failWrite ends the connection for a write error and returns the
	// error later writes fail with.
	failWrite(err error) error
	// clearWriteDeadline takes off the connection the write deadline a
	// write that waited set, so that the next write that waits sets
	// its own.
	clearWriteDeadline() error
}

// flushes is the process's combiner: one for all servers, since what it
// shares is the machine's cores.
var flushes combiner

// flush queues c to be written out, and starts the goroutine that writes
// the queue out unless it is running, which then writes c too.
func (f *combiner) flush(c flushed) {
	f.mu.Lock()
	if o := c.outbox(); !o.inQ {
		o.inQ = true
		f.q = append(f.q, c)
	}
	if f.busy {
		f.mu.Unlock()
		return
	}
	f.busy = true
	f.mu.Unlock()
	go f.run()
}

// run writes the queue out until it is empty.
func (f *combiner) run() {
	for {
		f.mu.Lock()
		if len(f.q) == 0 {
			f.busy = false
			f.mu.Unlock()
			return
		}
		batch := f.q
		f.q, f.spare = f.spare[:0], nil
		for _, c := range batch {
			c.outbox().inQ = false
		}
		f.mu.Unlock()
		for i, c := range batch {
			writeOut(c, &f.w)
			batch[i] = nil
		}
		f.mu.Lock()
		f.spare = batch[:0]
		f.mu.Unlock()
	}
}

// outbox is what a connection wrote since its last flush, and its place
// in the combiner. Its mu is the connection's write lock, which
// serialises the connection's writes and guards the outbox, except inQ.
// (Fields ordered for size: a server holds one per session.)
type outbox struct {
	mu  sync.Mutex
	buf *[]byte         // from batchBuffers; nil when empty
	err error           // the write error the connection is closing with
	raw syscall.RawConn // for writes that do not wait; nil: flushes go out at once
	// stats counts the writes, and out the frames written since the
	// last one (see Stats.wrote); nil until the connection exists.
	stats *Stats
	out   traffic
	// closeBy is the write deadline Close set (Unix nanoseconds; zero
	// until Close): see lockToClose.
	closeBy atomic.Int64
	// slow is set while a goroutine of the connection's own writes out
	// what its socket did not take (see tryOut).
	slow bool
	inQ  bool // in the combiner's queue; guarded by the combiner's mu
}

// flush is c's Flush: the waiting bytes go out through the combiner, or
// at once on a connection without writes that do not wait. The outbox's
// lock is not held.
func flush(c flushed) error {
	o := c.outbox()
	o.mu.Lock()
	if !o.ready() {
		// Nothing written since the last flush, or a goroutine of
		// the connection's own is writing everything out.
		err := o.err
		o.mu.Unlock()
		return err
	}
	if o.raw == nil {
		defer o.mu.Unlock()
		return c.spill()
	}
	o.mu.Unlock()
	flushes.flush(c)
	return nil
}

// writeOut writes the waiting bytes for the combiner without waiting for
// the socket: what it does not take is written by a goroutine of the
// connection's own. A connection whose write lock is held is skipped:
// the holder is a write, which a flush follows (the library's write loop
// flushes after its writes, a rejection flushes too), a flush, which
// queues the connection again, or a write that waits for the socket,
// which writes everything waiting. w is the combining goroutine's.
func writeOut(c flushed, w *rawWriter) {
	o := c.outbox()
	if !o.mu.TryLock() {
		return
	}
	defer o.mu.Unlock()
	if !o.ready() {
		return
	}
	if h := testHookWriteOut.Load(); h != nil {
		(*h)(o)
	}
	left, err := o.tryOut(w)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Not this write's: it does not wait, so a deadline can only
		// be what a write that waited left on the connection, now
		// past. Writes that wait set theirs again.
		if err = c.clearWriteDeadline(); err == nil {
			left, err = o.tryOut(w)
		}
	}
	if err != nil {
		_ = c.failWrite(err)
		return
	}
	if left {
		go writeRest(c)
	}
}

// testHookWriteOut, set by tests only, is called as the combiner is about
// to write an outbox out, its lock held.
var testHookWriteOut atomic.Pointer[func(*outbox)]

// writeRest writes out what the socket did not take at once, waiting for
// it within the connection's write deadline.
func writeRest(c flushed) {
	o := c.outbox()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.slow = false
	if err := c.spill(); err != nil {
		_ = c.failWrite(err)
	}
}

// lockToClose takes the lock for the connection's Close, which writes out
// what is waiting, and sets the write deadline of those last bytes (set is
// the connection's SetWriteDeadline) to closeFlushTimeout from now. A
// write that holds the lock is waited for: the combiner's, which never
// waits for the socket, may be writing the connection's last frame (the
// library refuses a SETUP by sending the ERROR, flushed, then closing),
// which the close must not cut off; a write that waits for the socket is
// held to the same deadline, which no write moves from then on (see
// setDeadline), so that a peer that does not read delays the close by
// closeFlushTimeout at most.
func (o *outbox) lockToClose(set func(time.Time) error) {
	dl := time.Now().Add(closeFlushTimeout)
	o.closeBy.Store(dl.UnixNano())
	_ = set(dl)
	o.mu.Lock()
}

// setDeadline sets the write deadline dl with set, the connection's
// SetWriteDeadline; once Close has begun, the deadline it set instead.
// The lock is held.
func (o *outbox) setDeadline(set func(time.Time) error, dl time.Time) error {
	if err := set(dl); err != nil {
		return err
	}
	// After the set: a Close that begins meanwhile sets its deadline
	// after this one, or is seen here.
	if by := o.closeBy.Load(); by != 0 {
		return set(time.Unix(0, by))
	}
	return nil
}

// wrote counts a write of n bytes that waited for the socket, with the
// frames counted since the last write.
func (o *outbox) wrote(n int) {
	if n > 0 {
		o.stats.wrote(1, &o.out)
	}
}

// add appends p, taking a buffer from the pool if there is none.
func (o *outbox) add(p []byte) {
	if o.buf == nil {
		o.buf = batchBuffers.Get().(*[]byte)
	}
	*o.buf = append(*o.buf, p...)
}

// size is the number of bytes waiting.
func (o *outbox) size() int {
	if o.buf == nil {
		return 0
	}
	return len(*o.buf)
}

// ready reports whether a flush has something to write that nothing is
// writing already.
func (o *outbox) ready() bool { return o.buf != nil && !o.slow && o.err == nil }

// release empties the outbox and gives its buffer back to the pool,
// unless a large batch grew it.
func (o *outbox) release() {
	if o.buf == nil {
		return
	}
	b := o.buf
	o.buf = nil
	*b = (*b)[:0]
	if cap(*b) <= keepBuf {
		batchBuffers.Put(b)
	}
}

// tryOut writes the waiting bytes without waiting for the socket. It
// reports whether bytes are left (the socket is full): slow is then set,
// and the caller writes them from a goroutine of its own with a write
// that waits, within its deadline.
func (o *outbox) tryOut(w *rawWriter) (left bool, err error) {
	b := *o.buf
	n, calls, err := w.tryWrite(o.raw, b)
	if n > 0 {
		o.stats.wrote(calls, &o.out)
	}
	if err != nil {
		return false, err
	}
	if n == len(b) {
		o.release()
		return false, nil
	}
	*o.buf = b[:copy(b, b[n:])]
	o.slow = true
	return true, nil
}
