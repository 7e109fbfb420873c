package rsmetrics

// The counters that the runtime, the checking transports and the server
// already keep as atomics are exported the way client_golang exports
// sql.DB's statistics (collectors.NewDBStatsCollector): a Collector that
// reads a snapshot at scrape time and sends constant metrics. Nothing is
// added to the paths that count.

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// sample is one metric of a snapshot.
type sample struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	value  float64
	labels []string
}

// snapshotCollector sends the samples read returns, at every scrape.
type snapshotCollector struct {
	descs []*prometheus.Desc
	read  func() []sample
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read() {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value, s.labels...)
	}
}

// runtimeCollector exports an rsrt.ServerStats.
func runtimeCollector(ns string, stats *rsrt.ServerStats) prometheus.Collector {
	waits := prometheus.NewDesc(ns+"_response_budget_waits_total",
		"Responses that waited for room in a response budget, by the budget that made them wait (connection or server).",
		[]string{"budget"}, nil)
	waitTime := prometheus.NewDesc(ns+"_response_budget_wait_seconds_total",
		"Time spent waiting for room in the response budgets, counted when each wait ends.", nil, nil)
	dropped := prometheus.NewDesc(ns+"_oneway_dropped_total",
		"Fire-and-forget and metadata-push requests dropped: over the connection's limit (limit) or during shutdown (shutting_down).",
		[]string{"reason"}, nil)
	return &snapshotCollector{
		descs: []*prometheus.Desc{waits, waitTime, dropped},
		read: func() []sample {
			c := stats.Snapshot()
			return []sample{
				{waits, prometheus.CounterValue, float64(c.ConnectionBudgetWaits), []string{"connection"}},
				{waits, prometheus.CounterValue, float64(c.ServerBudgetWaits), []string{"server"}},
				{waitTime, prometheus.CounterValue, c.BudgetWait.Seconds(), nil},
				{dropped, prometheus.CounterValue, float64(c.OneWayOverLimit), []string{"limit"}},
				{dropped, prometheus.CounterValue, float64(c.OneWayShuttingDown), []string{"shutting_down"}},
			}
		},
	}
}

// RegisterServer registers, on the registry m was built with, the
// metrics of a server's connections and of what its checking transports
// refused (see the package doc). A server is registered once.
func (m *Metrics) RegisterServer(srv *server.Server) error {
	if srv == nil {
		return errors.New("rsmetrics: nil server")
	}
	if err := m.reg.Register(serverCollector(m.ns, srv)); err != nil {
		return fmt.Errorf("rsmetrics: %w", err)
	}
	return nil
}

func serverCollector(ns string, srv *server.Server) prometheus.Collector {
	open := prometheus.NewDesc(ns+"_connections_open", "Connections open.", nil, nil)
	accepted := prometheus.NewDesc(ns+"_connections_accepted_total", "Connections accepted by the listeners.", nil, nil)
	refused := prometheus.NewDesc(ns+"_connections_refused_total",
		"Connections refused: over the listener's limit (max_connections), their SETUP refused (setup_refused), a WebSocket upgrade from a web origin the policy refuses (origin).",
		[]string{"reason"}, nil)
	closed := prometheus.NewDesc(ns+"_guard_connections_closed_total",
		"Connections the checking transports closed, by kind: violation (of the protocol or a limit), setup_timeout, idle_timeout, write_timeout.",
		[]string{"kind"}, nil)
	frames := prometheus.NewDesc(ns+"_guard_frames_total",
		"Frames the checking transports did not pass on as they were: inbound dropped, substituted or rejected, outbound CANCELs suppressed (cancel_suppressed).",
		[]string{"action"}, nil)
	accepting := prometheus.NewDesc(ns+"_server_accepting", "1 while the server accepts connections, 0 before it is bound and while it drains.", nil, nil)
	traffic := prometheus.NewDesc(ns+"_transport_frames_total",
		"RSocket frames read from (received) and written to (sent) the connections.",
		[]string{"direction"}, nil)
	trafficBytes := prometheus.NewDesc(ns+"_transport_frame_bytes_total",
		"Bytes of the frames counted by "+ns+"_transport_frames_total, without the TCP length prefix or the WebSocket header.",
		[]string{"direction"}, nil)
	writes := prometheus.NewDesc(ns+"_transport_writes_total",
		"Writes to the connections' sockets (a system call each unless a socket was full); sent frames per write show how many frames a write carries.",
		nil, nil)
	return &snapshotCollector{
		descs: []*prometheus.Desc{open, accepted, refused, closed, frames, accepting, traffic, trafficBytes, writes},
		read: func() []sample {
			c := srv.Stats()
			up := 0.0
			if srv.Accepting() {
				up = 1
			}
			cv := prometheus.CounterValue
			return []sample{
				{open, prometheus.GaugeValue, float64(srv.Connections()), nil},
				{accepted, cv, float64(c.Connections), nil},
				{refused, cv, float64(c.RefusedConnections), []string{"max_connections"}},
				{refused, cv, float64(c.RefusedSetups), []string{"setup_refused"}},
				{refused, cv, float64(c.RefusedOrigins), []string{"origin"}},
				{closed, cv, float64(c.Violations), []string{"violation"}},
				{closed, cv, float64(c.SetupTimeouts), []string{"setup_timeout"}},
				{closed, cv, float64(c.IdleTimeouts), []string{"idle_timeout"}},
				{closed, cv, float64(c.WriteTimeouts), []string{"write_timeout"}},
				{frames, cv, float64(c.Dropped), []string{"dropped"}},
				{frames, cv, float64(c.Substituted), []string{"substituted"}},
				{frames, cv, float64(c.Rejected), []string{"rejected"}},
				{frames, cv, float64(c.SuppressedCancels), []string{"cancel_suppressed"}},
				{accepting, prometheus.GaugeValue, up, nil},
				{traffic, cv, float64(c.FramesReceived), []string{"received"}},
				{traffic, cv, float64(c.FramesSent), []string{"sent"}},
				{trafficBytes, cv, float64(c.BytesReceived), []string{"received"}},
				{trafficBytes, cv, float64(c.BytesSent), []string{"sent"}},
				{writes, cv, float64(c.Writes), nil},
			}
		},
	}
}
