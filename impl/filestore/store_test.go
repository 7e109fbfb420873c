package filestore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func open(t *testing.T, dir string, l Limits) *Store {
	t.Helper()
	s, err := Open(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutGetListAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Limits{})
	files := map[string][]byte{
		"file_name_1.txt": []byte("hello, world!\n"),
		"b.bin":           {0, 1, 2, 255},
		"empty":           {},
		"../x":            []byte("dots"),
		"/etc/passwd":     []byte("not the real one"),
		"ünïcødé 名前":      []byte("utf8"),
	}
	for n, b := range files {
		if err := s.Put(n, b); err != nil {
			t.Fatalf("Put(%q): %v", n, err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		want := make([]string, 0, len(files))
		for n := range files {
			want = append(want, n)
		}
		slices.Sort(want)
		if got := s.List(); !slices.Equal(got, want) {
			t.Fatalf("List() = %q, want %q", got, want)
		}
		var total int64
		for n, b := range files {
			got, err := s.Get(n)
			if err != nil {
				t.Fatalf("Get(%q): %v", n, err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("Get(%q) = %q, want %q", n, got, b)
			}
			total += int64(len(b))
		}
		if s.TotalBytes() != total {
			t.Fatalf("TotalBytes() = %d, want %d", s.TotalBytes(), total)
		}
	}
	check(s)
	check(open(t, dir, Limits{})) // survives a restart

	// Names are keys: nothing was written outside dir, and every entry in
	// dir is a hashed name.
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file written outside the data dir: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), fileSuffix) || len(e.Name()) != 64+len(fileSuffix) {
			t.Fatalf("unexpected entry %q in the data dir", e.Name())
		}
	}
}

func TestReplaceUpdatesTotal(t *testing.T) {
	s := open(t, t.TempDir(), Limits{})
	if err := s.Put("a", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("a", make([]byte, 30)); err != nil {
		t.Fatal(err)
	}
	if s.TotalBytes() != 30 {
		t.Fatalf("TotalBytes() = %d, want 30", s.TotalBytes())
	}
	if got, _ := s.Get("a"); len(got) != 30 {
		t.Fatalf("Get after replace: %d bytes, want 30", len(got))
	}
}

func TestBadNames(t *testing.T) {
	s := open(t, t.TempDir(), Limits{})
	for _, n := range []string{"", strings.Repeat("a", MaxNameBytes+1), "nul\x00name", "line\nbreak", "\x7f", "bad\xffutf8"} {
		if err := s.Put(n, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q) = %v, want ErrBadName", n, err)
		}
		if _, err := s.Get(n); !errors.Is(err, ErrBadName) {
			t.Errorf("Get(%q) = %v, want ErrBadName", n, err)
		}
	}
	if err := s.Put(strings.Repeat("a", MaxNameBytes), []byte("x")); err != nil {
		t.Errorf("Put with a name of exactly %d bytes: %v", MaxNameBytes, err)
	}
}

func TestLimits(t *testing.T) {
	// Room for 25 bytes of content in three files, each charged the
	// per-file overhead too (the names are all one byte long).
	ovh := Limits{}.Charge("a", 0)
	s := open(t, t.TempDir(), Limits{MaxFileBytes: 10, MaxTotalBytes: 25 + 3*ovh})
	if err := s.Put("big", make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized file: %v, want ErrTooLarge", err)
	}
	for _, n := range []string{"a", "b"} {
		if err := s.Put(n, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("c", make([]byte, 10)); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("store over total: %v, want ErrStoreFull", err)
	}
	// Replacing a file counts only the difference.
	if err := s.Put("a", make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("c", make([]byte, 10)); err != nil {
		t.Fatalf("after shrinking a: %v", err)
	}
	if _, err := s.Get("big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused file is stored: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	s := open(t, t.TempDir(), Limits{})
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
}

func TestOpenCleansAndIgnoresForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Limits{})
	if err := s.Put("kept", []byte("k")); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, tmpPrefix+"123")
	if err := os.WriteFile(tmp, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file with our suffix but no valid header is ignored.
	if err := os.WriteFile(filepath.Join(dir, strings.Repeat("0", 64)+fileSuffix), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Limits{})
	if got := s.List(); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("List() = %q, want [kept]", got)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file not removed: %v", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	s := open(t, t.TempDir(), Limits{MaxFileBytes: 100, MaxTotalBytes: 10 * Limits{}.Charge("a", 100)})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { _ = s.Put(string(rune('a'+i)), make([]byte, 100)) })
	}
	wg.Wait()
	// Exactly ten fit; the accounting never lets more in.
	if n := len(s.List()); n != 10 || s.TotalBytes() != 1000 {
		t.Fatalf("%d files, %d bytes; want 10 files, 1000 bytes", n, s.TotalBytes())
	}
}
