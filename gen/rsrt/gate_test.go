package rsrt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Closing the gate rejects new requests, ends open streams with COMPLETE
// and lets running request-responses finish; Wait returns once they did.
func TestGateDrain(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	ctx := testCtx(t)

	// An open stream...
	next, stop := iterPull(c.Caller().RequestStream(ctx, "forever", rsrt.Payload{}))
	defer stop()
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("first item: %v", err)
	}
	// ...and a request-response in its handler.
	slow := requestAsync(ctx, c, "slow", answered("done"))
	sc.waitEvent(t, "slow started")
	if n := s.gate.InFlight(); n != 2 {
		t.Errorf("in flight = %d, want 2", n)
	}

	s.gate.Close()
	s.gate.Close() // idempotent

	// The stream completes normally.
	expectCompletion(t, next)
	// New requests are refused.
	_, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{})
	var e *rsrt.Error
	if !errors.As(err, &e) || e.Code != core.ErrorCodeRejected || e.Message != "server is shutting down" {
		t.Errorf("request after close: %v", err)
	}
	for _, err := range c.Caller().RequestStream(ctx, "count", rsrt.Payload{Data: []byte("3")}) {
		if !errors.As(err, &e) || e.Code != core.ErrorCodeRejected {
			t.Errorf("stream after close: %v", err)
		}
	}
	// The request-response is still in flight: Wait with a done context
	// says so.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.gate.Wait(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with requests in flight: %v", err)
	}
	close(sc.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if err := s.gate.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.gate.InFlight(); n != 0 {
		t.Errorf("in flight after drain = %d", n)
	}
}

// EndStreams ends open streams with COMPLETE like Close, but new requests
// are still served: a stream opened then completes at once.
func TestGateEndStreams(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(4))
	ctx := testCtx(t)
	next, stop := iterPull(c.Caller().RequestStream(ctx, "forever", rsrt.Payload{}))
	defer stop()
	if _, err, ok := next(); !ok || err != nil {
		t.Fatalf("first item: %v", err)
	}

	s.gate.EndStreams()

	expectCompletion(t, next)
	resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("still")})
	if err != nil || string(resp.Data) != "still" {
		t.Fatalf("request after EndStreams: %q, %v", resp.Data, err)
	}
	n := 0
	for _, err := range c.Caller().RequestStream(ctx, "forever", rsrt.Payload{}) {
		if err != nil {
			t.Fatalf("stream opened after EndStreams: %v", err)
		}
		if n++; n > 100 {
			t.Fatal("a stream opened after EndStreams goes on")
		}
	}
	if err := s.gate.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// expectCompletion reads a stream to its end, which must be a completion.
func expectCompletion(t *testing.T, next func() (*rsrt.Payload, error, bool)) {
	t.Helper()
	for {
		_, err, ok := next()
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("stream ended with %v, want completion", err)
		}
	}
}
