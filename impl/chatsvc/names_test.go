package chatsvc

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// TestLookAlikeNamesRefused: names that display like another name, or not
// at all, are refused for users, channels and files with the same kind of
// error as the other name rules; the tutorial's names stay valid.
func TestLookAlikeNamesRefused(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	alice := login(t, svc, "alice")
	for _, bad := range []string{"alice\u200b", "\u202eecila", "alice\u3164", "\u115falice", "alice\ufe0f", "\u0301alice", "alice\u2028"} {
		c := connect(t, svc)
		_, err := c.Login(ctx, bad)
		wantNameError(t, err, "user name contains", "user name starts with")
		wantNameError(t, alice.ChannelJoin(ctx, bad), "channel name contains", "channel name starts with")
		wantNameError(t, alice.Message(ctx, chat.Message{User: str(bad), Content: str("x")}), "user name contains", "user name starts with")
		wantNameError(t, alice.FileUpload(ctx, []byte("x"), bad), "invalid file name: the name contains", "invalid file name: the name starts with")
	}
	if got := svc.cfg.Files.List(); len(got) != 0 {
		t.Fatalf("files = %q, want none", got)
	}
	if st := svc.Stats(); st.LoggedIn != 1 || st.Channels != 0 {
		t.Fatalf("%+v: a refused name changed the state", st)
	}
}

func wantNameError(t *testing.T, err error, prefixes ...string) {
	t.Helper()
	e, ok := err.(*rsrt.Error)
	if !ok {
		t.Fatalf("got %v, want an APPLICATION_ERROR", err)
	}
	for _, p := range prefixes {
		if strings.HasPrefix(e.Message, p) {
			return
		}
	}
	t.Fatalf("got %q, want one of %q", e.Message, prefixes)
}

// TestNamesNormalized: a decomposed name (e + U+0301) is the same user,
// channel and file as its composed form (U+00E9), and is shown composed.
func TestNamesNormalized(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	composed, decomposed := "\u00e9lise", "e\u0301lise"
	a, b := login(t, svc, composed), login(t, svc, decomposed)
	inA := a.listen(t)
	for _, c := range []*conn{a, b} {
		if err := c.ChannelJoin(ctx, "caf"+string([]rune{'e', 0x301})); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.channels(t); !slices.Equal(got, []string{"caf\u00e9"}) {
		t.Fatalf("channels = %q, want one composed name", got)
	}
	if got := a.users(t, "caf\u00e9"); !slices.Equal(got, []string{composed}) {
		t.Fatalf("channel users = %q, want %q once", got, composed)
	}
	if err := b.Message(ctx, chat.Message{User: str(composed), Content: str("hi")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, inA.next(t), composed, "hi", nil)
	if err := a.FileUpload(ctx, []byte("x"), "r\u00e9sum\u00e9.txt"); err != nil {
		t.Fatal(err)
	}
	resp, err := b.FileDownload(ctx, "re\u0301sume\u0301.txt")
	if err != nil || string(resp.Data) != "x" || resp.FileName != "r\u00e9sum\u00e9.txt" {
		t.Fatalf("download by the decomposed name: %+v, %v", resp, err)
	}
}
