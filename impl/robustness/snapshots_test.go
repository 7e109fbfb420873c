package robustness

import (
	"fmt"
	"testing"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// TestStreamSnapshotsShared (issue 17, row 7): 1000 channels streams at
// request(1) after creating 51,200 channels pinned a sorted copy of the
// names each (+785 MiB from one connection). The streams now walk one
// shared, sorted index of the names and hold only the last name each
// sent: the live heap they take does not grow with the number of
// channels. The streams still complete correctly once read, and a fresh
// client is served meanwhile.
func TestStreamSnapshotsShared(t *testing.T) {
	channels, streams := 20_000, 1000 // a copy per stream: +305 MiB
	if raceEnabled || testing.Short() {
		channels = 5_000 // +76 MiB
	}
	srv := startServer(t, t.TempDir(), func(c *chatserver.Config) { c.Chat.MaxJoined = channels })
	creator := rawDial(t, srv.TCPAddr())
	creator.login("creator")
	name := func(i int) string { return fmt.Sprintf("channel-%06d", i) }
	const batch = 500
	for start := 0; start < channels; start += batch {
		var buf []byte
		for i := start; i < min(start+batch, channels); i++ {
			buf = append(buf, encode(framing.NewWriteableRequestResponseFrame(uint32(3+2*i), []byte(name(i)), meta(chat.RouteChannelJoin), 0))...)
		}
		chattest.Must(t, creator.write(buf))
		ok, errs, err := creator.answers(min(batch, channels-start))
		chattest.Must(t, err)
		if len(errs) != 0 || ok != min(batch, channels-start) {
			t.Fatalf("joins answered %d ok, %v", ok, errs)
		}
	}
	if st := srv.Service().Stats(); st.Channels != channels {
		t.Fatalf("%d channels, want %d", st.Channels, channels)
	}

	base := liveHeap()
	reader := rawDial(t, srv.TCPAddr())
	reader.login("reader")
	var buf []byte
	for i := range streams {
		buf = append(buf, encode(framing.NewWriteableRequestStreamFrame(uint32(3+2*i), 1, nil, meta(chat.RouteChannels), 0))...)
	}
	chattest.Must(t, reader.write(buf))
	for range streams {
		if f := reader.mustRead(); f.typ != core.FrameTypePayload || string(f.data()) != name(0) {
			t.Fatalf("first item: %v %q, want %q", f, f.data(), name(0))
		}
	}
	held := liveHeap() - min(base, liveHeap())
	// Each open stream costs its goroutines and the runtime's state for
	// it, a few KiB; the names cost nothing per stream.
	bound := uint64(streams*16<<10 + 16<<20)
	t.Logf("%d channels streams at request(1) over %d channels: live heap +%d KiB (bound %d KiB)", streams, channels, held>>10, bound>>10)
	if held > bound {
		t.Fatalf("%d open channels streams hold %d MiB, over %d MiB", streams, held>>20, bound>>20)
	}
	checkServed(t, srv.TCPAddr())

	// One stream read to its end sends every name once, in order (the
	// checked client's channel among them).
	chattest.Must(t, reader.send(framing.NewWriteableRequestNFrame(3, uint32(channels+10), 0)))
	next := 1
	for {
		f := reader.expect(3)
		if f.typ == core.FrameTypePayload && len(f.data()) > 0 {
			if next < channels && string(f.data()) != name(next) {
				t.Fatalf("item %d: %q, want %q", next, f.data(), name(next))
			}
			next++
		}
		if f.typ != core.FrameTypePayload || f.flags&core.FlagComplete != 0 {
			if f.typ != core.FrameTypePayload {
				t.Fatalf("the stream ended with %v", f)
			}
			break
		}
	}
	if next < channels {
		t.Fatalf("the stream sent %d names, want %d", next, channels)
	}
}
