package rsrt

// Deadlines on the wire. A requester whose context has a deadline sends
// the time it has left as one more composite-metadata entry of the
// request (the first frame of a stream or channel); the responder runs
// the handler with a context that ends when that time has passed. The
// time left, not the instant, travels: the two clocks need not agree, and
// the network delay only makes the responder's deadline a little later
// than the requester's, never earlier. Peers that do not know the entry
// ignore it, as the composite-metadata extension requires: the tutorial's
// Python and JavaScript clients send none, and rsocket-py servers skip it.

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"
)

// MIMEDeadline is the composite-metadata entry that carries a request's
// deadline: the milliseconds the requester will still wait for it when it
// sends it, rounded up, as a big-endian unsigned 64-bit integer (8 bytes).
const MIMEDeadline = "application/x.rsgen.deadline.v0"

// maxDeadline caps the time left a peer may send, so that converting it to
// a time.Duration cannot overflow (about 292 years; a year is plenty).
const maxDeadline = 365 * 24 * time.Hour

var errDeadlineLen = errors.New("deadline entry (" + MIMEDeadline + ") must be 8 bytes")

// deadlineEntry returns the entry that carries ctx's deadline, if it has
// one.
func deadlineEntry(ctx context.Context) (Entry, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return Entry{}, false
	}
	left := time.Until(d)
	ms := uint64(0)
	if left > 0 {
		ms = uint64((left + time.Millisecond - 1) / time.Millisecond)
	}
	return Entry{MIME: MIMEDeadline, Data: binary.BigEndian.AppendUint64(nil, ms)}, true
}

// deadline is when a requester will stop waiting for a request: the time
// it said it had left, counted from when the request arrived.
type deadline struct {
	at  time.Time
	set bool
}

// takeDeadline removes the deadline entry from a request's metadata and
// returns what is left and the deadline. The runtime consumes the entry,
// as it does the routing one: a handler sees the deadline as its
// context's.
func takeDeadline(md Metadata) (Metadata, deadline, error) {
	i := slices.IndexFunc(md, func(e Entry) bool { return e.MIME == MIMEDeadline })
	if i < 0 {
		return md, deadline{}, nil
	}
	b := md[i].Data
	if len(b) != 8 {
		return md, deadline{}, NewError("invalid request metadata: %v", errDeadlineLen)
	}
	md = slices.Delete(md, i, i+1)
	if len(md) == 0 {
		md = nil
	}
	left := maxDeadline
	if ms := binary.BigEndian.Uint64(b); ms < uint64(maxDeadline/time.Millisecond) {
		left = time.Duration(ms) * time.Millisecond
	}
	return md, deadline{at: time.Now().Add(left), set: true}, nil
}

// lazyDeadline ends a request-response handler's context at the
// request's deadline, with a timer armed only once something waits on
// the context's Done channel: most handlers never do, and a timer per
// request (context.WithDeadline's) was the largest cost the runtime added
// to a short request. Err reports an expired deadline without the
// timer. It lives in the handler's context (handlerCtx).
type lazyDeadline struct {
	dl     deadline
	cancel context.CancelCauseFunc // of the context the handler's wraps
	once   sync.Once               // arms the timer, or forbids it once the handler ended
	timer  *time.Timer             // set under once
}

// arm starts the timer, unless ctx ended already.
func (l *lazyDeadline) arm(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	d := time.Until(l.dl.at)
	if d <= 0 {
		l.cancel(context.DeadlineExceeded)
		return
	}
	l.timer = time.AfterFunc(d, func() { l.cancel(context.DeadlineExceeded) })
}

// stop ends the context and releases the timer, if one was armed.
func (l *lazyDeadline) stop() {
	l.once.Do(func() {}) // no timer from now on
	if l.timer != nil {
		l.timer.Stop()
	}
	l.cancel(nil)
}

// bound returns ctx bounded by the deadline, if there is one.
func (d deadline) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if !d.set {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, d.at)
}
