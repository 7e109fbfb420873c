package server_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// routed returns a REQUEST_RESPONSE for route: composite metadata with a
// routing entry (well-known MIME id 0x7E), built by hand.
func routed(sid uint32, route, data string) []byte {
	return wire(framing.NewWriteableRequestResponseFrame(sid, []byte(data), routing(route), core.FlagMetadata))
}

// routing is composite metadata with a routing entry (well-known MIME id
// 0x7E), built by hand.
func routing(route string) []byte {
	tags := append([]byte{byte(len(route))}, route...)
	meta := append([]byte{0x80 | 0x7E}, u24(len(tags))...)
	return append(meta, tags...)
}

// data returns the data of a PAYLOAD frame, past its metadata.
func (f frame) data() []byte {
	if f.flags&core.FlagMetadata == 0 {
		return f.body
	}
	n := int(f.body[0])<<16 | int(f.body[1])<<8 | int(f.body[2])
	return f.body[3+n:]
}

// answer reads frames until the end of stream sid: its PAYLOAD or ERROR.
func (c *rawTCP) answer(sid uint32) frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for the answer on stream %d: %v", sid, err)
		}
		if f.sid == sid && (f.typ == core.FrameTypePayload || f.typ == core.FrameTypeError) {
			return f
		}
	}
}

// TestDrainWithRuntimeGate runs the drain with the runtime's real gate:
// on shutdown, a request already running completes and is answered on its
// open connection, and so does a request whose fragments were still
// arriving, while a new request on that connection is REJECTED; then the
// connection is closed. The client is raw, so that what it receives is
// exactly what the server wrote.
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

	c := dialRawAt(t, srv.TCPAddr().String())
	c.send(setupFrame(), routed(1, "echo", "hi"))
	if f := c.answer(1); f.typ != core.FrameTypePayload || string(f.data()) != "hi" {
		t.Fatalf("echo before shutdown: %s %q", f.typ, f.body)
	}
	c.send(routed(3, "hold", ""))
	<-entered
	// A request in two fragments, the second sent during the drain.
	c.send(wire(framing.NewWriteableRequestResponseFrame(5, []byte("first half, "), routing("echo"), core.FlagMetadata|core.FlagFollow)))
	// The server reads a connection's frames in order: once this is
	// answered, the first fragment was seen before the shutdown.
	c.send(routed(7, "echo", "sync"))
	if f := c.answer(7); f.typ != core.FrameTypePayload {
		t.Fatalf("echo before shutdown: %s %q", f.typ, f.body)
	}
	stop()
	// From the start of the drain new requests are refused on the open
	// connection.
	for sid := uint32(9); ; sid += 2 {
		c.send(routed(sid, "echo", "late"))
		f := c.answer(sid)
		if f.typ == core.FrameTypePayload {
			continue // the drain has not started yet
		}
		if code := binary.BigEndian.Uint32(f.body); code != uint32(core.ErrorCodeRejected) || string(f.body[4:]) != "server is shutting down" {
			t.Fatalf("request during the drain: error %#x %q, want REJECTED \"server is shutting down\"", code, f.body[4:])
		}
		break
	}
	c.send(wire(framing.NewWriteablePayloadFrame(5, []byte("second half"), nil, core.FlagNext)))
	if f := c.answer(5); f.typ != core.FrameTypePayload || string(f.data()) != "first half, second half" {
		t.Fatalf("request whose fragments were arriving: %s %q", f.typ, f.body)
	}
	close(release)
	if f := c.answer(3); f.typ != core.FrameTypePayload || string(f.data()) != "released" {
		t.Fatalf("in-flight request: %s %q", f.typ, f.body)
	}
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
