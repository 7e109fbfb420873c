package chatsvc

import (
	"strings"
	"unicode"
	"unicode/utf8"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
)

// MaxNameBytes is the longest user or channel name accepted, in bytes.
const MaxNameBytes = 64

// checkName validates a user or channel name; kind ("user name", "channel
// name") starts the error text. Names are compared byte for byte: no case
// folding or normalisation, as in the tutorial.
func checkName(kind, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return rsrt.NewError("%s is empty", kind)
	case len(name) > MaxNameBytes:
		return rsrt.NewError("%s is %d bytes long, the limit is %d", kind, len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return rsrt.NewError("%s is not valid UTF-8", kind)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return rsrt.NewError("%s contains a control character", kind)
	}
	return nil
}
