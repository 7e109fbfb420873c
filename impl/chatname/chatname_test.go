package chatname

import (
	"strings"
	"testing"
)

func TestAccepted(t *testing.T) {
	for in, want := range map[string]string{
		// The tutorial's names, unchanged.
		"user1": "user1", "channel1": "channel1", "file_name_1.txt": "file_name_1.txt",
		"../x": "../x", "/etc/passwd": "/etc/passwd", "my channel": "my channel",
		// Other scripts, in NFC already.
		"ünïcødé 名前": "ünïcødé 名前", "Ελένη": "Ελένη", "한국어": "한국어", "नमस्ते": "नमस्ते",
		"ไม้": "ไม้", "❤": "❤", "😀": "😀",
		// Decomposed input is stored composed: one name, not two.
		"e\u0301lise": "élise", "\u1112\u1161\u11ab": "한",
		// Marks on a base, up to the limit.
		// (x has no precomposed form with these, so they stay marks).
		"x\u0301\u0302\u0303\u0304": "x\u0301\u0302\u0303\u0304",
	} {
		got, err := Check(in, 64)
		if err != nil || got != want {
			t.Errorf("Check(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRefused(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "is empty",
		"   ":                             "is empty",
		strings.Repeat("a", 65):           "is 65 bytes long, the limit is 64",
		strings.Repeat("a", 300):          "is 300 bytes long, the limit is 64",
		"bad\xffutf8":                     "not valid UTF-8",
		"nul\x00":                         "control character",
		"line\nbreak":                     "control character",
		"\x7f":                            "control character",
		"alice\u200b":                     "format character U+200B",
		"\u202eecila":                     "format character U+202E",
		"al\u200dice":                     "format character U+200D",
		"\ufeffalice":                     "format character U+FEFF",
		"alice\U000E0041":                 "format character U+E0041",
		"alice\u00ad":                     "format character U+00AD",
		"alice\u2028":                     "line or paragraph separator U+2028",
		"alice\u2029":                     "line or paragraph separator U+2029",
		"alice\u3164":                     "invisible character U+3164",
		"\u115falice":                     "invisible character U+115F",
		"alice\u1160":                     "invisible character U+1160",
		"alice\uffa0":                     "invisible character U+FFA0",
		"ali\u034fce":                     "invisible character U+034F",
		"alice\ufe0f":                     "invisible character U+FE0F",
		"alice\u2800":                     "invisible character U+2800",
		"alice\u00a0bob":                  "white space other than the space U+00A0",
		"alice\u3000bob":                  "white space other than the space U+3000",
		"alice\ue000":                     "private-use character U+E000",
		"alice\u0378":                     "unassigned code point U+0378",
		"alice\ufdd0":                     "unassigned code point U+FDD0",
		" alice":                          "starts or ends with white space",
		"alice ":                          "starts or ends with white space",
		"\u0301alice":                     "starts with a combining mark U+0301",
		"x\u0301\u0302\u0303\u0304\u0305": "more than 4 combining marks",
	} {
		got, err := Check(in, 64)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %q, %v; want an error saying %q", in, got, err, want)
		}
	}
}

// TestLengthIsNormalized: the limit applies to the name as stored.
func TestLengthIsNormalized(t *testing.T) {
	// 32 decomposed "é" are 96 bytes, 64 once composed.
	if got, err := Check(strings.Repeat("e\u0301", 32), 64); err != nil || len(got) != 64 {
		t.Fatalf("Check = %d bytes, %v; want the 64-byte composed name", len(got), err)
	}
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"user1", "e\u0301", "alice\u200b", "\u202eecila", "a\u0301\u0302", " a", "a ", "a b", "~\x7f", strings.Repeat("a", 64), strings.Repeat("b", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Check(s, 64)
		// The ASCII shortcut changes nothing: the full check agrees.
		if full, ferr := check(s, 64); full != n || (err == nil) != (ferr == nil) || err != nil && err.Error() != ferr.Error() {
			t.Fatalf("Check(%q) = %q, %v; the full check: %q, %v", s, n, err, full, ferr)
		}
		if err != nil {
			return
		}
		// What is accepted is stable: checking it again gives it back.
		if again, err := Check(n, 64); err != nil || again != n {
			t.Fatalf("Check(%q) = %q, but Check(%q) = %q, %v", s, n, n, again, err)
		}
		if len(n) > 64 {
			t.Fatalf("Check(%q) = %d bytes", s, len(n))
		}
	})
}
