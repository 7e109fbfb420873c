// Package nameset is a set of names that many streams read in sorted
// order at once, without a copy of the names per stream.
//
// The chat's channels, files and channel.users streams send a sorted list
// item by item, as fast as their client asks. When each stream sorted its
// own copy of the list, a client opening 1000 streams at request(1) over
// 51,200 channels pinned 1000 copies (+785 MiB). A [Set] instead keeps one
// sorted, immutable snapshot of its names, shared by every reader and
// rebuilt at most once per batch of changes, when it is next read; a
// reader holds no snapshot between items, only the last name it sent, and
// asks for the next one with [Set.After]. What the streams pin is then
// one name each, whatever their number and the set's size.
//
// A reader that walks a set with After sees every name present from its
// first call to its last exactly once, in order; a name added or removed
// meanwhile may or may not be seen, as in a walk of a live directory.
package nameset

import (
	"slices"
	"sync"
)

// Set is a set of non-empty names. The zero value is an empty set. It is
// safe for concurrent use.
type Set struct {
	mu sync.Mutex
	// snap is sorted and never modified once stored: readers search it
	// after releasing mu.
	snap []string
	// pending holds the changes since snap was built: true for a name
	// added (not in snap), false for a name removed (in snap). It holds
	// at most one entry per name in snap or in the set, so a stream of
	// changes nobody reads cannot grow it beyond that.
	pending map[string]bool
	n       int
}

// Add adds name to the set; adding a member again does nothing.
func (s *Set) Add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if added, ok := s.pending[name]; ok {
		if !added { // removed from snap, back again
			delete(s.pending, name)
			s.n++
		}
		return
	}
	i, found := slices.BinarySearch(s.snap, name)
	if found {
		return
	}
	s.n++
	if s.pending == nil && len(s.snap) < eager {
		next := make([]string, 0, len(s.snap)+1)
		s.snap = append(append(append(next, s.snap[:i]...), name), s.snap[i:]...)
		return
	}
	if s.pending == nil {
		s.pending = make(map[string]bool)
	}
	s.pending[name] = true
}

// eager is the size under which a change builds the next snapshot at once
// (a copy of a few names) rather than recording a pending change: most
// channels have a few members, and a map per channel would cost more.
const eager = 16

// Remove removes name from the set; removing a name that is not a member
// does nothing.
func (s *Set) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if added, ok := s.pending[name]; ok {
		if added {
			delete(s.pending, name)
			s.n--
		}
		return
	}
	i, found := slices.BinarySearch(s.snap, name)
	if !found {
		return
	}
	s.n--
	if s.pending == nil && len(s.snap) <= eager {
		next := make([]string, 0, len(s.snap)-1)
		s.snap = append(append(next, s.snap[:i]...), s.snap[i+1:]...)
		return
	}
	if s.pending == nil {
		s.pending = make(map[string]bool)
	}
	s.pending[name] = false
}

// Len returns the number of names in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// After returns the smallest name of the set greater than prev, and
// whether there is one. After("") returns the first name.
func (s *Set) After(prev string) (string, bool) {
	snap := s.snapshot()
	i, found := slices.BinarySearch(snap, prev)
	if found {
		i++
	}
	if i == len(snap) {
		return "", false
	}
	return snap[i], true
}

// List returns the names in order, in a slice of the caller's own.
func (s *Set) List() []string {
	return slices.Clone(s.snapshot())
}

// snapshot returns the current sorted snapshot, rebuilding it first if
// the set changed since it was built. The result must not be modified.
func (s *Set) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return s.snap
	}
	added := make([]string, 0, len(s.pending))
	for name, in := range s.pending {
		if in {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	// Merge the sorted additions into what remains of the old snapshot.
	// The old one is left as it was: readers may still be searching it.
	next := make([]string, 0, s.n)
	i := 0
	for _, name := range s.snap {
		for i < len(added) && added[i] < name {
			next = append(next, added[i])
			i++
		}
		if _, removed := s.pending[name]; !removed {
			next = append(next, name)
		}
	}
	next = append(next, added[i:]...)
	s.snap, s.pending = next, nil
	return next
}
