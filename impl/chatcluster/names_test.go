package chatcluster

import (
	"strings"
	"testing"
)

// Every name becomes one token of [0-9a-f]: never a subject separator,
// a wildcard or a space, and never the same token for two names.
func TestEncodedNamesAreSafeTokens(t *testing.T) {
	names := []string{".", "*", ">", "a.b", "a", "a.*", "a.>", "a b", "ü", "u\u0308", "日本", "$KV.x", "\x7f", strings.Repeat("z", 64)}
	seen := make(map[string]string)
	for _, name := range names {
		tok := encodeName(name)
		if strings.Trim(tok, "0123456789abcdef") != "" || tok == "" {
			t.Fatalf("%q -> token %q", name, tok)
		}
		if other, dup := seen[tok]; dup {
			t.Fatalf("%q and %q share the token %q", name, other, tok)
		}
		seen[tok] = name
		for _, kind := range []string{kindChannel, kindUser} {
			subj := msgSubject("chat", kind, name)
			k, got, ok := parseMsgSubject("chat", subj)
			if !ok || k != kind || got != name {
				t.Fatalf("%q: subject %q parsed as %q %q %v", name, subj, k, got, ok)
			}
		}
		k, ok := parseKey(withInc("inc1", memberKey(name, name+"!")))
		if !ok || k.kind != "c" || k.inc != "inc1" || k.channel != name || k.user != name+"!" {
			t.Fatalf("%q: member key parsed as %+v %v", name, k, ok)
		}
	}
	for _, bad := range []string{"chat.msg.c", "chat.msg.x.61", "chat.msg.c.zz", "chat.msg.c.", "other.msg.c.61", "chat.msg.c.61.62"} {
		if _, _, ok := parseMsgSubject("chat", bad); ok {
			t.Fatalf("subject %q accepted", bad)
		}
	}
	for _, bad := range []string{"n", "n.", "u.i", "c.i.61", "c.i.61.zz", "x.i.61"} {
		if _, ok := parseKey(bad); ok {
			t.Fatalf("key %q accepted", bad)
		}
	}
}
