package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// TestDrainWithRuntimeGate runs the drain with the runtime's real gate:
// on shutdown, a request already running completes and is answered on its
// open connection, while a new request on that connection is REJECTED.
func TestDrainWithRuntimeGate(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	routes := rsrt.NewRoutes[struct{}]()
	routes.HandleRequestResponse("hold", func(ctx context.Context, _ struct{}, _ *rsrt.Payload) (rsrt.Payload, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return rsrt.Payload{Data: []byte("released")}, nil
		case <-ctx.Done():
			return rsrt.Payload{}, ctx.Err()
		}
	})
	routes.HandleRequestResponse("echo", func(_ context.Context, _ struct{}, req *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{Data: req.Data}, nil
	})
	gate := rsrt.NewGate()
	log := testLogger()
	acc := rsrt.NewAcceptor(routes, func(context.Context, *rsrt.Conn) (struct{}, error) { return struct{}{}, nil },
		rsrt.WithGate(gate), rsrt.WithLogger(log))
	srv, err := server.New(acc, server.Config{TCPAddr: "127.0.0.1:0", Gate: gate, ShutdownTimeout: testTimeout, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	<-srv.Ready()

	dctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := rsrt.Dial(dctx, srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Caller().RequestResponse(dctx, "echo", rsrt.Payload{Data: []byte("hi")}); err != nil || string(got.Data) != "hi" {
		t.Fatalf("echo before shutdown: %v, %v", got, err)
	}
	answer := make(chan string, 1)
	go func() {
		got, err := c.Caller().RequestResponse(dctx, "hold", rsrt.Payload{})
		if err != nil {
			answer <- err.Error()
			return
		}
		answer <- string(got.Data)
	}()
	<-entered
	stop()
	// The gate closes during the drain; from then on new requests are
	// refused on the open connection.
	var rerr *rsrt.Error
	for {
		_, err := c.Caller().RequestResponse(dctx, "echo", rsrt.Payload{Data: []byte("late")})
		if err == nil {
			continue // the drain has not closed the gate yet
		}
		if !errors.As(err, &rerr) || rerr.Code != core.ErrorCodeRejected {
			t.Fatalf("request during the drain: %v, want REJECTED", err)
		}
		break
	}
	close(release)
	if got := <-answer; got != "released" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
