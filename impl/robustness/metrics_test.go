package robustness

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// A scripted session over TCP and WebSocket (logins, a channel, channel
// messages and a private one, a session that does not read and drops one,
// a refused join, a statistics report, a file upload, a refused SETUP and
// a protocol violation), then a scrape of
// /metrics over HTTP: every count is exact. Then the probes through a
// drain: /readyz answers 503 while an upload begun before the shutdown
// is still arriving, /healthz 200, and the listener is gone once the
// server stopped.
func TestMetricsAfterAScriptedSession(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(cfg *chatserver.Config) {
		cfg.WSAddr = "127.0.0.1:0"
		cfg.MetricsAddr = "127.0.0.1:0"
		cfg.ShutdownTimeout = wait
		cfg.Chat.QueueLen = 2
	})
	base := "http://" + srv.MetricsAddr()
	if code, body := metricstest.Get(t, base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz while serving: %d %q", code, body)
	}
	if code, _ := metricstest.Get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without Pprof: %d, want 404", code)
	}
	ctx := ctxT(t)

	alice := login(t, srv.TCPAddr(), "alice")
	bob := login(t, srv.WSURL(), "bob")
	// carol does not read: her queue (2 messages) drops the oldest.
	carol := login(t, srv.TCPAddr(), "carol")
	aliceIn, bobIn := chattest.Listen(t, alice), chattest.Listen(t, bob)
	for _, c := range []*chat.Client{alice, bob, carol} {
		chattest.Must(t, c.ChannelJoin(ctx, "general"))
	}
	chattest.WantError(t, alice.ChannelJoin(ctx, " bad name"), "channel name starts or ends with white space")
	for _, text := range []string{"one", "two", "three"} {
		chattest.Must(t, alice.Message(ctx, chat.Message{Channel: str("general"), Content: str(text)}))
		// Read before the next, so that the readers' queues never hold two.
		for _, in := range []*chattest.Inbox{aliceIn, bobIn} {
			chattest.CheckMsg(t, in.Next(t, wait), "alice", text, str("general"))
		}
	}
	chattest.Must(t, alice.Message(ctx, chat.Message{User: str("bob"), Content: str("psst")}))
	chattest.CheckMsg(t, bobIn.Next(t, wait), "alice", "psst", nil)
	chattest.Must(t, alice.SendStatistics(ctx, chat.ClientStatistics{MemoryUsage: new(float64)}))
	chattest.Must(t, bob.FileUpload(ctx, []byte("file contents!"), "notes.txt"))

	// A SETUP whose metadata is not composite metadata is refused
	// (UNSUPPORTED_SETUP).
	refused, err := newRaw(srv.TCPAddr(), false)
	chattest.Must(t, err)
	refused.t = t
	defer refused.nc.Close()
	chattest.Must(t, refused.send(framing.NewWriteableSetupFrame(core.DefaultVersion, 500*time.Millisecond, 10*time.Minute, nil,
		[]byte("application/json"), []byte(rsrt.MIMEJSON), nil, nil, false)))
	if f := refused.mustRead(); f.typ != core.FrameTypeError || f.errorCode() != core.ErrorCodeUnsupportedSetup {
		t.Fatalf("a SETUP without composite metadata: %v", f)
	}
	// A first frame that is not a SETUP (a KEEPALIVE) breaks the protocol.
	violator, err := newRaw(srv.TCPAddr(), false)
	chattest.Must(t, err)
	violator.t = t
	defer violator.nc.Close()
	chattest.Must(t, violator.send(framing.NewWriteableKeepaliveFrame(0, nil, false)))
	violator.waitClosed()

	url := base + "/metrics"
	ms := metricstest.Eventually(t, url, "the refused and violating connections to be gone", wait,
		metricstest.Is(3, "rsgen_connections_open"))
	// The connections: alice, bob, carol, the refused one and the violator.
	ms.Want(t, 5, "rsgen_connections_accepted_total")
	ms.Want(t, 1, "rsgen_connections_refused_total", "reason", "setup_refused")
	ms.Want(t, 0, "rsgen_connections_refused_total", "reason", "max_connections")
	ms.Want(t, 1, "rsgen_guard_connections_closed_total", "kind", "violation")
	ms.Want(t, 0, "rsgen_guard_connections_closed_total", "kind", "setup_timeout")
	ms.Want(t, 1, "rsgen_server_accepting")
	ms.Want(t, 0, "rsgen_oneway_dropped_total", "reason", "limit")
	ms.Want(t, 0, "rsgen_response_budget_waits_total", "budget", "server")
	// The calls served, by route: only the schema's names.
	rr, stream := "request-response", "request-stream"
	ms.Want(t, 3, "rsgen_requests_total", "route", chat.RouteLogin, "interaction", rr)
	ms.Want(t, 3, "rsgen_request_duration_seconds", "route", chat.RouteLogin, "interaction", rr) // its sample count
	ms.Want(t, 4, "rsgen_requests_total", "route", chat.RouteChannelJoin, "interaction", rr)
	ms.Want(t, 1, "rsgen_request_errors_total", "route", chat.RouteChannelJoin, "interaction", rr, "code", "APPLICATION_ERROR")
	ms.Want(t, 4, "rsgen_requests_total", "route", chat.RouteMessage, "interaction", rr)
	ms.Want(t, 1, "rsgen_requests_total", "route", chat.RouteStatistics, "interaction", "fire-and-forget")
	ms.Want(t, 1, "rsgen_requests_total", "route", chat.RouteFileUpload, "interaction", rr)
	ms.Want(t, 2, "rsgen_requests_total", "route", chat.RouteMessagesIncoming, "interaction", stream)
	ms.Want(t, 2, "rsgen_streams_open", "route", chat.RouteMessagesIncoming, "interaction", stream)
	ms.Want(t, 7, "rsgen_stream_items_sent_total", "route", chat.RouteMessagesIncoming, "interaction", stream)
	for _, name := range []string{"rsgen_requests_total", "rsgen_request_errors_total"} {
		if n := len(ms.Series(name)); name == "rsgen_request_errors_total" && n != 1 {
			t.Errorf("%s: %d series, want the one error", name, n)
		}
		for _, route := range ms.LabelValues(name, "route") {
			if !slices.Contains([]string{chat.RouteLogin, chat.RouteChannelJoin, chat.RouteMessage, chat.RouteStatistics,
				chat.RouteFileUpload, chat.RouteMessagesIncoming}, route) {
				t.Errorf("%s has a series for route %q", name, route)
			}
		}
	}
	// The chat.
	ms.Want(t, 3, "chat_sessions_open")
	ms.Want(t, 3, "chat_sessions_logged_in")
	ms.Want(t, 3, "chat_users")
	ms.Want(t, 1, "chat_channels")
	ms.Want(t, 2, "chat_incoming_streams")
	ms.Want(t, 10, "chat_messages_enqueued_total") // 3 channel messages to 3 members, 1 private
	ms.Want(t, 7, "chat_messages_delivered_total") // to alice and bob
	ms.Want(t, 1, "chat_messages_dropped_total")   // carol's oldest
	ms.Want(t, 0, "chat_messages_dropped_over_share_total")
	ms.Want(t, 2, "chat_queued_messages")
	ms.Want(t, 2, "chat_queue_longest_messages")
	ms.Want(t, 1, "chat_client_reports_total")
	ms.Want(t, 0, "chat_uploads_refused_busy_total")
	ms.Want(t, 0, "chat_upload_memory_bytes")
	ms.Want(t, 1, "chat_files")
	ms.Want(t, 14, "chat_file_bytes")
	ms.Want(t, 1, "chat_files_stored_total")
	ms.Want(t, 14, "chat_file_bytes_stored_total")
	// The Go runtime's and the process's collectors are there too.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := ms.Value(name); !ok {
			t.Errorf("no %s", name)
		}
	}

	// The drain: an upload whose fragments are still arriving holds it.
	up := rawDial(t, srv.TCPAddr())
	up.login("uploader")
	chattest.Must(t, up.send(framing.NewWriteableRequestResponseFrame(3, []byte("first half, "), meta(chat.RouteFileUpload, fileName("late.txt")), core.FlagFollow)))
	// Frames are read in order: once this is answered, the first
	// fragment was seen.
	chattest.Must(t, up.requestResponse(5, chat.RouteFileDownload, nil, fileName("no-such-file")))
	if f := up.expect(5); f.typ != core.FrameTypeError {
		t.Fatalf("download of a missing file: %v", f)
	}
	stopped := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		stopped <- srv.Stop(sctx)
	}()
	metricstest.Eventually(t, url, "the drain", wait, metricstest.Is(0, "rsgen_server_accepting"))
	if code, body := metricstest.Get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("/readyz while draining: %d %q, want 503", code, body)
	}
	if code, _ := metricstest.Get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200", code)
	}
	chattest.Must(t, up.send(framing.NewWriteablePayloadFrame(3, []byte("second half"), nil, 0)))
	if f := up.expect(3); f.typ != core.FrameTypePayload {
		t.Fatalf("the upload begun before the shutdown: %v", f)
	}
	select {
	case err := <-stopped:
		chattest.Must(t, err)
	case <-time.After(wait):
		t.Fatal("Stop did not return")
	}
	if _, err := http.Get(base + "/healthz"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("/healthz once stopped: %v, want connection refused", err)
	}
}
