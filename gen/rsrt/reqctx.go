package rsrt

import (
	"context"
	"sync"
	"time"
)

// lazyRequest is what makes a request-response handler's context end:
// the requester's CANCEL, the request's deadline, the connection closing,
// or the handler returning. A context of the standard library's would
// cost every request a child of the connection's context (registered
// with it under its lock, and removed again) and, for a deadline, a timer
// started and stopped: together the largest cost the runtime added to a
// short request. Most handlers never wait on their context, so the child
// context and the timer are made only on the first Done (or a Value
// lookup after the end, so that context.Cause sees the right cause); Err
// works without them. The handler's context is a handlerCtx whose req is
// set.
type lazyRequest struct {
	parent context.Context // the connection's
	dl     deadline

	mu     sync.Mutex
	ended  error                   // why the request ended, once it did
	ctx    context.Context         // the child context, once made
	cancel context.CancelCauseFunc // ctx's
	timer  *time.Timer             // the deadline's, once armed
}

// end ends the request with cause (context.Canceled or
// context.DeadlineExceeded); the first cause stays.
func (l *lazyRequest) end(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended == nil {
		l.ended = cause
	}
	if l.ctx != nil {
		l.cancel(l.ended)
	}
	if l.timer != nil {
		l.timer.Stop()
	}
}

// stop ends the request as the requester's CANCEL or the handler's end
// do.
func (l *lazyRequest) stop() { l.end(context.Canceled) }

// materialize returns the child context, making it (and arming the
// deadline's timer) on the first call. Called under mu.
func (l *lazyRequest) materialize() context.Context {
	if l.ctx != nil {
		return l.ctx
	}
	l.ctx, l.cancel = context.WithCancelCause(l.parent)
	switch {
	case l.ended != nil:
		l.cancel(l.ended)
	case l.dl.set:
		if d := time.Until(l.dl.at); d > 0 {
			l.timer = time.AfterFunc(d, func() { l.end(context.DeadlineExceeded) })
		} else {
			l.ended = context.DeadlineExceeded
			l.cancel(l.ended)
		}
	}
	return l.ctx
}

// done implements Done.
func (l *lazyRequest) done() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.materialize().Done()
}

// err implements Err: the cause the request ended with, as the standard
// library's contexts report it, or the connection's error.
func (l *lazyRequest) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended == nil {
		if err := l.parent.Err(); err != nil {
			return err
		}
		if l.dl.set && !time.Now().Before(l.dl.at) {
			l.ended = context.DeadlineExceeded
			if l.ctx != nil {
				l.cancel(l.ended)
			}
		}
	}
	if l.ended == context.DeadlineExceeded {
		return l.ended
	}
	if l.ended != nil {
		return context.Canceled
	}
	return nil
}

// deadline implements Deadline.
func (l *lazyRequest) deadline() (time.Time, bool) {
	p, ok := l.parent.Deadline()
	if l.dl.set && (!ok || l.dl.at.Before(p)) {
		return l.dl.at, true
	}
	return p, ok
}

// value implements Value for the keys not the runtime's own. Once the
// request ended, the child context answers, so that context.Cause finds
// its cause; before, the connection's context does.
func (l *lazyRequest) value(key any) any {
	l.mu.Lock()
	ctx := l.ctx
	if ctx == nil && l.ended != nil {
		ctx = l.materialize()
	}
	l.mu.Unlock()
	if ctx != nil {
		return ctx.Value(key)
	}
	return l.parent.Value(key)
}
