package guard

import (
	"bytes"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core/framing"
)

// TestLazyDeadline checks the bounds of a lazily moved deadline: whatever
// is set is never earlier than wanted nor later than an eighth of the
// span after it, and a deadline moving forward steadily is set once per
// eighth of its span, not at every call.
func TestLazyDeadline(t *testing.T) {
	const span = 8 * time.Second
	var d lazyDeadline
	t0 := time.Unix(1000, 0)
	sets := 0
	for ms := 0; ms <= 10_000; ms++ { // a want every millisecond for 10 s
		want := t0.Add(time.Duration(ms)*time.Millisecond + span)
		if at, ok := d.next(want, span); ok {
			sets++
			if at != want.Add(span/8) {
				t.Fatalf("at %d ms: set %v, want %v", ms, at, want.Add(span/8))
			}
		}
		if d.at.Before(want) || d.at.After(want.Add(span/8)) {
			t.Fatalf("at %d ms: deadline %v outside [%v, %v]", ms, d.at, want, want.Add(span/8))
		}
	}
	if sets < 10 || sets > 12 { // every second (span/8) over 10 s
		t.Fatalf("set %d times over 10 s, want about 10", sets)
	}
	// A wanted deadline far earlier than the one set is set at once.
	early := t0.Add(time.Second)
	if at, ok := d.next(early, span); !ok || at != early.Add(span/8) {
		t.Fatalf("earlier deadline: %v, %v", at, ok)
	}
	// A fixed deadline (span 0, the setup deadline) is set once.
	var s lazyDeadline
	if _, ok := s.next(early, 0); !ok {
		t.Fatal("first setup deadline not set")
	}
	if _, ok := s.next(early, 0); ok {
		t.Fatal("unchanged setup deadline set again")
	}
}

// A write that does not wait for the socket (the combiner's) is not held
// to a write deadline an earlier write left on the connection: over TCP,
// that of a large frame written at once; over WebSocket, that of the
// handshake's answer. Past it, such writes failed and the connection
// closed (every WebSocket connection at its first write after the setup
// timeout).
func TestWritesOutliveEarlierWriteDeadlines(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			lim := Limits{WriteTimeout: 100 * time.Millisecond, SetupTimeout: 300 * time.Millisecond}
			stats := new(Stats)
			write, read := serveFireAndForget(t, tr, Options{Limits: lim, Stats: stats, Logger: quiet}, echo)
			write(validSetup())
			for i, size := range []int{40 << 10, 10, 10} {
				if i > 0 {
					time.Sleep(500 * time.Millisecond) // past every deadline set so far
				}
				write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), bytes.Repeat([]byte{'x'}, size), nil, 0)))
				f, err := framing.FromBytes(read())
				if err != nil {
					t.Fatal(err)
				}
				if ka, ok := f.(*framing.KeepaliveFrame); !ok || len(ka.Data()) != size {
					t.Fatalf("echo %d: got %s, want a KEEPALIVE with %d bytes", i, f.Header(), size)
				}
			}
			if n := stats.Snapshot().WriteTimeouts; n != 0 {
				t.Errorf("%d write timeouts counted", n)
			}
		})
	}
}
