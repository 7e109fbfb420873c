package guard

import (
	"testing"
	"time"
)

// TestLazyDeadline checks the bounds of a lazily moved deadline: whatever
// is set is never earlier than wanted nor later than an eighth of the
// span after it, and a deadline moving forward steadily is set once per
// eighth of its span, not at every call.
func TestLazyDeadline(t *testing.T) {
	const span = 8 * time.Second
	var d lazyDeadline
	t0 := time.Unix(1000, 0)
	sets := 0
	for ms := 0; ms <= 10_000; ms++ { // a want every millisecond for 10 s
		want := t0.Add(time.Duration(ms)*time.Millisecond + span)
		if at, ok := d.next(want, span); ok {
			sets++
			if at != want.Add(span/8) {
				t.Fatalf("at %d ms: set %v, want %v", ms, at, want.Add(span/8))
			}
		}
		if d.at.Before(want) || d.at.After(want.Add(span/8)) {
			t.Fatalf("at %d ms: deadline %v outside [%v, %v]", ms, d.at, want, want.Add(span/8))
		}
	}
	if sets < 10 || sets > 12 { // every second (span/8) over 10 s
		t.Fatalf("set %d times over 10 s, want about 10", sets)
	}
	// A wanted deadline far earlier than the one set is set at once.
	early := t0.Add(time.Second)
	if at, ok := d.next(early, span); !ok || at != early.Add(span/8) {
		t.Fatalf("earlier deadline: %v, %v", at, ok)
	}
	// A fixed deadline (span 0, the setup deadline) is set once.
	var s lazyDeadline
	if _, ok := s.next(early, 0); !ok {
		t.Fatal("first setup deadline not set")
	}
	if _, ok := s.next(early, 0); ok {
		t.Fatal("unchanged setup deadline set again")
	}
}
