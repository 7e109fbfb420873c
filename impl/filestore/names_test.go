package filestore

import (
	"errors"
	"slices"
	"testing"
)

// TestNamesNormalized: a file name is normalized to NFC, so the composed
// and decomposed spellings of a name are one file; names with invisible,
// bidirectional or format characters are refused.
func TestNamesNormalized(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Limits{})
	if err := s.Put("re\u0301sume\u0301.txt", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("r\u00e9sum\u00e9.txt", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{s, open(t, dir, Limits{})} {
		if got := s.List(); !slices.Equal(got, []string{"r\u00e9sum\u00e9.txt"}) {
			t.Fatalf("List() = %q, want the one composed name", got)
		}
		if b, err := s.Get("re\u0301sume\u0301.txt"); err != nil || string(b) != "v2" {
			t.Fatalf("Get(decomposed) = %q, %v", b, err)
		}
		if n, ok := s.Size("re\u0301sume\u0301.txt"); !ok || n != 2 {
			t.Fatalf("Size(decomposed) = %d, %v", n, ok)
		}
	}
	for _, n := range []string{"report\u200b.pdf", "\u202efdp.exe", "a\u3164", "a\ufe0f", " lead", "trail "} {
		if err := s.Put(n, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q) = %v, want ErrBadName", n, err)
		}
		if _, err := s.Get(n); !errors.Is(err, ErrBadName) {
			t.Errorf("Get(%q) = %v, want ErrBadName", n, err)
		}
	}
}
