package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// demoLines are the lines a successful demo prints after its connection
// line, in order, as regular expressions; blank lines between steps are
// left out.
var demoLines = []string{
	`== Step 1: two connections log in ==`,
	`user1: login -> session [0-9a-f-]{36}`,
	`user2: login -> session [0-9a-f-]{36}`,
	`== Step 2: both listen on messages.incoming ==`,
	`user1: listening on messages.incoming`,
	`user2: listening on messages.incoming`,
	`== Step 3: both join channel1 ==`,
	`user1: joined channel1`,
	`user2: joined channel1`,
	`== Step 4: list channels and channel users ==`,
	`Channels: \['channel1'\]`,
	`Channel channel1 users: \['user1', 'user2'\]`,
	`== Step 5: private message ==`,
	`user1: sending 'private message from user1' to user user2`,
	`user2 received: Message\(user='user1', content='private message from user1', channel=None\)`,
	`== Step 6: channel message ==`,
	`user1: sending 'channel message from user1' to channel channel1`,
	`user1 received: Message\(user='user1', content='channel message from user1', channel='channel1'\)`,
	`user2 received: Message\(user='user1', content='channel message from user1', channel='channel1'\)`,
	`== Step 7: user1 leaves channel1 ==`,
	`user1: left channel1`,
	`Channel channel1 users: \['user2'\]`,
	`== Step 8: both stop listening ==`,
	`user1: stopped listening`,
	`user2: stopped listening`,
	`== Step 9: statistics ==`,
	`user1: sent ClientStatistics\(memory_usage=\d+\) \(fire-and-forget\)`,
	`user1: statistics channel opened`,
	`user1 received: ServerStatistics\(user_count=2, channel_count=1\)`,
	`user1 received: ServerStatistics\(user_count=2, channel_count=1\)`,
	`user1: sending ServerStatisticsRequest\(ids=\['users'\]\)`,
	`user1 received: ServerStatistics\(user_count=2, channel_count=None\)`,
	`user1: statistics channel cancelled`,
	`== Step 10: files ==`,
	`user1: uploaded file_name_1.txt \(14 bytes\)`,
	`Files: \[.*'file_name_1.txt'.*\]`,
	`user2: downloaded 14 bytes, response metadata chat/file-name = 'file_name_1.txt'`,
	`user2: downloaded bytes match the uploaded ones`,
	`Demo OK: all 10 steps verified.`,
}

// checkDemoOutput compares the demo's output, from its "Connecting" line
// on, with demoLines.
func checkDemoOutput(t *testing.T, out, addr string) {
	t.Helper()
	all := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	start := -1
	for i, l := range all {
		if l == "Connecting to "+addr {
			start = i + 1
		}
	}
	if start < 0 {
		t.Fatalf("no line %q in the output:\n%s", "Connecting to "+addr, out)
	}
	var got []string
	for _, l := range all[start:] {
		if l != "" {
			got = append(got, l)
		}
	}
	if len(got) != len(demoLines) {
		t.Fatalf("the demo printed %d lines, want %d:\n%s", len(got), len(demoLines), out)
	}
	for i, re := range demoLines {
		if !regexp.MustCompile(`^` + re + `$`).MatchString(got[i]) {
			t.Errorf("line %d: %q does not match %q", i+1, got[i], re)
		}
	}
}

func TestDemoEmbedded(t *testing.T) {
	r := runChat(t, "", "demo")
	r.expectCode(t, exitOK)
	m := regexp.MustCompile(`(?m)^Started an embedded chat server on (127\.0\.0\.1:\d+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no embedded server line in:\n%s", r.stdout)
	}
	checkDemoOutput(t, r.stdout, m[1])
}

// startServerBinary builds cmd/chat-server and starts it on a free
// 127.0.0.1 port with a temporary data directory.
func startServerBinary(t *testing.T) string {
	t.Helper()
	bin := buildBinary(t, "cmd/chat-server")
	addr := freeAddr(t)
	var logs syncbuf.Buffer
	cmd := exec.Command(bin, "--tcp-addr", addr, "--ws-addr", "", "--data-dir", t.TempDir(), "--log-level", "info")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chat-server output:\n%s", logs.String())
		}
	})
	// Wait until it accepts logins, bounded.
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := chat.Dial(ctx, addr)
		if err == nil {
			_, err = c.Login(ctx, "probe")
			c.Close()
		}
		cancel()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("chat-server did not come up on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAlone waits until a new session at addr is the only one logged in,
// reading the server's statistics channel.
func waitAlone(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := chat.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "waiter"); err != nil {
		t.Fatal(err)
	}
	st, err := openStats(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close(waitTimeout)
	for {
		r, err := st.next(ctx, waitTimeout)
		if err != nil {
			t.Fatalf("waiting to be alone on the server: %v", err)
		}
		if r.UserCount != nil && *r.UserCount == 1 {
			return
		}
	}
}

func TestDemoBinaryAgainstServerBinary(t *testing.T) {
	addr := startServerBinary(t)
	bin := buildBinary(t, "cmd/chat")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "demo", "--addr", addr)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chat demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	checkDemoOutput(t, stdout.String(), addr)

	// The demo leaves the server as it found it, so it can run again,
	// once the server has seen the first run's connections close.
	waitAlone(t, addr)
	r := runChat(t, "", "demo", "--addr", addr)
	r.expectCode(t, exitOK)
	checkDemoOutput(t, r.stdout, addr)
}

// TestDemoFailsOnUnexpectedResult runs against the server binary: the
// failing demo closes its connections right after logging in, while the
// server may still be calling the client's time route, and rsocket-go's
// server side races that call against the close (a data race inside the
// library, recovered there), which would fail this client test under
// -race if the server ran in-process.
func TestDemoFailsOnUnexpectedResult(t *testing.T) {
	addr := startServerBinary(t)
	// Another session with its own channel breaks the scenario's
	// expectations at step 4.
	other := newPeer(t, addr, "intruder")
	other.join(t, "elsewhere")
	r := runChat(t, "", "demo", "--addr", addr, "--timeout", "5s")
	r.expectCode(t, exitFailure)
	if !strings.Contains(r.stderr, "chat: demo failed: step 4 (list channels and channel users): channels: got [") {
		t.Errorf("stderr %q does not explain the failure", r.stderr)
	}
	if strings.Contains(r.stdout, "Demo OK") {
		t.Errorf("a failed demo printed its success line:\n%s", r.stdout)
	}
}

func TestDemoOverWebSocket(t *testing.T) {
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr, cfg.WSAddr, cfg.DataDir = "", "127.0.0.1:0", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := chatserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	r := runChat(t, "", "demo", "--addr", srv.WSURL())
	r.expectCode(t, exitOK)
	checkDemoOutput(t, r.stdout, srv.WSURL())
}
