package robustness

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// TestNoImpersonation: whatever a sender writes in the user field,
// recipients see its login name; a connection logs in once.
func TestNoImpersonation(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := ctxT(t)
	alice, bob := login(t, srv.TCPAddr(), "alice"), login(t, srv.TCPAddr(), "bob")
	inA, inB := chattest.Listen(t, alice), chattest.Listen(t, bob)
	chattest.Must(t, alice.ChannelJoin(ctx, "room"))
	chattest.Must(t, bob.ChannelJoin(ctx, "room"))

	// A channel message claiming to be from bob.
	chattest.Must(t, alice.Message(ctx, chat.Message{User: str("bob"), Channel: str("room"), Content: str("forged 1")}))
	chattest.CheckMsg(t, inA.Next(t, wait), "alice", "forged 1", str("room"))
	chattest.CheckMsg(t, inB.Next(t, wait), "alice", "forged 1", str("room"))

	// A private message is addressed by the user field, and arrives
	// carrying the sender's name, not the recipient's.
	chattest.Must(t, alice.Message(ctx, chat.Message{User: str("bob"), Content: str("private")}))
	chattest.CheckMsg(t, inB.Next(t, wait), "alice", "private", nil)

	// A second login on the same connection, as someone else, is refused
	// and changes nothing.
	_, err := alice.Login(ctx, "bob")
	chattest.WantError(t, err, "already logged in")
	chattest.Must(t, alice.Message(ctx, chat.Message{Channel: str("room"), Content: str("after")}))
	chattest.CheckMsg(t, inA.Next(t, wait), "alice", "after", str("room"))
	chattest.CheckMsg(t, inB.Next(t, wait), "alice", "after", str("room"))
	if got := chattest.Collect(t, bob.ChannelUsers(ctx, "room")); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("channel.users room = %q", got)
	}

	// The same from raw frames: a JSON user field with odd spellings and
	// an extra key (refused), a login request on the same stream id twice.
	mallory := rawDial(t, srv.TCPAddr())
	mallory.login("mallory")
	chattest.Must(t, mallory.requestResponse(3, chat.RouteChannelJoin, []byte("room")))
	if f := mallory.expect(3); f.typ != core.FrameTypePayload {
		t.Fatalf("join: %v", f)
	}
	for i, body := range []string{
		`{"user":"alice","channel":"room","content":"m1"}`,
		`{"USER":"alice","channel":"room","content":"m2"}`,
		`{"user":"alice","user":"bob","channel":"room","content":"m3"}`,
	} {
		sid := uint32(5 + 2*i)
		chattest.Must(t, mallory.requestResponse(sid, chat.RouteMessage, []byte(body)))
		if f := mallory.expect(sid); f.typ != core.FrameTypePayload {
			t.Fatalf("message %s: %v", body, f)
		}
		chattest.CheckMsg(t, inB.Next(t, wait), "mallory", "m"+string(rune('1'+i)), str("room"))
	}
	chattest.Must(t, mallory.requestResponse(11, chat.RouteMessage, []byte(`{"user":"alice","channel":"room","content":"m4","from":"alice"}`)))
	if f := mallory.expect(11); f.typ != core.FrameTypeError || !strings.Contains(f.errorText(), "from") {
		t.Fatalf("message with an unknown key: %v, want an error naming the key", f)
	}
}

// TestPrivateMessagesStayPrivate: a third user's stream gets nothing of a
// private message between two others, whichever of its names is used.
func TestPrivateMessagesStayPrivate(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := ctxT(t)
	alice, bob, carol := login(t, srv.TCPAddr(), "alice"), login(t, srv.TCPAddr(), "bob"), login(t, srv.TCPAddr(), "carol")
	// carol has two connections; both must stay out of it.
	carol2 := login(t, srv.TCPAddr(), "carol")
	inB, inC, inC2 := chattest.Listen(t, bob), chattest.Listen(t, carol), chattest.Listen(t, carol2)
	// A channel all three joined must not leak private messages either.
	for _, c := range []*chat.Client{alice, bob, carol, carol2} {
		chattest.Must(t, c.ChannelJoin(ctx, "all"))
	}

	for i, to := range []string{"bob", "bob ", "Bob", "BOB"} {
		err := alice.Message(ctx, chat.Message{User: str(to), Content: str("secret")})
		if i == 0 {
			chattest.Must(t, err)
			chattest.CheckMsg(t, inB.Next(t, wait), "alice", "secret", nil)
			continue
		}
		// Other spellings are other (absent) users, never a match; a
		// trailing space is not a name at all (it would look like bob's).
		if to == "bob " {
			chattest.WantError(t, err, "user name starts or ends with white space")
			continue
		}
		chattest.WantError(t, err, "is not logged in")
	}
	chattest.Must(t, bob.Message(ctx, chat.Message{User: str("alice"), Content: str("secret reply")}))

	// The marker is sent after the private messages were accepted: had
	// any of them reached carol's queues, it would be ahead of it.
	chattest.Must(t, bob.Message(ctx, chat.Message{User: str("carol"), Content: str("marker")}))
	chattest.CheckMsg(t, inC.Next(t, wait), "bob", "marker", nil)
	chattest.CheckMsg(t, inC2.Next(t, wait), "bob", "marker", nil)
	chattest.Must(t, alice.Message(ctx, chat.Message{Channel: str("all"), Content: str("public")}))
	chattest.CheckMsg(t, inC.Next(t, wait), "alice", "public", str("all"))
	chattest.CheckMsg(t, inC2.Next(t, wait), "alice", "public", str("all"))
	chattest.CheckMsg(t, inB.Next(t, wait), "alice", "public", str("all"))
}

// TestFileStoreConfinement: names that look like paths are refused or
// stored as plain keys inside the store; downloads never return a file
// outside it.
func TestFileStoreConfinement(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	// A file next to the store, and one inside it with a guessable name.
	secret := []byte("outside the store")
	chattest.Must(t, os.WriteFile(filepath.Join(root, "secret.txt"), secret, 0o600))
	srv := startServer(t, dataDir, nil)
	ctx := ctxT(t)
	c := login(t, srv.TCPAddr(), "uploader")

	// Refused names.
	for _, name := range []string{"", "a\x00b", "\x00", "x\n", "\xff\xfe", strings.Repeat("n", 256)} {
		err := c.FileUpload(ctx, []byte("x"), name)
		chattest.WantError(t, err, "invalid")
		if _, err := c.FileDownload(ctx, name); err == nil {
			t.Fatalf("download of refused name %q succeeded", name)
		}
	}

	// Path-like names are plain keys.
	keys := []string{"../x", "../../secret.txt", "/etc/passwd", "..", ".", "a/../../b", "..\\..\\win", "data/../secret.txt", "~/.ssh/id_rsa"}
	want := map[string][]byte{}
	for i, name := range keys {
		data := bytes.Repeat([]byte{byte('a' + i)}, 100+i)
		chattest.Must(t, c.FileUpload(ctx, data, name))
		want[name] = data
	}
	files := chattest.Collect(t, c.Files(ctx))
	slices.Sort(keys)
	if !slices.Equal(files, keys) {
		t.Fatalf("files = %q, want exactly %q", files, keys)
	}
	for name, data := range want {
		r, err := c.FileDownload(ctx, name)
		chattest.Must(t, err)
		if !bytes.Equal(r.Data, data) || r.FileName != name {
			t.Fatalf("download %q: %d bytes named %q, want its own %d bytes", name, len(r.Data), r.FileName, len(data))
		}
	}

	// Nothing was written outside the store, and the store holds only
	// its own files.
	entries, err := os.ReadDir(root)
	chattest.Must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"data", "secret.txt"}) {
		t.Fatalf("the store's parent holds %q", names)
	}
	got, err := os.ReadFile(filepath.Join(root, "secret.txt"))
	chattest.Must(t, err)
	if !bytes.Equal(got, secret) {
		t.Fatal("the file next to the store was overwritten")
	}
	stored, err := os.ReadDir(dataDir)
	chattest.Must(t, err)
	if len(stored) != len(keys) {
		t.Fatalf("the store directory holds %d entries, want %d", len(stored), len(keys))
	}
	for _, e := range stored {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".chatfile") {
			t.Fatalf("unexpected store entry %q (%v)", e.Name(), e.Type())
		}
	}

	// Downloads of real files, by relative or absolute path, or by the
	// on-disk name of a stored file, are not found.
	wd, err := os.Getwd()
	chattest.Must(t, err)
	outside := []string{"../../go.mod", "../../../go.mod", filepath.Join(wd, "doc.go"), "/etc/hostname", "/etc/passwd/",
		"../secret.txt", filepath.Join(root, "secret.txt"), "./../secret.txt", stored[0].Name(), "../data/" + stored[0].Name()}
	for _, name := range outside {
		r, err := c.FileDownload(ctx, name)
		if err == nil {
			t.Fatalf("download %q returned %d bytes, want file not found", name, len(r.Data))
		}
		chattest.WantError(t, err, "file not found")
	}

	// The same over raw frames: a download request with two file-name
	// entries uses the first; with none it is refused.
	raw := rawDial(t, srv.TCPAddr())
	raw.login("raw")
	chattest.Must(t, raw.send(framing.NewWriteableRequestResponseFrame(3, nil, meta(chat.RouteFileDownload, fileName("../x"), fileName("../../go.mod")), 0)))
	f := raw.expect(3)
	if f.typ != core.FrameTypePayload || !bytes.Equal(f.data(), want["../x"]) {
		t.Fatalf("download with two names: %v, want the first name's content", f)
	}
	chattest.Must(t, raw.send(framing.NewWriteableRequestResponseFrame(5, nil, meta(chat.RouteFileDownload), 0)))
	if f := raw.expect(5); f.typ != core.FrameTypeError || !strings.Contains(f.errorText(), chat.MIMEFileName) {
		t.Fatalf("download without a name: %v, want an error naming %s", f, chat.MIMEFileName)
	}
}
