package chatcluster

import (
	"encoding/hex"
	"strings"
)

// Names never reach a NATS subject or a KV key as they are: a channel
// called "a.>" would otherwise subscribe to a wildcard, and "a.b" would
// collide with the tokens of another key. Each name becomes one token of
// lowercase hex of its bytes: only [0-9a-f], never empty (names are),
// and in the same order as the names, so keys sort like the names.

// encodeName returns the subject/key token of a user or channel name.
func encodeName(name string) string { return hex.EncodeToString([]byte(name)) }

// decodeName reverses encodeName; ok is false for a token that is not
// the encoding of a non-empty name.
func decodeName(token string) (string, bool) {
	b, err := hex.DecodeString(token)
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// Message subjects: <prefix>.msg.c.<channel> and <prefix>.msg.u.<user>.
const (
	kindChannel = "c"
	kindUser    = "u"
)

func msgSubject(prefix, kind, name string) string {
	return prefix + ".msg." + kind + "." + encodeName(name)
}

// msgWildcard is the one subscription of a node: every channel and
// private message of the cluster (see the package doc for why).
func msgWildcard(prefix string) string { return prefix + ".msg.*.*" }

// parseMsgSubject returns the kind and name of a message subject.
func parseMsgSubject(prefix, subject string) (kind, name string, ok bool) {
	rest, found := strings.CutPrefix(subject, prefix+".msg.")
	if !found {
		return "", "", false
	}
	kind, tok, found := strings.Cut(rest, ".")
	if !found || (kind != kindChannel && kind != kindUser) {
		return "", "", false
	}
	name, ok = decodeName(tok)
	return kind, name, ok
}

// Membership keys in the KV bucket, each under the incarnation of the
// node that owns it:
//
//	n.<inc>                   the node's heartbeat, with a TTL
//	u.<inc>.<user>            how many of its sessions are logged in as user
//	c.<inc>.<channel>.<user>  how many of them have joined channel
func heartbeatKey(inc string) string { return "n." + inc }
func userKey(user string) string     { return "u." + encodeName(user) }
func memberKey(channel, user string) string {
	return "c." + encodeName(channel) + "." + encodeName(user)
}

// withInc inserts the incarnation after the key's kind: userKey and
// memberKey give the node-relative part, which survives a change of
// incarnation.
func withInc(inc, rel string) string {
	kind, rest, _ := strings.Cut(rel, ".")
	return kind + "." + inc + "." + rest
}

// parsedKey is a membership key taken apart.
type parsedKey struct {
	kind          string // "n", "u" or "c"
	inc           string
	user, channel string
}

// parseKey takes a membership key apart; ok is false for a key this
// package does not write.
func parseKey(key string) (parsedKey, bool) {
	parts := strings.Split(key, ".")
	if len(parts) < 2 || parts[1] == "" {
		return parsedKey{}, false
	}
	k := parsedKey{kind: parts[0], inc: parts[1]}
	var ok bool
	switch {
	case k.kind == "n" && len(parts) == 2:
		return k, true
	case k.kind == "u" && len(parts) == 3:
		k.user, ok = decodeName(parts[2])
		return k, ok
	case k.kind == "c" && len(parts) == 4:
		if k.channel, ok = decodeName(parts[2]); !ok {
			return k, false
		}
		k.user, ok = decodeName(parts[3])
		return k, ok
	}
	return k, false
}
