package chatsvc

import (
	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/impl/chatname"
)

// MaxNameBytes is the longest user or channel name accepted, in bytes,
// once normalized.
const MaxNameBytes = 64

// checkName validates a user or channel name and returns it normalized to
// NFC (the rules are package chatname's); kind ("user name", "channel
// name") starts the error text. Names are then compared byte for byte, with
// no case folding, as in the tutorial.
func checkName(kind, name string) (string, error) {
	n, err := chatname.Check(name, MaxNameBytes)
	if err != nil {
		return "", rsrt.NewError("%s %v", kind, err)
	}
	return n, nil
}
