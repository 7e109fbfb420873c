package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// waitTimeout bounds every wait of the tests for something from a server
// on 127.0.0.1: a failure, never a timing assertion.
const waitTimeout = 15 * time.Second

// result is what one in-process run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runChat runs the command in-process with the given stdin.
func runChat(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// expectCode fails the test unless r exited with code.
func (r result) expectCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// embeddedServer starts the in-process server for one test and returns its
// address.
func embeddedServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, stop, err := startEmbedded(ctx, io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("start the embedded server: %v", err)
	}
	t.Cleanup(func() {
		stop()
		cancel()
	})
	return addr
}

// testServer starts a chat server for one test, as the demo embeds it but
// with its service at hand, for tests that need to know its state.
func testServer(t *testing.T) *chatserver.Running {
	t.Helper()
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr, cfg.WSAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := chatserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return srv
}

// waitLoggedIn waits until n sessions are logged in on srv. A command's
// connection closes as it exits, but the server learns it a moment later;
// tests that count sessions wait for that first.
func waitLoggedIn(t *testing.T, srv *chatserver.Running, n int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for srv.Service().Stats().LoggedIn != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions logged in after %s, want %d", srv.Service().Stats().LoggedIn, waitTimeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr returns a 127.0.0.1 address on which nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// binDir holds the binaries the tests build, once per test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chat-test-bin-*")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var buildMu sync.Mutex

// buildBinary builds the package pkg (relative to the module root), once
// per test run, and returns the binary's path.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	bin := filepath.Join(binDir, filepath.Base(pkg))
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "./"+pkg)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// peer is a test user on its own connection, made with the generated
// client: the other side of a conversation with the command.
type peer struct {
	c     *chat.Client
	inbox <-chan item[chat.Message]
}

// newPeer connects to addr, logs in as user and listens to its messages.
func newPeer(t *testing.T, addr, user string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := chat.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	lctx, stop := context.WithCancel(context.Background())
	p := &peer{c: c}
	t.Cleanup(func() {
		stop()
		// Let the stream end before closing, so that the close does not
		// cross the stream's CANCEL frame.
		if p.inbox != nil {
			timer := time.NewTimer(waitTimeout)
			defer timer.Stop()
		drain:
			for {
				select {
				case _, ok := <-p.inbox:
					if !ok {
						break drain
					}
				case <-timer.C:
					t.Errorf("%s's incoming stream did not end after its cancellation", user)
					break drain
				}
			}
		}
		c.Close()
	})
	if _, err := c.Login(ctx, user); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	p.inbox = receive(lctx, c.MessagesIncoming(lctx))
	return p
}

// join joins channel.
func (p *peer) join(t *testing.T, channel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := p.c.ChannelJoin(ctx, channel); err != nil {
		t.Fatalf("join %s: %v", channel, err)
	}
}

// waitUsers waits until the server counts n logged-in sessions, reading
// the statistics channel on the peer's own connection (a new connection
// would count itself). The server learns that a command's connection
// closed a moment after the command exits; tests that count sessions wait
// for that first.
func (p *peer) waitUsers(t *testing.T, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := openStats(ctx, p.c)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close(waitTimeout)
	if err := st.ch.Send(chat.ServerStatisticsRequest{IDs: []string{"users"}}); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := st.next(ctx, waitTimeout)
		if err != nil {
			t.Fatalf("waiting for %d logged-in sessions: %v", n, err)
		}
		if r.UserCount != nil && *r.UserCount == n {
			return
		}
	}
}

// say sends text to channel.
func (p *peer) say(t *testing.T, channel, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := p.c.Message(ctx, chat.Message{Channel: &channel, Content: &text}); err != nil {
		t.Fatalf("message to %s: %v", channel, err)
	}
}

// expect waits for the peer's next message and compares it with want.
func (p *peer) expect(t *testing.T, want chat.Message) {
	t.Helper()
	m, err := next(context.Background(), p.inbox, waitTimeout)
	if err != nil {
		t.Fatalf("waiting for %s: %v", pyMessage(want), err)
	}
	if pyMessage(m) != pyMessage(want) {
		t.Fatalf("received %s, want %s", pyMessage(m), pyMessage(want))
	}
}

// lines reads r line by line on its own goroutine, for tests that wait for
// a given line of a running session's output.
type lines struct {
	ch   chan string
	seen []string
}

func newLines(r io.Reader) *lines {
	l := &lines{ch: make(chan string, 100)}
	go func() {
		defer close(l.ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
	}()
	return l
}

// waitFor reads lines until one contains substr and returns it; it fails
// the test at the end of the output or after waitTimeout.
func (l *lines) waitFor(t *testing.T, substr string) string {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case s, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended without a line containing %q; lines:\n%s", substr, strings.Join(l.seen, "\n"))
			}
			l.seen = append(l.seen, s)
			if strings.Contains(s, substr) {
				return s
			}
		case <-timer.C:
			t.Fatalf("no line containing %q within %s; lines:\n%s", substr, waitTimeout, strings.Join(l.seen, "\n"))
		}
	}
}
