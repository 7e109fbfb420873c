package rsrt

// The drain gate. rsocket-go has no graceful shutdown: cancelling Serve's
// context drops every connection at once. A server closes its Gate first
// (new requests get REJECTED, streams are told to finish), waits for the
// requests in flight, and only then stops serving. A server whose
// transports refuse new requests themselves (gen/rsrt/server) only ends
// the streams (EndStreams), so that a request the transport accepted
// before the shutdown, an upload still arriving in fragments say, is not
// refused once it is complete.

import (
	"context"
	"sync"
)

type gate struct {
	ctx        context.Context // cancelled by close and endStreams: stream handlers watch it
	close      func()
	endStreams context.CancelFunc

	mu     sync.Mutex
	closed bool
	n      int
	idle   chan struct{} // closed when n drops to zero, for waiters
}

func newGate() *Gate {
	ctx, cancel := context.WithCancel(context.Background())
	g := &gate{ctx: ctx, endStreams: cancel}
	g.close = func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		cancel()
	}
	return &Gate{g: g}
}

// enter admits one request unless the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends an admitted request.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

func (g *gate) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// ending reports whether streams were told to finish (by close or
// endStreams).
func (g *gate) ending() bool { return g.ctx.Err() != nil }

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) inFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
