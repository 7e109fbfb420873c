package e2e_test

// Interceptors, cancellation, deadlines on the wire and metadata beyond the
// schema, through the generated kitchen package, over TCP and WebSocket
// (the server of gen/rsrt/server, with its checking transports).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	rsserver "github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

// served is a kitchen server on TCP and WebSocket.
type served struct {
	gate    *rsrt.Gate
	addrs   []string // tcp://..., ws://.../
	servers chan kitchen.Server
}

// serveBoth starts a kitchen server with newServer on both transports
// until the test ends.
func serveBoth(t *testing.T, newServer func(*kitchen.Peer) kitchen.Server, opts ...rsrt.AcceptOption) *served {
	t.Helper()
	s := &served{gate: rsrt.NewGate(), servers: make(chan kitchen.Server, 16)}
	acc := kitchen.NewAcceptor(func(_ context.Context, peer *kitchen.Peer) (kitchen.Server, error) {
		srv := newServer(peer)
		s.servers <- srv
		return srv, nil
	}, append([]rsrt.AcceptOption{rsrt.WithLogger(quiet())}, opts...)...)
	srv := serveAcceptor(t, acc, rsserver.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Gate: s.gate})
	s.addrs = []string{"tcp://" + srv.TCPAddr().String(), "ws://" + srv.WSAddr().String() + "/"}
	return s
}

// dial connects a generated client to addr and returns it with the
// server value of its connection (see dialKitchen).
func (s *served) dial(t *testing.T, addr string, opts ...rsrt.DialOption) (*kitchen.Client, kitchen.Server) {
	t.Helper()
	c := dialKitchen(t, addr, s.gate, opts...)
	select {
	case srv := <-s.servers:
		return c, srv
	case <-time.After(testTimeout):
		t.Fatal("no connection accepted")
		return nil, nil
	}
}

// recorder is an interceptor that reports every call it sees as one line:
// the interaction, the route, the side, whether the peer and the handler
// are known, the metadata's MIME types, the items each way and the end.
type recorder struct {
	lines chan string
}

func newRecorder() *recorder { return &recorder{lines: make(chan string, 1024)} }

func (r *recorder) report(call *rsrt.Call, format string, args ...any) {
	side := "served"
	if call.Requester {
		side = "requested"
	}
	var mimes []string
	for _, e := range call.Metadata {
		mimes = append(mimes, e.MIME)
	}
	line := fmt.Sprintf("%s %s %s peer=%v handler=%T md=%s ", call.Interaction, call.Route, side,
		call.Peer.Addr != "", call.Handler, strings.Join(mimes, ","))
	r.lines <- line + fmt.Sprintf(format, args...)
}

func endText(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, io.EOF):
		return "eof"
	}
	var e *rsrt.Error
	if errors.As(err, &e) {
		return "error " + e.Message
	}
	return "error " + err.Error()
}

func (r *recorder) WrapUnary(next rsrt.UnaryFunc) rsrt.UnaryFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload) (*rsrt.Payload, error) {
		resp, err := next(ctx, call, req)
		r.report(call, "resp=%v end=%s", resp != nil, endText(err))
		return resp, err
	}
}

// counted counts the items of a Stream.
type counted struct {
	rsrt.Stream
	mu         sync.Mutex
	sent, recv int
}

func (c *counted) Send(ctx context.Context, p rsrt.Payload) error {
	err := c.Stream.Send(ctx, p)
	if err == nil {
		c.mu.Lock()
		c.sent++
		c.mu.Unlock()
	}
	return err
}

func (c *counted) Recv(ctx context.Context) (*rsrt.Payload, error) {
	p, err := c.Stream.Recv(ctx)
	if err == nil {
		c.mu.Lock()
		c.recv++
		c.mu.Unlock()
	}
	return p, err
}

func (c *counted) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.recv
}

func (r *recorder) WrapStreamHandler(next rsrt.StreamHandlerFunc) rsrt.StreamHandlerFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload, s rsrt.Stream) error {
		cs := &counted{Stream: s}
		err := next(ctx, call, req, cs)
		sent, recv := cs.counts()
		r.report(call, "req=%v sent=%d recv=%d end=%s", req != nil, sent, recv, endText(err))
		return err
	}
}

// countedClient reports the end of a client stream once: its inbound
// ended, or the caller closed it.
type countedClient struct {
	counted
	cs   rsrt.ClientStream
	once sync.Once
	end  func(sent, recv int, how string)
}

func (c *countedClient) Recv(ctx context.Context) (*rsrt.Payload, error) {
	p, err := c.counted.Recv(ctx)
	if err != nil {
		c.finish(endText(err))
	}
	return p, err
}

func (c *countedClient) CloseSend() error { return c.cs.CloseSend() }

func (c *countedClient) Close() error {
	c.finish("closed")
	return c.cs.Close()
}

func (c *countedClient) finish(how string) {
	c.once.Do(func() {
		sent, recv := c.counts()
		c.end(sent, recv, how)
	})
}

func (r *recorder) WrapStreamClient(next rsrt.StreamClientFunc) rsrt.StreamClientFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload) (rsrt.ClientStream, error) {
		cs, err := next(ctx, call, req)
		if err != nil {
			r.report(call, "open failed: %s", endText(err))
			return nil, err
		}
		return &countedClient{counted: counted{Stream: cs}, cs: cs, end: func(sent, recv int, how string) {
			r.report(call, "req=%v sent=%d recv=%d end=%s", req != nil, sent, recv, how)
		}}, nil
	}
}

// skip drops the lines reported so far.
func (r *recorder) skip() {
	for {
		select {
		case <-r.lines:
		default:
			return
		}
	}
}

// want waits for the recorder's next line and checks it; lines are
// reported in the order calls end, which each step of the tests below
// fixes by waiting.
func (r *recorder) want(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-r.lines:
		if got != want {
			t.Errorf("interceptor saw\n\t%s\nwant\n\t%s", got, want)
		}
	case <-time.After(testTimeout):
		t.Fatalf("interceptor saw nothing; want\n\t%s", want)
	}
}

// TestInterceptors checks that the interceptors of both sides see every
// interaction model, both ways, with the route, the side, the peer, the
// handler, the metadata, the items and the end of each call.
func TestInterceptors(t *testing.T) {
	srvRec := newRecorder()
	s := serveBoth(t, func(peer *kitchen.Peer) kitchen.Server {
		return &server{peer: peer, events: make(chan string, 1024)}
	}, rsrt.WithInterceptors(srvRec))
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			srvRec.skip() // the previous subtest's cleanup call
			cliRec := newRecorder()
			ch := &client{events: make(chan string, 16)}
			c, sv := s.dial(t, addr, kitchen.WithHandler(ch), rsrt.WithDialInterceptors(cliRec))
			srv := sv.(*server)
			ctx := ctxFor(t)

			tag := "t"
			if _, err := c.RrMeta(ctx, "x", "trace", &tag, []byte("b"), nil); err != nil {
				t.Fatal(err)
			}
			md := "kitchen/trace-id,kitchen/tag,application/x.kitchen.blob"
			srvRec.want(t, "request-response rr.meta served peer=true handler=*e2e_test.server md="+md+" resp=true end=ok")
			// The requester's deadline entry is what it sends.
			cliRec.want(t, "request-response rr.meta requested peer=true handler=<nil> md="+md+","+rsrt.MIMEDeadline+" resp=true end=ok")

			if err := c.FnfEmpty(context.Background()); err != nil {
				t.Fatal(err)
			}
			cliRec.want(t, "fire-and-forget fnf.empty requested peer=true handler=<nil> md= resp=false end=ok")
			srvRec.want(t, "fire-and-forget fnf.empty served peer=true handler=*e2e_test.server md= resp=false end=ok")

			if err := c.PushMeta(context.Background(), "tr", nil); err != nil {
				t.Fatal(err)
			}
			cliRec.want(t, "metadata-push push.meta requested peer=true handler=<nil> md=kitchen/trace-id resp=false end=ok")
			srvRec.want(t, "metadata-push push.meta served peer=true handler=*e2e_test.server md=kitchen/trace-id resp=false end=ok")

			pts := collect(t, c.StreamPoints(context.Background(), kitchen.Point{X: 2}))
			if len(pts) != 3 {
				t.Fatalf("stream.points: %v", pts)
			}
			cliRec.want(t, "request-stream stream.points requested peer=true handler=<nil> md= req=true sent=0 recv=3 end=eof")
			srvRec.want(t, "request-stream stream.points served peer=true handler=*e2e_test.server md= req=true sent=3 recv=0 end=ok")

			// Breaking out of the loop closes the stream; the server's
			// handler ends with the cancel.
			n := 0
			for _, err := range c.StreamEmpty(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				if n++; n == 5 {
					break
				}
			}
			cliRec.want(t, "request-stream stream.empty requested peer=true handler=<nil> md= req=true sent=0 recv=5 end=closed")
			line := <-srvRec.lines
			if !strings.HasPrefix(line, "request-stream stream.empty served") || !strings.HasSuffix(line, "end=error "+rsrt.ErrCancelled.Error()) {
				t.Errorf("interceptor saw %q for a cancelled stream", line)
			}

			chn, err := c.ChannelStrings(context.Background(), "a")
			if err != nil {
				t.Fatal(err)
			}
			if err := chn.Send("b"); err != nil {
				t.Fatal(err)
			}
			_ = chn.CloseSend()
			if got := collect(t, chn.Recv()); !slices.Equal(got, []string{"A", "B"}) {
				t.Fatalf("channel.strings: %v", got)
			}
			cliRec.want(t, "request-channel channel.strings requested peer=true handler=<nil> md= req=true sent=1 recv=2 end=eof")
			srvRec.want(t, "request-channel channel.strings served peer=true handler=*e2e_test.server md= req=false sent=2 recv=2 end=ok")

			// The server calls the client: the sides swap.
			if got, err := srv.peer.Time(ctx); err != nil || got != "12:00" {
				t.Fatalf("time: %q, %v", got, err)
			}
			cliRec.want(t, "request-response time served peer=true handler=*e2e_test.client md= resp=true end=ok")
			srvRec.want(t, "request-response time requested peer=true handler=<nil> md="+rsrt.MIMEDeadline+" resp=true end=ok")

			xc, err := srv.peer.ClientChat(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := xc.Send("hi"); err != nil {
				t.Fatal(err)
			}
			_ = xc.CloseSend()
			if got := collect(t, xc.Recv()); !slices.Equal(got, []string{"re: hi"}) {
				t.Fatalf("client.chat: %v", got)
			}
			srvRec.want(t, "request-channel client.chat requested peer=true handler=<nil> md= req=false sent=1 recv=1 end=eof")
			cliRec.want(t, "request-channel client.chat served peer=true handler=*e2e_test.client md= req=false sent=1 recv=1 end=ok")
		})
	}
}

// TestUnaryInterceptorFunc checks that a UnaryInterceptorFunc wraps the
// unary calls of both sides and lets streams through.
func TestUnaryInterceptorFunc(t *testing.T) {
	seen := make(chan string, 16)
	unary := rsrt.UnaryInterceptorFunc(func(next rsrt.UnaryFunc) rsrt.UnaryFunc {
		return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload) (*rsrt.Payload, error) {
			resp, err := next(ctx, call, req)
			seen <- fmt.Sprintf("%s %s requester=%v", call.Interaction, call.Route, call.Requester)
			return resp, err
		}
	})
	s := serveBoth(t, func(peer *kitchen.Peer) kitchen.Server {
		return &server{peer: peer, events: make(chan string, 1024)}
	}, rsrt.WithInterceptors(unary))
	c, _ := s.dial(t, s.addrs[0], rsrt.WithDialInterceptors(unary))
	ctx := ctxFor(t)
	if got := collect(t, c.StreamStrings(ctx, "a b")); len(got) != 2 {
		t.Fatalf("stream.strings: %v", got)
	}
	if _, err := c.RrString(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// The stream went through unseen: the first lines are the
	// request-response's, served then answered.
	for _, want := range []string{"request-response rr.string requester=false", "request-response rr.string requester=true"} {
		if got := <-seen; got != want {
			t.Errorf("interceptor saw %q, want %q", got, want)
		}
	}
}

// ctxKey is the key of the value the interceptor of TestInterceptorRefuses
// puts in the handler's context.
type ctxKey struct{}

// valueServer answers rr.string with the value the interceptor put in its
// context.
type valueServer struct {
	server
}

func (v *valueServer) RrString(ctx context.Context, req string) (string, error) {
	s, _ := ctx.Value(ctxKey{}).(string)
	return req + " " + s, nil
}

// TestInterceptorRefuses checks that an interceptor can refuse a call of
// every interaction model, on the serving side and on the requesting
// side, and pass a derived context to the handler.
func TestInterceptorRefuses(t *testing.T) {
	refused := func(route string) bool {
		return route == kitchen.RouteRrBytes || strings.HasPrefix(route, "stream.") || strings.HasPrefix(route, "channel.") ||
			route == kitchen.RouteFnfEmpty
	}
	s := serveBoth(t, func(peer *kitchen.Peer) kitchen.Server {
		return &valueServer{server{peer: peer, events: make(chan string, 1024)}}
	}, rsrt.WithInterceptors(rsrt.BeforeCall(func(ctx context.Context, call *rsrt.Call) (context.Context, error) {
		if refused(call.Route) {
			return nil, rsrt.NewError("refused: %s", call.Route)
		}
		return context.WithValue(ctx, ctxKey{}, "from the interceptor"), nil
	})))
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			c, sv := s.dial(t, addr, rsrt.WithDialInterceptors(rsrt.BeforeCall(func(ctx context.Context, call *rsrt.Call) (context.Context, error) {
				if call.Route == kitchen.RoutePushBare {
					return nil, errors.New("not sending")
				}
				return ctx, nil
			})))
			ctx := ctxFor(t)
			wantErr := func(err error, text string) {
				t.Helper()
				var e *rsrt.Error
				if !errors.As(err, &e) || e.Message != text {
					t.Errorf("error %v, want APPLICATION_ERROR %q", err, text)
				}
			}
			got, err := c.RrString(ctx, "hello")
			if err != nil || got != "hello from the interceptor" {
				t.Errorf("rr.string: %q, %v", got, err)
			}
			_, err = c.RrBytes(ctx, []byte("x"))
			wantErr(err, "refused: rr.bytes")
			for _, err := range c.StreamStrings(ctx, "a b") {
				wantErr(err, "refused: stream.strings")
			}
			chn, err := c.ChannelStrings(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range chn.Recv() {
				wantErr(err, "refused: channel.strings")
			}
			// Refused one-way requests run no handler; the
			// request-response after them is served after them.
			if err := c.FnfEmpty(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.PushBare(ctx); err == nil || err.Error() != "not sending" {
				t.Errorf("push.bare: %v, want the client interceptor's error", err)
			}
			if err := c.FnfObject(ctx, kitchen.Item{Name: "after"}); err != nil {
				t.Fatal(err)
			}
			srv := sv.(*valueServer)
			if e := waitEvent(t, srv.events, "fnf."); e != "fnf.object after" {
				t.Errorf("first one-way handler run: %q, want fnf.object (fnf.empty refused)", e)
			}
		})
	}
}
