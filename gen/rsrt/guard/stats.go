package guard

import "sync/atomic"

// Stats counts what the checking transports of a server accepted and
// refused. It is safe for concurrent use; the zero value is ready.
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
	}
}
