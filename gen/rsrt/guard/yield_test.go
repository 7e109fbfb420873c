package guard

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
)

// The library's read loop hands each request to a goroutine of its own;
// with nothing more buffered, the loop lets that goroutine handle the
// request before it waits for the peer (yieldBeforeWait). On one core the
// handler has run by the time the loop waits, but for the runtime's
// occasional turn of its global queue; without the yield it never has.
func TestReadLoopLetsTheHandlerRunBeforeWaiting(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			const requests = 200
			// The client sends a frame at a time, each once the read
			// loop waits again after the last: the loop waits once
			// before it reads anything, then once after each frame.
			// At each wait, the loop tells how many requests were
			// handled.
			var handled atomic.Int64
			waits := make(chan int64, 4)
			opt := Options{Stats: new(Stats), Logger: quiet} // Stats tells this test's connection
			hook := func(c *checker) {
				if c.opt.Stats != opt.Stats {
					return // a connection another test left behind
				}
				select {
				case waits <- handled.Load():
				default: // not one wait per frame: the test fails below
				}
			}
			testHookWait.Store(&hook)
			t.Cleanup(func() { testHookWait.Store(nil) })

			write, _ := serveFireAndForget(t, tr, opt, func(*transport.Transport, core.BufferedFrame) { handled.Add(1) })
			next := func(frame int) int64 {
				select {
				case n := <-waits:
					return n
				case <-time.After(10 * time.Second):
					t.Fatalf("the read loop did not wait for its peer after frame %d", frame)
					return 0
				}
			}
			next(0)
			write(validSetup())
			next(1)
			behind := 0
			for i := int64(1); i <= requests; i++ {
				write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i-1), []byte("hi"), nil, 0)))
				if n := next(int(i) + 1); n < i {
					behind++
				}
			}
			// The scheduler takes from its global queue first at one
			// turn in 61, the read loop among what it finds there:
			// 2 to 10 of 200 seen, all 200 without the yield.
			if behind > requests/4 {
				t.Errorf("the read loop waited for its peer before the handler ran %d times of %d", behind, requests)
			}
		})
	}
}
