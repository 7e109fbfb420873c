package guard

import "sync/atomic"

// Stats counts what the checking transports of a server accepted,
// refused, read and wrote. It is safe for concurrent use; the zero value
// is ready.
type Stats struct {
	connections   atomic.Int64
	refusedConns  atomic.Int64
	refusedOrigin atomic.Int64
	refusedSetups atomic.Int64
	violations    atomic.Int64
	setupTimeouts atomic.Int64
	idleTimeouts  atomic.Int64
	writeTimeouts atomic.Int64
	dropped       atomic.Int64
	substituted   atomic.Int64
	rejected      atomic.Int64
	cancels       atomic.Int64

	framesIn  atomic.Int64
	bytesIn   atomic.Int64
	framesOut atomic.Int64
	bytesOut  atomic.Int64
	writes    atomic.Int64
}

// Counts is a snapshot of [Stats].
type Counts struct {
	// Connections is the number of connections accepted.
	Connections int64
	// RefusedConnections is the number of connections closed on accept
	// because the listener had MaxConnections already.
	RefusedConnections int64
	// RefusedOrigins is the number of WebSocket upgrades answered 403
	// because the Options.Origins policy refused their Origin.
	RefusedOrigins int64
	// RefusedSetups is the number of SETUP frames refused (an ERROR frame
	// of code INVALID_SETUP, UNSUPPORTED_SETUP or REJECTED_SETUP written
	// on stream 0: the acceptor refused the client, or the server was
	// shutting down).
	RefusedSetups int64
	// Violations is the number of connections closed for a protocol
	// violation or a limit.
	Violations int64
	// SetupTimeouts is the number of connections closed for sending no
	// SETUP in time.
	SetupTimeouts int64
	// IdleTimeouts is the number of connections closed for sending
	// nothing during their max lifetime.
	IdleTimeouts int64
	// WriteTimeouts is the number of connections closed because the peer
	// did not read a frame within Limits.WriteTimeout.
	WriteTimeouts int64
	// Dropped is the number of inbound frames discarded (frames for
	// streams that are not open, CANCEL for server-initiated streams,
	// ignorable unknown frames, non-binary WebSocket messages).
	Dropped int64
	// Substituted is the number of inbound frames replaced by a safe
	// equivalent (a requester's ERROR replaced by CANCEL).
	Substituted int64
	// Rejected is the number of requests answered with REJECTED because
	// the connection had MaxStreams open.
	Rejected int64
	// SuppressedCancels is the number of CANCEL frames the server wrote
	// on client-initiated streams and the transport did not send (see
	// State.Outbound).
	SuppressedCancels int64

	// FramesReceived is the number of frames read from peers, whatever
	// became of them, and BytesReceived their size: the RSocket frames'
	// own bytes, without the TCP length prefix or the WebSocket message
	// header. A connection adds the frames it read to these counts
	// before it next reads from its socket, or every 64 frames (1 MiB).
	FramesReceived, BytesReceived int64
	// FramesSent is the number of frames written to peers, and BytesSent
	// their size, as for FramesReceived. Frames count once they are
	// handed to the socket.
	FramesSent, BytesSent int64
	// Writes is the number of writes to the connections' sockets, each
	// one system call unless the socket was full: FramesSent / Writes is
	// how many frames a write carried. WebSocket control messages
	// (pong, close) are written too, counted here and not in FramesSent.
	Writes int64
}

// Snapshot returns the current counts.
func (s *Stats) Snapshot() Counts {
	return Counts{
		Connections:        s.connections.Load(),
		RefusedConnections: s.refusedConns.Load(),
		RefusedOrigins:     s.refusedOrigin.Load(),
		RefusedSetups:      s.refusedSetups.Load(),
		Violations:         s.violations.Load(),
		SetupTimeouts:      s.setupTimeouts.Load(),
		IdleTimeouts:       s.idleTimeouts.Load(),
		WriteTimeouts:      s.writeTimeouts.Load(),
		Dropped:            s.dropped.Load(),
		Substituted:        s.substituted.Load(),
		SuppressedCancels:  s.cancels.Load(),
		Rejected:           s.rejected.Load(),
		FramesReceived:     s.framesIn.Load(),
		BytesReceived:      s.bytesIn.Load(),
		FramesSent:         s.framesOut.Load(),
		BytesSent:          s.bytesOut.Load(),
		Writes:             s.writes.Load(),
	}
}

// traffic is what one connection read or wrote in one direction since it
// last added it to the server's Stats: the connections of a server share
// its counters, and an atomic add per frame to a counter that every core
// adds to costs more than the rest of a small frame's accounting, while
// one per batch (a wait for the peer, a write) costs nothing that shows.
type traffic struct {
	frames uint32
	bytes  uint64
}

// trafficDueFrames and trafficDueBytes are what a traffic holds at most
// before it is added to the Stats: the counts of a connection that never
// waits for its peer stay this close to current.
const (
	trafficDueFrames = 64
	trafficDueBytes  = 1 << 20
)

// count counts a frame of n bytes, and reports whether the counts are
// due to be added to the Stats.
func (t *traffic) count(n int) (due bool) {
	t.frames++
	t.bytes += uint64(n)
	return t.frames >= trafficDueFrames || t.bytes >= trafficDueBytes
}

// received adds the frames t counted as read, and empties t.
func (s *Stats) received(t *traffic) {
	if t.frames != 0 {
		s.framesIn.Add(int64(t.frames))
		s.bytesIn.Add(int64(t.bytes))
		*t = traffic{}
	}
}

// wrote adds a write of n system calls, and the frames t counted as
// written since the last one, and empties t. A nil s counts nothing (a
// WebSocket connection's handshake, written before the connection
// exists).
func (s *Stats) wrote(calls int, t *traffic) {
	if s == nil {
		return
	}
	s.writes.Add(int64(calls))
	if t.frames != 0 {
		s.framesOut.Add(int64(t.frames))
		s.bytesOut.Add(int64(t.bytes))
		*t = traffic{}
	}
}
