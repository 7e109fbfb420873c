package server_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx/flux"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

func TestNewValidates(t *testing.T) {
	acc := newResponder().acceptor()
	if _, err := server.New(acc, server.Config{}); err == nil {
		t.Error("New without any address succeeded")
	}
	if _, err := server.New(nil, server.Config{TCPAddr: "127.0.0.1:0"}); err == nil {
		t.Error("New with a nil acceptor succeeded")
	}
	if _, err := server.New(acc, server.Config{TCPAddr: "127.0.0.1:0", FragmentSize: 5}); err == nil {
		t.Error("New with a 5-byte fragment size succeeded")
	}
}

func TestServeTCPAndWebSocket(t *testing.T) {
	r := newResponder()
	run := start(t, r, server.Config{})
	run.checkServes(t)

	items, err := collect(dialTCP(t, run.tcp()).RequestStream(payload.New([]byte("few"), meta(routeItems))))
	if err != nil || len(items) != 3 {
		t.Fatalf("request-stream: %d items, %v", len(items), err)
	}
	in := flux.Just(payload.New([]byte("a"), meta(routeMirror)), payload.New([]byte("b"), nil))
	echoed, err := collect(dialWS(t, run.wsURL()).RequestChannel(in))
	if err != nil || len(echoed) != 2 || echoed[1] != "b" {
		t.Fatalf("request-channel over WebSocket: %d items, %v", len(echoed), err)
	}
	if got := run.srv.Stats(); got.Connections < 4 || got.Violations != 0 {
		t.Errorf("stats %+v", got)
	}
}

func TestLargePayloadFragmented(t *testing.T) {
	run := start(t, newResponder(), server.Config{})
	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i)
	}
	got, err := requestResponse(dialTCP(t, run.tcp()), string(big))
	if err != nil || got != "echo:"+string(big) {
		t.Fatalf("5 MiB request-response: %d bytes, %v", len(got), err)
	}
}

// fakeGate stands for an rsrt.Gate: the test decides when it is drained.
type fakeGate struct {
	closed  chan struct{}
	drained chan struct{}
	calls   atomic.Int32
}

func newFakeGate() *fakeGate {
	return &fakeGate{closed: make(chan struct{}), drained: make(chan struct{})}
}

func (g *fakeGate) Close() {
	if g.calls.Add(1) == 1 {
		close(g.closed)
	}
}

func (g *fakeGate) Wait(ctx context.Context) error {
	select {
	case <-g.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *fakeGate) InFlight() int { return 1 }

func TestDrainKeepsConnectionsUntilGateDrained(t *testing.T) {
	r := newResponder()
	gate := newFakeGate()
	run := start(t, r, server.Config{Gate: gate, ShutdownTimeout: testTimeout})
	c := dialTCP(t, run.tcp())
	answer := make(chan string, 1)
	go func() {
		got, err := requestResponse(c, "hold")
		if err != nil {
			got = err.Error()
		}
		answer <- got
	}()
	<-r.held
	addr := run.tcp()
	run.stop()
	select {
	case <-gate.closed:
	case <-time.After(testTimeout):
		t.Fatal("gate not closed on shutdown")
	}
	// No new connections while draining ...
	if nc, err := net.Dial("tcp", addr); err == nil {
		nc.Close()
		t.Error("a connection was accepted during the drain")
	}
	// ... but the open one still answers its request.
	r.releaseHeld()
	if got := <-answer; got != "released" {
		t.Fatalf("in-flight request got %q during the drain", got)
	}
	close(gate.drained)
	run.shutdown(t)
}

func TestShutdownTimeoutClosesConnections(t *testing.T) {
	r := newResponder()
	gate := newFakeGate() // never drained
	run := start(t, r, server.Config{Gate: gate, ShutdownTimeout: 50 * time.Millisecond})
	c := dialTCP(t, run.tcp())
	answer := make(chan error, 1)
	go func() {
		_, err := requestResponse(c, "hold")
		answer <- err
	}()
	<-r.held
	run.shutdown(t)
	if err := <-answer; err == nil {
		t.Fatal("held request succeeded although its connection was closed")
	}
}

func TestShutdownWithoutGate(t *testing.T) {
	r := newResponder()
	run := start(t, r, server.Config{TCPAddr: "127.0.0.1:0"})
	if run.srv.WSAddr() != nil {
		t.Error("WSAddr set without a WebSocket listener")
	}
	c := dialTCP(t, run.tcp())
	answer := make(chan error, 1)
	go func() {
		_, err := requestResponse(c, "hold")
		answer <- err
	}()
	<-r.held
	run.shutdown(t)
	if err := <-answer; err == nil {
		t.Fatal("held request succeeded although the server stopped")
	}
	if n := run.srv.Connections(); n != 0 {
		t.Errorf("%d connections after Serve returned", n)
	}
}

// TestFragmentedAnswerFlags reads, on a raw connection, the fragments of a
// request-response answer larger than the fragment size: COMPLETE is on
// the last fragment only, as the spec and rsocket-js expect.
func TestFragmentedAnswerFlags(t *testing.T) {
	run := start(t, newResponder(), server.Config{TCPAddr: "127.0.0.1:0"})
	c := dialRaw(t, run)
	c.send(setupFrame(), wire(framing.NewWriteableRequestResponseFrame(1, make([]byte, 2_500_000), meta(routeEcho), 0)))
	var flags []core.FrameFlag
	size := 0
	for {
		f := c.await(1, core.FrameTypePayload)
		flags = append(flags, f.flags)
		size += len(f.body)
		if !f.flags.Check(core.FlagFollow) {
			break
		}
	}
	if len(flags) != 3 || size != len("echo:")+2_500_000 {
		t.Fatalf("%d fragments, %d bytes", len(flags), size)
	}
	for i, f := range flags {
		last := i == len(flags)-1
		if f.Check(core.FlagComplete) != last || f.Check(core.FlagFollow) == last || !f.Check(core.FlagNext) {
			t.Errorf("fragment %d has flags %s", i, f)
		}
	}
}
