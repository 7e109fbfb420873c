package rsmetrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// The recorder labels calls with the schema's route names only, counts
// requests, errors by wire code, stream items and open streams, and
// observes every call's duration; the stream series exist only for the
// interactions that have streams.
func TestRecorderLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, Config{Routes: []string{"login", "feed"}})
	if err != nil {
		t.Fatal(err)
	}
	m.begin("login", rsrt.RequestResponse).end(nil)
	m.begin("login", rsrt.RequestResponse).end(rsrt.NewError("bad name"))
	m.begin("nope", rsrt.RequestResponse).end(&rsrt.Error{Code: core.ErrorCodeRejected, Message: "busy"})
	m.begin("nope\nmore", rsrt.FireAndForget).end(errors.New("plain"))
	s := m.begin("feed", rsrt.RequestStream)
	s.itemSent()
	s.itemSent()
	if got := testutil.ToFloat64(m.streams.WithLabelValues("feed", "request-stream")); got != 1 {
		t.Errorf("streams open while one runs: %v", got)
	}
	s.end(context.Canceled)
	c := m.begin("feed", rsrt.RequestChannel)
	c.itemReceived()
	c.end(nil)

	want := `
# HELP rsgen_request_errors_total Requests served that ended with an error, by route, interaction and the RSocket error code sent.
# TYPE rsgen_request_errors_total counter
rsgen_request_errors_total{code="APPLICATION_ERROR",interaction="fire-and-forget",route="unknown"} 1
rsgen_request_errors_total{code="APPLICATION_ERROR",interaction="request-response",route="login"} 1
rsgen_request_errors_total{code="CANCELED",interaction="request-stream",route="feed"} 1
rsgen_request_errors_total{code="REJECTED",interaction="request-response",route="unknown"} 1
# HELP rsgen_requests_total Requests served, by route and interaction, counted when their handler starts.
# TYPE rsgen_requests_total counter
rsgen_requests_total{interaction="fire-and-forget",route="unknown"} 1
rsgen_requests_total{interaction="request-channel",route="feed"} 1
rsgen_requests_total{interaction="request-response",route="login"} 2
rsgen_requests_total{interaction="request-response",route="unknown"} 1
rsgen_requests_total{interaction="request-stream",route="feed"} 1
# HELP rsgen_stream_items_received_total Items received on request-channels served.
# TYPE rsgen_stream_items_received_total counter
rsgen_stream_items_received_total{interaction="request-channel",route="feed"} 1
# HELP rsgen_stream_items_sent_total Items sent on request-streams and request-channels served.
# TYPE rsgen_stream_items_sent_total counter
rsgen_stream_items_sent_total{interaction="request-channel",route="feed"} 0
rsgen_stream_items_sent_total{interaction="request-stream",route="feed"} 2
# HELP rsgen_streams_open Request-stream and request-channel handlers running.
# TYPE rsgen_streams_open gauge
rsgen_streams_open{interaction="request-channel",route="feed"} 0
rsgen_streams_open{interaction="request-stream",route="feed"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"rsgen_requests_total", "rsgen_request_errors_total", "rsgen_stream_items_sent_total",
		"rsgen_stream_items_received_total", "rsgen_streams_open"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 5 {
		t.Errorf("duration series: %d, want 5 (one per route and interaction)", n)
	}
}

// Without Config.Routes, names are taken as they come, up to maxRoutes;
// past it, "unknown".
func TestRecorderBoundsOpenRoutes(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxRoutes + 10 {
		m.begin(fmt.Sprintf("r%d", i), rsrt.RequestResponse).end(nil)
	}
	if n := testutil.CollectAndCount(m.requests); n != maxRoutes+1 {
		t.Errorf("route series: %d, want %d and unknown", n, maxRoutes)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues(UnknownRoute, "request-response")); got != 10 {
		t.Errorf("unknown: %v, want 10", got)
	}
}

// Two services on one registry need distinct namespaces.
func TestNewOnASharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Config{}); err == nil {
		t.Error("a second New with the same namespace: no error")
	}
	if _, err := New(reg, Config{Namespace: "other"}); err != nil {
		t.Errorf("a second New with its own namespace: %v", err)
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil): no error")
	}
}
