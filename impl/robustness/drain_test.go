package robustness

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// streamEnd reads a generated client's stream on its own goroutine and
// records how it ended.
type streamEnd struct {
	first chan struct{} // closed at the first item
	done  chan struct{}
	err   error // set before done closes; nil for COMPLETE
}

func watch[T any](seq func(yield func(T, error) bool)) *streamEnd {
	s := &streamEnd{first: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		n := 0
		for _, err := range seq {
			if err != nil {
				s.err = err
				return
			}
			if n++; n == 1 {
				close(s.first)
			}
		}
	}()
	return s
}

func (s *streamEnd) waitFirst(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.first:
	case <-s.done:
		t.Fatalf("%s ended before its first item: %v", what, s.err)
	case <-time.After(wait):
		t.Fatalf("%s: no first item", what)
	}
}

// checkCleanEnd checks that a stream ended with COMPLETE or an error frame,
// not with the connection dropping under it.
func (s *streamEnd) checkCleanEnd(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(wait):
		t.Fatalf("%s did not end on shutdown", what)
	}
	var e *rsrt.Error
	if s.err != nil && !errors.As(s.err, &e) {
		t.Fatalf("%s ended with %v, want COMPLETE or an error frame", what, s.err)
	}
	t.Logf("%s ended with %v", what, s.err)
}

// TestGracefulDrain stops a server with an upload, messages.incoming
// streams and statistics channels in flight.
func TestGracefulDrain(t *testing.T) {
	dir := t.TempDir()
	const shutdownTimeout = 10 * time.Second
	srv := startServer(t, dir, func(c *chatserver.Config) { c.ShutdownTimeout = shutdownTimeout })
	addr := srv.TCPAddr()
	ctx := ctxT(t)

	// Generated clients: an incoming stream and a statistics channel.
	alice := login(t, addr, "alice")
	chattest.Must(t, alice.ChannelJoin(ctx, "room"))
	incoming := watch(alice.MessagesIncoming(ctx))
	chattest.Must(t, alice.Message(ctx, chat.Message{Channel: str("room"), Content: str("before")}))
	incoming.waitFirst(t, "messages.incoming")
	bob := login(t, addr, "bob")
	stats, err := bob.Statistics(ctx)
	chattest.Must(t, err)
	statsEnd := watch(stats.Recv())
	statsEnd.waitFirst(t, "statistics")

	// The same over raw frames, to see the frames that end them.
	raw := rawDial(t, addr)
	raw.login("raw")
	chattest.Must(t, raw.send(
		framing.NewWriteableRequestStreamFrame(3, 100, nil, meta(chat.RouteMessagesIncoming), 0),
		framing.NewWriteableRequestChannelFrame(5, 100, nil, meta(chat.RouteStatistics), 0)))
	for f := raw.expect(5); f.typ != core.FrameTypePayload; f = raw.expect(5) {
	}

	// A slow upload: 5 fragments of 1,000,000 bytes, 3 sent before the
	// shutdown starts, the rest after. It began before the shutdown, so it
	// completes: the transports refuse new requests only.
	slowData := make([]byte, 5_000_000)
	_, _ = rand.Read(slowData)
	up := rawDial(t, addr)
	up.login("uploader")
	chunks := [][]byte{}
	for off := 0; off < len(slowData); off += 1_000_000 {
		chunks = append(chunks, slowData[off:off+1_000_000])
	}
	chattest.Must(t, up.send(framing.NewWriteableRequestResponseFrame(3, chunks[0], meta(chat.RouteFileUpload, fileName("slow.bin")), core.FlagFollow)))
	for _, c := range chunks[1:3] {
		chattest.Must(t, up.send(framing.NewWriteablePayloadFrame(3, c, nil, core.FlagFollow)))
	}
	// The server reads a connection's frames in order: once this is
	// answered, the upload's first fragments were seen.
	chattest.Must(t, up.requestResponse(5, chat.RouteFileDownload, nil, fileName("no-such-file")))
	if f := up.expect(5); f.typ != core.FrameTypeError {
		t.Fatalf("download of a missing file: %v", f)
	}

	// An upload with the generated client. The shutdown starts as soon
	// as the server is writing it (a temporary file appears in the store),
	// or once it is done if that was missed.
	fastData := make([]byte, 12<<20)
	_, _ = rand.Read(fastData)
	carol := login(t, addr, "carol")
	fastDone := make(chan error, 1)
	go func() { fastDone <- carol.FileUpload(ctx, fastData, "fast.bin") }()
	writing := false
poll:
	for {
		select {
		case err := <-fastDone:
			fastDone <- err
			break poll
		default:
		}
		entries, err := os.ReadDir(dir)
		chattest.Must(t, err)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				writing = true
				break poll
			}
		}
		runtime.Gosched()
	}

	// Shut down.
	stopDone := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		stopDone <- srv.Stop(sctx)
	}()

	// The slow upload's last fragments, while the server drains.
	for i, c := range chunks[3:] {
		flags := core.FlagFollow
		if i == len(chunks[3:])-1 {
			flags = 0
		}
		chattest.Must(t, up.send(framing.NewWriteablePayloadFrame(3, c, nil, flags)))
	}
	if f := up.expect(3); f.typ != core.FrameTypePayload {
		t.Fatalf("the upload begun before the shutdown did not complete: %v", f)
	}
	slowOK := true

	// The raw streams end with COMPLETE or ERROR before the connection
	// closes.
	ended := map[uint32]string{}
	for len(ended) < 2 {
		f, err := raw.read()
		if err != nil {
			t.Fatalf("raw connection dropped before its streams ended (ended: %v): %v", ended, err)
		}
		switch {
		case f.typ == core.FrameTypePayload && f.flags&core.FlagComplete != 0:
			ended[f.sid] = "COMPLETE"
		case f.typ == core.FrameTypeError:
			ended[f.sid] = f.String()
		}
	}
	t.Logf("raw streams ended: %v", ended)
	incoming.checkCleanEnd(t, "messages.incoming")
	statsEnd.checkCleanEnd(t, "statistics")

	fastErr := <-fastDone
	t.Logf("upload being written when the shutdown started: %v; its result: %v", writing, fastErr)
	if writing && fastErr != nil {
		t.Fatalf("an upload the server was writing when the shutdown started failed: %v", fastErr)
	}
	select {
	case err := <-stopDone:
		chattest.Must(t, err)
	case <-time.After(wait):
		t.Fatalf("Stop did not return within %v (shutdown timeout %v)", wait, shutdownTimeout)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Stop returned before the server was done")
	}

	// Only complete files in the store: no temporary file left behind.
	entries, err := os.ReadDir(dir)
	chattest.Must(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".chatfile") {
			t.Fatalf("the store holds %q after the shutdown", e.Name())
		}
	}

	// After a restart, each upload is there in full if it succeeded, and
	// absent otherwise.
	again := startServer(t, dir, nil)
	c := login(t, again.TCPAddr(), "check")
	files := chattest.Collect(t, c.Files(ctx))
	for _, u := range []struct {
		name string
		ok   bool
		data []byte
	}{{"slow.bin", slowOK, slowData}, {"fast.bin", fastErr == nil, fastData}} {
		r, err := c.FileDownload(ctx, u.name)
		switch {
		case u.ok && (err != nil || !bytes.Equal(r.Data, u.data)):
			t.Fatalf("%s: the upload succeeded, but after a restart: %d bytes (want %d), %v", u.name, len(r.Data), len(u.data), err)
		case !u.ok && err == nil:
			t.Fatalf("%s: the upload failed, but a %d-byte file exists", u.name, len(r.Data))
		}
	}
	if len(files) != btoi(slowOK)+btoi(fastErr == nil) {
		t.Fatalf("files after the restart: %q", files)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
