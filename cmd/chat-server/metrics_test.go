package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// With --metrics-addr and --pprof, the operations listener serves the
// metrics (a login shows up in them), the probes and pprof; the chat's
// WebSocket port serves none of them.
func TestRunServesMetricsAndPprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--metrics-addr=127.0.0.1:0", "--pprof"},
			env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	}()
	p := printed(t, &stdout, "tcp ", "ws ", "metrics ")
	tcp, ws, url := p[0], p[1], p[2]
	base := strings.TrimSuffix(url, "/metrics")

	dctx, dcancel := context.WithTimeout(ctx, wait)
	defer dcancel()
	c, err := chat.Dial(dctx, tcp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(dctx, "someone"); err != nil {
		t.Fatal(err)
	}
	ms := metricstest.Scrape(t, url)
	ms.Want(t, 1, "rsgen_connections_open")
	ms.Want(t, 1, "chat_sessions_logged_in")
	_ = c.Close()

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/debug/pprof/": 200, "/debug/pprof/cmdline": 200} {
		if code, _ := metricstest.Get(t, base+path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	httpWS := "http://" + strings.TrimPrefix(strings.TrimSuffix(ws, "/"), "ws://")
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if resp, err := http.Get(httpWS + path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("the WebSocket port serves %s", path)
			}
		}
	}
	stopRun(t, cancel, done)
}

func TestMetricsSettings(t *testing.T) {
	o, err := parse(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.config(nil); cfg.MetricsAddr != "" || cfg.Pprof {
		t.Fatalf("metrics on by default: %q, pprof %v", cfg.MetricsAddr, cfg.Pprof)
	}
	o, err = parse(nil, env(map[string]string{"CHAT_METRICS_ADDR": "127.0.0.1:9090", "CHAT_PPROF": "1"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := o.config(nil); cfg.MetricsAddr != "127.0.0.1:9090" || !cfg.Pprof {
		t.Fatalf("from the environment: %q, pprof %v", cfg.MetricsAddr, cfg.Pprof)
	}
	o, err = parse([]string{"--pprof=false"}, env(map[string]string{"CHAT_METRICS_ADDR": "127.0.0.1:9090", "CHAT_PPROF": "true"}), &bytes.Buffer{})
	if err != nil || o.pprof {
		t.Fatalf("--pprof=false over CHAT_PPROF: %v, pprof %v", err, o != nil && o.pprof)
	}
	if _, err := parse([]string{"--pprof"}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--pprof needs --metrics-addr") {
		t.Errorf("--pprof without --metrics-addr: %v", err)
	}
	if _, err := parse(nil, env(map[string]string{"CHAT_PPROF": "maybe"}), &bytes.Buffer{}); err == nil {
		t.Error("CHAT_PPROF=maybe accepted")
	}
}

// A metrics address already in use fails the start, with a clear error,
// before the chat ports accept anyone.
func TestRunFailsOnABusyMetricsPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stdout, stderr syncbuf.Buffer
	err = run(context.Background(), []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=", "--metrics-addr=" + busy.Addr().String()},
		env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "metrics listener") {
		t.Fatalf("run on a busy metrics port: %v", err)
	}
	if strings.Contains(stdout.String(), "tcp ") {
		t.Errorf("the chat port was announced: %q", stdout.String())
	}
}
