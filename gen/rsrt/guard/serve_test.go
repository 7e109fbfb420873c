package guard

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
)

// serveFireAndForget serves a checking server of transport tr ("tcp" or
// "ws") on 127.0.0.1, with opt, whose connection calls handled with its
// transport for each fire-and-forget request, and returns the functions
// with which a client connected to it writes a frame and reads one. The library's transport dispatches the
// requests on a goroutine of its own, the read loop handing them over, as
// it does every request; SETUP on the read loop itself.
func serveFireAndForget(t *testing.T, tr string, opt Options, handled func(*transport.Transport, core.BufferedFrame)) (write func(frame []byte), read func() []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	if tr == "ws" {
		s = NewWebSocketServer(l, "/", opt)
	} else {
		s = NewTCPServer(l, opt)
	}
	served := make(chan struct{})
	s.Accept(func(ctx context.Context, tp *transport.Transport, _ func(*transport.Transport)) {
		defer close(served)
		tp.Handle(transport.OnSetup, func(core.BufferedFrame) error { return nil })
		tp.Handle(transport.OnFireAndForget, func(f core.BufferedFrame) error {
			handled(tp, f)
			return nil
		})
		_ = tp.Start(ctx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Listen(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range []<-chan struct{}{served, done} {
			select {
			case <-c:
			case <-time.After(10 * time.Second):
				t.Error("the server did not stop")
			}
		}
	})
	if tr == "ws" {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+l.Addr().String()+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		write = func(frame []byte) {
			t.Helper()
			if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				t.Fatal(err)
			}
		}
		read = func() []byte {
			t.Helper()
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("client read: %v", err)
			}
			return msg
		}
		return write, read
	}
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := bufio.NewReader(nc)
	read = func() []byte {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		var prefix [3]byte
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			t.Fatalf("client read: %v", err)
		}
		frame := make([]byte, int(prefix[0])<<16|int(prefix[1])<<8|int(prefix[2]))
		if _, err := io.ReadFull(r, frame); err != nil {
			t.Fatalf("client read: %v", err)
		}
		return frame
	}
	return func(frame []byte) { send(t, nc, frame) }, read
}

// echo answers a fire-and-forget request with a KEEPALIVE carrying its
// data: a frame the test's client can read back.
func echo(tp *transport.Transport, f core.BufferedFrame) {
	_ = tp.Send(framing.NewWriteableKeepaliveFrame(0, f.(*framing.FireAndForgetFrame).Data(), false), true)
}
