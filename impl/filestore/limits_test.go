package filestore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEmptyFilesAreCharged (issue 17, row 8): empty files with long names
// were charged nothing, so the quota let an uploader fill the disk and the
// inode table. Each file is now charged the per-file overhead and its
// name, and the number of files is limited.
func TestEmptyFilesAreCharged(t *testing.T) {
	long := func(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("n", MaxNameBytes-3) }
	charge := Limits{}.Charge(long(0), 0)
	if charge != DefaultFileOverheadBytes+MaxNameBytes {
		t.Fatalf("an empty file with a %d-byte name is charged %d", MaxNameBytes, charge)
	}

	t.Run("quota", func(t *testing.T) {
		s := open(t, t.TempDir(), Limits{MaxTotalBytes: 10 * charge})
		for i := range 10 {
			if err := s.Put(long(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Put(long(10), nil)
		if !errors.Is(err, ErrStoreFull) || !strings.Contains(err.Error(), "with the per-file overhead") {
			t.Fatalf("11th empty file: %v, want ErrStoreFull", err)
		}
		if s.TotalBytes() != 0 || s.ChargedBytes() != 10*charge {
			t.Fatalf("content %d bytes, charged %d; want 0 and %d", s.TotalBytes(), s.ChargedBytes(), 10*charge)
		}
		// Replacing a file is charged the difference: still room.
		if err := s.Put(long(3), nil); err != nil {
			t.Fatalf("replacing a file in a full store: %v", err)
		}
	})

	t.Run("count", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir, Limits{MaxFiles: 20})
		for i := range 20 {
			if err := s.Put(long(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Put(long(20), []byte("x"))
		if !errors.Is(err, ErrTooManyFiles) || err.Error() != "too many files: the store holds 20 files, the limit is 20" {
			t.Fatalf("21st file: %v, want ErrTooManyFiles", err)
		}
		if err := s.Put(long(7), []byte("replaced")); err != nil {
			t.Fatalf("replacing a file at the count limit: %v", err)
		}
		// The charges and the count survive a restart.
		r := open(t, dir, Limits{MaxFiles: 20})
		if r.Count() != 20 || r.ChargedBytes() != s.ChargedBytes() || r.TotalBytes() != 8 {
			t.Fatalf("after reopening: %d files charged %d, content %d; want 20, %d, 8", r.Count(), r.ChargedBytes(), r.TotalBytes(), s.ChargedBytes())
		}
		if err := r.Put(long(21), nil); !errors.Is(err, ErrTooManyFiles) {
			t.Fatalf("after reopening, a 21st file: %v", err)
		}
	})
}

// TestPutsWriteInParallel (issue 17, row 6): uploads waited for each
// other behind one lock, each holding its payload meanwhile. An upload
// stopped between its write and its rename must not hold up another.
func TestPutsWriteInParallel(t *testing.T) {
	s := open(t, t.TempDir(), Limits{})
	hold, held := make(chan struct{}), make(chan struct{})
	s.afterWrite = func(name string) {
		if name == "slow" {
			close(held)
			<-hold
		}
	}
	slow := make(chan error, 1)
	go func() { slow <- s.Put("slow", []byte("slow")) }()
	<-held
	done := make(chan error, 1)
	go func() { done <- s.Put("fast", []byte("fast")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an upload waits for another's rename")
	}
	// The slow one is not visible yet, and then is, whole.
	if _, err := s.Get("slow"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an upload not renamed yet is visible: %v", err)
	}
	close(hold)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if b, err := s.Get("slow"); err != nil || string(b) != "slow" {
		t.Fatalf("Get(slow) = %q, %v", b, err)
	}
}

// TestParallelPutsAccounting: uploads of a few names, of random sizes, in
// parallel, some refused by the limits: the index always matches what is
// on disk, the limits always hold, and no temporary file is left.
func TestParallelPutsAccounting(t *testing.T) {
	dir := t.TempDir()
	l := Limits{MaxFileBytes: 4 << 10, MaxTotalBytes: 6 * Limits{}.Charge("n0", 4<<10), MaxFiles: 5}
	s := open(t, dir, l)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := map[string]int{}
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 25 {
				name := fmt.Sprintf("n%d", rng.IntN(8))
				err := s.Put(name, make([]byte, rng.IntN(4<<10)))
				switch {
				case err == nil:
				case errors.Is(err, ErrStoreFull), errors.Is(err, ErrTooManyFiles):
					mu.Lock()
					refused[errors.Unwrap(err).Error()]++
					mu.Unlock()
				default:
					t.Error(err)
				}
				if c := s.ChargedBytes(); c > l.MaxTotalBytes {
					t.Errorf("charged %d, over the limit %d", c, l.MaxTotalBytes)
				}
				if n := s.Count(); n > l.MaxFiles {
					t.Errorf("%d files, over the limit %d", n, l.MaxFiles)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("refused: %v", refused)
	r := open(t, dir, l)
	if !slices.Equal(r.List(), s.List()) || r.TotalBytes() != s.TotalBytes() || r.ChargedBytes() != s.ChargedBytes() {
		t.Fatalf("index %q (%d bytes, charged %d), disk %q (%d bytes, charged %d)",
			s.List(), s.TotalBytes(), s.ChargedBytes(), r.List(), r.TotalBytes(), r.ChargedBytes())
	}
	for _, n := range s.List() {
		size, _ := s.Size(n)
		if b, err := s.Get(n); err != nil || int64(len(b)) != size {
			t.Fatalf("Get(%q) = %d bytes, %v; the index says %d", n, len(b), err, size)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Fatalf("temporary file %q left behind", e.Name())
		}
	}
	if s.newNames != 0 || s.reserved != 0 {
		t.Fatalf("reservations left: %d names, %d bytes", s.newNames, s.reserved)
	}
}
