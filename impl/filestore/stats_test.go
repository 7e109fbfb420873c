package filestore

import (
	"errors"
	"testing"
)

// Stored counts every file Put stored, a replacement included, and none
// it refused; it starts again at zero when the store is reopened, while
// Count and TotalBytes describe what is on disk.
func TestStoredCountsPuts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Limits{MaxFileBytes: 100})
	for _, p := range []struct {
		name string
		size int
	}{{"a", 10}, {"b", 20}, {"a", 5}} {
		if err := s.Put(p.name, make([]byte, p.size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("c", make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a file over the limit: %v", err)
	}
	if files, bytes := s.Stored(); files != 3 || bytes != 35 {
		t.Errorf("Stored() = %d, %d; want 3, 35", files, bytes)
	}
	if s.Count() != 2 || s.TotalBytes() != 25 {
		t.Errorf("Count, TotalBytes = %d, %d; want 2, 25", s.Count(), s.TotalBytes())
	}
	s = open(t, dir, Limits{})
	if files, bytes := s.Stored(); files != 0 || bytes != 0 {
		t.Errorf("Stored() after reopening = %d, %d; want 0, 0", files, bytes)
	}
}
