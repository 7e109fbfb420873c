// Package rsmetrics exports the metrics of an rsgen service to Prometheus
// (github.com/prometheus/client_golang), and serves them over HTTP with
// health and readiness probes and, optionally, net/http/pprof.
//
// Nothing is registered globally: every collector goes to the
// prometheus.Registerer the caller passes, so that a process can run
// several services, and tests their own registries. A typical main:
//
//	reg := prometheus.NewRegistry()
//	m, err := rsmetrics.New(reg, rsmetrics.Config{Routes: routeNames})
//	acc := chat.NewAcceptor(newSession, m.AcceptOptions()...)
//	srv, err := server.New(acc, cfg)
//	err = m.RegisterServer(srv)
//	http.ListenAndServe(addr, rsmetrics.Handler(rsmetrics.HandlerConfig{Gatherer: reg, Ready: srv.Accepting}))
//
// Label values are bounded: a route label is one of Config.Routes (the
// schema's route names) or "unknown", an interaction one of the five
// models, an error code one of RSocket's code names; nothing a peer sends
// becomes a label.
//
// The metrics (with the default namespace "rsgen"):
//
//   - rsgen_connections_open (gauge), rsgen_connections_accepted_total,
//     rsgen_connections_refused_total{reason}: reason is max_connections
//     (the listener's limit), setup_refused (the SETUP was answered
//     with INVALID_SETUP, UNSUPPORTED_SETUP or REJECTED_SETUP: refused by
//     the service, by authentication, or during shutdown) or origin (a
//     WebSocket upgrade answered 403 by the origin policy);
//   - rsgen_guard_connections_closed_total{kind}: connections the
//     checking transports closed, by kind: violation (a frame broke the
//     protocol or a limit), setup_timeout, idle_timeout, write_timeout;
//   - rsgen_guard_frames_total{action}: inbound frames not delivered as
//     sent: dropped, substituted, rejected (a request over the stream
//     limit, or during shutdown), and the outbound CANCELs not sent
//     (cancel_suppressed);
//   - rsgen_transport_frames_total{direction} (received or sent) and
//     rsgen_transport_frame_bytes_total{direction}: the RSocket frames
//     the connections read and wrote, and their bytes;
//     rsgen_transport_writes_total: the writes that sent them (one system
//     call each, unless a socket was full), so that sent frames over
//     writes is how many frames a write carries. A connection adds the
//     frames it read before it next reads from its socket, or every 64
//     frames: no frame costs an add to a counter the whole server shares;
//   - rsgen_server_accepting (gauge): 1 while the server accepts
//     connections, 0 before it is bound and while it drains;
//   - rsgen_response_budget_waits_total{budget} (connection or server)
//     and rsgen_response_budget_wait_seconds_total: handlers that waited
//     for a peer to read earlier responses;
//   - rsgen_oneway_dropped_total{reason}: fire-and-forget and
//     metadata-push requests dropped, over the connection's limit (limit)
//     or during shutdown (shutting_down);
//   - per route and interaction of the calls served:
//     rsgen_requests_total, rsgen_request_errors_total{code} (the RSocket
//     code sent), rsgen_request_duration_seconds (histogram; for a stream
//     or channel its whole life), rsgen_streams_open (gauge),
//     rsgen_stream_items_sent_total and rsgen_stream_items_received_total.
//     They are recorded by Metrics.Interceptor, which AcceptOptions
//     installs; calls the service makes to client routes are not.
//
// The counters the runtime, the checking transports and the server keep
// anyway (rsrt.ServerStats, guard.Stats) are read at scrape time; only the
// per-route series are updated as calls go, each (route, interaction)'s
// resolved once, so that recording a call costs a few atomic adds.
package rsmetrics
