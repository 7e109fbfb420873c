package rsrt_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// testFeed is the source of a stream of route "fed": the test pushes
// items, the stream takes them.
type testFeed struct {
	f    *rsrt.Feeder
	boom atomic.Bool // Next panics

	mu     sync.Mutex
	items  []*rsrt.Shared[string]
	unsent int
	// ended receives what ended the stream; returned, what the handler
	// returned, once it did.
	ended    chan error
	returned chan error
	// taken receives a value when Next returns an item, if nobody
	// waits for one already.
	taken chan struct{}
}

func (t *testFeed) Next() (*rsrt.Shared[string], bool) {
	if t.boom.Load() {
		panic("source broke")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.items) == 0 {
		return nil, false
	}
	v := t.items[0]
	t.items = t.items[1:]
	select {
	case t.taken <- struct{}{}:
	default:
	}
	return v, true
}

func (t *testFeed) Unsent(v *rsrt.Shared[string]) {
	t.mu.Lock()
	t.items = append([]*rsrt.Shared[string]{v}, t.items...)
	t.unsent++
	t.mu.Unlock()
}

func (t *testFeed) Ended(err error) { t.ended <- err }

// push adds items n0..n0+n-1 and wakes the stream.
func (t *testFeed) push(n0, n int) {
	t.mu.Lock()
	for i := n0; i < n0+n; i++ {
		t.items = append(t.items, rsrt.NewShared(strconv.Itoa(i)))
	}
	t.mu.Unlock()
	t.f.Wake()
}

func (t *testFeed) queued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

func encodeString(s string) (rsrt.Payload, error) { return rsrt.Payload{Data: []byte(s)}, nil }

// serveFed serves route "fed": a stream fed from a testFeed that the test
// receives on the connection's feeds and then drives.
func serveFed(ctx context.Context, c *conn, _ *rsrt.Payload, out rsrt.Stream) error {
	src := &testFeed{ended: make(chan error, 1), returned: make(chan error, 1), taken: make(chan struct{}, 1)}
	src.f = rsrt.NewSender(ctx, out, encodeString).Feed(src)
	c.fed.Store(src)
	c.feeds <- src
	err := src.f.Serve()
	src.returned <- err
	return err
}

func (c *conn) nextFeed(t *testing.T) *testFeed {
	t.Helper()
	select {
	case f := <-c.feeds:
		return f
	case <-time.After(testTimeout):
		t.Fatal("no fed stream opened")
		return nil
	}
}

func waitErr(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// streamItem is one item, or the end, of a stream a test reads.
type streamItem struct {
	data string
	err  error
	end  bool // the stream is over: complete when err is nil
}

// openStream requests route as a stream and reads it on a goroutine of its
// own (the request goes out when reading starts), until the stream ends or
// the test does.
func openStream(ctx context.Context, c *rsrt.ClientConn, route string) <-chan streamItem {
	items := make(chan streamItem, 1024)
	go func() {
		for p, err := range c.Caller().RequestStream(ctx, route, rsrt.Payload{}) {
			if err != nil {
				items <- streamItem{err: err, end: true}
				return
			}
			items <- streamItem{data: string(p.Data)}
		}
		items <- streamItem{end: true}
	}()
	return items
}

func nextItem(t *testing.T, items <-chan streamItem) streamItem {
	t.Helper()
	select {
	case it := <-items:
		return it
	case <-time.After(testTimeout):
		t.Fatal("no item arrived")
		return streamItem{}
	}
}

// endsWith reads the next item of a stream, which must be its end with
// an error whose message is msg.
func endsWith(t *testing.T, items <-chan streamItem, msg, when string) {
	t.Helper()
	it := nextItem(t, items)
	var e *rsrt.Error
	if !it.end || !errors.As(it.err, &e) || e.Message != msg {
		t.Fatalf("%s: %+v, want the end with %q", when, it, msg)
	}
}

// fedStream starts a server with interceptors ics, connects with a
// prefetch of 4, opens a "fed" stream and returns what the client reads
// of it, its source, and the client (for more calls).
func fedStream(t *testing.T, ics ...rsrt.Interceptor) (<-chan streamItem, *testFeed, *rsrt.ClientConn) {
	t.Helper()
	s := startServer(t, rsrt.WithInterceptors(ics...))
	c := s.dial(t, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	next := openStream(testCtx(t), c, "fed")
	return next, sc.nextFeed(t), c
}

// passUnary is an interceptor that lets every call through unchanged.
var passUnary = rsrt.UnaryInterceptorFunc(func(next rsrt.UnaryFunc) rsrt.UnaryFunc { return next })

// readN reads n items and checks they are from, from+1, ...
func readN(t *testing.T, items <-chan streamItem, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		it := nextItem(t, items)
		if it.end || it.data != strconv.Itoa(i) {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
}

// A fed stream outlives its handler: the handler returns at once, and the
// items pushed afterwards arrive in order, as the peer's demand allows,
// until End completes the stream.
func TestFedStreamOutlivesHandler(t *testing.T) {
	next, src, _ := fedStream(t, rsrt.BeforeCall(func(ctx context.Context, _ *rsrt.Call) (context.Context, error) {
		return ctx, nil // checks before the call do not need its end
	}))
	src.push(0, 3) // before the first item was asked for
	readN(t, next, 0, 3)
	if err := waitErr(t, src.returned, "the handler to return"); err != nil {
		t.Fatalf("Serve = %v, want nil at once", err)
	}
	// Past the handler's return, in bursts larger than the client's
	// window and one item at a time.
	src.push(3, 500)
	readN(t, next, 3, 500)
	for i := 503; i < 520; i++ {
		src.push(i, 1)
		readN(t, next, i, 1)
	}
	src.f.End(nil)
	if it := nextItem(t, next); !it.end || it.err != nil {
		t.Fatalf("after End: %+v, want the stream complete", it)
	}
	if err := waitErr(t, src.ended, "Ended"); err != nil {
		t.Fatalf("Ended(%v), want nil", err)
	}
	if src.unsent != 0 {
		t.Errorf("%d items given back on a stream that sent them all", src.unsent)
	}
}

// A fed stream sends exactly what the peer asks for, and nothing is lost
// when the peer cancels: what was not sent stays in the source.
func TestFedStreamExactDemand(t *testing.T) {
	s := startServer(t)
	c := s.rawClient(t)
	sc := s.nextConn(t)
	const asked = 5
	sub := newOneByOne(asked)
	c.RequestStream(routed(t, "fed", "")).SubscribeWith(context.Background(), sub)
	src := sc.nextFeed(t)
	src.push(0, 20)
	waitClosed(t, sub.full, "the requested items")
	// No more than asked for, however long we wait: a wrong count
	// would show up by the time the echo below, queued after any
	// extra item, comes back.
	if _, err := c.RequestResponse(routed(t, "echo", "")).Block(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := sub.received(); len(got) != asked || got[asked-1] != strconv.Itoa(asked-1) {
		t.Fatalf("received %q, want items 0..%d", got, asked-1)
	}
	if n := src.queued(); n != 20-asked {
		t.Fatalf("%d items left in the source, want %d", n, 20-asked)
	}
	sub.mu.Lock()
	sub.su.Cancel()
	sub.mu.Unlock()
	if err := waitErr(t, src.ended, "Ended after the peer's cancel"); err == nil {
		t.Error("Ended(nil) after the peer cancelled, want the cancellation")
	}
	if n := src.queued(); n != 20-asked {
		t.Errorf("%d items left in the source after the cancel, want %d", n, 20-asked)
	}
}

// endSeer is an interceptor that sees the end of the streams it serves.
type endSeer struct {
	rsrt.Interceptor
	ends chan error
}

func (e endSeer) WrapStreamHandler(next rsrt.StreamHandlerFunc) rsrt.StreamHandlerFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload, s rsrt.Stream) error {
		err := next(ctx, call, req, s)
		e.ends <- err
		return err
	}
}

// With an interceptor that sees the end of a stream, the fed stream is
// served on its handler's goroutine: the interceptor sees its end when the
// stream ends, not when the handler fed it.
func TestFedStreamWithInterceptorEnds(t *testing.T) {
	seer := endSeer{Interceptor: passUnary, ends: make(chan error, 4)}
	next, src, _ := fedStream(t, seer)
	for i := 0; i < 100; i += 10 {
		src.push(i, 10)
		readN(t, next, i, 10)
	}
	select {
	case err := <-seer.ends:
		t.Fatalf("the interceptor saw the stream end (%v) while it was open", err)
	case err := <-src.returned:
		t.Fatalf("the handler returned (%v) while the stream was open", err)
	default:
	}
	src.f.End(rsrt.NewError("fed stream over"))
	endsWith(t, next, "fed stream over", "after End(err)")
	if err := waitErr(t, seer.ends, "the interceptor to see the end"); err == nil {
		t.Error("the interceptor saw a clean end, want End's error")
	}
	if err := waitErr(t, src.ended, "Ended"); err == nil {
		t.Error("Ended(nil), want End's error")
	}
}

// A fed stream that outlives its handler still ends with its request's
// deadline and with the server's drain: its source hears of it, and the
// gate (which the harness waits for) lets it go.
func TestFedStreamEndsWithDeadlineAndDrain(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	sc := s.nextConn(t)

	dctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	next := openStream(dctx, c, "fed")
	src := sc.nextFeed(t)
	src.push(0, 1)
	readN(t, next, 0, 1)
	if err := waitErr(t, src.ended, "Ended at the deadline"); err == nil {
		t.Error("Ended(nil) at the deadline, want its error")
	}

	next = openStream(testCtx(t), c, "fed")
	src = sc.nextFeed(t)
	src.push(0, 1)
	readN(t, next, 0, 1)
	s.gate.Close()
	if it := nextItem(t, next); !it.end || it.err != nil {
		t.Fatalf("after the drain began: %+v, want the stream complete", it)
	}
	if err := waitErr(t, src.ended, "Ended at the drain"); err == nil {
		t.Error("Ended(nil) at the drain, want the context's error")
	}
}

// hookedSeer is a StreamEndHooker: it counts the items its streams send
// and learns of their end from OnStreamEnd.
type hookedSeer struct {
	rsrt.Interceptor
	ends chan string
}

func (hookedSeer) HooksStreamEnd() {}

type countingStream struct {
	rsrt.Stream
	mu *sync.Mutex
	n  *int
}

func (s countingStream) Send(ctx context.Context, p rsrt.Payload) error {
	err := s.Stream.Send(ctx, p)
	if err == nil {
		s.mu.Lock()
		*s.n++
		s.mu.Unlock()
	}
	return err
}

func (h hookedSeer) WrapStreamHandler(next rsrt.StreamHandlerFunc) rsrt.StreamHandlerFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload, s rsrt.Stream) error {
		var mu sync.Mutex
		n := 0
		if !rsrt.OnStreamEnd(ctx, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			h.ends <- call.Route + " " + strconv.Itoa(n) + " items, " + errString(err)
		}) {
			return errors.New("OnStreamEnd refused a served stream")
		}
		return next(ctx, call, req, countingStream{s, &mu, &n})
	}
}

func errString(err error) string {
	if err == nil {
		return "complete"
	}
	return err.Error()
}

// With an interceptor that learns of the end from OnStreamEnd, a fed
// stream still outlives its handler; its items pass through the
// interceptor's stream, and the hook hears of the end when the stream
// ends, with its outcome.
func TestFedStreamWithEndHook(t *testing.T) {
	seer := hookedSeer{Interceptor: passUnary, ends: make(chan string, 4)}
	next, src, c := fedStream(t, seer)
	ctx := testCtx(t)
	src.push(0, 1)
	readN(t, next, 0, 1)
	if err := waitErr(t, src.returned, "the handler to return"); err != nil {
		t.Fatalf("Serve = %v, want nil at once", err)
	}
	src.push(1, 49)
	readN(t, next, 1, 49)
	select {
	case e := <-seer.ends:
		t.Fatalf("the hook heard of an end (%s) while the stream was open", e)
	default:
	}
	src.f.End(nil)
	if it := nextItem(t, next); !it.end || it.err != nil {
		t.Fatalf("after End: %+v, want the stream complete", it)
	}
	select {
	case e := <-seer.ends:
		if e != "fed 50 items, complete" {
			t.Errorf("hook: %q, want %q", e, "fed 50 items, complete")
		}
	case <-time.After(testTimeout):
		t.Fatal("the hook never heard of the end")
	}

	// The hook hears of a regular stream's end too, with its error.
	for _, err := range c.Caller().RequestStream(ctx, "streamfail", rsrt.Payload{}) {
		if err != nil {
			break
		}
	}
	select {
	case e := <-seer.ends:
		if e != "streamfail 1 items, APPLICATION_ERROR: stream broke" {
			t.Errorf("hook: %q", e)
		}
	case <-time.After(testTimeout):
		t.Fatal("the hook never heard of streamfail's end")
	}
	if rsrt.OnStreamEnd(ctx, func(error) {}) {
		t.Error("OnStreamEnd accepted a context that serves no stream")
	}
}

// A source that panics on the drain ends its stream with "internal error",
// as a handler's panic does, and the stream leaves the gate (which the
// harness waits for).
func TestFedStreamSourcePanics(t *testing.T) {
	next, src, _ := fedStream(t)
	src.push(0, 1)
	readN(t, next, 0, 1)
	src.boom.Store(true)
	src.push(1, 1)
	endsWith(t, next, "internal error", "after the source panicked")
	if err := waitErr(t, src.ended, "Ended"); err == nil {
		t.Error("Ended(nil) after a panic")
	}
}
