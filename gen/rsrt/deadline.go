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

// bound returns ctx bounded by the deadline, if there is one.
func (d deadline) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if !d.set {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, d.at)
}
