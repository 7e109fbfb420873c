package rsrt

import (
	"log/slog"
	"sync/atomic"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// connScope is the policy of one connection, built once when the
// connection opens and handed to everything that serves it: the
// responder, the caller, and the senders and inbounds of its streams.
//
// Every part is always there. What is turned off takes a form that does
// nothing (a gate nobody closes, a budget without bound), so that the code
// using a part never asks whether it exists. (The connection's send fence
// is the boundary's: every call into rsocket-go is made by rsock, inside
// it.)
type connScope struct {
	// gate admits the connection's requests: the server's drain gate, or
	// an open one that nobody closes.
	gate *Gate
	// budget bounds the connection's unwritten responses, and charges
	// them to the server-wide budget too (see budget.go); it is
	// unbounded on clients.
	budget *budget
	// arrivals orders the connection's one-way requests as they arrived
	// (see rsock.Arrivals), when its transport observes them: the
	// client's tap, the server's checking transports. Otherwise nothing
	// is observed and they run unordered.
	arrivals *rsock.Arrivals
	// stats counts what the connection waited for or dropped (one the
	// acceptor's user reads, or one nobody reads).
	stats *ServerStats
	// ic is the connection's chain of interceptors, empty when none was
	// installed.
	ic interceptors
	// peer is the other end, as Call.Peer shows it.
	peer Peer
	log  *slog.Logger
	// inline is inlineRunning while an inline handler of the connection
	// runs on its read loop, then the fed stream whose wake it holds
	// back, if any (see holdWake); nil otherwise.
	inline atomic.Pointer[Feeder]
}

// inlineRunning marks connScope.inline while an inline handler runs and
// no wake is held.
var inlineRunning = new(Feeder)

// inlineStarts marks the start of an inline handler (WithInline).
func (sc *connScope) inlineStarts() { sc.inline.Store(inlineRunning) }

// inlineEnds marks its end, once its answer is with the library, and
// wakes the stream whose wake it held back.
func (sc *connScope) inlineEnds() {
	if f := sc.inline.Swap(nil); f != nil && f != inlineRunning {
		f.Wake()
	}
}

// holdWake holds back the wake of f, a fed stream of the connection,
// while an inline handler of the connection runs, and reports whether it
// did: the stream's drain then starts once the handler's answer is with
// the library, so that the answer is not queued behind the item (the
// drain runs on another goroutine, often at once on the other core) and
// the two often leave in one write. One stream's wake is held, the
// connection's own messages being the case; another stream woken
// meanwhile starts at once.
func (sc *connScope) holdWake(f *Feeder) bool {
	switch sc.inline.Load() {
	case f:
		return true
	case inlineRunning:
		return sc.inline.CompareAndSwap(inlineRunning, f)
	}
	return false
}

// clientScope is the scope of a client connection: its requests are
// always admitted and its responses unbounded.
func clientScope(a *rsock.Arrivals, log *slog.Logger) *connScope {
	b := newBudget(0, nil)
	return &connScope{gate: NewGate(), budget: b, stats: b.stats, arrivals: a, log: log}
}

// served describes a call the connection serves with handler. (A value:
// the handler's context holds it, so that serving a request costs no
// allocation for it.)
func (sc *connScope) served(i Interaction, route string, md Metadata, handler any) Call {
	return Call{Route: route, Interaction: i, Peer: sc.peer, Metadata: md, Handler: handler}
}

// requested describes a call the connection makes.
func (sc *connScope) requested(i Interaction, route string, md Metadata) *Call {
	return &Call{Route: route, Interaction: i, Requester: true, Peer: sc.peer, Metadata: md}
}
