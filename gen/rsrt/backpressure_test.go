package rsrt_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jjeffcaii/reactor-go/scheduler"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
	"go.uber.org/goleak"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// rawClient connects a plain rsocket-go client, as a third-party peer would.
func (s *server) rawClient(t testing.TB) rsocket.Client {
	t.Helper()
	c, err := rsocket.Connect().
		MetadataMimeType(rsrt.MIMECompositeMetadata).
		DataMimeType(rsrt.MIMEJSON).
		Transport(rsocket.TCPClient().SetAddr(s.addr).Build()).
		Start(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.gate.Wait(ctx); err != nil {
			t.Errorf("handlers still running at the end of the test: %d", s.gate.InFlight())
		}
		_, _ = c.RequestResponse(routed(t, "echo", "")).Block(ctx) // see server.dial
		_ = c.Close()
	})
	return c
}

func routed(t testing.TB, route, data string) payload.Payload {
	t.Helper()
	md, err := rsrt.EncodeComposite(route, nil)
	if err != nil {
		t.Fatal(err)
	}
	return payload.New([]byte(data), md)
}

// oneByOne subscribes to a stream, requesting one item at a time from
// inside OnNext (where rsocket-go requires it), up to max items.
type oneByOne struct {
	max   int
	mu    sync.Mutex
	items []string
	su    rx.Subscription
	full  chan struct{} // closed at max items
	end   chan error    // receives the terminal signal
}

func newOneByOne(max int) *oneByOne {
	return &oneByOne{max: max, full: make(chan struct{}), end: make(chan error, 1)}
}

func (o *oneByOne) OnSubscribe(_ context.Context, su rx.Subscription) {
	o.mu.Lock()
	o.su = su
	o.mu.Unlock()
	su.Request(1)
}

func (o *oneByOne) OnNext(p payload.Payload) {
	o.mu.Lock()
	o.items = append(o.items, p.DataUTF8())
	n, su := len(o.items), o.su
	o.mu.Unlock()
	switch {
	case n < o.max:
		su.Request(1)
	case n == o.max:
		close(o.full)
	}
}

func (o *oneByOne) OnComplete()       { o.end <- nil }
func (o *oneByOne) OnError(err error) { o.end <- err }

func (o *oneByOne) received() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.items...)
}

func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A peer that requests one item at a time gets exactly what it asked for:
// the handler's Sends succeed exactly as many times as the peer requested,
// and the next one returns an error once the peer cancels.
func TestBackpressureExactDemand(t *testing.T) {
	s := startServer(t)
	c := s.rawClient(t)
	sc := s.nextConn(t)
	const asked = 5
	sub := newOneByOne(asked)
	c.RequestStream(routed(t, "count", "1000")).SubscribeWith(context.Background(), sub)
	waitClosed(t, sub.full, "the requested items")
	sub.mu.Lock()
	sub.su.Cancel()
	sub.mu.Unlock()
	if e := sc.waitEvent(t, "count send error"); e != "count send error after 5: "+rsrt.ErrCancelled.Error() {
		t.Errorf("handler: %q", e)
	}
	if got := sub.received(); len(got) != asked || got[asked-1] != strconv.Itoa(asked-1) {
		t.Errorf("received %q", got)
	}
}

// A consumer that takes one item at a time, requesting each from OnNext,
// never stalls.
func TestSlowConsumerNeverStalls(t *testing.T) {
	s := startServer(t)
	c := s.rawClient(t)
	n := 10000
	if testing.Short() || raceEnabled {
		n = 2000
	}
	sub := newOneByOne(n + 1)
	c.RequestStream(routed(t, "count", strconv.Itoa(n))).SubscribeWith(context.Background(), sub)
	select {
	case err := <-sub.end:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatalf("stalled after %d items", len(sub.received()))
	}
	if got := sub.received(); len(got) != n || got[n-1] != strconv.Itoa(n-1) {
		t.Fatalf("received %d items", len(got))
	}
}

// An rsrt client whose loop body is slow (it makes a request-response on
// the same connection for every item) gets every item: demand renewed
// after the buffer filled up is not lost.
func TestClientSlowLoopBody(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(4))
	ctx := testCtx(t)
	const n = 500
	i := 0
	for p, err := range c.Caller().RequestStream(ctx, "count", rsrt.Payload{Data: []byte(strconv.Itoa(n))}) {
		if err != nil {
			t.Fatalf("after %d items: %v", i, err)
		}
		if string(p.Data) != strconv.Itoa(i) {
			t.Fatalf("item %d = %q", i, p.Data)
		}
		if i%2 == 0 {
			if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: p.Data}); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	if i != n {
		t.Fatalf("got %d items", i)
	}
}

// A request whose metadata is missing or malformed is answered with
// APPLICATION_ERROR, and the connection carries on.
func TestBadMetadata(t *testing.T) {
	s := startServer(t)
	c := s.rawClient(t)
	ctx := testCtx(t)
	cases := []struct {
		name string
		md   []byte
		want string
	}{
		{"none", nil, "invalid request: missing routing metadata entry (message/x.rsocket.routing.v0)"},
		{"no routing entry", []byte{0x80 | 5, 0, 0, 2, '{', '}'}, "invalid request metadata: missing routing metadata entry (message/x.rsocket.routing.v0)"},
		{"entry length past the end", []byte{0x80 | 0x7e, 0, 1, 0, 4, 'e', 'c', 'h', 'o'}, "invalid request metadata: entry length points past the end of the metadata"},
		{"tag length past the end", []byte{0x80 | 0x7e, 0, 0, 2, 9, 'e'}, "invalid request metadata: routing tag length points past the end of the entry"},
		{"truncated header", []byte{0x80 | 0x7e, 0}, "invalid request metadata: truncated composite metadata entry"},
	}
	for _, tc := range cases {
		_, err := c.RequestResponse(payload.New([]byte("x"), tc.md)).Block(ctx)
		var e rsocket.Error
		if !errors.As(err, &e) || e.ErrorCode() != rsocket.ErrorCodeApplicationError || string(e.ErrorData()) != tc.want {
			t.Errorf("%s: %v, want APPLICATION_ERROR %q", tc.name, err, tc.want)
		}
	}
	p, err := c.RequestResponse(routed(t, "echo", "still here")).Block(ctx)
	if err != nil || p.DataUTF8() != "still here" {
		t.Fatalf("after bad requests: %v", err)
	}
}

// A SETUP whose metadata MIME type is not composite metadata is refused.
func TestSetupRefused(t *testing.T) {
	s := startServer(t)
	closed := make(chan error, 1)
	c, err := rsocket.Connect().
		MetadataMimeType("application/json").
		DataMimeType(rsrt.MIMEJSON).
		OnClose(func(err error) { closed <- err }).
		Transport(rsocket.TCPClient().SetAddr(s.addr).Build()).
		Start(testCtx(t))
	if err != nil {
		t.Fatal(err) // v0.8.16 reports the refusal later, not here
	}
	defer c.Close()
	// (No request is sent here: one racing with the library closing the
	// connection trips the race detector inside rsocket-go.)
	select {
	case err := <-closed:
		var e rsocket.Error
		// On the wire: REJECTED_SETUP (rsocket-go's choice for any
		// acceptor error), with our reason in the text.
		if !errors.As(err, &e) || e.ErrorCode() != rsocket.ErrorCodeRejectedSetup ||
			string(e.ErrorData()) != `UNSUPPORTED_SETUP: unsupported metadata MIME type "application/json": this server routes on message/x.rsocket.composite-metadata.v0` {
			t.Errorf("close reason: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("refused connection not closed")
	}
}

// Cancelling streams and channels leaves no goroutine behind once the
// connections close.
func TestNoGoroutineLeak(t *testing.T) {
	// The connections' requests run on the library's elastic pool, made
	// once per process with a purger goroutine of its own: made before
	// the snapshot, so that the test passes whether it runs first or not.
	_ = scheduler.Elastic()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		// rsocket-go's shared schedulers keep idle pool workers.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sub := &cleanupT{TB: t}
	s := startServer(sub)
	c := s.dial(sub, rsrt.WithPrefetch(4))
	sc := s.nextConn(sub)
	n := 0
	for _, err := range c.Caller().RequestStream(ctx, "forever", rsrt.Payload{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 20 {
			break
		}
	}
	sc.waitEvent(t, "forever stopped")
	ch, err := c.Caller().RequestChannel(ctx, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	sc.waitEvent(t, "ticks stopped")
	sub.run()
	// Goroutines of a closed connection may take a moment to end, longer
	// than goleak's own retries: poll for up to three seconds.
	err = nil
	for range 30 {
		if err = goleak.Find(opts...); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error(err)
}

// cleanupT runs the cleanups registered through it when asked, so that a
// test can check for leaks after its connections closed.
type cleanupT struct {
	testing.TB
	fns []func()
}

func (c *cleanupT) Cleanup(f func()) { c.fns = append(c.fns, f) }

func (c *cleanupT) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}
