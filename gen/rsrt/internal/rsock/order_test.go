package rsock

import (
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// TestArrivalsOrder: tickets are issued in arrival order (a fragmented
// fire-and-forget when its last fragment arrives, a metadata push by its
// frame) and each waits for the earlier ones to finish, whatever order
// they are claimed in.
func TestArrivalsOrder(t *testing.T) {
	a := NewArrivals()
	push1 := framing.NewMetadataPushFrame([]byte("m1"))
	push2 := framing.NewMetadataPushFrame([]byte("m2"))
	frames := []core.BufferedFrame{
		framing.NewFireAndForgetFrame(5, []byte("a"), nil, core.FlagFollow), // fragments of 5 ...
		framing.NewFireAndForgetFrame(1, []byte("x"), nil, 0),               // 1: ticket 0
		push1, // ticket 1
		framing.NewPayloadFrame(5, []byte("b"), nil, core.FlagFollow),
		framing.NewPayloadFrame(5, []byte("c"), nil, core.FlagNext), // ... end: ticket 2
		framing.NewRequestResponseFrame(7, []byte("r"), nil, 0),     // not one-way
		push2, // ticket 3
	}
	for _, f := range frames {
		a.Observe(f)
	}
	claims := []any{push2, framing.NewFireAndForgetFrame(5, nil, nil, 0), push1, framing.NewFireAndForgetFrame(1, nil, nil, 0)}
	var mu sync.Mutex
	var ran []uint64
	var wg sync.WaitGroup
	for _, c := range claims {
		tk, ok := a.Claim(c)
		if !ok {
			t.Fatalf("no ticket for %T", c)
		}
		wg.Go(func() {
			a.Wait(tk, nil)
			mu.Lock()
			ran = append(ran, tk)
			mu.Unlock()
			a.Finish(tk)
		})
	}
	wg.Wait()
	for i, tk := range ran {
		if tk != uint64(i) {
			t.Fatalf("ran %v, want 0 1 2 3", ran)
		}
	}
	if _, ok := a.Claim(framing.NewFireAndForgetFrame(9, nil, nil, 0)); ok {
		t.Error("a frame never observed has a ticket")
	}
}

// TestArrivalsGap: a ticket nobody claims holds up the later ones for
// MaxGap only; claimed late, it runs at once.
func TestArrivalsGap(t *testing.T) {
	defer func(d time.Duration) { MaxGap = d }(MaxGap)
	MaxGap = 50 * time.Millisecond
	a := NewArrivals()
	lost := framing.NewFireAndForgetFrame(1, nil, nil, 0)
	a.Observe(lost)
	a.Observe(framing.NewFireAndForgetFrame(3, nil, nil, 0))
	tk, ok := a.Claim(framing.NewFireAndForgetFrame(3, nil, nil, 0))
	if !ok {
		t.Fatal("no ticket")
	}
	a.Wait(tk, nil) // returns once ticket 0 is skipped
	a.Finish(tk)
	if _, ok := a.Claim(lost); ok {
		t.Error("a skipped ticket is still found")
	}
	// done ends a wait.
	a.Observe(framing.NewFireAndForgetFrame(11, nil, nil, 0))
	a.Observe(framing.NewFireAndForgetFrame(13, nil, nil, 0))
	first, _ := a.Claim(framing.NewFireAndForgetFrame(11, nil, nil, 0))
	second, _ := a.Claim(framing.NewFireAndForgetFrame(13, nil, nil, 0))
	done := make(chan struct{})
	close(done)
	a.Wait(second, done) // first is claimed and unfinished: only done ends this
	a.Finish(first)
	a.Finish(second)
}
