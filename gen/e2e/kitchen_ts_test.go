package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	rsserver "github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

// TestTypeScriptClient runs the generated TypeScript kitchen client
// (gen/tsgen/testdata/kitchen.ts, on the runtime ts/rsrt.ts) in Node
// against the Go kitchen server over WebSocket. The driver
// (ts/test/kitchen-driver.ts) calls every server route and checks the
// answers; this test calls every client route through the Peer, so the
// TypeScript runtime's responder serves each interaction model. It needs
// Node.js and ts/node_modules (npm ci in ts/, as .ci/run and make test-ts
// do) and skips without them.
func TestTypeScriptClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("Node.js is not installed")
	}
	tsDir, err := filepath.Abs("../../ts")
	if err != nil {
		t.Fatal(err)
	}
	esbuild := filepath.Join(tsDir, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		t.Skip("ts/node_modules is missing; run npm ci in ts/")
	}
	bundle := filepath.Join(t.TempDir(), "driver.js")
	build := exec.Command(esbuild, "test/kitchen-driver.ts", "--bundle", "--platform=node", "--format=cjs",
		"--alias:@rsgen/rsrt=./rsrt.ts", "--log-level=warning", "--outfile="+bundle)
	build.Dir = tsDir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}

	srv, servers, _ := serveKitchen(t, rsserver.Config{WSAddr: "127.0.0.1:0"})

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(node, bundle, "ws://"+srv.WSAddr().String()+"/")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it exited
		<-exited
	})
	output := func() string { return "stdout:\n" + stdout.String() + "stderr:\n" + stderr.String() }

	var s *server
	select {
	case s = <-servers:
	case <-exited:
		t.Fatalf("the driver exited before connecting: %v\n%s", exitErr, output())
	}
	callClient(t, s.peer)
	// Ends the driver once its own calls are done.
	if err := s.peer.ClientNotify(ctxFor(t), kitchen.Echo{Text: "done"}); err != nil {
		t.Errorf("ClientNotify done: %v", err)
	}
	// A driver that never ends is a failure, not a hang of the suite.
	select {
	case <-exited:
	case <-ctxFor(t).Done():
		t.Fatalf("the driver did not exit\n%s", output())
	}
	if exitErr != nil {
		t.Fatalf("the driver failed: %v\n%s", exitErr, output())
	}

	var events []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var e struct {
			Event  string `json:"event"`
			Detail any    `json:"detail"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("driver output %q: %v", sc.Text(), err)
		}
		if e.Detail != nil {
			e.Event += " " + strings.TrimSpace(strings.ReplaceAll(jsonString(e.Detail), `"`, ""))
		}
		events = append(events, e.Event)
	}
	for _, want := range []string{"calls ok", "notify note", "notify done", "exit"} {
		if !slices.Contains(events, want) {
			t.Errorf("driver events %q lack %q", events, want)
		}
	}
	// The server saw the driver's fire-and-forget, metadata-push and cancel,
	// in whatever order: one-way requests run concurrently.
	waitEvents(t, s.events, "fnf.object n", "fnf.empty", "fnf.meta hi tr false", "stream.empty stopped", "push.meta tr true", "push.bare", "echo fnf ff")
}

// waitEvents waits until an event starting with each prefix arrived, in
// any order.
func waitEvents(t *testing.T, events <-chan string, prefixes ...string) {
	t.Helper()
	missing := slices.Clone(prefixes)
	deadline := time.After(testTimeout)
	for len(missing) > 0 {
		select {
		case e := <-events:
			missing = slices.DeleteFunc(missing, func(p string) bool { return strings.HasPrefix(e, p) })
		case <-deadline:
			t.Fatalf("no events %q", missing)
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// callClient calls every client route of the TypeScript client through
// the peer and checks the answers (the driver's handler answers as the Go
// client of kitchen_test.go does).
func callClient(t *testing.T, peer *kitchen.Peer) {
	t.Helper()
	ctx := ctxFor(t)
	if got, err := peer.Time(ctx); err != nil || got != "12:00" {
		t.Errorf("Time = %q, %v", got, err)
	}
	tag := "T"
	if got, err := peer.ClientMeta(ctx, "hi", &tag); err != nil || got != (kitchen.ClientMetaResponse{Data: "hi", TraceID: "T"}) {
		t.Errorf("ClientMeta = %+v, %v", got, err)
	}
	if err := peer.ClientNotify(ctx, kitchen.Echo{Text: "note"}); err != nil {
		t.Errorf("ClientNotify: %v", err)
	}
	points := collect(t, peer.ClientPoints(ctx, kitchen.Point{X: 3}))
	if want := []kitchen.Point{{X: 0}, {X: 1, Y: -1}, {X: 2, Y: -2}, {X: 3, Y: -3}}; !slices.Equal(points, want) {
		t.Errorf("ClientPoints = %v, want %v", points, want)
	}
	chat, err := peer.ClientChat(ctx)
	if err != nil {
		t.Fatalf("ClientChat: %v", err)
	}
	for _, v := range []string{"a", "b"} {
		if err := chat.Send(v); err != nil {
			t.Fatalf("ClientChat send: %v", err)
		}
	}
	if err := chat.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, chat.Recv()); !slices.Equal(got, []string{"re: a", "re: b"}) {
		t.Errorf("ClientChat = %q", got)
	}
	ex, err := peer.ClientExchange(ctx, []byte("x"))
	if err != nil {
		t.Fatalf("ClientExchange: %v", err)
	}
	if err := ex.Send([]byte("yz")); err != nil {
		t.Fatal(err)
	}
	if err := ex.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range collect(t, ex.Recv()) {
		got = append(got, string(b))
	}
	if !slices.Equal(got, []string{"X", "YZ"}) {
		t.Errorf("ClientExchange = %q", got)
	}
	// The TypeScript client does not declare its metadata-push routes:
	// rsocket-js 1.0.0-alpha.3 closes the connection on a METADATA_PUSH it
	// receives. The peer refuses to send an undeclared route.
	var undeclared *rsrt.UndeclaredRouteError
	if err := peer.ClientPush(ctx, "trace-1"); !errors.As(err, &undeclared) {
		t.Errorf("ClientPush: err = %v, want an UndeclaredRouteError", err)
	}
	if got, err := peer.Echo(ctx, kitchen.Echo{Text: "e"}); err != nil || got.Text != "client e" {
		t.Errorf("Echo = %+v, %v", got, err)
	}
}
