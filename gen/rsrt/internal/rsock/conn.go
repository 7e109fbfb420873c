package rsock

import (
	"context"
	"errors"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
	"github.com/rsocket/rsocket-go/rx/mono"
)

// ErrClosed is returned by a call into the library that the end of its
// connection cut short: the connection's fence is shut, or the library
// panicked on a torn-down connection. (gen/rsrt exports it as
// rsrt.ErrClosed.)
var ErrClosed = errors.New("rsrt: connection closed")

// Conn is the requesting side of a connection: a client's, or a server's
// socket for its calls to the client. Every call runs inside the
// connection's fence.
type Conn struct {
	rs    rsocket.RSocket
	fence *Fence
	// tap is the client's transport tap, or noTap on a server: a
	// server's transport is not tapped.
	tap streamTap
}

// call runs a call into the library that may queue a frame: inside the
// fence, with its panic turned into ErrClosed. It returns ErrClosed once
// the connection is closing.
func (c *Conn) call(f func()) error {
	err := ErrClosed
	c.fence.do(func() { err = protect(f) })
	return err
}

// protect runs a call into the library, turning its panic into ErrClosed.
func protect(f func()) (err error) {
	defer func() {
		if recover() != nil {
			err = ErrClosed
		}
	}()
	f()
	return nil
}

func (c *Conn) subscriber(s Subscriber, sid *StreamID) *subscriber {
	return &subscriber{s: s, fence: c.fence, refill: c.tap.Requester(sid)}
}

// Tapped reports whether the streams this connection opens are tapped:
// their demand from outside OnNext goes through Subscription.Refill, and
// Canceller writes their CANCEL at once.
func (c *Conn) Tapped() bool { return c.tap.tapped() }

// Canceller returns the function that writes the CANCEL of the stream sid
// at once, or nil when the connection is not tapped (the library's own
// cancel has to do).
func (c *Conn) Canceller(sid *StreamID) func() { return c.tap.Canceller(sid) }

// RequestResponse sends a request-response; s receives its answer (a lost
// one as OnError(ErrReleased)). Subscribed with a context that never ends:
// the caller watches its own (see the package doc, entry "Channel inbound
// always subscribed").
func (c *Conn) RequestResponse(p Payload, s Subscriber) error {
	var m mono.Mono
	if err := c.call(func() { m = c.rs.RequestResponse(p.lib()) }); err != nil {
		return err
	}
	return c.call(func() {
		m.SubscribeWith(context.Background(), &subscriber{s: s, fence: c.fence, lossy: true})
	})
}

// FireAndForget sends a fire-and-forget request.
func (c *Conn) FireAndForget(p Payload) error {
	return c.call(func() { c.rs.FireAndForget(p.lib()) })
}

// MetadataPush sends a METADATA_PUSH of p's metadata.
func (c *Conn) MetadataPush(p Payload) error {
	return c.call(func() { c.rs.MetadataPush(p.lib()) })
}

// RequestStream opens a request-stream whose items go to s; sid learns
// the stream's id when the connection is tapped. Subscribing issues the
// first demand: the REQUEST_STREAM frame.
func (c *Conn) RequestStream(p Payload, sid *StreamID, s Subscriber) error {
	var f flux.Flux
	if err := c.call(func() { f = c.rs.RequestStream(p.lib()) }); err != nil {
		return err
	}
	opened := c.tap.ExpectStream(sid)
	err := c.call(func() { f.SubscribeWith(context.Background(), c.subscriber(s, sid)) })
	opened(err == nil)
	return err
}

// RequestChannel opens a request-channel whose requests out produces and
// whose responses go to s. Subscribing issues the first demand, which
// makes the library subscribe out and ask it for the REQUEST_CHANNEL
// payload: the caller sends it, then calls opened with whether it went
// out, so that the tap learns the stream's id before the next opening.
func (c *Conn) RequestChannel(out Outbound, sid *StreamID, s Subscriber) (opened func(sent bool), err error) {
	var f flux.Flux
	if err := c.call(func() { f = c.rs.RequestChannel(publish(out, c.fence)) }); err != nil {
		return nil, err
	}
	opened = c.tap.ExpectStream(sid)
	if err := c.call(func() { f.SubscribeWith(context.Background(), c.subscriber(s, sid)) }); err != nil {
		opened(false)
		return nil, err
	}
	return opened, nil
}

// streamTap is what a Conn needs of its transport tap: the client's *Tap,
// or noTap on a server.
type streamTap interface {
	tapped() bool
	ExpectStream(dst *StreamID) func(sent bool)
	Requester(id *StreamID) func(sub rx.Subscription, n int, grant bool)
	Canceller(id *StreamID) func()
}

// noTap is the streamTap of a server's connection: the inbounds of its
// calls run in reserve mode (see gen/rsrt inbound.go) and cancel through
// the library alone.
type noTap struct{}

func (noTap) tapped() bool                                         { return false }
func (noTap) ExpectStream(*StreamID) func(bool)                    { return func(bool) {} }
func (noTap) Requester(*StreamID) func(rx.Subscription, int, bool) { return nil }
func (noTap) Canceller(*StreamID) func()                           { return nil }
func (t *Tap) tapped() bool                                        { return true }
