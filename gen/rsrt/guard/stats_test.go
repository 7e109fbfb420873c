package guard

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
)

// The traffic counters agree with what a client wrote and read: frames
// and their bytes both ways, over both transports, through the paths a
// frame takes (a small one through the combiner, a large one written at
// once, one read across the reader's buffer, a KEEPALIVE the guard echoes
// itself), with more frames than a connection counts before it adds them
// to the Stats, and on a connection a violation ends.
func TestStatsCountTraffic(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			const requests = 3*trafficDueFrames + 5
			const large = 70 << 10 // over ioBufSize and maxBatch: written at once
			// The server answers request i with a KEEPALIVE of data
			// reply(i) bytes.
			reply := func(i int) int { return 1 + i*53%700 }
			echo := func(tp *transport.Transport, f core.BufferedFrame) {
				sid := f.Header().StreamID()
				n := reply(int(sid / 2))
				if sid/2 == 7 {
					n = large
				}
				_ = tp.Send(framing.NewWriteableKeepaliveFrame(0, bytes.Repeat([]byte{'r'}, n), false), true)
			}
			stats := new(Stats)
			write, read := serveFireAndForget(t, tr, Options{Stats: stats, Logger: quiet}, echo)

			var want Counts
			in := func(frame []byte) {
				write(frame)
				want.FramesReceived++
				want.BytesReceived += int64(len(frame))
			}
			in(validSetup())
			in(wire(framing.NewWriteableKeepaliveFrame(9, []byte("ping"), true)))
			for i := range requests {
				size := 1 + i*31%500
				if i == 3 {
					size = 6000 // over the TCP reader's buffer
				}
				in(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), bytes.Repeat([]byte{'q'}, size), nil, 0)))
			}
			for range requests + 1 { // the answers and the KEEPALIVE's echo
				frame := read()
				want.FramesSent++
				want.BytesSent += int64(len(frame))
			}
			if want.BytesSent < large {
				t.Fatalf("the client read %d bytes, want the large answer among them", want.BytesSent)
			}

			traffic := func(c Counts) string {
				return fmt.Sprintf("received %d frames, %d bytes; sent %d frames, %d bytes",
					c.FramesReceived, c.BytesReceived, c.FramesSent, c.BytesSent)
			}
			counted := func() Counts {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for {
					got := stats.Snapshot()
					if traffic(got) == traffic(want) {
						return got
					}
					if time.Now().After(deadline) {
						t.Fatalf("counted: %s; the client: %s", traffic(got), traffic(want))
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			got := counted()
			// Each write carries one frame or more, and a large frame
			// written at once takes the write of what waits before it
			// and its own.
			if got.Writes < 1 || got.Writes > got.FramesSent+1 {
				t.Errorf("%d writes for %d frames sent", got.Writes, got.FramesSent)
			}
			t.Logf("%s; %d writes", traffic(got), got.Writes)

			// A connection that ends without waiting for its peer again
			// (a violation closes it) counts what it read last.
			write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*requests+1), []byte("last"), nil, 0)))
			bad := wire(framing.NewWriteableRequestResponseFrame(2, nil, nil, 0)) // an even stream id
			write(bad)
			want.FramesReceived += 2
			want.BytesReceived += int64(core.FrameHeaderLen + len("last") + len(bad))
			read()
			want.FramesSent++
			want.BytesSent += int64(core.FrameHeaderLen + 8 + reply(requests))
			counted()
			if v := stats.Snapshot().Violations; v != 1 {
				t.Errorf("%d violations, want 1", v)
			}
		})
	}
}
