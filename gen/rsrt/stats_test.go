package rsrt

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// waitFor polls cond until it holds, failing the test after a long bound
// (a guard against a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// A budget counts a wait against the first budget that made it wait, the
// connection's or the server's, and its duration once it ends; taking
// bytes that are there counts nothing.
func TestBudgetCountsWaits(t *testing.T) {
	ctx := context.Background()
	stats := new(ServerStats)
	server := semaphore.NewWeighted(150)
	a, b := newBudget(100, server), newBudget(100, server)
	a.stats, b.stats = stats, stats

	if _, err := a.acquire(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := stats.Snapshot(); got != (ServerCounts{}) {
		t.Fatalf("counts after an acquire that did not wait: %+v", got)
	}

	// a is full: its next acquire waits on the connection's budget.
	done := make(chan error, 1)
	go func() { _, err := a.acquire(ctx, 10); done <- err }()
	waitFor(t, "a connection budget wait", func() bool { return stats.Snapshot().ConnectionBudgetWaits == 1 })
	a.release(100)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// a holds 10 of its own budget and of the server's; with 90 more, the
	// server has 50 left, and b, whose own budget is empty, waits on it.
	if _, err := a.acquire(ctx, 90); err != nil {
		t.Fatal(err)
	}
	go func() { _, err := b.acquire(ctx, 60); done <- err }()
	waitFor(t, "a server budget wait", func() bool { return stats.Snapshot().ServerBudgetWaits == 1 })
	a.release(100)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := stats.Snapshot()
	if got.ConnectionBudgetWaits != 1 || got.ServerBudgetWaits != 1 || got.BudgetWait <= 0 {
		t.Fatalf("counts: %+v, want one wait of each kind and their time", got)
	}

	// A wait that ends with its context is counted too.
	cctx, cancel := context.WithCancel(ctx)
	go func() { _, err := b.acquire(cctx, 100); done <- err }()
	waitFor(t, "a third wait", func() bool { return stats.Snapshot().ConnectionBudgetWaits == 2 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("an acquire whose context ended returned no error")
	}
}
