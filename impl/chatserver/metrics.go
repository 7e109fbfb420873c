package chatserver

// The operations endpoints of a chat server: the runtime's metrics
// (gen/rsrt/rsmetrics), the chat's own, the Go runtime's and the
// process's, on a listener of their own, never on the chat's ports.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// chatRoutes are the routes of schema/chat.yaml: the route labels of the
// runtime's metrics.
var chatRoutes = []string{
	chat.RouteLogin, chat.RouteChannelJoin, chat.RouteChannelLeave, chat.RouteMessage,
	chat.RouteMessagesIncoming, chat.RouteChannels, chat.RouteChannelUsers,
	chat.RouteFileUpload, chat.RouteFileDownload, chat.RouteFiles, chat.RouteStatistics,
}

// ops is the metrics registry of a server and, when it has an address,
// its HTTP listener.
type ops struct {
	reg     *prometheus.Registry
	metrics *rsmetrics.Metrics
	ln      net.Listener
	pprof   bool
	http    *http.Server
	done    chan struct{}
}

// listenOps binds addr and builds the registry with the Go runtime's and
// the process's collectors and the runtime's metrics. Nothing is served
// before serve.
func listenOps(addr string, pprof bool) (*ops, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := rsmetrics.New(reg, rsmetrics.Config{Routes: chatRoutes})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return &ops{reg: reg, metrics: m, ln: ln, pprof: pprof, done: make(chan struct{})}, nil
}

// ClusterState is what the operations endpoints report of a cluster
// node's link to the others. (Its own type, not chatcluster's: the
// cluster's tests run chat servers.)
type ClusterState struct {
	// Connected is whether the node's NATS connection is up.
	Connected bool
	// Disconnects and Reconnects count its losses and recoveries.
	Disconnects, Reconnects uint64
	// RelayErrors counts the messages that could not be relayed.
	RelayErrors uint64
	// LiveNodes is the number of live nodes in the node's view, itself
	// included.
	LiveNodes int
}

// serve registers the server's and the service's collectors and serves
// the endpoints until close. cluster is nil on a single node.
func (o *ops) serve(srv *server.Server, svc *chatsvc.Service, store *filestore.Store, cluster func() ClusterState, log *slog.Logger) error {
	if err := o.metrics.RegisterServer(srv); err != nil {
		return err
	}
	if err := o.reg.Register(chatCollector(svc, store)); err != nil {
		return fmt.Errorf("chat metrics: %w", err)
	}
	ready := srv.Accepting
	if cluster != nil {
		if err := o.reg.Register(clusterCollector(cluster)); err != nil {
			return fmt.Errorf("cluster metrics: %w", err)
		}
		ready = func() bool { return srv.Accepting() && cluster().Connected }
	}
	o.http = &http.Server{
		Handler: rsmetrics.Handler(rsmetrics.HandlerConfig{Gatherer: o.reg, Ready: ready, Pprof: o.pprof}),
		// A slow or idle client holds nothing for long.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(o.done)
		if err := o.http.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "err", err)
		}
	}()
	return nil
}

// close stops the listener; requests being answered get a few seconds.
func (o *ops) close() {
	if o.http == nil {
		_ = o.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.http.Shutdown(ctx); err != nil {
		_ = o.http.Close()
	}
	<-o.done
}

// sample is one metric of the chat collector.
type sample struct {
	name, help string
	kind       prometheus.ValueType
	value      float64
}

// chatCollector exports the service's and the file store's counters,
// read at scrape time. store is nil when the service uses another store
// (a cluster's shared one): the file metrics are then left out.
func chatCollector(svc *chatsvc.Service, store *filestore.Store) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		st := svc.Stats()
		samples := []sample{
			{"chat_sessions_open", "Connections with a chat session, logged in or not.", prometheus.GaugeValue, float64(st.Connections)},
			{"chat_sessions_logged_in", "Sessions logged in (the user count of the statistics).", prometheus.GaugeValue, float64(st.LoggedIn)},
			{"chat_users", "Distinct user names logged in.", prometheus.GaugeValue, float64(st.Users)},
			{"chat_channels", "Channels with at least one member.", prometheus.GaugeValue, float64(st.Channels)},
			{"chat_incoming_streams", "messages.incoming streams open.", prometheus.GaugeValue, float64(st.IncomingStreams)},
			{"chat_messages_enqueued_total", "Messages put in a session's queue (one per recipient).", prometheus.CounterValue, float64(st.Enqueued)},
			{"chat_messages_delivered_total", "Messages sent on a messages.incoming stream.", prometheus.CounterValue, float64(st.Delivered)},
			{"chat_messages_dropped_total", "Messages dropped, oldest first, from a session's queue over its bounds or over its share of --max-queued.", prometheus.CounterValue, float64(st.Dropped)},
			{"chat_messages_dropped_over_share_total", "Those of chat_messages_dropped_total dropped for --max-queued: the queue held more than its share while all queues together held more than the bound.", prometheus.CounterValue, float64(st.DroppedOverShare)},
			{"chat_queued_messages", "Messages waiting in the session queues.", prometheus.GaugeValue, float64(st.Queued)},
			{"chat_queued_bytes", "Content bytes waiting in the session queues (bounded by --max-queued).", prometheus.GaugeValue, float64(st.QueuedBytes)},
			{"chat_queue_longest_messages", "Length of the longest session queue.", prometheus.GaugeValue, float64(st.LongestQueue)},
			{"chat_client_reports_total", "Statistics reports received from clients (fire-and-forget).", prometheus.CounterValue, float64(st.ClientReports)},
			{"chat_upload_memory_bytes", "Upload payloads held in memory until written (bounded by --upload-memory).", prometheus.GaugeValue, float64(st.UploadBytes)},
			{"chat_uploads_refused_busy_total", "Uploads refused as busy: the upload memory budget was exhausted.", prometheus.CounterValue, float64(st.UploadsBusy)},
		}
		if store != nil {
			stored, storedBytes := store.Stored()
			samples = append(samples,
				sample{"chat_files", "Files in the store.", prometheus.GaugeValue, float64(store.Count())},
				sample{"chat_file_bytes", "Content bytes of the files in the store.", prometheus.GaugeValue, float64(store.TotalBytes())},
				sample{"chat_files_stored_total", "Files stored since the server started (a replaced file counts again).", prometheus.CounterValue, float64(stored)},
				sample{"chat_file_bytes_stored_total", "Content bytes of the files stored since the server started.", prometheus.CounterValue, float64(storedBytes)})
		}
		for _, s := range samples {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(s.name, s.help, nil, nil), s.kind, s.value)
		}
	})
}

// clusterCollector exports a cluster node's link state, read at scrape
// time.
func clusterCollector(state func() ClusterState) prometheus.Collector {
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		h := state()
		connected := 0.0
		if h.Connected {
			connected = 1
		}
		for _, s := range []sample{
			{"chat_cluster_nats_connected", "1 while the node's NATS connection is up; while it is down the node serves its own sessions only and /readyz answers 503.", prometheus.GaugeValue, connected},
			{"chat_cluster_nats_disconnects_total", "Losses of the node's NATS connection.", prometheus.CounterValue, float64(h.Disconnects)},
			{"chat_cluster_nats_reconnects_total", "Recoveries of the node's NATS connection (subscriptions and membership re-established).", prometheus.CounterValue, float64(h.Reconnects)},
			{"chat_cluster_relay_errors_total", "Messages that could not be relayed to the other nodes.", prometheus.CounterValue, float64(h.RelayErrors)},
			{"chat_cluster_live_nodes", "Live nodes in this node's view of the cluster, itself included.", prometheus.GaugeValue, float64(h.LiveNodes)},
		} {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(s.name, s.help, nil, nil), s.kind, s.value)
		}
	})
}
