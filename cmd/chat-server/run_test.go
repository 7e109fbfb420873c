package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

const wait = 15 * time.Second

// addrs waits for the "tcp" and "ws" lines run prints once bound.
func addrs(t *testing.T, out *syncbuf.Buffer) (tcp, ws string) {
	t.Helper()
	p := printed(t, out, "tcp ", "ws ")
	return p[0], p[1]
}

// printed waits until out has a line starting with each prefix and
// returns the rest of those lines, in the order of prefixes.
func printed(t *testing.T, out *syncbuf.Buffer, prefixes ...string) []string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		found := make([]string, len(prefixes))
		n := 0
		for _, line := range strings.Split(out.String(), "\n") {
			for i, p := range prefixes {
				if rest, ok := strings.CutPrefix(line, p); ok && found[i] == "" {
					found[i] = rest
					n++
				}
			}
		}
		if n == len(prefixes) {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not printed; stdout: %q", prefixes, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--log-format=json"},
			env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	}()
	tcp, ws := addrs(t, &stdout)
	loginEach(t, ctx, []string{tcp, ws})
	stopRun(t, cancel, done)
	// Structured JSON logs, with the lifecycle and the login; a
	// session's lines name its peer, user and session.
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = true
		if msg == "login" || msg == "session ended" {
			for _, k := range []string{"remote", "user", "session"} {
				if v, _ := rec[k].(string); v == "" {
					t.Errorf("%q record without %s: %s", msg, k, sc.Text())
				}
			}
		}
	}
	for _, msg := range []string{"chat server started", "rsrt: connection opened", "login", "session ended", "chat server stopped"} {
		if !seen[msg] {
			t.Errorf("no %q log record; logs:\n%s", msg, stderr.String())
		}
	}
}

// The WebSocket port serves the chat page, whose URL run prints, and
// refuses WebSocket upgrades from origins it was not told to allow.
func TestRunServesThePage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--allow-origin=https://chat.example.com"},
			env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	}()
	// The page line follows the address lines: wait for all three.
	p := printed(t, &stdout, "ws ", "page ")
	ws, page := p[0], p[1]
	if want := "http://" + strings.TrimSuffix(strings.TrimPrefix(ws, "ws://"), "/") + "/"; page != want {
		t.Fatalf("page line %q, want %q; stdout:\n%s", page, want, stdout.String())
	}
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<title>rsgen chat</title>") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET %s: %d, CSP %q, body %.80q", page, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	d := websocket.Dialer{HandshakeTimeout: wait}
	for origin, want := range map[string]int{"https://chat.example.com": http.StatusSwitchingProtocols, "https://evil.example": http.StatusForbidden} {
		c, resp, err := d.Dial(ws, http.Header{"Origin": {origin}})
		if c != nil {
			c.Close()
		}
		if resp == nil || resp.StatusCode != want {
			t.Errorf("upgrade from %s: %v, %v; want HTTP %d", origin, resp, err, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestSignalShutdown builds the binary and checks that SIGTERM stops it
// gracefully, with exit status 0.
func TestSignalShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "chat-server")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stdout, stderr syncbuf.Buffer
	cmd := exec.Command(bin, "--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	addrs(t, &stdout)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(wait):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "chat server stopped") {
		t.Fatalf("no graceful stop logged:\n%s", stderr.String())
	}
	_ = os.Remove(bin)
}

// loginEach dials each address with opts and logs in, failing the test if
// it cannot.
func loginEach(t *testing.T, ctx context.Context, addrs []string, opts ...rsrt.DialOption) {
	t.Helper()
	for _, addr := range addrs {
		dctx, dcancel := context.WithTimeout(ctx, wait)
		c, err := chat.Dial(dctx, addr, opts...)
		if err != nil {
			dcancel()
			t.Fatalf("dial %s: %v", addr, err)
		}
		if _, err := c.Login(dctx, "someone"); err != nil {
			dcancel()
			t.Fatalf("login over %s: %v", addr, err)
		}
		_ = c.Close()
		dcancel()
	}
}

// stopRun cancels a run and waits for it to return without an error.
func stopRun(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("run did not return after cancel")
	}
}
