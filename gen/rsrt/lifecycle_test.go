package rsrt_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Payloads larger than the fragment size (1,000,000 bytes) cross
// fragmented, both ways, and arrive whole.
func TestLargePayloads(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	ctx := testCtx(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{
		Data:     big,
		Metadata: rsrt.Metadata{{MIME: "chat/file-name", Data: []byte("big.bin")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Data, big) {
		t.Fatalf("echo of %d bytes came back as %d bytes", len(big), len(resp.Data))
	}
	if v, _ := resp.Metadata.Get("chat/file-name"); string(v) != "big.bin" {
		t.Errorf("metadata entry %q", v)
	}
}

// Closing the client mid-stream ends the loop with an error instead of
// hanging, and the server's handler sees its context end. (The handler is
// idle when the client closes: a frame queued while the connection closes
// is a data race inside rsocket-go v0.8.16, harmless but reported by the
// race detector.)
func TestCloseMidStream(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	ctx := testCtx(t)
	n := 0
	var last error
	for _, err := range c.Caller().RequestStream(ctx, "hang", rsrt.Payload{}) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 3 {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if last == nil || errors.Is(last, context.DeadlineExceeded) {
		t.Fatalf("stream after close ended with %v", last)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if e := sc.waitEvent(t, "hang stopped"); e != "hang stopped: context canceled" {
		t.Errorf("handler: %q", e)
	}
	if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{}); !errors.Is(err, rsrt.ErrClosed) {
		t.Errorf("request on a closed connection: %v", err)
	}
}

// A server that refuses the SETUP: Dial fails with the server's code and
// reason, and the close callback hears the same reason. (Here the server
// runs on rsocket-go's own transport, which sends any refusal as
// REJECTED_SETUP with the error's text.)
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc := rsrt.NewAcceptor(serverRoutes(), func(context.Context, *rsrt.Conn) (*conn, error) {
		return nil, errors.New("no room for you")
	}, rsrt.WithLogger(quietLogger()))
	serveRSocket(t, ln, acc)
	closed := make(chan error, 1)
	c, err := rsrt.Dial(testCtx(t), ln.Addr().String(), rsrt.WithDialLogger(quietLogger()),
		rsrt.WithOnClose(func(err error) { closed <- err }))
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded on a refused SETUP")
	}
	var e *rsrt.Error
	if !errors.As(err, &e) || e.Code != core.ErrorCodeRejectedSetup || e.Message != "no room for you" {
		t.Errorf("Dial: %v, want REJECTED_SETUP \"no room for you\"", err)
	}
	select {
	case reason := <-closed:
		if reason == nil || !strings.Contains(reason.Error(), "no room for you") {
			t.Errorf("close reason %v", reason)
		}
	case <-time.After(testTimeout):
		t.Error("close callback not called")
	}
}
