package rsmetrics

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HandlerConfig configures [Handler].
type HandlerConfig struct {
	// Gatherer is the registry /metrics serves.
	Gatherer prometheus.Gatherer
	// Ready reports whether the service accepts clients (for an rsgen
	// server, server.Server.Accepting); nil means always ready.
	Ready func() bool
	// Pprof adds net/http/pprof under /debug/pprof/. It exposes the
	// process's stacks and memory, and profiling costs CPU: serve it only
	// on an address that only operators reach, never on a public port.
	Pprof bool
}

// Handler returns the HTTP handler of a service's operations endpoints:
//
//   - /metrics: the Gatherer's metrics, in the Prometheus exposition format;
//   - /healthz: 200 "ok" while the process serves HTTP at all (liveness);
//   - /readyz: 200 "ready" when Ready reports true, else 503 "not ready"
//     (readiness: before the listeners are bound, and while draining);
//   - /debug/pprof/...: net/http/pprof, only with Pprof.
//
// Every other path is 404. The pprof handlers are mounted on this
// handler's own mux, never on http.DefaultServeMux.
func Handler(cfg HandlerConfig) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Ready == nil || cfg.Ready() {
			plain(w, http.StatusOK, "ready")
			return
		}
		plain(w, http.StatusServiceUnavailable, "not ready")
	})
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func plain(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text + "\n"))
}
