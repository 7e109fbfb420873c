package guard

import (
	"sync"
	"syscall"
)

// Combined flushes. rsocket-go's write loop flushes after every frame that
// reaches it alone, so a server fanning a message out to many connections
// makes one write system call per delivery, about half of its CPU time.
// Instead, a connection's Flush joins a queue that one goroutine at a
// time writes out: the first connection to flush writes its own frames at
// once, as before, and while it is in the kernel the connections that
// flush meanwhile queue behind it and gather more frames each, which then
// leave in one system call per connection. The busier the server, the
// larger the batches; an idle one pays nothing, and a connection's frames
// never wait for a timer.
//
// The combining goroutine never blocks on a peer: it writes without
// waiting (writeOut), and a connection whose socket does not take all of
// its bytes gets a goroutine of its own for the rest, with the write
// deadline, which is where a peer that reads slowly holds up its own
// connection only.

// combiner is the queue of connections waiting to be written out.
type combiner struct {
	mu    sync.Mutex
	q     []combined
	spare []combined // the last batch's array, reused
	busy  bool       // a goroutine is writing the queue out
}

// combined is a connection whose flushes go through a combiner.
type combined interface {
	// writeOut writes what the connection holds without blocking, handing
	// what the socket does not take to a goroutine of the connection's
	// own. It skips a connection whose write lock is held: the holder
	// either writes everything out itself or flushes again afterwards.
	writeOut()
	// queued is the flag, guarded by the combiner's mu, that tells
	// whether the connection is in the queue.
	queued() *bool
}

// flushes is the process's combiner: one for all servers, since what it
// shares is the machine's cores.
var flushes combiner

// combineLimit bounds the connections the goroutine that took the queue
// writes out for others before a goroutine of the combiner's own takes
// over: it is the library's write loop of a connection of its own, whose
// frames wait meanwhile. A variable for tests.
var combineLimit = 128

// flush queues c to be written out and writes the queue out unless
// another goroutine is doing it, which then writes c too.
func (f *combiner) flush(c combined) {
	f.mu.Lock()
	if q := c.queued(); !*q {
		*q = true
		f.q = append(f.q, c)
	}
	if f.busy {
		f.mu.Unlock()
		return
	}
	f.busy = true
	f.mu.Unlock()
	f.run(combineLimit)
}

// run writes the queue out until it is empty, or hands it to a goroutine
// of its own once it wrote limit connections (no limit when 0).
func (f *combiner) run(limit int) {
	written := 0
	for {
		f.mu.Lock()
		if len(f.q) == 0 {
			f.busy = false
			f.mu.Unlock()
			return
		}
		if limit > 0 && written >= limit {
			f.mu.Unlock()
			go f.run(0)
			return
		}
		batch := f.q
		f.q, f.spare = f.spare[:0], nil
		for _, c := range batch {
			*c.queued() = false
		}
		f.mu.Unlock()
		for i, c := range batch {
			c.writeOut()
			batch[i] = nil
		}
		written += len(batch)
		f.mu.Lock()
		f.spare = batch[:0]
		f.mu.Unlock()
	}
}

// outbox is what a connection wrote since its last flush, and its place
// in the combiner. The connection's write lock guards it, except inQ.
type outbox struct {
	buf *[]byte // from batchBuffers; nil when empty
	err error   // the write error the connection is closing with
	// slow is set while a goroutine of the connection's own writes out
	// what its socket did not take (see tryOut).
	slow bool
	raw  syscall.RawConn // for writes that do not wait; nil: flushes go out at once
	inQ  bool            // in the combiner's queue; guarded by its mu
}

// add appends p, taking a buffer from the pool if there is none.
func (o *outbox) add(p []byte) {
	if o.buf == nil {
		o.buf = batchBuffers.Get().(*[]byte)
	}
	*o.buf = append(*o.buf, p...)
}

// addLength appends a TCP frame's 24-bit length prefix (not through add:
// a slice of the three would escape, an allocation a frame).
func (o *outbox) addLength(n int) {
	if o.buf == nil {
		o.buf = batchBuffers.Get().(*[]byte)
	}
	*o.buf = append(*o.buf, byte(n>>16), byte(n>>8), byte(n))
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
func (o *outbox) tryOut() (left bool, err error) {
	b := *o.buf
	n, err := tryWrite(o.raw, b)
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
