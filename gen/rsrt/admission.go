package rsrt

import (
	"context"
	"sync"
)

// admission lets calls in until it is shut, counts those inside, and
// tells a waiter when none is left. The drain gate (Gate: the requests of
// a server's connections) and the fence (one connection's calls into
// rsocket-go) are both one; they differ in what they admit and in who
// shuts them.
//
// Unlike a sync.RWMutex, it may be entered again by a call already inside
// it: a shut waiting for the calls inside never blocks those.
type admission struct {
	mu     sync.Mutex
	shut   bool
	inside int
	idle   chan struct{} // closed when inside drops to zero, for waiters
}

// enter reports whether a call may go ahead; if so, leave must follow it.
func (a *admission) enter() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shut {
		return false
	}
	a.inside++
	return true
}

func (a *admission) leave() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inside--
	if a.inside == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
}

// shutOff makes later calls of enter fail. It is idempotent.
func (a *admission) shutOff() {
	a.mu.Lock()
	a.shut = true
	a.mu.Unlock()
}

func (a *admission) isShut() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.shut
}

// count returns the number of calls inside.
func (a *admission) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inside
}

// wait blocks until no call is inside, or ctx is done (then it returns
// ctx.Err()).
func (a *admission) wait(ctx context.Context) error {
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
