package rsock

import (
	"context"

	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
)

// Subscriber receives an inbound stream from the library: the response of
// a request-response, the items of a stream, the requests of a channel.
// The library calls it on the connection's read loop, one call at a time.
type Subscriber interface {
	// OnSubscribe hands over the subscription, through which the
	// subscriber issues demand and cancels.
	OnSubscribe(s *Subscription)
	// OnNext delivers one item, already copied out of the library's
	// buffers. An item whose frame the closing connection released
	// under the read loop is dropped (see copyIn).
	OnNext(p Payload)
	// OnComplete and OnError end the stream; err is the peer's ERROR
	// (see PeerError) or the library's reason.
	OnComplete()
	OnError(err error)
}

// Subscription is a subscriber's handle on an inbound stream. Every call
// runs inside the connection's fence (skipped once the connection is
// closing) and swallows the library's panics: a subscription torn down by
// a closing connection may panic, and there is nothing left to do for it
// then. The library's subscriptions are not safe for concurrent use: the
// caller serialises its calls.
type Subscription struct {
	su    rx.Subscription
	fence *Fence
	// refill is the tap's path for demand from outside OnNext; nil on a
	// stream that is not tapped.
	refill func(sub rx.Subscription, n int, grant bool)
}

// Request asks the peer for n more items through the library. Called
// outside OnNext, the library's processor may not count it in time (see
// the package doc, entry "Demand outside OnNext"): use Refill then.
func (s *Subscription) Request(n int) { s.lib(func() { s.su.Request(n) }) }

// Cancel cancels the stream through the library: it writes a CANCEL and
// closes the processor's queue. Called anywhere but inside OnNext it can
// race with the read loop putting an item in that queue (entry "Cancel
// deferred to OnNext").
func (s *Subscription) Cancel() { s.lib(s.su.Cancel) }

// Tapped reports whether Refill has a tap to go through.
func (s *Subscription) Tapped() bool { return s.refill != nil }

// Refill issues demand from outside OnNext on a tapped stream: the
// library's REQUEST_N is swallowed while the processor counts n, then the
// tap writes it, when grant is set (with grant unset the peer never hears
// of it: the inbound's reserve unit). Without a tap it falls back to
// Request when grant is set.
func (s *Subscription) Refill(n int, grant bool) {
	if s.refill == nil {
		if grant {
			s.Request(n)
		}
		return
	}
	s.lib(func() { s.refill(s.su, n, grant) })
}

func (s *Subscription) lib(f func()) {
	s.fence.do(func() {
		defer func() { _ = recover() }()
		f()
	})
}

// subscriber adapts a Subscriber to the library's rx.Subscriber.
type subscriber struct {
	s      Subscriber
	fence  *Fence
	refill func(sub rx.Subscription, n int, grant bool)
	// lossy reports a lost item as OnError(ErrReleased) instead of
	// dropping it (a request-response, whose one item is its answer).
	lossy bool
}

func (a *subscriber) OnSubscribe(_ context.Context, su rx.Subscription) {
	a.s.OnSubscribe(&Subscription{su: su, fence: a.fence, refill: a.refill})
}

func (a *subscriber) OnNext(p payload.Payload) {
	cp, ok := copyIn(p)
	if !ok {
		if a.lossy {
			a.s.OnError(ErrReleased)
		}
		return
	}
	a.s.OnNext(cp)
}

func (a *subscriber) OnComplete() { a.s.OnComplete() }

func (a *subscriber) OnError(err error) { a.s.OnError(err) }
