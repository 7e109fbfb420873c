package robustness

import (
	"slices"
	"testing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// TestLookAlikeNames (issue 17, row 13): user, channel and file names with
// zero-width, bidirectional-control, invisible (Hangul filler, variation
// selector) or stray combining characters were accepted, so channel.users
// showed "alice" twice. Over a real connection each is answered with an
// APPLICATION_ERROR in the words of the other name rules, a decomposed
// spelling is the same name as the composed one, and a fresh client is
// served; over TCP and over WebSocket.
func TestLookAlikeNames(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		lookAlikeNames(t, startServer(t, t.TempDir(), nil).TCPAddr())
	})
	t.Run("websocket", func(t *testing.T) {
		srv := startServer(t, t.TempDir(), func(c *chatserver.Config) { c.TCPAddr, c.WSAddr = "", "127.0.0.1:0" })
		lookAlikeNames(t, srv.WSURL())
	})
}

func lookAlikeNames(t *testing.T, addr string) {
	ctx := ctxT(t)
	alice := login(t, addr, "alice")
	chattest.Must(t, alice.ChannelJoin(ctx, "room"))
	bad := []string{
		"alice\u200b", "\u202eecila", "al\u200dice", "alice\u3164", "\u115falice", "alice\uffa0",
		"alice\ufe0f", "ali\u034fce", "\u0301alice", "x\u0301\u0302\u0303\u0304\u0305", "alice\u2028", "alice\u00a0",
	}
	for _, name := range bad {
		c := dial(t, addr)
		_, err := c.Login(ctx, name)
		chattest.WantError(t, err, "user name ")
		// The connection was answered, not closed: it logs in correctly.
		_, err = c.Login(ctx, "alice")
		chattest.Must(t, err)
		chattest.Must(t, c.ChannelJoin(ctx, "room"))
		chattest.WantError(t, c.ChannelJoin(ctx, name), "channel name ")
		chattest.WantError(t, c.Message(ctx, chat.Message{User: str(name), Content: str("x")}), "user name ")
		chattest.WantError(t, c.FileUpload(ctx, []byte("x"), name), "invalid file name: the name ")
		_ = c.Close()
	}
	// Both spellings of "élise" are one user, and of "café" one channel.
	e1 := login(t, addr, "\u00e9lise")
	e2 := login(t, addr, "e\u0301lise")
	chattest.Must(t, e1.ChannelJoin(ctx, "caf\u00e9"))
	chattest.Must(t, e2.ChannelJoin(ctx, "cafe\u0301"))
	chattest.Must(t, e2.ChannelJoin(ctx, "room"))
	if got := chattest.Collect(t, alice.ChannelUsers(ctx, "room")); !slices.Equal(got, []string{"alice", "\u00e9lise"}) {
		t.Fatalf("channel.users room = %q", got)
	}
	if got := chattest.Collect(t, alice.ChannelUsers(ctx, "cafe\u0301")); !slices.Equal(got, []string{"\u00e9lise"}) {
		t.Fatalf("channel.users café = %q", got)
	}
	if got := chattest.Collect(t, alice.Channels(ctx)); !slices.Equal(got, []string{"caf\u00e9", "room"}) {
		t.Fatalf("channels = %q", got)
	}
	if got := chattest.Collect(t, alice.Files(ctx)); len(got) != 0 {
		t.Fatalf("files = %q, want none", got)
	}
	checkServed(t, addr)
}
