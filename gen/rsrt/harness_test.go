package rsrt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// testTimeout bounds every wait of a test so that a bug fails it instead of
// hanging the run.
const testTimeout = 10 * time.Second

// conn is the per-connection handler value of the test service.
type conn struct {
	c       *rsrt.Conn
	events  chan string              // what handlers observed, for assertions
	release chan struct{}            // closed by a test to let route "slow" return
	feeds   chan *testFeed           // the sources of route "fed"'s streams
	fed     atomic.Pointer[testFeed] // the latest of them, for route "feedone"
}

func (c *conn) event(format string, args ...any) {
	select {
	case c.events <- fmt.Sprintf(format, args...):
	default: // tests read what they need; never block a handler
	}
}

// kv is the JSON body of route "json".
type kv struct {
	Key   string `json:"key"`
	Value int    `json:"value"`
}

// serverRoutes builds the test service's dispatch table by hand.
func serverRoutes() *rsrt.Routes[*conn] {
	r := rsrt.NewRoutes[*conn]()
	r.HandleRequestResponse("echo", func(_ context.Context, _ *conn, req *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{Data: req.Data, Metadata: req.Metadata}, nil
	})
	r.HandleRequestResponse("json", func(_ context.Context, _ *conn, req *rsrt.Payload) (rsrt.Payload, error) {
		v, err := rsrt.DecodeJSON[kv](req)
		if err != nil {
			return rsrt.Payload{}, rsrt.BadRequest("json", "request data", err)
		}
		v.Value++
		return rsrt.EncodeJSON(v)
	})
	r.HandleRequestResponse("string", func(_ context.Context, _ *conn, req *rsrt.Payload) (rsrt.Payload, error) {
		s, err := rsrt.DecodeString(req)
		if err != nil {
			return rsrt.Payload{}, rsrt.BadRequest("string", "request data", err)
		}
		return rsrt.EncodeString(strings.ToUpper(s))
	})
	r.HandleRequestResponse("panic", func(context.Context, *conn, *rsrt.Payload) (rsrt.Payload, error) {
		panic("secret panic detail")
	})
	r.HandleRequestResponse("fail", func(context.Context, *conn, *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{}, rsrt.NewError("nope: %d", 42)
	})
	r.HandleRequestResponse("plainfail", func(context.Context, *conn, *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{}, errors.New("plain failure")
	})
	r.HandleRequestResponse("calltime", func(ctx context.Context, c *conn, _ *rsrt.Payload) (rsrt.Payload, error) {
		resp, err := c.c.Caller().RequestResponse(ctx, "time", rsrt.Payload{})
		if err != nil {
			var u *rsrt.UndeclaredRouteError
			if errors.As(err, &u) {
				return rsrt.EncodeString("undeclared")
			}
			return rsrt.Payload{}, err
		}
		return rsrt.Payload{Data: resp.Data}, nil
	})
	r.HandleRequestResponse("slow", func(_ context.Context, c *conn, _ *rsrt.Payload) (rsrt.Payload, error) {
		c.event("slow started")
		<-c.release
		return rsrt.EncodeString("done")
	})
	// feedone pushes an item to the connection's latest fed stream and
	// waits until its drain takes it ("wait"), or watches a window for it
	// ("watch"), and says which as an event.
	r.HandleRequestResponse("feedone", func(_ context.Context, c *conn, req *rsrt.Payload) (rsrt.Payload, error) {
		src := c.fed.Load()
		if src == nil {
			return rsrt.Payload{}, errors.New("no fed stream")
		}
		window := time.After(testTimeout)
		if string(req.Data) == "watch" {
			window = time.After(quietWindow)
		}
		select {
		case <-src.taken: // an earlier item's
		default:
		}
		src.push(0, 1)
		select {
		case <-src.taken:
			c.event("feedone: taken during the handler")
		case <-window:
			c.event("feedone: not taken during the handler")
		}
		return rsrt.EncodeString("pushed")
	})
	r.HandleFireAndForget("note", func(_ context.Context, c *conn, req *rsrt.Payload) error {
		c.event("note %s", req.Data)
		return nil
	})
	r.HandleFireAndForget("shared", func(_ context.Context, c *conn, req *rsrt.Payload) error {
		c.event("shared fnf %s", req.Data)
		return nil
	})
	r.HandleFireAndForget("fnfpanic", func(context.Context, *conn, *rsrt.Payload) error {
		panic("fnf panic")
	})
	r.HandleMetadataPush("push", func(_ context.Context, c *conn, req *rsrt.Payload) error {
		v, _ := req.Metadata.Get("app/x")
		c.event("push %s", v)
		return nil
	})
	r.HandleRequestStream("count", func(ctx context.Context, c *conn, req *rsrt.Payload, out rsrt.Stream) error {
		n, err := strconv.Atoi(string(req.Data))
		if err != nil {
			return rsrt.BadRequest("count", "request data", err)
		}
		for i := range n {
			if err := out.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(i))}); err != nil {
				c.event("count send error after %d: %v", i, err)
				return err
			}
		}
		c.event("count done %d", n)
		return nil
	})
	r.HandleRequestStream("fed", serveFed)
	r.HandleRequestStream("forever", func(ctx context.Context, c *conn, _ *rsrt.Payload, out rsrt.Stream) error {
		for i := 0; ; i++ {
			if err := out.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(i))}); err != nil {
				c.event("forever stopped: %v", err)
				return err
			}
		}
	})
	// "blobs" sends 64 KiB items until cancelled; "blob" answers 64 KiB,
	// reserved first.
	r.HandleRequestStream("blobs", func(ctx context.Context, c *conn, _ *rsrt.Payload, out rsrt.Stream) error {
		for i := 0; ; i++ {
			if err := out.Send(ctx, rsrt.Payload{Data: make([]byte, 64<<10)}); err != nil {
				return err
			}
			c.event("blob %d sent", i)
		}
	})
	r.HandleRequestResponse("blob", func(ctx context.Context, _ *conn, _ *rsrt.Payload) (rsrt.Payload, error) {
		if err := rsrt.ReserveResponse(ctx, 64<<10); err != nil {
			return rsrt.Payload{}, err
		}
		return rsrt.Payload{Data: make([]byte, 64<<10)}, nil
	})
	// "hold" reserves 64 KiB of the response budget and keeps it until
	// released; "big" answers 64 KiB without reserving.
	r.HandleRequestResponse("hold", func(ctx context.Context, c *conn, _ *rsrt.Payload) (rsrt.Payload, error) {
		if err := rsrt.ReserveResponse(ctx, 64<<10); err != nil {
			return rsrt.Payload{}, err
		}
		c.event("hold reserved")
		<-c.release
		return rsrt.Payload{}, nil
	})
	r.HandleRequestResponse("big", func(context.Context, *conn, *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{Data: make([]byte, 64<<10)}, nil
	})
	// "hang" sends three items, then waits for its context to end.
	r.HandleRequestStream("hang", func(ctx context.Context, c *conn, _ *rsrt.Payload, out rsrt.Stream) error {
		for i := range 3 {
			if err := out.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(i))}); err != nil {
				return err
			}
		}
		<-ctx.Done()
		c.event("hang stopped: %v", ctx.Err())
		return ctx.Err()
	})
	r.HandleRequestStream("streamfail", func(ctx context.Context, _ *conn, _ *rsrt.Payload, out rsrt.Stream) error {
		if err := out.Send(ctx, rsrt.Payload{Data: []byte("one")}); err != nil {
			return err
		}
		return rsrt.NewError("stream broke")
	})
	r.HandleRequestStream("streampanic", func(ctx context.Context, _ *conn, _ *rsrt.Payload, out rsrt.Stream) error {
		panic("stream panic detail")
	})
	r.HandleRequestStream("shared", func(ctx context.Context, _ *conn, req *rsrt.Payload, out rsrt.Stream) error {
		return out.Send(ctx, rsrt.Payload{Data: []byte("shared stream")})
	})
	// "upper" echoes each inbound item in upper case; its first payload
	// is an item.
	r.HandleRequestChannel("upper", false, func(ctx context.Context, c *conn, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		for {
			p, err := in.Recv(ctx)
			if err == io.EOF {
				c.event("upper inbound complete")
				return nil
			}
			if err != nil {
				c.event("upper inbound error: %v", err)
				return err
			}
			if err := out.Send(ctx, rsrt.Payload{Data: []byte(strings.ToUpper(string(p.Data)))}); err != nil {
				c.event("upper send error: %v", err)
				return err
			}
		}
	})
	// "ticks" has an empty first payload; it sends ticks until cancelled
	// and reads inbound settings on the side.
	r.HandleRequestChannel("ticks", true, func(ctx context.Context, c *conn, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		go func() {
			for {
				p, err := in.Recv(ctx)
				if err != nil {
					return
				}
				c.event("ticks got %s", p.Data)
			}
		}()
		for i := 0; ; i++ {
			if err := out.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(i))}); err != nil {
				c.event("ticks stopped: %v", err)
				return err
			}
		}
	})
	// "sum" reads every item, then answers once with the sum.
	r.HandleRequestChannel("sum", true, func(ctx context.Context, c *conn, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		total := 0
		for {
			p, err := in.Recv(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(string(p.Data))
			if err != nil {
				return rsrt.BadRequest("sum", "request data", err)
			}
			total += n
		}
		return out.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(total))})
	})
	// "first" answers with one item and returns while the inbound is
	// still open.
	r.HandleRequestChannel("first", false, func(ctx context.Context, c *conn, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		p, err := in.Recv(ctx)
		if err != nil {
			return err
		}
		return out.Send(ctx, rsrt.Payload{Data: p.Data})
	})
	r.HandleRequestChannel("chanpanic", true, func(context.Context, *conn, rsrt.Stream) error {
		panic("channel panic detail")
	})
	return r
}

// clientHandler serves the client routes.
type clientHandler struct{ now string }

func clientRoutes() *rsrt.Routes[*clientHandler] {
	r := rsrt.NewRoutes[*clientHandler]()
	r.HandleRequestResponse("time", func(_ context.Context, h *clientHandler, _ *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.EncodeString(h.now)
	})
	return r
}

type server struct {
	addr  string
	conns chan *conn
	gate  *rsrt.Gate
}

// startServer serves routes on 127.0.0.1 until the test ends.
func startServer(t testing.TB, opts ...rsrt.AcceptOption) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), conns: make(chan *conn, 64), gate: rsrt.NewGate()}
	opts = append([]rsrt.AcceptOption{rsrt.WithLogger(quietLogger()), rsrt.WithGate(s.gate)}, opts...)
	acc := rsrt.NewAcceptor(serverRoutes(), func(_ context.Context, c *rsrt.Conn) (*conn, error) {
		cn := &conn{c: c, events: make(chan string, 1024), release: make(chan struct{}), feeds: make(chan *testFeed, 16)}
		select {
		case s.conns <- cn:
		default:
		}
		return cn, nil
	}, opts...)
	serveRSocket(t, ln, acc)
	return s
}

func serveRSocket(t testing.TB, ln net.Listener, acc rsocket.ServerAcceptor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rsocket.Receive().
			Fragment(1_000_000).
			Acceptor(acc).
			Transport(func(context.Context) (transport.ServerTransport, error) {
				return transport.NewTCPServerTransport(func(context.Context) (net.Listener, error) { return ln, nil }), nil
			}).
			Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(testTimeout):
			t.Error("server did not stop")
		}
	})
}

// nextConn returns the handler value of the next accepted connection.
func (s *server) nextConn(t testing.TB) *conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(testTimeout):
		t.Fatal("no connection accepted")
		return nil
	}
}

// waitEvent waits for an event starting with prefix, skipping others.
func (c *conn) waitEvent(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case e := <-c.events:
			if strings.HasPrefix(e, prefix) {
				return e
			}
		case <-deadline:
			t.Fatalf("no event %q", prefix)
			return ""
		}
	}
}

// dial connects an rsrt client to s. Before the client closes, its cleanup
// waits for the server's handlers to finish and for their frames to be
// delivered: rsocket-go v0.8.16 has data races between a connection
// closing and frames being queued or delivered on it, which the race
// detector would report against the test.
func (s *server) dial(t testing.TB, opts ...rsrt.DialOption) *rsrt.ClientConn {
	t.Helper()
	c := dial(t, s.addr, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.gate.Wait(ctx); err != nil {
			t.Errorf("handlers still running at the end of the test: %d", s.gate.InFlight())
		}
		// One more round trip: its response comes after every frame
		// the finished handlers sent, on the same dispatch goroutine,
		// so none is still being delivered when the client closes.
		_, _ = c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{})
	})
	return c
}

func dial(t testing.TB, addr string, opts ...rsrt.DialOption) *rsrt.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	opts = append([]rsrt.DialOption{rsrt.WithDialLogger(quietLogger())}, opts...)
	c, err := rsrt.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// requestAsync makes a request-response to route in a goroutine and
// sends its error, or want's verdict on its answer, on the channel it
// returns; want may be nil.
func requestAsync(ctx context.Context, c *rsrt.ClientConn, route string, want func(rsrt.Payload) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		resp, err := c.Caller().RequestResponse(ctx, route, rsrt.Payload{})
		if err == nil && want != nil {
			err = want(*resp)
		}
		done <- err
	}()
	return done
}

// answered returns a check for requestAsync: the answer's data is data.
func answered(data string) func(rsrt.Payload) error {
	return func(p rsrt.Payload) error {
		if string(p.Data) != data {
			return fmt.Errorf("answered %q, want %q", p.Data, data)
		}
		return nil
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// logSink collects log records so tests can check what was logged.
type logSink struct {
	mu      sync.Mutex
	recs    []string
	changed chan struct{} // closed and replaced on every record
}

func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, string(b))
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return len(b), nil
}

func (l *logSink) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// waitFor waits until a record containing s was logged.
func (l *logSink) waitFor(t testing.TB, s string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		l.mu.Lock()
		for _, r := range l.recs {
			if strings.Contains(r, s) {
				l.mu.Unlock()
				return
			}
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("nothing logged with %q", s)
		}
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// iterPull adapts a sequence for step-by-step reading in tests.
func iterPull[V any](seq func(func(V, error) bool)) (func() (V, error, bool), func()) {
	return iter.Pull2(iter.Seq2[V, error](seq))
}
