package chatsvc

import (
	"strings"
	"testing"
)

// The drops the service-wide budget causes are counted apart from those
// of a queue's own bounds.
func TestQueueBudgetCountsItsDrops(t *testing.T) {
	budget := &queueBudget{limit: 1000}
	var drops int
	q := newQueue(12, 1<<20, budget, func(n int) { drops += n })
	_ = newQueue(1000, 1<<20, budget, nil) // a share of 500
	hundred := strings.Repeat("x", 99)     // 100 bytes with the user
	for range 10 {
		q.push(msg(hundred)) // 1000 bytes: at the budget, not over it
	}
	if drops != 0 || budget.overShare.Load() != 0 {
		t.Fatalf("under the budget: %d dropped, %d over the share", drops, budget.overShare.Load())
	}
	q.push(msg(hundred)) // over the budget and its share: drops until the total is back to it
	if drops != 1 || budget.overShare.Load() != 1 {
		t.Fatalf("over the budget: %d dropped, %d over the share; want 1 and 1", drops, budget.overShare.Load())
	}
	small := newQueue(2, 1<<20, budget, nil)
	for range 3 {
		small.push(msg("x")) // over its own length bound: not the budget's doing
	}
	if n, _, dropped := small.stats(); n != 2 || dropped != 1 || budget.overShare.Load() != 1 {
		t.Fatalf("own bound: %d queued, %d dropped, %d over the share; want 2, 1, 1", n, dropped, budget.overShare.Load())
	}
}
