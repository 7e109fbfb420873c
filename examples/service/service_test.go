package service_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"

	"example.com/orders/client"
	"example.com/orders/service"
)

// TestClientAgainstServer runs the client scenario against the server on
// 127.0.0.1, over TCP and WebSocket: every interaction model, typed
// metadata, nested types, constraints and the server's call to the client.
func TestClientAgainstServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shop := service.NewShop(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ready := make(chan *server.Server, 1)
	served := make(chan error, 1)
	serveCtx, stop := context.WithCancel(ctx)
	go func() {
		served <- shop.Serve(serveCtx, server.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0"},
			func(s *server.Server) { ready <- s })
	}()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var srv *server.Server
	select {
	case srv = <-ready:
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	}

	for _, addr := range []string{srv.TCPAddr().String(), "ws://" + srv.WSAddr().String() + "/"} {
		var out strings.Builder
		if err := client.Run(ctx, addr, &out); err != nil {
			t.Fatalf("%s: %v\n%s", addr, err, out.String())
		}
		for _, want := range []string{
			"confirm 2 line(s) for ada: true",
			"placed order-",
			"confirm 1 line(s) for ada: false",
			"refused: APPLICATION_ERROR: the customer did not confirm the order",
			"invalid: APPLICATION_ERROR: route order.place: invalid request data: lines[0].sku: does not match the pattern",
			"cancelled",
			"prices TEA-0002=500 CUP-0004=1000",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", addr, want, out.String())
			}
		}
	}
	// Metadata pushes have no answer: wait for the second one to land.
	for deadline := time.Now().Add(10 * time.Second); len(shop.Invalidated()) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := shop.Invalidated(); !slices.Equal(got, []string{"eu-west", "eu-west"}) {
		t.Errorf("invalidated regions %v, want eu-west twice", got)
	}
}
