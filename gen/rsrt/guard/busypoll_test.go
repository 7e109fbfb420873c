package guard

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// A client that sends its next request as soon as it has the answer to
// the last finds the read loop polling, over both transports, when
// Options.BusyPoll is set; without it, no read loop polls; and a client
// slower than the poll window does not make the read loop poll once its
// first wait has shown it slow.
func TestBusyPollFindsTheNextRequest(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		for _, poll := range []time.Duration{0, 200 * time.Millisecond} {
			t.Run(tr+"/"+poll.String(), func(t *testing.T) {
				var polled atomic.Int64
				hook := func(n int) {
					if n > 0 {
						polled.Add(1)
					}
				}
				testHookPolled.Store(&hook)
				t.Cleanup(func() { testHookPolled.Store(nil) })
				write, read := serveFireAndForget(t, tr, Options{Logger: quiet, BusyPoll: poll}, echo)
				write(validSetup())
				const requests = 40
				for i := range requests {
					write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), []byte("ping"), nil, 0)))
					if f, err := framing.FromBytes(read()); err != nil || f.Header().Type() != core.FrameTypeKeepalive {
						t.Fatalf("answer %d: %v, %v", i, f, err)
					}
				}
				n := polled.Load()
				t.Logf("%d of %d requests found by polling", n, requests)
				switch {
				case poll == 0 && n != 0:
					t.Errorf("%d polls found bytes with polling off", n)
				case poll > 0 && n < requests/2:
					t.Errorf("%d of %d requests found by polling, want most", n, requests)
				}
			})
		}
	}
}

func TestBusyPollSkipsASlowPeer(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			var polls atomic.Int64
			hook := func(int) { polls.Add(1) }
			testHookPolled.Store(&hook)
			t.Cleanup(func() { testHookPolled.Store(nil) })
			const window = 20 * time.Millisecond
			write, read := serveFireAndForget(t, tr, Options{Logger: quiet, BusyPoll: window}, echo)
			write(validSetup())
			const requests = 6
			for i := range requests {
				time.Sleep(3 * window) // a peer slower than the window
				write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), []byte("ping"), nil, 0)))
				read()
			}
			// The first wait, right after the SETUP, may poll (and give
			// up); every later one follows a wait longer than the window.
			if n := polls.Load(); n > 1 {
				t.Errorf("%d polls for a peer slower than the window, want at most 1", n)
			}
		})
	}
}

// pollSocket reads what is there, gives up after its time, reports the
// end of the stream, and polls for one read loop at a time: while another
// polls, it returns at once without reading.
func TestPollSocket(t *testing.T) {
	server, client := loopbackPair(t)
	defer server.Close()
	defer client.Close()
	raw := rawConn(server)
	if raw == nil {
		t.Skip("no raw socket reads on this platform")
	}
	buf := make([]byte, 64)
	if n, err := pollSocket(raw, buf, time.Millisecond); n != 0 || err != nil {
		t.Fatalf("nothing sent: pollSocket = %d, %v; want 0, nil", n, err)
	}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	pollers.Add(1) // another read loop polls
	n, err := pollSocket(raw, buf, time.Second)
	pollers.Add(-1)
	if n != 0 || err != nil {
		t.Fatalf("while another polls: pollSocket = %d, %v; want 0, nil", n, err)
	}
	if n, err := pollSocket(raw, buf, time.Second); n != 5 || err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("pollSocket = %d %q, %v; want the 5 bytes sent", n, buf[:n], err)
	}
	client.Close()
	if n, err := pollSocket(raw, buf, time.Second); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: pollSocket = %d, %v; want 0, io.EOF", n, err)
	}
	if p := pollers.Load(); p != 0 {
		t.Errorf("%d pollers left", p)
	}
}
