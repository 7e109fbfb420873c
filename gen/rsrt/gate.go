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

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/admit"
)

// Gate admits the requests of every connection of a server and tracks those
// in flight, so that the server can drain them on shutdown. Give it to
// gen/rsrt/server (Config.Gate), which hands it to every connection; or,
// serving with rsocket-go's own transports, to NewAcceptor with WithGate.
type Gate struct {
	requests admit.Admission
	// ending is cancelled by Close and EndStreams: stream handlers watch
	// it.
	ending     context.Context
	endStreams context.CancelFunc
}

// NewGate returns an open gate.
func NewGate() *Gate {
	ctx, cancel := context.WithCancel(context.Background())
	return &Gate{ending: ctx, endStreams: cancel}
}

// Close stops admitting requests: from then on new requests are answered
// with REJECTED ("server is shutting down"); the context given to every
// open request-stream and request-channel handler is cancelled, and a
// handler that then returns ends its stream with COMPLETE; request-response,
// fire-and-forget and metadata-push handlers already running go on to
// completion. Close is idempotent.
func (g *Gate) Close() {
	g.requests.ShutOff()
	g.endStreams()
}

// EndStreams tells the open request-stream and request-channel handlers to
// finish, as Close does, but goes on admitting requests (a stream admitted
// from then on is told to finish at once). It is for a server whose
// transports refuse new requests themselves, as gen/rsrt/server's do: a
// request they accepted before the shutdown, such as an upload whose
// fragments are still arriving, is then served once it is complete.
func (g *Gate) EndStreams() { g.endStreams() }

// Wait blocks until no admitted request is in flight, or ctx is done (then
// it returns ctx.Err()).
func (g *Gate) Wait(ctx context.Context) error { return g.requests.Wait(ctx) }

// InFlight returns the number of admitted requests not yet finished.
func (g *Gate) InFlight() int { return g.requests.Count() }

// enter admits one request unless the gate is closed; leave must follow.
func (g *Gate) enter() bool { return g.requests.Enter() }

// leave ends an admitted request.
func (g *Gate) leave() { g.requests.Leave() }

func (g *Gate) isClosed() bool { return g.requests.IsShut() }

// streamsEnding reports whether streams were told to finish (by Close or
// EndStreams).
func (g *Gate) streamsEnding() bool { return g.ending.Err() != nil }
