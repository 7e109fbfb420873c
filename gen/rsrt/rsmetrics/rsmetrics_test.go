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

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics"
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

// service is a one-route service: "hold" answers once release is closed;
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
	routes.HandleRequestResponse("hold", func(ctx context.Context, s *service, _ *rsrt.Payload) (rsrt.Payload, error) {
		select {
		case <-s.release:
			return rsrt.Payload{Data: []byte("done")}, nil
		case <-ctx.Done():
			return rsrt.Payload{}, ctx.Err()
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
	resp, err := r.ops.Client().Get(r.ops.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics over HTTP and parses it.
func (r *running) scrape(t *testing.T) metrics {
	t.Helper()
	code, body := r.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// metrics are the families of a scrape, by name.
type metrics map[string]*dto.MetricFamily

// value returns the value of the sample of name whose labels include
// labels (name=value pairs), and whether there is one.
func (ms metrics) value(name string, labels ...string) (float64, bool) {
	f := ms[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := make(map[string]string)
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// want checks the value of a sample.
func (ms metrics) want(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := ms.value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such sample", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventually scrapes until check finds what it wants (the server counts
// a closed connection on its own goroutines), failing after wait.
func (r *running) eventually(t *testing.T, what string, check func(metrics) bool) metrics {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ms := r.scrape(t)
		if check(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func is(name string, want float64, labels ...string) func(metrics) bool {
	return func(ms metrics) bool {
		v, ok := ms.value(name, labels...)
		return ok && v == want
	}
}

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
// served, a SETUP refused, a connection closed for a protocol violation,
// one refused over a listener's limit; and /readyz follows the server
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
	_, err = dial(t, r.srv.TCPAddr().String(), rsrt.WithSetupData([]byte("refuse me")))
	var rerr *rsrt.Error
	if !errors.As(err, &rerr) || rerr.Message != "refused" {
		t.Fatalf("a refused SETUP: %v", err)
	}
	// The limit is per listener: the refused connection must be gone
	// before the next one on TCP.
	r.eventually(t, "the refused connection to be gone", is("rsgen_connections_open", 2))
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
	ms := r.eventually(t, "the closed connections to be gone", is("rsgen_connections_open", 2))
	ms.want(t, 4, "rsgen_connections_accepted_total")
	ms.want(t, 1, "rsgen_connections_refused_total", "reason", "setup_refused")
	ms.want(t, 0, "rsgen_connections_refused_total", "reason", "max_connections")
	ms.want(t, 1, "rsgen_guard_connections_closed_total", "kind", "violation")
	ms.want(t, 0, "rsgen_guard_connections_closed_total", "kind", "setup_timeout")
	ms.want(t, 0, "rsgen_guard_frames_total", "action", "rejected")
	ms.want(t, 1, "rsgen_server_accepting")
	ms.want(t, 0, "rsgen_oneway_dropped_total", "reason", "limit")
	ms.want(t, 0, "rsgen_response_budget_waits_total", "budget", "connection")

	// One more on TCP, and the next is over MaxConnections (2 per
	// listener).
	third, err := net.DialTimeout("tcp", r.srv.TCPAddr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	r.eventually(t, "the third connection", is("rsgen_connections_open", 3))
	fourth, err := net.DialTimeout("tcp", r.srv.TCPAddr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	_ = fourth.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadAll(fourth); err != nil {
		t.Fatalf("the connection over the limit: %v", err)
	}
	r.eventually(t, "the refusal over the limit", is("rsgen_connections_refused_total", 1, "reason", "max_connections"))
	third.Close()

	// A request in flight holds the drain: meanwhile the server is not
	// ready, and says so, while it is still alive.
	answer := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, err := tcp.Caller().RequestResponse(ctx, "hold", rsrt.Payload{})
		answer <- err
	}()
	r.eventually(t, "the request in flight", func(metrics) bool { return r.gate.InFlight() == 1 })
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	r.eventually(t, "the drain", is("rsgen_server_accepting", 0))
	if code, body := r.get(t, "/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("/readyz while draining: %d %q, want 503", code, body)
	}
	if code, _ := r.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d", code)
	}
	close(r.svc.release)
	if err := <-answer; err != nil {
		t.Errorf("the request in flight during the drain: %v", err)
	}
	<-stopped
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
