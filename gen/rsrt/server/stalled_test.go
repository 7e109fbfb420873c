//go:build unix

package server_test

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// A client that stops reading holds up its own connection only. The
// server's flushes are combined across connections (gen/rsrt/guard's
// combine.go), so a write that waited for this client's socket would hold
// up every other connection's frames: here another client's requests are
// answered, one after another, while the server's writes to the stalled
// one cannot proceed (its write timeout is longer than the test).
func TestStalledReaderHoldsUpNoOtherConnection(t *testing.T) {
	lim := hostileLimits
	lim.WriteTimeout = 5 * time.Minute
	lim.MaxStreams = 80
	run := start(t, newResponder(), server.Config{Limits: lim})

	// A small receive buffer, set before connecting (shrunk on an open
	// connection, it can stall the transfer in the kernel instead).
	d := net.Dialer{Timeout: testTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", run.tcp())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	stalled := &rawTCP{t: t, nc: nc}
	// 64 streams of 10,000 small items: 6 MiB of frames (more than a
	// socket's send buffer grows to, 4 MiB by Linux's default), each
	// small enough to wait in the connection's write buffer for a
	// combined flush; the client reads none of them.
	stalled.send(setupFrame())
	for i := range 64 {
		stalled.send(wire(framing.NewWriteableRequestStreamFrame(uint32(2*i+1), 1<<31-1, []byte("many"), meta(routeItems), 0)))
	}
	// Let the server fill the socket before the other client starts.
	time.Sleep(200 * time.Millisecond)

	c := dialTCP(t, run.tcp())
	for i := range 200 {
		want := fmt.Sprint("echo:", i)
		got, err := requestResponse(c, fmt.Sprint(i))
		if err != nil || got != want {
			t.Fatalf("request %d while another client does not read: %q, %v; want %q", i, got, err, want)
		}
	}
	if n := run.srv.Stats().WriteTimeouts; n != 0 {
		t.Fatalf("%d write timeouts: the stalled client's connection was not waiting the whole time", n)
	}
}
