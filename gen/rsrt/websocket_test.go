package rsrt_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Dial speaks WebSocket for ws:// addresses: every interaction works the
// same as over TCP, channel cancellation included.
func TestWebSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gate := rsrt.NewGate()
	conns := make(chan *conn, 4)
	acc := rsrt.NewAcceptor(serverRoutes(), func(_ context.Context, c *rsrt.Conn) (*conn, error) {
		cn := &conn{c: c, events: make(chan string, 1024), release: make(chan struct{}), feeds: make(chan *testFeed, 16)}
		conns <- cn
		return cn, nil
	}, rsrt.WithLogger(quietLogger()), rsrt.WithGate(gate))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rsocket.Receive().Acceptor(acc).
			Transport(func(context.Context) (transport.ServerTransport, error) {
				return transport.NewWebsocketServerTransport(func(context.Context) (net.Listener, error) { return ln, nil }, "/rs", nil), nil
			}).Serve(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	c := dial(t, "ws://"+ln.Addr().String()+"/rs", rsrt.WithPrefetch(4))
	var sc *conn
	select {
	case sc = <-conns:
	case <-time.After(testTimeout):
		t.Fatal("no connection")
	}
	tctx := testCtx(t)
	resp, err := c.Caller().RequestResponse(tctx, "string", rsrt.Payload{Data: []byte("ws")})
	if err != nil || string(resp.Data) != "WS" {
		t.Fatalf("request-response: %q %v", resp, err)
	}
	i := 0
	for p, err := range c.Caller().RequestStream(tctx, "count", rsrt.Payload{Data: []byte("50")}) {
		if err != nil || string(p.Data) != strconv.Itoa(i) {
			t.Fatalf("item %d: %q %v", i, p, err)
		}
		i++
	}
	if i != 50 {
		t.Fatalf("got %d items", i)
	}
	ch, err := c.Caller().RequestChannel(tctx, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if e := sc.waitEvent(t, "ticks stopped"); e != "ticks stopped: "+rsrt.ErrCancelled.Error() {
		t.Errorf("event %q", e)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), testTimeout)
	defer wcancel()
	if err := gate.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	// As server.dial does: a last round trip, then close the client
	// before the server stops.
	_, _ = c.Caller().RequestResponse(wctx, "echo", rsrt.Payload{})
	_ = c.Close()
}
