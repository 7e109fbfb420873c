package rsrt

import (
	"context"
	"log/slog"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// connScope is the policy of one connection, built once when the
// connection opens and handed to everything that serves it: the
// responder, the caller, and the senders and inbounds of its streams.
//
// Every part is always there. What is turned off takes a form that does
// nothing (a gate nobody closes, a fence nobody shuts, a budget without
// bound), so that the code using a part never asks whether it exists.
type connScope struct {
	// gate admits the connection's requests: the server's drain gate, or
	// an open one that nobody closes.
	gate *Gate
	// fence orders the runtime's frame-queuing calls into rsocket-go
	// before the library closes the connection (see fence). It is shut
	// by the server's transport, or by ClientConn.Close; a server
	// transport that does not know of it never shuts it.
	fence *fence
	// budget bounds the connection's unwritten responses, and charges
	// them to the server-wide budget too (see budget.go); it is
	// unbounded on clients.
	budget *budget
	// arrivals orders the connection's one-way requests as they arrived
	// (see rsock.Arrivals), when its transport observes them: the
	// client's tap, the server's checking transports. Otherwise nothing
	// is observed and they run unordered.
	arrivals *rsock.Arrivals
	log      *slog.Logger
}

// clientScope is the scope of a client connection, whose fence Close
// shuts: its requests are always admitted and its responses unbounded.
func clientScope(f *fence, a *rsock.Arrivals, log *slog.Logger) *connScope {
	return &connScope{gate: NewGate(), fence: f, budget: newBudget(0, nil), arrivals: a, log: log}
}

// servedConn is what a server's transport prepares for one connection
// before rsocket-go reads its SETUP: the gate its requests go through and
// the fence the transport shuts when it closes the connection (see
// Gate.ConnContext). The acceptor builds the connection's scope from it.
type servedConn struct {
	gate     *Gate
	fence    *fence
	arrivals *rsock.Arrivals
}

// servedKey is the context key of a *servedConn. rsocket-go hands its
// acceptor nothing of the connection but a context (the one the
// transport gave it) and the socket, so this one value is how what the
// transport prepared reaches the acceptor; it is read once, when the
// connection's scope is built.
type servedKey struct{}

// ConnContext prepares the context a server transport gives rsocket-go's
// acceptor for one new connection (see guard.Options.ConnContext): the
// connection's requests are admitted through g, whatever gate the
// acceptor was built with. It returns the function the transport must
// call when it closes that connection: after the network connection is
// closed, and before the library tears its socket down (returning from
// the transport's Close is that moment). The function waits, up to a
// second, for the runtime's calls into the library that are queuing
// frames on the connection, and makes later ones skip; without it they
// race with the library closing its send queue (see fence). It may be
// called more than once.
func (g *Gate) ConnContext(ctx context.Context) (context.Context, func()) {
	sc := &servedConn{gate: g, fence: new(fence), arrivals: rsock.NewArrivals()}
	ctx = rsock.WithArrivals(ctx, sc.arrivals) // the transport observes the frames
	return context.WithValue(ctx, servedKey{}, sc), func() { sc.fence.close(fenceWait) }
}
