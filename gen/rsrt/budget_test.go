package rsrt

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sync/semaphore"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// The library's side of a charged payload (IncRef when it queues it,
// Release once written) is rsock's: its TestHeldPayloadCycle checks it. A
// charged payload comes back here through its Done.

// withBudget returns the context of a handler on budget b.
func withBudget(ctx context.Context, b *budget) *handlerCtx {
	return &handlerCtx{Context: ctx, b: b}
}

// free reports the bytes of b not taken.
func free(b *budget) int64 {
	var n int64
	for b.sem.TryAcquire(1) {
		n++
	}
	b.sem.Release(n)
	return n
}

func TestReserveResponseOutsideAHandler(t *testing.T) {
	if err := ReserveResponse(context.Background(), 1<<30); err != nil {
		t.Fatalf("outside a handler: %v", err)
	}
	if err := ReserveResponse(context.Background(), -1); err == nil {
		t.Fatal("a negative size is accepted")
	}
}

func TestBudgetReservationIsUsedByTheNextResponse(t *testing.T) {
	b := newBudget(1000, nil)
	ctx := context.Background()
	h := withBudget(ctx, b)
	if err := ReserveResponse(h, 600); err != nil {
		t.Fatal(err)
	}
	if err := ReserveResponse(h, 400); err != nil { // resized, not added
		t.Fatal(err)
	}
	if got := free(b); got != 600 {
		t.Fatalf("free after resizing to 400: %d, want 600", got)
	}
	p, err := h.hold(ctx, rsock.Payload{Data: make([]byte, 300)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Done == nil {
		t.Fatalf("held %+v: not charged, want the 400 reserved", p)
	}
	if got := free(b); got != 600 {
		t.Fatalf("free while the response is queued: %d, want 600", got)
	}
	p.Done() // the library is done with it (written)
	if got := free(b); got != 1000 {
		t.Fatalf("free after the write: %d, want 1000 (the 400 reserved given back)", got)
	}
}

func TestBudgetChargesUnreservedLargeResponses(t *testing.T) {
	const size = 3 * smallResponse
	b := newBudget(size, nil)
	ctx := context.Background()
	h := withBudget(ctx, b)
	small, err := h.hold(ctx, rsock.Payload{Data: make([]byte, smallResponse-1)})
	if err != nil {
		t.Fatal(err)
	}
	if small.Done != nil {
		t.Fatal("a small unreserved response is charged")
	}
	// Larger than the whole budget: it takes all of it.
	big, err := h.hold(ctx, rsock.Payload{Data: make([]byte, 5*smallResponse), Metadata: []byte("md")})
	if err != nil {
		t.Fatal(err)
	}
	if got := free(b); got != 0 {
		t.Fatalf("free while an oversized response is pending: %d", got)
	}
	// The next large one waits for it to be written.
	next := make(chan error, 1)
	go func() {
		_, err := h.hold(ctx, rsock.Payload{Data: make([]byte, 2*smallResponse)})
		next <- err
	}()
	select {
	case err := <-next:
		t.Fatalf("charged while the budget is used up (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	big.Done() // never taken by the library: given back
	select {
	case err := <-next:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting after the budget was given back")
	}
	if got := free(b); got != smallResponse {
		t.Fatalf("free: %d, want %d", got, smallResponse)
	}
}

func TestBudgetWaitEndsWithTheContext(t *testing.T) {
	b := newBudget(100, nil)
	ctx, cancel := context.WithCancel(context.Background())
	h := withBudget(ctx, b)
	if err := ReserveResponse(h, 100); err != nil {
		t.Fatal(err)
	}
	h2 := withBudget(ctx, b)
	done := make(chan error, 1)
	go func() { done <- ReserveResponse(h2, 50) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end with its context")
	}
	h.drop()
	if got := free(b); got != 100 {
		t.Fatalf("free after drop: %d, want 100", got)
	}
}

// freeSem reports the units of s not taken.
func freeSem(s *semaphore.Weighted) int64 {
	var n int64
	for s.TryAcquire(1) {
		n++
	}
	s.Release(n)
	return n
}

// Connections share the server's budget: one that needs more than is left
// waits until another's response is written, and every byte comes back to
// both budgets.
func TestServerBudgetIsShared(t *testing.T) {
	server := serverBudget(150, 100)
	a, b := newBudget(100, server), newBudget(100, server)
	ctx := context.Background()
	ha, hb := withBudget(ctx, a), withBudget(ctx, b)
	if err := ReserveResponse(ha, 100); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ReserveResponse(hb, 80) }() // 50 left on the server
	// b takes its own 80, then waits for the server's.
	for deadline := time.Now().Add(10 * time.Second); free(b) != 20; {
		if time.Now().After(deadline) {
			t.Fatalf("b's own budget: %d free, want 20 (its 80 taken)", free(b))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("b reserved over the server's budget (%v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	ha.drop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hb.drop()
	if fa, fb, fs := free(a), free(b), freeSem(server); fa != 100 || fb != 100 || fs != 150 {
		t.Fatalf("free after drops: a %d, b %d, server %d; want 100, 100, 150", fa, fb, fs)
	}
	if serverBudget(10, 100) == nil || freeSem(serverBudget(10, 100)) != 100 {
		t.Error("a server budget smaller than a connection's is not raised to it")
	}
	if serverBudget(-1, 100) != nil || serverBudget(0, -1) != nil {
		t.Error("a server budget without a bound, or without connection budgets")
	}
}
