package rsrt

import (
	"sync/atomic"
	"time"
)

// ServerStats counts what the runtime made the connections of an acceptor
// wait for or dropped, for metrics (package rsmetrics exports them). It
// is safe for concurrent use; the zero value is ready. Install one with
// [WithServerStats]; several acceptors may share one.
type ServerStats struct {
	connWaits, serverWaits atomic.Int64
	waitNanos              atomic.Int64
	oneWayOverLimit        atomic.Int64
	oneWayShuttingDown     atomic.Int64
}

// ServerCounts is a snapshot of [ServerStats].
type ServerCounts struct {
	// ConnectionBudgetWaits counts the responses (or ReserveResponse
	// calls) that had to wait for room in their connection's response
	// budget (WithResponseBudget).
	ConnectionBudgetWaits int64
	// ServerBudgetWaits counts those that had room in their connection's
	// budget but waited for the server-wide one
	// (WithServerResponseBudget).
	ServerBudgetWaits int64
	// BudgetWait is the time spent in those waits, all together,
	// including waits still going on only once they end.
	BudgetWait time.Duration
	// OneWayOverLimit counts the fire-and-forget and metadata-push
	// requests dropped because their connection had too many running.
	OneWayOverLimit int64
	// OneWayShuttingDown counts those dropped because the server was
	// shutting down.
	OneWayShuttingDown int64
}

// Snapshot returns the current counts.
func (s *ServerStats) Snapshot() ServerCounts {
	return ServerCounts{
		ConnectionBudgetWaits: s.connWaits.Load(),
		ServerBudgetWaits:     s.serverWaits.Load(),
		BudgetWait:            time.Duration(s.waitNanos.Load()),
		OneWayOverLimit:       s.oneWayOverLimit.Load(),
		OneWayShuttingDown:    s.oneWayShuttingDown.Load(),
	}
}

// WithServerStats makes the acceptor's connections count into s (by
// default they count into a ServerStats nobody reads).
func WithServerStats(s *ServerStats) AcceptOption {
	return func(c *acceptConfig) {
		if s != nil {
			c.stats = s
		}
	}
}
