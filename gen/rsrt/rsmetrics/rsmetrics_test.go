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
	server.RouteLibraryLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*Pool).purgePeriodically"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// service is a one-route service: "hold" (fire-and-forget) returns once
// release is closed;
// a SETUP whose data is "refuse me" is refused.
type service struct{ release chan struct{} }

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
	m, err := rsmetrics.New(reg, rsmetrics.Config{Routes: []string{"hold"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &service{release: make(chan struct{})}
	routes := rsrt.NewRoutes[*service]()
	routes.HandleFireAndForget("hold", func(ctx context.Context, s *service, _ *rsrt.Payload) error {
		select {
		case <-s.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
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
