package guard

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// A request-response's way through the protocol state, from its request
// to its answer, allocates nothing: the state holds its streams by value.
func TestRequestResponseStateAllocatesNothing(t *testing.T) {
	s := setupState(t, Limits{})
	const runs = 1000
	frames := make([][]byte, runs+1) // AllocsPerRun runs once more to warm up
	for i := range frames {
		frames[i] = wire(framing.NewWriteableRequestResponseFrame(uint32(2*i+1), []byte(`{"content":"hi"}`), nil, 0))
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		sid := uint32(2*i + 1)
		if d, err := s.Check(frames[i]); err != nil || d.Action != Deliver {
			t.Fatalf("request %d: %+v, %v", sid, d, err)
		}
		if _, send := s.Outbound(core.NewFrameHeader(sid, core.FrameTypePayload, core.FlagNext|core.FlagComplete), 0); !send {
			t.Fatalf("answer %d not sent", sid)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request-response, want 0", allocs)
	}
	if n := s.OpenStreams(); n != 0 {
		t.Errorf("%d streams open after the answers", n)
	}
}

// A write that does not wait allocates nothing, and its bytes arrive.
func TestRawWriterAllocatesNothing(t *testing.T) {
	server, client := loopbackPair(t)
	t.Cleanup(func() { server.Close(); client.Close() })
	rc := rawConn(server)
	if rc == nil {
		t.Skip("no raw socket writes on this platform")
	}
	var w rawWriter
	msg := []byte("0123456789abcdef")
	const runs = 100 // 1,616 bytes in all: the socket takes them without a reader
	allocs := testing.AllocsPerRun(runs, func() {
		if n, calls, err := w.tryWrite(rc, msg); n != len(msg) || calls != 1 || err != nil {
			t.Fatalf("tryWrite = %d, %d, %v; want %d, 1, nil", n, calls, err, len(msg))
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per write, want 0", allocs)
	}
	got := make([]byte, (runs+1)*len(msg))
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if want := bytes.Repeat(msg, runs+1); !bytes.Equal(got, want) {
		t.Errorf("the peer read %q", got[:min(64, len(got))])
	}
}
