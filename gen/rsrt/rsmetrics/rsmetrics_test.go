package rsmetrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rsocket/rsocket-go/core"
	"go.uber.org/goleak"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// wait bounds every blocking step (a guard against a hang, never an
// assertion on speed).
const wait = 10 * time.Second

func TestMain(m *testing.M) {
	rsrt.RouteLibraryLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*Pool).purgePeriodically"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// service is the test service: "hold" (fire-and-forget) returns once
// release is closed; "echo" answers its request, or fails on "fail";
// "items" streams 3 items; "mirror" (a channel) sends back what it
// receives;
// "fed" is a stream fed from a source the test pushes to (see fed); a
// SETUP whose data is "refuse me" is refused.
type service struct {
	release chan struct{}
	feeds   chan *fed
}

// fed is the source of a "fed" stream.
type fed struct {
	f        *rsrt.Feeder
	returned chan error // what the handler returned
	mu       sync.Mutex
	items    []*rsrt.Shared[string]
}

func (s *fed) Next() (*rsrt.Shared[string], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		return nil, false
	}
	v := s.items[0]
	s.items = s.items[1:]
	return v, true
}

func (s *fed) Unsent(v *rsrt.Shared[string]) {
	s.mu.Lock()
	s.items = append([]*rsrt.Shared[string]{v}, s.items...)
	s.mu.Unlock()
}

func (s *fed) Ended(error) {}

func (s *fed) push(items ...string) {
	s.mu.Lock()
	for _, it := range items {
		s.items = append(s.items, rsrt.NewShared(it))
	}
	s.mu.Unlock()
	s.f.Wake()
}

// running is a server of the test service with its metrics, served over
// HTTP by rsmetrics.Handler.
type running struct {
	svc  *service
	srv  *server.Server
	gate *rsrt.Gate
	ops  *httptest.Server
	stop func() // cancels Serve and waits for it
}

// start serves the test service on TCP and WebSocket with limits, and
// its operations endpoints (with pprof when pprof is set). The server
// does not serve until serve is called, so that readiness before it can
// be checked.
func start(t *testing.T, limits guard.Limits, pprof bool) (r *running, serve func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := rsmetrics.New(reg, rsmetrics.Config{Routes: []string{"hold", "echo", "items", "mirror", "fed"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &service{release: make(chan struct{}), feeds: make(chan *fed, 4)}
	routes := rsrt.NewRoutes[*service]()
	routes.HandleFireAndForget("hold", func(ctx context.Context, s *service, _ *rsrt.Payload) error {
		select {
		case <-s.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	routes.HandleRequestResponse("echo", func(_ context.Context, _ *service, req *rsrt.Payload) (rsrt.Payload, error) {
		if string(req.Data) == "fail" {
			return rsrt.Payload{}, rsrt.NewError("failed as asked")
		}
		return rsrt.Payload{Data: req.Data}, nil
	})
	// Served, but not in Config.Routes: labelled "unknown".
	routes.HandleRequestResponse("secret", func(context.Context, *service, *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{}, nil
	})
	routes.HandleRequestStream("items", func(ctx context.Context, _ *service, _ *rsrt.Payload, out rsrt.Stream) error {
		for i := range 3 {
			if err := out.Send(ctx, rsrt.Payload{Data: []byte{byte('a' + i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	routes.HandleRequestStream("fed", func(ctx context.Context, s *service, _ *rsrt.Payload, out rsrt.Stream) error {
		src := &fed{returned: make(chan error, 1)}
		src.f = rsrt.NewSender(ctx, out, func(v string) (rsrt.Payload, error) { return rsrt.Payload{Data: []byte(v)}, nil }).Feed(src)
		s.feeds <- src
		err := src.f.Serve()
		src.returned <- err
		return err
	})
	routes.HandleRequestChannel("mirror", true, func(ctx context.Context, _ *service, st rsrt.Stream) error {
		for {
			p, err := st.Recv(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := st.Send(ctx, *p); err != nil {
				return err
			}
		}
	})
	quiet := slog.New(slog.DiscardHandler)
	acc := rsrt.NewAcceptor(routes, func(_ context.Context, c *rsrt.Conn) (*service, error) {
		if string(c.Setup().Data) == "refuse me" {
			return nil, rsrt.NewError("refused")
		}
		return svc, nil
	}, append(m.AcceptOptions(), rsrt.WithLogger(quiet))...)
	gate := rsrt.NewGate()
	srv, err := server.New(acc, server.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Limits: limits,
		Gate: gate, Logger: quiet, ShutdownTimeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterServer(srv); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterServer(srv); err == nil {
		t.Error("a server registered twice on the same registry: no error")
	}
	ops := httptest.NewServer(rsmetrics.Handler(rsmetrics.HandlerConfig{Gatherer: reg, Ready: srv.Accepting, Pprof: pprof}))
	t.Cleanup(ops.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r = &running{svc: svc, srv: srv, gate: gate, ops: ops}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(wait):
				t.Error("Serve did not return")
			}
		})
	}
	serve = func() {
		go func() { done <- srv.Serve(ctx) }()
		select {
		case <-srv.Ready():
		case <-time.After(wait):
			t.Fatal("the server is not ready")
		}
		t.Cleanup(r.stop)
	}
	return r, serve
}

// get returns the status code and body of an operations endpoint.
func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return metricstest.Get(t, r.ops.URL+path)
}

// eventually scrapes until cond holds.
func (r *running) eventually(t *testing.T, what string, cond func(metricstest.Samples) bool) metricstest.Samples {
	t.Helper()
	return metricstest.Eventually(t, r.ops.URL+"/metrics", what, wait, cond)
}

var is = metricstest.Is

func dial(t *testing.T, addr string, opts ...rsrt.DialOption) (*rsrt.ClientConn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := rsrt.Dial(ctx, addr, opts...)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// The connection metrics count what happened on both transports: clients
// served, a SETUP refused, an upgrade from another web origin refused, a
// connection closed for a protocol violation, one refused over a
// listener's limit; and /readyz follows the server
// from before it is bound, through serving, to its drain, while /healthz
// stays up and pprof is not served.
func TestConnectionMetricsAndProbes(t *testing.T) {
	r, serve := start(t, guard.Limits{MaxConnections: 2}, false)
	if code, _ := r.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Serve: %d, want 503", code)
	}
	if code, body := r.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	serve()
	if code, body := r.get(t, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz while serving: %d %q", code, body)
	}
	if code, _ := r.get(t, "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without Pprof: %d, want 404", code)
	}

	tcp, err := dial(t, r.srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, "ws://"+r.srv.WSAddr().String()+"/"); err != nil {
		t.Fatal(err)
	}
	// Refused over WebSocket: the transports count it where they write
	// the ERROR frame, each its own way.
	_, err = dial(t, "ws://"+r.srv.WSAddr().String()+"/", rsrt.WithSetupData([]byte("refuse me")))
	var rerr *rsrt.Error
	if !errors.As(err, &rerr) || rerr.Message != "refused" {
		t.Fatalf("a refused SETUP: %v", err)
	}
	// A web page of another origin may not open a WebSocket: 403.
	hdr := http.Header{"Origin": []string{"https://elsewhere.example"}}
	if ws, resp, err := websocket.DefaultDialer.Dial("ws://"+r.srv.WSAddr().String()+"/", hdr); err == nil {
		ws.Close()
		t.Error("an upgrade from another origin was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an upgrade from another origin: %v, want 403", err)
	}
	// The refused connection closes on its own time.
	r.eventually(t, "the refused connection to be gone", is(2, "rsgen_connections_open"))
	// A first frame that is not a SETUP (a KEEPALIVE) breaks the protocol.
	nc, err := net.DialTimeout("tcp", r.srv.TCPAddr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	keepalive := []byte{0, 0, 14, 0, 0, 0, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := nc.Write(keepalive); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("the violating connection: %v", err)
	}
	ms := r.eventually(t, "the closed connections to be gone", is(2, "rsgen_connections_open"))
	ms.Want(t, 4, "rsgen_connections_accepted_total")
	ms.Want(t, 1, "rsgen_connections_refused_total", "reason", "setup_refused")
	ms.Want(t, 0, "rsgen_connections_refused_total", "reason", "max_connections")
	ms.Want(t, 1, "rsgen_connections_refused_total", "reason", "origin")
	ms.Want(t, 1, "rsgen_guard_connections_closed_total", "kind", "violation")
	ms.Want(t, 0, "rsgen_guard_connections_closed_total", "kind", "setup_timeout")
	ms.Want(t, 0, "rsgen_guard_frames_total", "action", "rejected")
	ms.Want(t, 1, "rsgen_server_accepting")
	ms.Want(t, 0, "rsgen_oneway_dropped_total", "reason", "limit")
	ms.Want(t, 0, "rsgen_response_budget_waits_total", "budget", "connection")

	// One more on TCP, and the next is over MaxConnections (2 per
	// listener).
	third, err := net.DialTimeout("tcp", r.srv.TCPAddr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	r.eventually(t, "the third connection", is(3, "rsgen_connections_open"))
	fourth, err := net.DialTimeout("tcp", r.srv.TCPAddr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	_ = fourth.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadAll(fourth); err != nil {
		t.Fatalf("the connection over the limit: %v", err)
	}
	r.eventually(t, "the refusal over the limit", is(1, "rsgen_connections_refused_total", "reason", "max_connections"))
	third.Close()

	// A request in flight holds the drain: meanwhile the server is not
	// ready, and says so, while it is still alive. (A fire-and-forget:
	// the rsocket-go v0.8.16 client races with itself on a response that
	// arrives as the server closes the connection, the end of a drain.)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := tcp.Caller().FireAndForget(ctx, "hold", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "the request in flight", func(metricstest.Samples) bool { return r.gate.InFlight() == 1 })
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	r.eventually(t, "the drain", is(0, "rsgen_server_accepting"))
	if code, body := r.get(t, "/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("/readyz while draining: %d %q, want 503", code, body)
	}
	if code, _ := r.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d", code)
	}
	close(r.svc.release)
	<-stopped
	if code, _ := r.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz once stopped: %d, want 503", code)
	}
}

// The transport metrics export the server's traffic counts: the frames
// and bytes of calls over both transports, and the writes that sent them,
// as the server counted them once its connections are gone.
func TestTransportMetrics(t *testing.T) {
	r, serve := start(t, guard.Limits{}, false)
	serve()
	const calls = 5
	for _, addr := range []string{r.srv.TCPAddr().String(), "ws://" + r.srv.WSAddr().String() + "/"} {
		c, err := dial(t, addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		for range calls {
			if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("0123456789")}); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		_ = c.Close()
	}
	r.eventually(t, "the connections to be gone", is(0, "rsgen_connections_open"))
	if got := r.srv.Stats(); got.FramesReceived < 2*(1+calls) || got.FramesSent < 2*calls ||
		got.BytesReceived < got.FramesReceived*core.FrameHeaderLen+2*calls*10 || got.BytesSent < got.FramesSent*core.FrameHeaderLen+2*calls*10 ||
		got.Writes < 1 {
		t.Fatalf("the server counted %+v for two connections of %d calls each", got, calls)
	}
	// Nothing moves once the connections are gone: the scrape shows
	// what the server counted.
	got := r.srv.Stats()
	ms := metricstest.Scrape(t, r.ops.URL+"/metrics")
	if again := r.srv.Stats(); again != got {
		t.Fatalf("the counts moved with no connection: %+v, then %+v", got, again)
	}
	ms.Want(t, float64(got.FramesReceived), "rsgen_transport_frames_total", "direction", "received")
	ms.Want(t, float64(got.FramesSent), "rsgen_transport_frames_total", "direction", "sent")
	ms.Want(t, float64(got.BytesReceived), "rsgen_transport_frame_bytes_total", "direction", "received")
	ms.Want(t, float64(got.BytesSent), "rsgen_transport_frame_bytes_total", "direction", "sent")
	ms.Want(t, float64(got.Writes), "rsgen_transport_writes_total")
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	r, _ := start(t, guard.Limits{}, true)
	code, body := r.get(t, "/debug/pprof/")
	if code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ with Pprof: %d", code)
	}
	if code, body := r.get(t, "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/goroutine: %d %.80q", code, body)
	}
	if code, _ := r.get(t, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d, want 404", code)
	}
}

// Over a real connection, the interceptor records every interaction the
// service serves: requests, errors by code, durations, the items of a
// stream and of a channel both ways, streams open; a served route the
// Config does not list is labelled "unknown", and a request for a route
// the service does not serve is refused before any label is made.
func TestPerRouteMetrics(t *testing.T) {
	r, serve := start(t, guard.Limits{}, false)
	serve()
	close(r.svc.release)
	c, err := dial(t, "ws://"+r.srv.WSAddr().String()+"/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	call := c.Caller()
	for _, data := range []string{"one", "two"} {
		if p, err := call.RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte(data)}); err != nil || string(p.Data) != data {
			t.Fatalf("echo %s: %v", data, err)
		}
	}
	var rerr *rsrt.Error
	if _, err := call.RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("fail")}); !errors.As(err, &rerr) {
		t.Fatalf("echo fail: %v", err)
	}
	if _, err := call.RequestResponse(ctx, "secret", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
	if _, err := call.RequestResponse(ctx, "no.such.route", rsrt.Payload{}); !errors.As(err, &rerr) {
		t.Fatalf("a route not served: %v", err)
	}
	n := 0
	for _, err := range call.RequestStream(ctx, "items", rsrt.Payload{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("items: %d, want 3", n)
	}
	ch, err := call.RequestChannel(ctx, "mirror", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{"x", "y"} {
		if err := ch.Send(ctx, rsrt.Payload{Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.CloseSend(); err != nil {
		t.Fatal(err)
	}
	n = 0
	for _, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("mirror: %d items back, want 2", n)
	}
	if err := call.FireAndForget(ctx, "hold", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}

	rr := "request-response"
	ms := r.eventually(t, "the fire-and-forget and the channel's end", func(ms metricstest.Samples) bool {
		return is(1, "rsgen_requests_total", "route", "hold", "interaction", "fire-and-forget")(ms) &&
			is(0, "rsgen_streams_open", "route", "mirror", "interaction", "request-channel")(ms)
	})
	ms.Want(t, 3, "rsgen_requests_total", "route", "echo", "interaction", rr)
	ms.Want(t, 3, "rsgen_request_duration_seconds", "route", "echo", "interaction", rr)
	ms.Want(t, 1, "rsgen_request_errors_total", "route", "echo", "interaction", rr, "code", "APPLICATION_ERROR")
	ms.Want(t, 1, "rsgen_requests_total", "route", rsmetrics.UnknownRoute, "interaction", rr)
	ms.Want(t, 1, "rsgen_requests_total", "route", "items", "interaction", "request-stream")
	ms.Want(t, 3, "rsgen_stream_items_sent_total", "route", "items", "interaction", "request-stream")
	ms.Want(t, 0, "rsgen_streams_open", "route", "items", "interaction", "request-stream")
	ms.Want(t, 1, "rsgen_requests_total", "route", "mirror", "interaction", "request-channel")
	ms.Want(t, 2, "rsgen_stream_items_received_total", "route", "mirror", "interaction", "request-channel")
	ms.Want(t, 2, "rsgen_stream_items_sent_total", "route", "mirror", "interaction", "request-channel")
	if got := len(ms.Series("rsgen_request_errors_total")); got != 1 {
		t.Errorf("error series: %d, want 1", got)
	}
	for _, route := range ms.LabelValues("rsgen_requests_total", "route") {
		if route == "no.such.route" || route == "secret" {
			t.Errorf("a series for route %q", route)
		}
	}
}

// A stream that outlives its handler (rsrt.Sender.Feed) is counted open
// until it ends, not until its handler returns: the interceptor learns of
// the end from rsrt.OnStreamEnd.
func TestFedStreamCountedUntilItEnds(t *testing.T) {
	r, serve := start(t, guard.Limits{}, false)
	serve()
	c, err := dial(t, r.srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	got := make(chan error, 8)
	go func() {
		for _, err := range c.Caller().RequestStream(ctx, "fed", rsrt.Payload{}) {
			got <- err
			if err != nil {
				return
			}
		}
		got <- io.EOF
	}()
	var src *fed
	select {
	case src = <-r.svc.feeds:
	case <-time.After(wait):
		t.Fatal("the fed stream did not open")
	}
	src.push("a", "b")
	for range 2 {
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-src.returned:
		if err != nil {
			t.Fatalf("Serve = %v, want nil at once", err)
		}
	case <-time.After(wait):
		t.Fatal("the handler did not return: the stream did not outlive it under the metrics interceptor")
	}
	r.eventually(t, "the open fed stream and its items", func(ms metricstest.Samples) bool {
		return is(1, "rsgen_streams_open", "route", "fed", "interaction", "request-stream")(ms) &&
			is(2, "rsgen_stream_items_sent_total", "route", "fed", "interaction", "request-stream")(ms)
	})
	src.f.End(nil)
	if err := <-got; err != io.EOF {
		t.Fatalf("after End: %v, want the stream complete", err)
	}
	ms := r.eventually(t, "the fed stream's end", is(0, "rsgen_streams_open", "route", "fed", "interaction", "request-stream"))
	ms.Want(t, 1, "rsgen_requests_total", "route", "fed", "interaction", "request-stream")
	ms.Want(t, 1, "rsgen_request_duration_seconds", "route", "fed", "interaction", "request-stream")
	if got := len(ms.Series("rsgen_request_errors_total")); got != 0 {
		t.Errorf("error series: %d, want none", got)
	}
}
