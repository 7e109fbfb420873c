package nameset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func walk(s *Set) []string {
	var out []string
	for name, ok := s.After(""); ok; name, ok = s.After(name) {
		out = append(out, name)
	}
	return out
}

// TestMatchesAMap: random adds and removes, read at random moments, give
// what a plain map sorted gives.
func TestMatchesAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s Set
	want := map[string]bool{}
	for i := range 20_000 {
		name := fmt.Sprintf("n%03d", rng.IntN(300))
		if rng.IntN(3) == 0 {
			s.Remove(name)
			delete(want, name)
		} else {
			s.Add(name)
			want[name] = true
		}
		if i%97 == 0 || rng.IntN(50) == 0 {
			keys := make([]string, 0, len(want))
			for k := range want {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if got := walk(&s); !slices.Equal(got, keys) {
				t.Fatalf("step %d: walk = %q, want %q", i, got, keys)
			}
			if !slices.Equal(s.List(), keys) || s.Len() != len(keys) {
				t.Fatalf("step %d: List = %q, Len = %d, want %q", i, s.List(), s.Len(), keys)
			}
		}
		if s.Len() != len(want) {
			t.Fatalf("step %d: Len = %d, want %d", i, s.Len(), len(want))
		}
	}
}

// TestWalkWhileChanging: a walk sees every name present throughout it
// exactly once, in order, while others are added and removed.
func TestWalkWhileChanging(t *testing.T) {
	var s Set
	for i := range 1000 {
		s.Add(fmt.Sprintf("stable%04d", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := fmt.Sprintf("churn%04d", i%500)
			s.Add(n)
			s.Remove(fmt.Sprintf("churn%04d", (i+250)%500))
		}
	})
	for range 20 {
		var stable []string
		prev := ""
		for name, ok := s.After(""); ok; name, ok = s.After(name) {
			if name <= prev {
				t.Fatalf("%q after %q", name, prev)
			}
			prev = name
			if name[0] == 's' {
				stable = append(stable, name)
			}
		}
		if len(stable) != 1000 {
			t.Fatalf("a walk saw %d of the 1000 stable names", len(stable))
		}
	}
	close(stop)
	wg.Wait()
}

// TestPendingBounded: changes nobody reads keep at most one entry per
// name of the set or of its snapshot.
func TestPendingBounded(t *testing.T) {
	var s Set
	for i := range 100 { // more than eager: changes are recorded
		s.Add(fmt.Sprintf("a%d", i))
	}
	s.List()
	for i := range 10_000 {
		n := fmt.Sprint(i)
		s.Add(n)
		s.Remove(n)
	}
	s.Remove("a7")
	s.Add("a7")
	if len(s.pending) != 0 || s.Len() != 100 {
		t.Fatalf("%d pending changes, %d names", len(s.pending), s.Len())
	}
	s.Remove("a7")
	if len(s.pending) != 1 || s.Len() != 99 || len(s.List()) != 99 || len(s.pending) != 0 {
		t.Fatalf("%d pending changes, %d names", len(s.pending), s.Len())
	}
}

// TestSnapshotShared: readers share one snapshot until the set changes.
func TestSnapshotShared(t *testing.T) {
	var s Set
	for i := range 100 {
		s.Add(fmt.Sprint(i))
	}
	a, b := s.snapshot(), s.snapshot()
	if &a[0] != &b[0] {
		t.Fatal("two reads of an unchanged set built two snapshots")
	}
	s.Add("new")
	c := s.snapshot()
	if &a[0] == &c[0] || len(a) != 100 || len(c) != 101 {
		t.Fatal("a change did not give a new snapshot, or changed the old one")
	}
}

func BenchmarkAfter(b *testing.B) {
	var s Set
	for i := range 51_200 {
		s.Add(fmt.Sprintf("channel-%06d", i))
	}
	b.ResetTimer()
	name := ""
	for range b.N {
		var ok bool
		if name, ok = s.After(name); !ok {
			name = ""
		}
	}
}
