package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/transport"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

const testTimeout = 10 * time.Second

// server implements kitchen.Server for one connection.
type server struct {
	kitchen.UnimplementedServer
	peer   *kitchen.Peer
	events chan string
}

var _ kitchen.Server = (*server)(nil)

func (s *server) event(format string, args ...any) {
	select {
	case s.events <- fmt.Sprintf(format, args...):
	default:
	}
}

func (s *server) RrString(_ context.Context, req string) (string, error) { return req, nil }
func (s *server) RrBytes(_ context.Context, req []byte) ([]byte, error)  { return req, nil }
func (s *server) RrEmpty(context.Context) error                          { return nil }
func (s *server) RrObject(_ context.Context, req kitchen.Item) (kitchen.Item, error) {
	return req, nil
}

func (s *server) RrMeta(_ context.Context, req, traceID string, tag *string, blob, checksum []byte) (kitchen.RrMetaResponse, error) {
	return kitchen.RrMetaResponse{Data: append([]byte(req+"|"), blob...), TraceID: traceID, Tag: tag, Checksum: checksum}, nil
}

func (s *server) RrMetaOnly(_ context.Context, traceID string) (kitchen.RrMetaOnlyResponse, error) {
	tag := "tag of " + traceID
	return kitchen.RrMetaOnlyResponse{Tag: &tag}, nil
}

func (s *server) FnfObject(_ context.Context, req kitchen.Item) error {
	s.event("fnf.object %s", req.Name)
	return nil
}

func (s *server) FnfEmpty(context.Context) error {
	s.event("fnf.empty")
	return nil
}

func (s *server) FnfMeta(_ context.Context, req []byte, traceID string, tag *string) error {
	s.event("fnf.meta %s %s %v", req, traceID, tag != nil)
	return nil
}

func (s *server) StreamPoints(_ context.Context, req kitchen.Point, out *rsrt.Sender[kitchen.Point]) error {
	for i := int64(0); i <= req.X; i++ {
		if err := out.Send(kitchen.Point{X: i, Y: i}); err != nil {
			s.event("stream.points stopped at %d: %v", i, err)
			return err
		}
	}
	return nil
}

func (s *server) StreamStrings(_ context.Context, req string, out *rsrt.Sender[string]) error {
	for _, w := range strings.Fields(req) {
		if err := out.Send(w); err != nil {
			return err
		}
	}
	return nil
}

// StreamEmpty is endless: it stops when the client cancels.
func (s *server) StreamEmpty(_ context.Context, out *rsrt.Sender[struct{}]) error {
	for i := 0; ; i++ {
		if err := out.Send(struct{}{}); err != nil {
			s.event("stream.empty stopped after %d: %v", i, err)
			return err
		}
	}
}

func (s *server) StreamMeta(_ context.Context, blob []byte, out *rsrt.Sender[kitchen.StreamMetaResponse]) error {
	for i := range 3 {
		var tag *string
		if i%2 == 1 {
			t := fmt.Sprint("odd", i)
			tag = &t
		}
		if err := out.Send(kitchen.StreamMetaResponse{Data: blob, TraceID: fmt.Sprint("t", i), Tag: tag}); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) ChannelEcho(_ context.Context, in *rsrt.Inbound[kitchen.Echo], out *rsrt.Sender[kitchen.Echo]) error {
	for v, err := range in.All() {
		if err != nil {
			s.event("channel.echo inbound error: %v", err)
			return err
		}
		if err := out.Send(v); err != nil {
			s.event("channel.echo stopped: %v", err)
			return err
		}
	}
	return nil
}

func (s *server) ChannelStrings(_ context.Context, in *rsrt.Inbound[string], out *rsrt.Sender[string]) error {
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send(strings.ToUpper(v)); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) ChannelMeta(_ context.Context, in *rsrt.Inbound[kitchen.ChannelMetaRequest], out *rsrt.Sender[kitchen.ChannelMetaResponse]) error {
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		var y int64
		if v.Tag != nil {
			y = int64(len(*v.Tag))
		}
		if err := out.Send(kitchen.ChannelMetaResponse{Data: kitchen.Point{X: int64(len(v.Data)), Y: y}, Checksum: v.Data}); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) PushMeta(_ context.Context, traceID string, tag *string) error {
	s.event("push.meta %s %v", traceID, tag != nil)
	return nil
}

func (s *server) PushBare(context.Context) error {
	s.event("push.bare")
	return nil
}

func (s *server) Echo(_ context.Context, req kitchen.Echo) (kitchen.Echo, error) {
	if req.Text == "fail" {
		return kitchen.Echo{}, rsrt.NewError("echo refuses %q", req.Text)
	}
	return req, nil
}

func (s *server) EchoAndForget(_ context.Context, req kitchen.Echo) error {
	s.event("echo fnf %s", req.Text)
	return nil
}

// client implements kitchen.ClientHandler.
type client struct {
	events chan string
}

var _ kitchen.ClientHandler = (*client)(nil)

func (c *client) event(format string, args ...any) {
	select {
	case c.events <- fmt.Sprintf(format, args...):
	default:
	}
}

func (c *client) Time(context.Context) (string, error) { return "12:00", nil }

func (c *client) ClientMeta(_ context.Context, req string, tag *string) (kitchen.ClientMetaResponse, error) {
	r := kitchen.ClientMetaResponse{Data: req}
	if tag != nil {
		r.TraceID = *tag
	}
	return r, nil
}

func (c *client) ClientNotify(_ context.Context, req kitchen.Echo) error {
	c.event("notify %s", req.Text)
	return nil
}

func (c *client) ClientPoints(_ context.Context, req kitchen.Point, out *rsrt.Sender[kitchen.Point]) error {
	for i := int64(0); i <= req.X; i++ {
		if err := out.Send(kitchen.Point{X: i, Y: -i}); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) ClientChat(_ context.Context, in *rsrt.Inbound[string], out *rsrt.Sender[string]) error {
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send("re: " + v); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) ClientExchange(_ context.Context, in *rsrt.Inbound[[]byte], out *rsrt.Sender[[]byte]) error {
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send(bytes.ToUpper(v)); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) ClientPush(_ context.Context, traceID string) error {
	c.event("push %s", traceID)
	return nil
}

func (c *client) Echo(_ context.Context, req kitchen.Echo) (kitchen.Echo, error) {
	return kitchen.Echo{Text: "client " + req.Text}, nil
}

type fixture struct {
	addr    string
	servers chan *server
	gate    *rsrt.Gate
}

func start(t *testing.T) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: ln.Addr().String(), servers: make(chan *server, 16), gate: rsrt.NewGate()}
	acc := kitchen.NewAcceptor(func(_ context.Context, peer *kitchen.Peer) (kitchen.Server, error) {
		s := &server{peer: peer, events: make(chan string, 1024)}
		f.servers <- s
		return s, nil
	}, rsrt.WithLogger(quiet()), rsrt.WithGate(f.gate))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rsocket.Receive().Fragment(1_000_000).Acceptor(acc).
			Transport(func(context.Context) (transport.ServerTransport, error) {
				return transport.NewTCPServerTransport(func(context.Context) (net.Listener, error) { return ln, nil }), nil
			}).Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f
}

// dial connects a generated client to the fixture's server and returns
// it with the server value of its connection.
func (f *fixture) dial(t *testing.T, opts ...rsrt.DialOption) (*kitchen.Client, *server) {
	t.Helper()
	c := dialKitchen(t, f.addr, f.gate, opts...)
	select {
	case s := <-f.servers:
		return c, s
	case <-time.After(testTimeout):
		t.Fatal("no connection accepted")
		return nil, nil
	}
}

// dialKitchen connects a generated client to addr. Its cleanup first
// waits for the server's handlers (admitted by gate) to finish and their
// frames to be delivered, so that no frame is queued or delivered while
// the connection closes (data races inside rsocket-go v0.8.16).
func dialKitchen(t *testing.T, addr string, gate *rsrt.Gate, opts ...rsrt.DialOption) *kitchen.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := kitchen.Dial(ctx, addr, append([]rsrt.DialOption{rsrt.WithDialLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := gate.Wait(ctx); err != nil {
			t.Errorf("handlers still running: %d", gate.InFlight())
		}
		// One more round trip: its response comes after every frame the
		// finished handlers sent, on the same dispatch goroutine, so none
		// is still being delivered when the client closes.
		_ = c.RrEmpty(ctx)
		_ = c.Close()
	})
	return c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func waitEvent(t *testing.T, events <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case e := <-events:
			if strings.HasPrefix(e, prefix) {
				return e
			}
		case <-deadline:
			t.Fatalf("no event %q", prefix)
			return ""
		}
	}
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func TestRequestResponse(t *testing.T) {
	f := start(t)
	c, _ := f.dial(t)
	ctx := ctxFor(t)

	if got, err := c.RrString(ctx, "héllo"); err != nil || got != "héllo" {
		t.Errorf("rr.string: %q %v", got, err)
	}
	if got, err := c.RrBytes(ctx, []byte{0, 0xff, 1}); err != nil || !bytes.Equal(got, []byte{0, 0xff, 1}) {
		t.Errorf("rr.bytes: %x %v", got, err)
	}
	if err := c.RrEmpty(ctx); err != nil {
		t.Errorf("rr.empty: %v", err)
	}
	item := kitchen.Item{
		Name: "n", Count: 3, Weight: 1.5, Active: true, Tags: []string{"a", "b"},
		Origin: kitchen.Point{X: 1, Y: 2}, Path: []kitchen.Point{{X: 3}},
		Parent: &kitchen.Item{Name: "p", Tags: []string{}, Path: []kitchen.Point{}},
		Note:   ptr("note"), Limit: ptr(int64(9)), Score: ptr(0.5), Flag: ptr(false),
		Extras: []int64{7}, Corner: &kitchen.Point{X: 5}, Matrix: [][]float64{{1, 2}, {3}},
	}
	if got, err := c.RrObject(ctx, item); err != nil || !reflect.DeepEqual(got, item) {
		t.Errorf("rr.object: %+v %v", got, err)
	}
	got, err := c.RrMeta(ctx, "req", "trace", ptr("tag"), []byte{1, 2}, []byte{9})
	if err != nil || string(got.Data) != "req|\x01\x02" || got.TraceID != "trace" || got.Tag == nil || *got.Tag != "tag" || !bytes.Equal(got.Checksum, []byte{9}) {
		t.Errorf("rr.meta: %+v %v", got, err)
	}
	got, err = c.RrMeta(ctx, "req", "trace", nil, nil, nil)
	if err != nil || got.Tag != nil || got.Checksum != nil {
		t.Errorf("rr.meta without optional entries: %+v %v", got, err)
	}
	only, err := c.RrMetaOnly(ctx, "t1")
	if err != nil || only.Tag == nil || *only.Tag != "tag of t1" {
		t.Errorf("rr.meta.only: %+v %v", only, err)
	}
	if e, err := c.Echo(ctx, kitchen.Echo{Text: "x"}); err != nil || e.Text != "x" {
		t.Errorf("echo: %+v %v", e, err)
	}
	_, err = c.Echo(ctx, kitchen.Echo{Text: "fail"})
	var re *rsrt.Error
	if !errors.As(err, &re) || re.Code != core.ErrorCodeApplicationError || re.Message != `echo refuses "fail"` {
		t.Errorf("echo error: %v", err)
	}
}

func TestOneWay(t *testing.T) {
	f := start(t)
	c, s := f.dial(t)
	ctx := ctxFor(t)
	steps := []struct {
		call func() error
		want string
	}{
		{func() error { return c.FnfObject(ctx, kitchen.Item{Name: "it"}) }, "fnf.object it"},
		{func() error { return c.FnfEmpty(ctx) }, "fnf.empty"},
		{func() error { return c.FnfMeta(ctx, []byte("b"), "tr", ptr("x")) }, "fnf.meta b tr true"},
		{func() error { return c.EchoAndForget(ctx, kitchen.Echo{Text: "e"}) }, "echo fnf e"},
		{func() error { return c.PushMeta(ctx, "tr2", nil) }, "push.meta tr2 false"},
		{func() error { return c.PushBare(ctx) }, "push.bare"},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatal(err)
		}
		// One-way requests may be handled in any order: look for each.
		if e := waitEvent(t, s.events, strings.Fields(st.want)[0]); e != st.want {
			t.Errorf("event %q, want %q", e, st.want)
		}
	}
}

func TestStreams(t *testing.T) {
	f := start(t)
	c, _ := f.dial(t, rsrt.WithPrefetch(3))
	ctx := ctxFor(t)
	pts := collect(t, c.StreamPoints(ctx, kitchen.Point{X: 100}))
	if len(pts) != 101 || pts[100] != (kitchen.Point{X: 100, Y: 100}) {
		t.Errorf("stream.points: %d items", len(pts))
	}
	words := collect(t, c.StreamStrings(ctx, "a bb  ccc"))
	if !reflect.DeepEqual(words, []string{"a", "bb", "ccc"}) {
		t.Errorf("stream.strings: %q", words)
	}
	metas := collect(t, c.StreamMeta(ctx, []byte("blob")))
	if len(metas) != 3 || string(metas[2].Data) != "blob" || metas[2].TraceID != "t2" || metas[0].Tag != nil || metas[1].Tag == nil || *metas[1].Tag != "odd1" {
		t.Errorf("stream.meta: %+v", metas)
	}
}

// Cancelling mid-stream reaches the handler: its Send fails.
func TestStreamCancel(t *testing.T) {
	f := start(t)
	c, s := f.dial(t, rsrt.WithPrefetch(2))
	ctx := ctxFor(t)
	n := 0
	for _, err := range c.StreamEmpty(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	if e := waitEvent(t, s.events, "stream.empty stopped"); !strings.HasSuffix(e, rsrt.ErrCancelled.Error()) {
		t.Errorf("handler: %q", e)
	}
	// Cancelling through ctx works the same way.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n = 0
	var last error
	for _, err := range c.StreamEmpty(sctx) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 5 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("stream after ctx cancel ended with %v", last)
	}
	if e := waitEvent(t, s.events, "stream.empty stopped"); !strings.HasSuffix(e, rsrt.ErrCancelled.Error()) {
		t.Errorf("handler: %q", e)
	}
}

// A slow loop body (a request on the same connection per item) with a
// small prefetch gets every item, in order.
func TestStreamBackpressure(t *testing.T) {
	f := start(t)
	c, _ := f.dial(t, rsrt.WithPrefetch(2))
	ctx := ctxFor(t)
	var i int64
	for p, err := range c.StreamPoints(ctx, kitchen.Point{X: 300}) {
		if err != nil {
			t.Fatalf("after %d: %v", i, err)
		}
		if p.X != i {
			t.Fatalf("item %d is %+v", i, p)
		}
		if _, err := c.RrString(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		i++
	}
	if i != 301 {
		t.Fatalf("got %d items", i)
	}
}

func TestChannels(t *testing.T) {
	f := start(t)
	c, s := f.dial(t, rsrt.WithPrefetch(4))
	ctx := ctxFor(t)

	ch, err := c.ChannelEcho(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := range 50 {
			if err := ch.Send(kitchen.Echo{Text: fmt.Sprint(i)}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
		_ = ch.CloseSend()
	}()
	echoes := collect(t, ch.Recv())
	if len(echoes) != 50 || echoes[49].Text != "49" {
		t.Errorf("channel.echo: %d items", len(echoes))
	}

	cs, err := c.ChannelStrings(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Send("second"); err != nil {
		t.Fatal(err)
	}
	_ = cs.CloseSend()
	if got := collect(t, cs.Recv()); !reflect.DeepEqual(got, []string{"FIRST", "SECOND"}) {
		t.Errorf("channel.strings: %q", got)
	}

	cm, err := c.ChannelMeta(ctx, kitchen.ChannelMetaRequest{Data: []byte("abc"), Tag: ptr("tg")})
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Send(kitchen.ChannelMetaRequest{Data: []byte("z")}); err != nil {
		t.Fatal(err)
	}
	_ = cm.CloseSend()
	metas := collect(t, cm.Recv())
	if len(metas) != 2 || metas[0].Data != (kitchen.Point{X: 3, Y: 2}) || string(metas[0].Checksum) != "abc" || metas[1].Data != (kitchen.Point{X: 1}) {
		t.Errorf("channel.meta: %+v", metas)
	}

	// Closing a channel mid-way reaches the handler.
	ch, err = c.ChannelEcho(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(kitchen.Echo{Text: "one"}); err != nil {
		t.Fatal(err)
	}
	for v, err := range ch.Recv() {
		if err != nil || v.Text != "one" {
			t.Fatalf("%+v %v", v, err)
		}
		break // closes the channel
	}
	// The handler sees the cancel either in Send or, waiting for the next
	// item, as the cancellation of its context.
	if e := waitEvent(t, s.events, "channel.echo"); !strings.HasSuffix(e, rsrt.ErrCancelled.Error()) && !strings.HasSuffix(e, context.Canceled.Error()) {
		t.Errorf("handler after close: %q", e)
	}
}

func TestServerToClient(t *testing.T) {
	f := start(t)
	h := &client{events: make(chan string, 64)}
	_, s := f.dial(t, kitchen.WithHandler(h))
	ctx := ctxFor(t)
	p := s.peer

	if now, err := p.Time(ctx); err != nil || now != "12:00" {
		t.Errorf("time: %q %v", now, err)
	}
	if m, err := p.ClientMeta(ctx, "q", ptr("tg")); err != nil || m.Data != "q" || m.TraceID != "tg" {
		t.Errorf("client.meta: %+v %v", m, err)
	}
	if err := p.ClientNotify(ctx, kitchen.Echo{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, h.events, "notify"); e != "notify hi" {
		t.Errorf("event %q", e)
	}
	if err := p.ClientPush(ctx, "tr"); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, h.events, "push"); e != "push tr" {
		t.Errorf("event %q", e)
	}
	pts := collect(t, p.ClientPoints(ctx, kitchen.Point{X: 20}))
	if len(pts) != 21 || pts[20] != (kitchen.Point{X: 20, Y: -20}) {
		t.Errorf("client.points: %+v", pts)
	}
	chat, err := p.ClientChat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = chat.Send("a")
	_ = chat.Send("b")
	_ = chat.CloseSend()
	if got := collect(t, chat.Recv()); !reflect.DeepEqual(got, []string{"re: a", "re: b"}) {
		t.Errorf("client.chat: %q", got)
	}
	ex, err := p.ClientExchange(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = ex.Send([]byte("y"))
	_ = ex.CloseSend()
	if got := collect(t, ex.Recv()); len(got) != 2 || string(got[0]) != "X" || string(got[1]) != "Y" {
		t.Errorf("client.exchange: %q", got)
	}
	if e, err := p.Echo(ctx, kitchen.Echo{Text: "e"}); err != nil || e.Text != "client e" {
		t.Errorf("echo on the client: %+v %v", e, err)
	}
}

func TestServerToClientUndeclared(t *testing.T) {
	f := start(t)
	_, s := f.dial(t) // declares nothing
	ctx := ctxFor(t)
	p := s.peer
	var u *rsrt.UndeclaredRouteError
	if _, err := p.Time(ctx); !errors.As(err, &u) || u.Route != kitchen.RouteTime {
		t.Errorf("time: %v", err)
	}
	if err := p.ClientNotify(ctx, kitchen.Echo{}); !errors.As(err, &u) || u.Interaction != rsrt.FireAndForget {
		t.Errorf("client.notify: %v", err)
	}
	for _, err := range p.ClientPoints(ctx, kitchen.Point{}) {
		if !errors.As(err, &u) || u.Interaction != rsrt.RequestStream {
			t.Errorf("client.points: %v", err)
		}
	}
	if _, err := p.ClientChat(ctx); !errors.As(err, &u) || u.Interaction != rsrt.RequestChannel {
		t.Errorf("client.chat: %v", err)
	}
	if err := p.ClientPush(ctx, "t"); !errors.As(err, &u) || u.Interaction != rsrt.MetadataPush {
		t.Errorf("client.push: %v", err)
	}
}

// Each kind of bad request gets an APPLICATION_ERROR naming the problem,
// and the connection keeps serving.
func TestBadRequests(t *testing.T) {
	f := start(t)
	c, _ := f.dial(t)
	ctx := ctxFor(t)
	raw := c.Conn().Caller()
	cases := []struct {
		name  string
		route string
		req   rsrt.Payload
		want  string
	}{
		{"unknown route", "no.such", rsrt.Payload{}, `unknown route "no.such"`},
		{"wrong interaction", kitchen.RouteStreamPoints, rsrt.Payload{}, `route "stream.points" does not support request-response (it supports request-stream)`},
		{"bad UTF-8", kitchen.RouteRrString, rsrt.Payload{Data: []byte{0xff}}, "route rr.string: invalid request data: not valid UTF-8"},
		{"bad JSON", kitchen.RouteRrObject, rsrt.Payload{Data: []byte(`{"name":`)}, "route rr.object: invalid request data: bad JSON: unexpected EOF"},
		{"wrong JSON type", kitchen.RouteEcho, rsrt.Payload{Data: []byte(`{"text":5}`)}, `route echo: invalid request data: bad JSON: field "text": number is not a valid string`},
		{"unknown JSON key", kitchen.RouteEcho, rsrt.Payload{Data: []byte(`{"text":"a","more":1}`)}, `route echo: invalid request data: bad JSON: json: unknown field "more"`},
		{"missing metadata entry", kitchen.RouteRrMeta, rsrt.Payload{Data: []byte("x")}, "route rr.meta: invalid request metadata: missing metadata entry kitchen/trace-id"},
	}
	for _, tc := range cases {
		_, err := raw.RequestResponse(ctx, tc.route, tc.req)
		var e *rsrt.Error
		if !errors.As(err, &e) || e.Code != core.ErrorCodeApplicationError || e.Message != tc.want {
			t.Errorf("%s: %v, want APPLICATION_ERROR %q", tc.name, err, tc.want)
		}
	}
	for _, err := range raw.RequestStream(ctx, kitchen.RouteStreamPoints, rsrt.Payload{Data: []byte("[]")}) {
		var e *rsrt.Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Message, "route stream.points: invalid request data: bad JSON") {
			t.Errorf("bad stream request: %v", err)
		}
	}
	// A channel item that cannot be decoded is reported to the handler,
	// which here ends the channel with it.
	ch, err := raw.RequestChannel(ctx, kitchen.RouteChannelEcho, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(ctx, rsrt.Payload{Data: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	for _, err := range ch.Recv() {
		var e *rsrt.Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Message, "route channel.echo: invalid request data: bad JSON") {
			t.Errorf("bad channel item: %v", err)
		}
	}
	if got, err := c.RrString(ctx, "still fine"); err != nil || got != "still fine" {
		t.Fatalf("after bad requests: %q %v", got, err)
	}
}

// ChannelTraced answers each item with the channel's open metadata (the
// trace id and the tag, "-" when absent), the item and the size of its
// own checksum entry.
func (s *server) ChannelTraced(_ context.Context, traceID string, tag *string, in *rsrt.Inbound[kitchen.ChannelTracedRequest], out *rsrt.Sender[string]) error {
	t := "-"
	if tag != nil {
		t = *tag
	}
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send(fmt.Sprintf("%s %s %s %d", traceID, t, v.Data, len(v.Checksum))); err != nil {
			return err
		}
	}
	return nil
}

// ChannelTracedEmpty answers each item with the channel's trace id.
func (s *server) ChannelTracedEmpty(_ context.Context, traceID string, in *rsrt.Inbound[string], out *rsrt.Sender[string]) error {
	for v, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send(traceID + " " + v); err != nil {
			return err
		}
	}
	return nil
}
