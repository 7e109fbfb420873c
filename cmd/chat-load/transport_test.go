package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebSocketRR runs the quick request-response scenario over WebSocket
// against both servers, each in a child process that listens on WebSocket
// only: every request is answered and every message reaches the sender's
// stream, and the results say ws.
func TestWebSocketRR(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test")
	}
	if raceEnabled {
		t.Skip("the baseline server trips a race inside reactor-go (see race_test.go)")
	}
	logOut = io.Discard
	defer func() { logOut = os.Stderr }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	var out bytes.Buffer
	res, err := run(ctx, []string{
		"--quick", "--target", "both", "--transport", "ws", "--scenarios", "rr",
		"--inflight", "1,8", "--conns", "2", "--json", jsonFile,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if len(res.Targets) != 2 {
		t.Fatalf("%d results, want 2 (chat and baseline over ws)", len(res.Targets))
	}
	for _, tr := range res.Targets {
		if tr.Transport != "ws" || !strings.HasPrefix(tr.Addr, "ws://127.0.0.1:") {
			t.Errorf("%s: transport %q at %q, want ws at a ws:// URL", tr.Target, tr.Transport, tr.Addr)
		}
		if len(tr.Errors) > 0 {
			t.Errorf("%s: errors %v", tr.Target, tr.Errors)
		}
		if len(tr.RR) != 2 {
			t.Errorf("%s: %d rr levels, want 2", tr.Target, len(tr.RR))
		}
		for _, r := range tr.RR {
			if r.Requests == 0 || r.Errors != 0 || r.Delivered != r.Requests || r.Lost != 0 || r.ServerDropped != 0 {
				t.Errorf("%s over ws: requests %d, errors %d, delivered %d, lost %d, dropped by the server %d: want every request answered and delivered",
					tr.Target, r.Requests, r.Errors, r.Delivered, r.Lost, r.ServerDropped)
			}
		}
	}
	for _, row := range []string{"message RR throughput, 8 in flight  ws", "message RR messages lost, 8 in flight  ws"} {
		if !containsRow(out.String(), row) {
			t.Errorf("table misses the row %q:\n%s", row, out.String())
		}
	}
	var back Results
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Targets) != 2 || back.Targets[0].Transport != "ws" {
		t.Errorf("JSON does not name the transport: %v\n%s", err, b)
	}
}

// containsRow reports whether the table has a line that starts with the
// fields of row, whatever the padding between them.
func containsRow(table, row string) bool {
	want := strings.Fields(row)
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(want) && strings.Join(f[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}

// TestReportPerTransport checks that results over both transports give
// one row per quantity and transport, each with the medians and the ratio
// of its own transport, and that the chart names the transport.
func TestReportPerTransport(t *testing.T) {
	res := &Results{Rounds: 1, Host: "test", Client: "typed"}
	for _, x := range []struct {
		target, transport string
		rps               float64
	}{{"chat", "tcp", 1000}, {"baseline", "tcp", 800}, {"chat", "ws", 300}, {"baseline", "ws", 600}} {
		res.Targets = append(res.Targets, &TargetResult{Target: x.target, Transport: x.transport, Round: 1,
			RR: []RRResult{{InFlight: 64, RPS: x.rps, Requests: 1}}})
	}
	var out bytes.Buffer
	printTable(&out, res)
	for _, row := range []string{
		"message RR throughput, 64 in flight tcp req/s 1000 800.0 1.25x",
		"message RR throughput, 64 in flight ws req/s 300.0 600.0 0.50x",
	} {
		if !containsRow(out.String(), row) {
			t.Errorf("table misses the row %q:\n%s", row, out.String())
		}
	}
	svg := renderSVG(res)
	for _, s := range []string{"message RR throughput, 64 in flight (tcp)", "message RR throughput, 64 in flight (ws)", "chat/baseline 1.25x", "chat/baseline 0.50x"} {
		if !strings.Contains(svg, s) {
			t.Errorf("chart misses %q", s)
		}
	}
}

// TestTransportFlag checks that a bad --transport, or one that
// contradicts the form of --addr, is refused before anything runs.
func TestTransportFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--transport", "quic"}, `bad --transport "quic"`},
		{[]string{"--addr", "127.0.0.1:1", "--transport", "ws"}, "the address is a tcp one"},
		{[]string{"--addr", "ws://127.0.0.1:1/", "--transport", "both"}, "the address is a ws one"},
	} {
		_, err := run(context.Background(), c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

// TestSplitRR runs the rr scenario with the requests and the draining
// streams on separate connections (--rr-mode split) against the chat
// server: every request answered is delivered.
func TestSplitRR(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test")
	}
	logOut = io.Discard
	defer func() { logOut = os.Stderr }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, []string{
		"--quick", "--target", "chat", "--scenarios", "rr", "--rr-mode", "split",
		"--inflight", "1,64", "--conns", "2",
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Targets) != 1 || len(res.Targets[0].RR) != 2 {
		t.Fatalf("results %+v, want the chat server's two rr levels", res.Targets)
	}
	for _, r := range res.Targets[0].RR {
		if r.Requests == 0 || r.Errors != 0 || r.Delivered != r.Requests || r.Lost != 0 || r.ServerDropped != 0 {
			t.Errorf("%d in flight: requests %d, errors %d, delivered %d, lost %d, dropped by the server %d: want every request answered and delivered",
				r.InFlight, r.Requests, r.Errors, r.Delivered, r.Lost, r.ServerDropped)
		}
	}
}
