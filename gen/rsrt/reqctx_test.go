package rsrt

import (
	"context"
	"errors"
	"testing"
	"time"
)

// reqCtx returns a request-response handler's context under parent, with
// a deadline d from now when d > 0, and the function the boundary calls
// on CANCEL (and the handler's end).
func reqCtx(parent context.Context, d time.Duration) (*handlerCtx, func()) {
	c := &rrCtx[struct{}]{handlerCtx: handlerCtx{Context: parent}, req: lazyRequest{parent: parent}}
	if d > 0 {
		c.req.dl = deadline{at: time.Now().Add(d), set: true}
	}
	c.handlerCtx.req = &c.req
	return &c.handlerCtx, c.req.stop
}

// waitDone waits for ctx's Done, failing t after a long while.
func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
}

// TestRequestContext checks that a request-response handler's context
// behaves as the standard library's would, though it makes its child
// context and its timer only when Done is called.
func TestRequestContext(t *testing.T) {
	bg := context.Background()
	t.Run("Done fires at the deadline", func(t *testing.T) {
		h, stop := reqCtx(bg, 20*time.Millisecond)
		defer stop()
		if d, ok := h.Deadline(); !ok || d != h.req.dl.at {
			t.Fatalf("Deadline() = %v, %v", d, ok)
		}
		waitDone(t, h)
		if !errors.Is(h.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(h), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, Cause = %v", h.Err(), context.Cause(h))
		}
	})
	t.Run("Err without Done", func(t *testing.T) {
		h, stop := reqCtx(bg, time.Millisecond)
		defer stop()
		time.Sleep(5 * time.Millisecond)
		if !errors.Is(h.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() after the deadline = %v", h.Err())
		}
		waitDone(t, h) // made after the end: closed at once
		if h.req.timer != nil {
			t.Fatal("a timer was armed for a deadline already passed")
		}
	})
	t.Run("no child context unless Done is called", func(t *testing.T) {
		h, stop := reqCtx(bg, time.Hour)
		if h.Err() != nil || h.Value("some key") != nil {
			t.Fatal("fresh context ended or has a value")
		}
		stop()
		if h.req.ctx != nil || h.req.timer != nil {
			t.Fatal("Err and Value before the end made a child context or a timer")
		}
		if !errors.Is(h.Err(), context.Canceled) || !errors.Is(context.Cause(h), context.Canceled) {
			t.Fatalf("after the end: Err() = %v, Cause = %v", h.Err(), context.Cause(h))
		}
	})
	t.Run("a child ends with it", func(t *testing.T) {
		h, stop := reqCtx(bg, 20*time.Millisecond)
		defer stop()
		child, cancel := context.WithTimeout(h, time.Hour)
		defer cancel()
		if d, _ := child.Deadline(); d != h.req.dl.at {
			t.Fatalf("child deadline %v, want the handler's %v", d, h.req.dl.at)
		}
		waitDone(t, child)
		if !errors.Is(context.Cause(child), context.DeadlineExceeded) {
			t.Fatalf("child cause %v", context.Cause(child))
		}
	})
	t.Run("CANCEL ends it and stops the timer", func(t *testing.T) {
		h, stop := reqCtx(bg, time.Hour)
		done := h.Done() // arms the timer
		stop()
		<-done
		if !errors.Is(h.Err(), context.Canceled) {
			t.Fatalf("Err() after CANCEL = %v", h.Err())
		}
		if h.req.timer == nil || h.req.timer.Stop() {
			t.Fatal("the timer was not armed, or still runs after CANCEL")
		}
	})
	t.Run("the connection closing ends it", func(t *testing.T) {
		conn, closeConn := context.WithCancel(bg)
		h, stop := reqCtx(conn, 0)
		defer stop()
		done := h.Done()
		h2, stop2 := reqCtx(conn, 0)
		defer stop2()
		closeConn()
		<-done
		if !errors.Is(h.Err(), context.Canceled) || !errors.Is(h2.Err(), context.Canceled) {
			t.Fatalf("after the connection closed: %v, %v", h.Err(), h2.Err())
		}
		waitDone(t, h2)
	})
	t.Run("no deadline", func(t *testing.T) {
		h, stop := reqCtx(bg, 0)
		defer stop()
		if _, ok := h.Deadline(); ok {
			t.Fatal("a deadline without one")
		}
		select {
		case <-h.Done():
			t.Fatal("Done closed")
		default:
		}
	})
}
