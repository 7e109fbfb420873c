package guard

import (
	"math"
	"sync/atomic"
)

// Reassembly bounds the bytes that all the connections sharing it hold in
// unfinished fragment chains together. Each connection is also bounded by
// Limits.MaxPendingBytes; this is the server-wide bound over them, so that
// many connections each just under their own bound cannot exhaust memory.
// A request whose fragments would go over it is refused (ERROR REJECTED,
// "server busy") and its remaining fragments are discarded as they arrive;
// the connection and the other connections go on.
type Reassembly struct {
	limit int64
	used  atomic.Int64
}

// NewReassembly returns a budget of limit bytes (math.MaxInt64 when limit
// is zero or negative: no server-wide bound).
func NewReassembly(limit int) *Reassembly {
	r := &Reassembly{limit: math.MaxInt64}
	if limit > 0 {
		r.limit = int64(limit)
	}
	return r
}

// Limit returns the bound in bytes.
func (r *Reassembly) Limit() int64 { return r.limit }

// Used returns the bytes held in unfinished chains now.
func (r *Reassembly) Used() int64 { return r.used.Load() }

// take reserves n bytes, or reports that they would go over the bound.
func (r *Reassembly) take(n int) bool {
	for {
		used := r.used.Load()
		if int64(n) > r.limit-used {
			return false
		}
		if r.used.CompareAndSwap(used, used+int64(n)) {
			return true
		}
	}
}

// give returns n bytes taken earlier.
func (r *Reassembly) give(n int) { r.used.Add(-int64(n)) }
