package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/cmd/chat-load/internal/loadbase"
	"github.com/rsocket/rsocket-go/logger"
)

// TestMain lets the test binary act as the hidden "serve" subcommand,
// which the memory scenario spawns as os.Executable().
func TestMain(m *testing.M) {
	logger.SetLevel(logger.LevelError)
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickSmoke runs the tool in --quick mode (with even smaller counts)
// against both targets and checks that the results are well-formed and
// non-zero. While the embedded chat server is not available, only the
// baseline is checked.
func TestQuickSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test")
	}
	if raceEnabled {
		t.Skip("the baseline server trips a race inside reactor-go (see race_test.go)")
	}
	_, stop, _, err := startChat(context.Background(), "127.0.0.1:0", "tcp")
	chatOK := !errors.Is(err, errChatUnavailable)
	if err == nil {
		stop()
	} else if chatOK {
		t.Fatal(err)
	}
	target := "both"
	if !chatOK {
		t.Log("embedded chat server unavailable: checking the baseline only")
		target = "baseline"
	}
	clientKind := "typed"
	// The servers run in child processes, whose system calls Linux
	// counts in /proc/PID/io.
	_, ioErr := os.Stat("/proc/self/io")
	procIO := ioErr == nil
	dir := t.TempDir()
	jsonFile, svgFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var out bytes.Buffer
	logOut = io.Discard
	defer func() { logOut = os.Stderr }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run(ctx, []string{
		"--quick", "--target", target, "--client", clientKind, "--inflight", "1,8",
		"--members", "20", "--sessions", "100", "--flat-messages", "20",
		"--json", jsonFile, "--svg", svgFile,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	want := 1
	if chatOK {
		want = 2
	}
	if len(res.Targets) != want {
		t.Fatalf("%d targets, want %d", len(res.Targets), want)
	}
	for _, tr := range res.Targets {
		if len(tr.Errors) > 0 {
			t.Errorf("%s: errors %v", tr.Target, tr.Errors)
		}
		if tr.Transport != "tcp" {
			t.Errorf("%s: transport %q, want tcp by default", tr.Target, tr.Transport)
		}
		if len(tr.RR) != 2 {
			t.Errorf("%s: %d rr levels, want 2", tr.Target, len(tr.RR))
		}
		for _, r := range tr.RR {
			if r.Requests == 0 || r.RPS <= 0 || r.P50us <= 0 || r.P99us < r.P50us || r.Errors != 0 {
				t.Errorf("%s: bad rr result %+v", tr.Target, r)
			}
			// Every answer and delivery is written, every request read:
			// the counts of the child server's system calls are positive.
			if procIO && (r.ServerReads <= 0 || r.ServerWrites <= 0) {
				t.Errorf("%s: system calls per request: %.2f reads, %.2f writes", tr.Target, r.ServerReads, r.ServerWrites)
			}
		}
		if len(tr.Fanout) != 2 {
			t.Errorf("%s: %d fan-out phases, want 2", tr.Target, len(tr.Fanout))
		}
		for _, r := range tr.Fanout {
			if r.Sent == 0 || r.Delivered != r.Expected || r.DeliveriesPerSec <= 0 || r.P99ms < r.P50ms || r.StalledMembers != 0 {
				t.Errorf("%s: bad fan-out result %+v", tr.Target, r)
			}
			if procIO && r.ServerWrites <= 0 {
				t.Errorf("%s: %.2f write system calls per delivery", tr.Target, r.ServerWrites)
			}
		}
		m := tr.Memory
		if m == nil || m.Sessions != 100 || m.Verified != 100 || m.RSSAfter <= 0 || m.HeapPerSession <= 0 {
			t.Errorf("%s: bad memory result %+v", tr.Target, m)
		}
	}
	var back Results
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Targets) != want {
		t.Errorf("bad JSON file: %v", err)
	}
	svg, err := os.ReadFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "</svg>") || !strings.Contains(string(svg), "RR throughput") {
		t.Errorf("bad SVG:\n%s", svg)
	}
	if !strings.Contains(out.String(), "message RR throughput, 8 in flight") {
		t.Errorf("table misses the rr row:\n%s", out.String())
	}
	if procIO && !strings.Contains(out.String(), "message RR server write system calls, 8 in flight") {
		t.Errorf("table misses the write system calls row:\n%s", out.String())
	}
}

// TestStallDetection freezes one member's stream in the baseline server
// (its messages stay queued whatever the demand) and checks that the
// fan-out scenario reports exactly that member as stalled, with what it
// misses.
func TestStallDetection(t *testing.T) {
	if raceEnabled {
		t.Skip("the baseline server trips a race inside reactor-go (see race_test.go)")
	}
	logOut = io.Discard
	defer func() { logOut = os.Stderr }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bs, err := loadbase.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	cfg := &config{
		client:       dialOpts{kind: "typed", prefetch: 4},
		members:      5,
		flatMessages: 20,
		flatInFlight: 2,
		stallTimeout: 300 * time.Millisecond,
		finalWait:    time.Second,
		dialers:      4,
		afterWarmup:  func() { bs.FreezeUser("fan3") },
	}
	res, err := runFanout(ctx, &server{target: "baseline", addr: bs.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d phases, want 1", len(res))
	}
	r := res[0]
	if r.StalledMembers != 1 || r.Missing != 20 || r.Delivered != 80 || r.StallEvents < 1 {
		t.Errorf("stall not reported as expected: %+v", r)
	}
}

// TestServerProfilesAndTraces checks that --server-cpuprofile and
// --server-trace make each child server write its CPU profile and its
// execution trace, one file per transport with --transport both.
func TestServerProfilesAndTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test")
	}
	if _, stop, _, err := startChat(context.Background(), "127.0.0.1:0", "tcp"); err != nil {
		t.Skipf("embedded chat server unavailable: %v", err)
	} else {
		stop()
	}
	dir := t.TempDir()
	logOut = io.Discard
	defer func() { logOut = os.Stderr }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := run(ctx, []string{
		"--quick", "--target", "chat", "--scenarios", "rr", "--inflight", "1", "--transport", "both",
		"--server-cpuprofile", filepath.Join(dir, "cpu"), "--server-trace", filepath.Join(dir, "tr"),
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Targets {
		if len(tr.Errors) > 0 || len(tr.RR) != 1 || tr.RR[0].Requests == 0 {
			t.Fatalf("%s over %s: %+v", tr.Target, tr.Transport, tr)
		}
	}
	for _, transport := range []string{"tcp", "ws"} {
		for _, f := range []struct{ path, head string }{
			{filepath.Join(dir, "cpu-"+transport+"-chat.pprof"), "\x1f\x8b"}, // gzipped protobuf
			{filepath.Join(dir, "tr-"+transport+"-chat.trace"), "go 1."},     // the trace format's header
		} {
			b, err := os.ReadFile(f.path)
			if err != nil {
				t.Error(err)
				continue
			}
			if !strings.HasPrefix(string(b), f.head) || len(b) < 1024 {
				t.Errorf("%s: %d bytes starting % x, want %q and more", f.path, len(b), b[:min(len(b), 8)], f.head)
			}
		}
	}
}
