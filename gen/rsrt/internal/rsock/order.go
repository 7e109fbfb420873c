package rsock

import (
	"context"
	"sync"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// Arrivals puts the one-way requests (fire-and-forget, metadata-push) of a
// connection back in the order they arrived in.
//
// rsocket-go v0.8.16 reads frames in order, but hands each one-way
// request to a goroutine of its response pool, so the responder sees them
// in whatever order those goroutines start: a burst of 200 arrives
// shuffled. The connection's transport, which reads on the library's read
// loop, calls Observe with every frame, and each complete one-way request
// gets a ticket there, in arrival order; the responder claims the ticket
// of the request the library hands it (by stream id for a fire-and-forget,
// fragmented or not, by the frame itself for a metadata push, which has no
// stream id), waits for its turn and finishes it when its handler returns.
//
// A ticket that nobody claims (a frame the library dropped on the way,
// which it does not do for a request the guard let through) would hold up
// every later one: after MaxGap unclaimed, its turn is skipped, so the
// worst case is a delay, never a stall. A request whose frame was not
// observed (a transport without Observe) has no ticket and runs at once,
// unordered.
type Arrivals struct {
	mu      sync.Mutex
	next    uint64 // the ticket of the next arrival
	turn    uint64 // every ticket before it has finished or was skipped
	tickets map[uint64]*ticket
	// byStream and byFrame find the ticket of a request not yet claimed.
	byStream map[uint32]uint64
	byFrame  map[core.BufferedFrame]uint64
	// chains are the fire-and-forget fragment chains being received.
	chains map[uint32]bool
	// changed is closed, and replaced, when the turn moves or a ticket
	// is claimed.
	changed chan struct{}
}

type ticket struct {
	at       time.Time
	claimed  bool
	finished bool
	// sid or frame is the key the ticket is found by, forgotten when
	// the ticket is skipped unclaimed.
	sid   uint32
	frame core.BufferedFrame
}

// MaxGap is how long an unclaimed ticket may hold up the later ones: far
// more than the library takes to start a handler goroutine, even under
// load. A variable for the tests.
var MaxGap = 2 * time.Second

// NewArrivals returns the arrivals of one connection.
func NewArrivals() *Arrivals {
	return &Arrivals{tickets: map[uint64]*ticket{}, byStream: map[uint32]uint64{},
		byFrame: map[core.BufferedFrame]uint64{}, chains: map[uint32]bool{}, changed: make(chan struct{})}
}

// Observe notes a frame the transport hands the library, on its read
// loop: a complete one-way request gets the next ticket.
func (a *Arrivals) Observe(f core.BufferedFrame) {
	h := f.Header()
	follows := h.Flag().Check(core.FlagFollow)
	sid := h.StreamID()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch h.Type() {
	case core.FrameTypeMetadataPush:
		a.byFrame[f] = a.arrive(&ticket{frame: f})
	case core.FrameTypeRequestFNF:
		if follows {
			a.chains[sid] = true
			return
		}
		a.byStream[sid] = a.arrive(&ticket{sid: sid})
	case core.FrameTypePayload:
		if a.chains[sid] && !follows {
			delete(a.chains, sid)
			a.byStream[sid] = a.arrive(&ticket{sid: sid})
		}
	case core.FrameTypeCancel:
		delete(a.chains, sid)
	}
}

// arrive issues the next ticket, tk.
func (a *Arrivals) arrive(tk *ticket) uint64 {
	t := a.next
	a.next++
	tk.at = time.Now()
	a.tickets[t] = tk
	return t
}

// Claim returns the ticket of a one-way request the library hands the
// responder (a frame, or the joiner of a fragmented one), and false when
// it has none.
func (a *Arrivals) Claim(msg any) (uint64, bool) {
	var t uint64
	var ok bool
	a.mu.Lock()
	defer a.mu.Unlock()
	switch m := msg.(type) {
	case *framing.MetadataPushFrame:
		if t, ok = a.byFrame[m]; ok {
			delete(a.byFrame, m)
		}
	case interface{ Header() core.FrameHeader }:
		sid := m.Header().StreamID()
		if t, ok = a.byStream[sid]; ok {
			delete(a.byStream, sid)
		}
	}
	if !ok {
		return 0, false
	}
	if tk := a.tickets[t]; tk != nil {
		tk.claimed = true
		a.notify()
	}
	return t, true
}

// Wait returns when it is t's turn (every earlier ticket finished, or was
// skipped), or when done is closed.
func (a *Arrivals) Wait(t uint64, done <-chan struct{}) {
	for {
		a.mu.Lock()
		if t <= a.turn {
			a.mu.Unlock()
			return
		}
		var wait time.Duration
		if tk := a.tickets[a.turn]; tk != nil && !tk.claimed {
			if wait = MaxGap - time.Since(tk.at); wait <= 0 {
				// Never claimed: skipped, and forgotten.
				if tk.frame != nil {
					delete(a.byFrame, tk.frame)
				} else {
					delete(a.byStream, tk.sid)
				}
				a.finish(a.turn)
				a.mu.Unlock()
				continue
			}
		}
		ch := a.changed
		a.mu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			timeout = timer.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-done:
		}
		if timer != nil {
			timer.Stop()
		}
		select {
		case <-done:
			return
		default:
		}
	}
}

// Finish ends ticket t: the next one may run.
func (a *Arrivals) Finish(t uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finish(t)
}

func (a *Arrivals) finish(t uint64) {
	tk := a.tickets[t]
	if tk == nil {
		return // skipped already
	}
	tk.finished = true
	for tk := a.tickets[a.turn]; tk != nil && tk.finished; tk = a.tickets[a.turn] {
		delete(a.tickets, a.turn)
		a.turn++
	}
	a.notify()
}

func (a *Arrivals) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// arrivalsKey is the context key of the *Arrivals a server transport
// observes frames for (see WithArrivals).
type arrivalsKey struct{}

// WithArrivals returns ctx carrying a: the context a server's runtime
// prepares for a connection, from which its transport takes the Arrivals
// to observe frames for.
func WithArrivals(ctx context.Context, a *Arrivals) context.Context {
	return context.WithValue(ctx, arrivalsKey{}, a)
}

// ArrivalsFrom returns the Arrivals ctx carries, or nil.
func ArrivalsFrom(ctx context.Context) *Arrivals {
	a, _ := ctx.Value(arrivalsKey{}).(*Arrivals)
	return a
}
