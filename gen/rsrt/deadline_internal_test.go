package rsrt

import (
	"context"
	"errors"
	"testing"
	"time"
)

// lazyCtx returns a handler context with a lazy deadline d from now, as
// a request-response's, and the function the boundary calls on CANCEL.
func lazyCtx(d time.Duration) (*handlerCtx, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &handlerCtx{Context: ctx}
	h.lazy = &lazyDeadline{dl: deadline{at: time.Now().Add(d), set: true}, cancel: cancel}
	return h, h.lazy.stop
}

// TestLazyDeadlineContext checks that a request-response handler's
// context behaves as context.WithDeadline's would, though its timer is
// armed only by Done.
func TestLazyDeadlineContext(t *testing.T) {
	t.Run("Done fires at the deadline", func(t *testing.T) {
		h, stop := lazyCtx(20 * time.Millisecond)
		defer stop()
		if d, ok := h.Deadline(); !ok || d != h.lazy.dl.at {
			t.Fatalf("Deadline() = %v, %v", d, ok)
		}
		select {
		case <-h.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after the deadline")
		}
		if !errors.Is(h.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(h), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, Cause = %v", h.Err(), context.Cause(h))
		}
	})
	t.Run("Err without Done", func(t *testing.T) {
		h, stop := lazyCtx(time.Millisecond)
		defer stop()
		if h.Err() != nil {
			t.Fatal("Err before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
		if !errors.Is(h.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() after the deadline = %v", h.Err())
		}
		select {
		case <-h.Done():
		default:
			t.Fatal("Err reported the deadline but Done is open")
		}
	})
	t.Run("a child ends with it", func(t *testing.T) {
		h, stop := lazyCtx(20 * time.Millisecond)
		defer stop()
		child, cancel := context.WithTimeout(h, time.Hour)
		defer cancel()
		if d, _ := child.Deadline(); d != h.lazy.dl.at {
			t.Fatalf("child deadline %v, want the handler's %v", d, h.lazy.dl.at)
		}
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("child not ended at the deadline")
		}
		if !errors.Is(context.Cause(child), context.DeadlineExceeded) {
			t.Fatalf("child cause %v", context.Cause(child))
		}
	})
	t.Run("CANCEL ends it and disarms the timer", func(t *testing.T) {
		h, stop := lazyCtx(time.Hour)
		done := h.Done() // arms the timer
		stop()
		<-done
		if !errors.Is(h.Err(), context.Canceled) {
			t.Fatalf("Err() after CANCEL = %v", h.Err())
		}
		if h.lazy.timer == nil || h.lazy.timer.Stop() {
			t.Fatal("the timer was not armed, or is still running after CANCEL")
		}
	})
	t.Run("no timer after the end", func(t *testing.T) {
		h, stop := lazyCtx(time.Hour)
		stop()
		<-h.Done()
		if h.lazy.timer != nil {
			t.Fatal("Done after the end armed a timer")
		}
	})
}
