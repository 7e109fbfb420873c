// Package admit is the one admission mechanism of the runtime: a counter
// of calls inside that can be shut and waited for. gen/rsrt's drain gate
// (the requests of a server's connections) and rsock's fence (one
// connection's calls into rsocket-go) are both one. Nothing here knows
// RSocket; the reader who changes it is changing both.
package admit

import (
	"context"
	"sync"
)

// Admission lets calls in until it is shut, counts those inside, and
// tells a waiter when none is left. The drain gate and the fence differ
// only in what they admit and in who shuts them. The zero value is open.
//
// Unlike a sync.RWMutex, it may be entered again by a call already inside
// it: a shut waiting for the calls inside never blocks those.
type Admission struct {
	mu     sync.Mutex
	shut   bool
	inside int
	idle   chan struct{} // closed when inside drops to zero, for waiters
}

// Enter reports whether a call may go ahead; if so, Leave must follow it.
func (a *Admission) Enter() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shut {
		return false
	}
	a.inside++
	return true
}

// Leave ends a call that Enter admitted.
func (a *Admission) Leave() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inside--
	if a.inside == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
}

// ShutOff makes later calls of Enter fail. It is idempotent.
func (a *Admission) ShutOff() {
	a.mu.Lock()
	a.shut = true
	a.mu.Unlock()
}

// IsShut reports whether ShutOff was called.
func (a *Admission) IsShut() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.shut
}

// Count returns the number of calls inside.
func (a *Admission) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inside
}

// Wait blocks until no call is inside, or ctx is done (then it returns
// ctx.Err()).
func (a *Admission) Wait(ctx context.Context) error {
	a.mu.Lock()
	if a.inside == 0 {
		a.mu.Unlock()
		return nil
	}
	if a.idle == nil {
		a.idle = make(chan struct{})
	}
	idle := a.idle
	a.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
