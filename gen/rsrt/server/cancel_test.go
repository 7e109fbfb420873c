package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// TestRequestResponseCancel checks that a CANCEL from the client ends the
// context of the request-response handler it is for, and only that one:
// rsocket-js and rsocket-py clients send it when their caller gives up.
// (rsocket-go v0.8.16 clients send it only once the response has come,
// which is why the generated Go client's deadline travels as metadata.)
func TestRequestResponseCancel(t *testing.T) {
	r := newResponder()
	defer r.releaseHeld()
	run := start(t, r, server.Config{})
	c := dialRaw(t, run)
	c.send(setupFrame())
	c.send(wire(framing.NewWriteableRequestResponseFrame(1, []byte("hold"), meta(routeEcho), 0)))
	c.send(wire(framing.NewWriteableRequestResponseFrame(3, []byte("hold"), meta(routeEcho), 0)))
	<-r.held
	<-r.held
	c.send(wire(framing.NewWriteableCancelFrame(1)))
	select {
	case err := <-r.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the handler's context ended with %v, want context.Canceled", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the cancelled handler's context did not end")
	}
	// The other request is still held, and answered once released.
	r.releaseHeld()
	if f := c.await(3, core.FrameTypePayload); string(f.body) != "released" {
		t.Errorf("stream 3 answered %q, want released", f.body)
	}
	select {
	case err := <-r.ended:
		t.Errorf("a second handler's context ended: %v", err)
	default:
	}
	c.expectOpen(5)
}
