package guard

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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

			write := serveFireAndForget(t, tr, opt, func() { handled.Add(1) })
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

// serveFireAndForget serves a checking server of transport tr ("tcp" or
// "ws") on 127.0.0.1, with opt, whose connection calls handled for each
// fire-and-forget request, and returns a function that writes a frame
// from a client connected to it. The library's transport dispatches the
// requests on a goroutine of its own, the read loop handing them over, as
// it does every request; SETUP on the read loop itself.
func serveFireAndForget(t *testing.T, tr string, opt Options, handled func()) (write func(frame []byte)) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	if tr == "ws" {
		s = NewWebSocketServer(l, "/", opt)
	} else {
		s = NewTCPServer(l, opt)
	}
	served := make(chan struct{})
	s.Accept(func(ctx context.Context, tp *transport.Transport, _ func(*transport.Transport)) {
		defer close(served)
		tp.Handle(transport.OnSetup, func(core.BufferedFrame) error { return nil })
		tp.Handle(transport.OnFireAndForget, func(core.BufferedFrame) error {
			handled()
			return nil
		})
		_ = tp.Start(ctx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Listen(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range []<-chan struct{}{served, done} {
			select {
			case <-c:
			case <-time.After(10 * time.Second):
				t.Error("the server did not stop")
			}
		}
	})
	if tr == "ws" {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+l.Addr().String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return func(frame []byte) {
			t.Helper()
			if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				t.Fatal(err)
			}
		}
	}
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return func(frame []byte) { send(t, nc, frame) }
}
