package rsmetrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// DefaultNamespace prefixes the metric names unless Config.Namespace is
// set.
const DefaultNamespace = "rsgen"

// UnknownRoute is the route label of a call on a route that is not in
// Config.Routes.
const UnknownRoute = "unknown"

// DefaultBuckets are the latency histogram's buckets, in seconds: from
// half a millisecond (a request-response over loopback) to a minute (a
// long stream).
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Config configures [New].
type Config struct {
	// Namespace prefixes every metric name (default DefaultNamespace).
	Namespace string
	// Routes are the route names of the schema (the generated Route...
	// constants). A call on another name is labelled UnknownRoute. When
	// empty, the runtime's route names are used as they come (on the
	// serving side they are the route table's, never a peer's), up to
	// maxRoutes distinct ones.
	Routes []string
	// Buckets are the latency histogram's buckets in seconds (default
	// DefaultBuckets).
	Buckets []float64
}

// maxRoutes bounds the distinct route labels when Config.Routes is empty.
const maxRoutes = 256

// Metrics records the calls a service serves, per route and interaction,
// and what its runtime waited for or dropped (an rsrt.ServerStats). Its
// AcceptOptions install both on an acceptor.
type Metrics struct {
	reg   prometheus.Registerer
	ns    string
	stats rsrt.ServerStats

	mu     sync.Mutex
	routes map[string]bool // allowed names; grows up to maxRoutes when open
	open   bool            // no Config.Routes
	series map[seriesKey]*series
	fast   sync.Map // seriesKey of a name that is its own label -> *series

	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  *prometheus.GaugeVec
	sent     *prometheus.CounterVec
	received *prometheus.CounterVec
}

// New returns the metrics of a service, registered on reg. It fails if
// reg already has metrics of the same names (another service in the
// process needs another Namespace, or a registry of its own).
func New(reg prometheus.Registerer, cfg Config) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("rsmetrics: nil Registerer")
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	buckets := cfg.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	m := &Metrics{reg: reg, ns: ns, routes: make(map[string]bool), open: len(cfg.Routes) == 0, series: make(map[seriesKey]*series)}
	for _, r := range cfg.Routes {
		m.routes[r] = true
	}
	labels := []string{"route", "interaction"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
		Help: "Requests served, by route and interaction, counted when their handler starts."}, labels)
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "request_errors_total",
		Help: "Requests served that ended with an error, by route, interaction and the RSocket error code sent."},
		[]string{"route", "interaction", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
		Help:    "Time from a request's arrival to the end of its handler (for a stream or channel, its whole life).",
		Buckets: buckets}, labels)
	m.streams = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "streams_open",
		Help: "Request-stream and request-channel handlers running."}, labels)
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stream_items_sent_total",
		Help: "Items sent on request-streams and request-channels served."}, labels)
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stream_items_received_total",
		Help: "Items received on request-channels served."}, labels)
	for _, c := range []prometheus.Collector{m.requests, m.errors, m.duration, m.streams, m.sent, m.received, runtimeCollector(ns, &m.stats)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("rsmetrics: %w", err)
		}
	}
	return m, nil
}

// AcceptOptions returns the options that make an acceptor record into m:
// its counters (rsrt.WithServerStats) and its Interceptor. Give them
// before other interceptors, so that the calls those refuse are recorded.
func (m *Metrics) AcceptOptions() []rsrt.AcceptOption {
	return []rsrt.AcceptOption{rsrt.WithServerStats(&m.stats), rsrt.WithInterceptors(m.Interceptor())}
}

// series are the metrics of one (route label, interaction), resolved
// once: recording a call is then a few atomic adds, with no label
// hashing.
type series struct {
	route, interaction string
	requests           prometheus.Counter
	duration           prometheus.Observer
	// streams and sent exist for streams and channels, received for
	// channels.
	streams        prometheus.Gauge
	sent, received prometheus.Counter
}

// seriesKey identifies series by route name and interaction.
type seriesKey struct {
	route string
	i     rsrt.Interaction
}

// seriesOf returns the series of a call on route with interaction i. The
// fast path holds the names that are their own label; any other name
// takes the lock and gets the UnknownRoute series, so that the map cannot
// grow with names.
func (m *Metrics) seriesOf(route string, i rsrt.Interaction) *series {
	if s, ok := m.fast.Load(seriesKey{route, i}); ok {
		return s.(*series)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	label := UnknownRoute
	switch {
	case m.routes[route]:
		label = route
	case m.open && len(m.routes) < maxRoutes:
		m.routes[route] = true
		label = route
	}
	k := seriesKey{label, i}
	s := m.series[k]
	if s == nil {
		is := i.String()
		s = &series{route: label, interaction: is,
			requests: m.requests.WithLabelValues(label, is),
			duration: m.duration.WithLabelValues(label, is),
		}
		// Only the series that can move exist: no stream gauge at 0
		// for a request-response.
		if i == rsrt.RequestStream || i == rsrt.RequestChannel {
			s.streams = m.streams.WithLabelValues(label, is)
			s.sent = m.sent.WithLabelValues(label, is)
		}
		if i == rsrt.RequestChannel {
			s.received = m.received.WithLabelValues(label, is)
		}
		m.series[k] = s
	}
	if label == route {
		m.fast.Store(k, s)
	}
	return s
}

// call is one call being served: what an interceptor records into as the
// call goes.
type call struct {
	m     *Metrics
	s     *series
	start time.Time
}

// begin records the start of a call on route with interaction i.
func (m *Metrics) begin(route string, i rsrt.Interaction) call {
	c := call{m: m, s: m.seriesOf(route, i), start: time.Now()}
	c.s.requests.Inc()
	if c.s.streams != nil {
		c.s.streams.Inc()
	}
	return c
}

// itemSent records an item of the call's stream or channel sent to the
// peer.
func (c call) itemSent() {
	if c.s.sent != nil {
		c.s.sent.Inc()
	}
}

// itemReceived records an item of the call's channel received.
func (c call) itemReceived() {
	if c.s.received != nil {
		c.s.received.Inc()
	}
}

// end records the end of the call, with the handler's error.
func (c call) end(err error) {
	c.s.duration.Observe(time.Since(c.start).Seconds())
	if c.s.streams != nil {
		c.s.streams.Dec()
	}
	if err != nil {
		c.m.errors.WithLabelValues(c.s.route, c.s.interaction, ErrorCode(err)).Inc()
	}
}

// ErrorCode returns the name of the RSocket error code err goes on the
// wire with, as the runtime sends a handler's error: an *rsrt.Error's
// code ("REJECTED", ...; "UNKNOWN" for a custom code), CANCELED for a
// cancelled context, APPLICATION_ERROR for anything else.
func ErrorCode(err error) string {
	var e *rsrt.Error
	switch {
	case errors.As(err, &e):
		return e.Code.String()
	case errors.Is(err, context.Canceled):
		return "CANCELED"
	}
	return "APPLICATION_ERROR"
}
