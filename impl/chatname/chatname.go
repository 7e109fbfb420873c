// Package chatname holds the rules every name of the chat follows: user,
// channel and file names.
//
// A name is compared byte for byte, with no case folding, as in the
// tutorial, but only after it is normalized to Unicode NFC
// (golang.org/x/text/unicode/norm), so that "é" typed as one code point and
// as "e" plus a combining accent is one name, not two that look alike.
// Names that would display like another name, or not at all, are refused
// rather than repaired: the server does not guess what the client meant.
// [Check] refuses a name that
//
//   - is empty or only white space;
//   - is longer than the caller's limit once normalized;
//   - is not valid UTF-8;
//   - contains a control character (Cc, NUL included), a format character
//     (Cf: zero-width space and joiners, bidirectional controls such as
//     U+202E, the byte order mark, tag characters), a line or paragraph
//     separator (Zl, Zp), a private-use character (Co), or a code point
//     unassigned in the Unicode version of the Go tables (15.0);
//   - contains a character that Unicode says is default-ignorable (shown as
//     nothing), even when its category is a letter or a mark: the Hangul
//     fillers U+115F, U+1160, U+3164 and U+FFA0, the combining grapheme
//     joiner U+034F, the variation selectors (so "❤️" must be sent as "❤"),
//     the Khmer inherent vowels U+17B4 and U+17B5; and the blank braille
//     pattern U+2800, which renders as a blank letter;
//   - contains white space other than the ASCII space (no-break, ideographic
//     or em spaces look like it), or starts or ends with white space;
//   - starts with a combining mark, which would draw on whatever the client
//     displays before the name, or stacks more than [MaxMarks] combining
//     marks on one letter.
//
// Emoji sequences joined by U+200D and the Persian zero-width non-joiner
// are refused with the other format characters: a name is an identifier,
// and these are exactly what makes two identifiers look alike.
package chatname

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxMarks is the most combining marks (Unicode category M) accepted in a
// row. Scripts that stack marks (Thai tone over vowel, Hebrew points,
// Devanagari) use up to three in real words; more is decoration that
// overflows the line it is displayed on.
const MaxMarks = 4

// Check returns name normalized to NFC, or an error saying why it is
// refused. The error text completes a sentence that starts with what the
// name is ("user name", "the name"): "is empty", "contains a format
// character U+200B", ... maxBytes bounds the normalized name's length in
// bytes.
func Check(name string, maxBytes int) (string, error) {
	if plainASCII(name, maxBytes) {
		return name, nil
	}
	return check(name, maxBytes)
}

// plainASCII reports whether name is printable ASCII, at most maxBytes
// long, that neither starts nor ends with a space: what most names are,
// and what check accepts unchanged (ASCII is NFC, and has no format,
// invisible or combining character). It spares the message path
// normalizing a channel name on every message.
func plainASCII(name string, maxBytes int) bool {
	if name == "" || len(name) > maxBytes || name[0] == ' ' || name[len(name)-1] == ' ' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// check is Check without the ASCII shortcut.
func check(name string, maxBytes int) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("is empty")
	}
	// NFC can make a name longer than it was, never by more than a small
	// factor (Unicode's stream-safe bound); an input this long is refused
	// before normalizing it.
	if len(name) > 4*maxBytes {
		return "", fmt.Errorf("is %d bytes long, the limit is %d", len(name), maxBytes)
	}
	if !utf8.ValidString(name) {
		return "", errors.New("is not valid UTF-8")
	}
	// Controls are refused before normalizing, so that the error names
	// them as such whatever NFC does around them.
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", errors.New("contains a control character")
	}
	n := norm.NFC.String(name)
	if len(n) > maxBytes {
		return "", fmt.Errorf("is %d bytes long, the limit is %d", len(n), maxBytes)
	}
	marks := 0
	for i, r := range n {
		if why := refused(r); why != "" {
			return "", fmt.Errorf("contains %s %U", why, r)
		}
		if unicode.IsSpace(r) && (i == 0 || i+utf8.RuneLen(r) == len(n)) {
			return "", errors.New("starts or ends with white space")
		}
		if !unicode.Is(unicode.M, r) {
			marks = 0
			continue
		}
		if i == 0 {
			return "", fmt.Errorf("starts with a combining mark %U", r)
		}
		if marks++; marks > MaxMarks {
			return "", fmt.Errorf("has more than %d combining marks in a row", MaxMarks)
		}
	}
	return n, nil
}

// refused returns what kind of refused character r is, or "".
func refused(r rune) string {
	switch {
	case r == ' ':
		return ""
	case unicode.Is(unicode.Cf, r):
		return "a format character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "a line or paragraph separator"
	case unicode.IsSpace(r), unicode.Is(unicode.Zs, r):
		return "a white space other than the space"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector), r == '\u2800':
		return "an invisible character"
	case !assigned(r):
		return "an unassigned code point"
	}
	return ""
}

// assigned reports whether r has a general category other than Cn
// (unassigned) in the Go tables. The Go table C ("other") includes Cn, so
// its assigned subcategories are listed instead.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}
