package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// streamSession is an interactive session run in-process on pipes.
type streamSession struct {
	in   *io.PipeWriter
	out  *lines
	code chan int
}

// startSession starts "chat --user user --addr addr" with piped stdin and
// stdout.
func startSession(t *testing.T, addr, user string) *streamSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &streamSession{in: inW, out: newLines(outR), code: make(chan int, 1)}
	var stderr syncbuf.Buffer
	go func() {
		code := run([]string{"--user", user, "--addr", addr}, inR, outW, &stderr)
		outW.Close()
		s.code <- code
	}()
	t.Cleanup(func() {
		inW.Close()
		// Drain the output so that the session never blocks on it.
		go func() {
			for range s.out.ch {
			}
		}()
		select {
		case <-s.code:
		case <-time.After(waitTimeout):
			t.Errorf("%s's session did not end after its input closed", user)
		}
		if t.Failed() && stderr.String() != "" {
			t.Logf("%s's stderr:\n%s", user, stderr.String())
		}
	})
	s.out.waitFor(t, "Logged in to "+addr+" as "+user+" (session ")
	return s
}

// typeLine writes one input line.
func (s *streamSession) typeLine(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatalf("typing %q: %v", line, err)
	}
}

// exitCode waits for the session's exit code.
func (s *streamSession) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.code:
		s.code <- code // for the cleanup
		return code
	case <-time.After(waitTimeout):
		t.Fatal("the session did not end")
		return -1
	}
}

func TestInteractiveStreams(t *testing.T) {
	addr := embeddedServer(t)
	dir := t.TempDir()
	alice := startSession(t, addr, "alice")
	bob := startSession(t, addr, "bob")

	alice.typeLine(t, "hello?")
	alice.out.waitFor(t, "error: no current channel")

	bob.typeLine(t, "/join room")
	bob.out.waitFor(t, "Joined room")
	alice.typeLine(t, "/join room")
	alice.out.waitFor(t, "Joined room")

	alice.typeLine(t, "hello bob")
	bob.out.waitFor(t, "[room] alice: hello bob")
	alice.out.waitFor(t, "[room] alice: hello bob")

	bob.typeLine(t, "//slash text")
	alice.out.waitFor(t, "[room] bob: /slash text")

	alice.typeLine(t, "/msg bob a private word")
	alice.out.waitFor(t, "[to bob] a private word")
	bob.out.waitFor(t, "[private] alice: a private word")

	alice.typeLine(t, "/msg nobody hi")
	if l := alice.out.waitFor(t, "error: "); !strings.HasPrefix(l, "error: server: ") {
		t.Errorf("a refused message printed %q", l)
	}

	bob.typeLine(t, "/users")
	if l := bob.out.waitFor(t, "Users in room: "); l != "Users in room: alice, bob" && l != "Users in room: bob, alice" {
		t.Errorf("/users printed %q", l)
	}
	bob.typeLine(t, "/channels")
	bob.out.waitFor(t, "Channels: room")

	src := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(src, []byte("some notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alice.typeLine(t, "/upload "+src)
	alice.out.waitFor(t, "Uploaded notes.txt (11 bytes).")
	bob.typeLine(t, "/files")
	bob.out.waitFor(t, "Files: notes.txt")
	dst := filepath.Join(dir, "copy.txt")
	bob.typeLine(t, "/download notes.txt "+dst)
	bob.out.waitFor(t, "Downloaded notes.txt to "+dst+" (11 bytes).")
	if b, err := os.ReadFile(dst); err != nil || string(b) != "some notes\n" {
		t.Errorf("downloaded %q, %v", b, err)
	}

	bob.typeLine(t, "/stats")
	bob.out.waitFor(t, "Server: user_count=2 channel_count=1")

	bob.typeLine(t, "/frobnicate")
	bob.out.waitFor(t, "error: unknown command /frobnicate")

	alice.typeLine(t, "/leave")
	alice.out.waitFor(t, "Left room.")
	bob.typeLine(t, "/users")
	if l := bob.out.waitFor(t, "Users in room: "); l != "Users in room: bob" {
		t.Errorf("/users after alice left printed %q", l)
	}

	alice.typeLine(t, "/quit")
	alice.out.waitFor(t, "Bye.")
	if code := alice.exitCode(t); code != exitOK {
		t.Errorf("alice's session exited %d", code)
	}

	// The end of input ends a session too.
	bob.in.Close()
	if code := bob.exitCode(t); code != exitOK {
		t.Errorf("bob's session exited %d at the end of its input", code)
	}
}

// ptyOutput collects what a session writes to its terminal.
type ptyOutput struct {
	master *os.File // the terminal's other side, where keys are typed
	mu     sync.Mutex
	buf    strings.Builder
	more   chan struct{} // signalled after each read
}

// waitFor waits until the output after offset from contains substr and
// returns the offset just past it; it fails the test after waitTimeout.
func (p *ptyOutput) waitFor(t *testing.T, from int, substr string) int {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		s := p.buf.String()
		p.mu.Unlock()
		if i := strings.Index(s[from:], substr); i >= 0 {
			return from + i + len(substr)
		}
		select {
		case <-p.more:
		case <-timer.C:
			t.Fatalf("the terminal did not show %q within %s; it shows:\n%q", substr, waitTimeout, s[from:])
		}
	}
}

func TestInteractiveTerminal(t *testing.T) {
	addr := embeddedServer(t)
	tty, out := openPTY(t)

	code := make(chan int, 1)
	go func() { code <- run([]string{"--user", "alice", "--addr", addr}, tty, tty, tty) }()

	pos := out.waitFor(t, 0, "Type /help for commands.")
	pos = out.waitFor(t, pos, "alice> ")
	ptmx := out.master
	// Tab completes a command.
	io.WriteString(ptmx, "/jo\t room\r")
	pos = out.waitFor(t, pos, "Joined room")
	pos = out.waitFor(t, pos, "alice@room> ")

	bob := newPeer(t, addr, "bob")
	bob.join(t, "room")

	// A message arriving while alice types leaves her line intact: it is
	// printed above, and the prompt comes back with what she typed.
	io.WriteString(ptmx, "half a thou")
	pos = out.waitFor(t, pos, "half a thou")
	bob.say(t, "room", "interrupting you")
	pos = out.waitFor(t, pos, "[room] bob: interrupting you")
	pos = out.waitFor(t, pos, "alice@room> half a thou")
	io.WriteString(ptmx, "ght\r")
	bob.expect(t, chat.Message{User: ptr("bob"), Content: ptr("interrupting you"), Channel: ptr("room")})
	bob.expect(t, chat.Message{User: ptr("alice"), Content: ptr("half a thought"), Channel: ptr("room")})
	out.waitFor(t, pos, "[room] alice: half a thought")

	io.WriteString(ptmx, "/quit\r")
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("the session exited %d", c)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the session did not end after /quit")
	}
}

// openPTY opens a pseudo-terminal and collects what is written to it.
func openPTY(t *testing.T) (*os.File, *ptyOutput) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
	})
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	out := &ptyOutput{master: ptmx, more: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			out.mu.Lock()
			out.buf.Write(b[:n])
			out.mu.Unlock()
			select {
			case out.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return tty, out
}

func TestTransferProgressOnTerminal(t *testing.T) {
	addr := embeddedServer(t)
	dir := t.TempDir()
	tty, out := openPTY(t)
	data := make([]byte, 2<<20)
	src := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	if code := run([]string{"upload", "--addr", addr, "--user", "u", src}, strings.NewReader(""), &stdout, tty); code != exitOK {
		t.Fatalf("upload exited %d", code)
	}
	out.waitFor(t, 0, "reading big.bin")
	stdout.Reset()
	dst := filepath.Join(dir, "copy.bin")
	if code := run([]string{"download", "--addr", addr, "--user", "u", "big.bin", "-o", dst}, strings.NewReader(""), &stdout, tty); code != exitOK {
		t.Fatalf("download exited %d", code)
	}
	out.waitFor(t, 0, "writing copy.bin")
	// The bars are for the person at the terminal; stdout stays clean.
	if want := "downloaded big.bin to " + dst + " (2097152 bytes)\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
}

func TestInteractiveServerGoesAway(t *testing.T) {
	srv := testServer(t)
	addr := srv.TCPAddr()
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	out := newLines(outR)
	var stderr syncbuf.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--user", "alice", "--addr", addr}, inR, outW, &stderr)
		outW.Close()
	}()
	out.waitFor(t, "Logged in to ")
	// Stop once the session's stream is open, not while it is opening.
	deadline := time.Now().Add(waitTimeout)
	for srv.Service().Stats().IncomingStreams != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the session did not open messages.incoming")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Stop(context.Background())
	select {
	case c := <-code:
		if c != exitFailure {
			t.Errorf("the session exited %d when its server stopped, want %d", c, exitFailure)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the session went on after its server stopped")
	}
	if want := "chat: the connection to the server closed\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestSessionAnswersTheServersTimeCall(t *testing.T) {
	// A server of our own, whose info logs show the time call's answer.
	logR, logW := io.Pipe()
	logs := newLines(logR)
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr, cfg.WSAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(logW, nil))
	srv, err := chatserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop(context.Background())
		logW.Close()
		for range logs.ch {
		}
	})

	startSession(t, srv.TCPAddr(), "alice")
	l := logs.waitFor(t, `msg="client time"`)
	m := regexp.MustCompile(`time=(\S+)$`).FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("no time in the log line %q", l)
	}
	if _, err := time.Parse(time.RFC3339, m[1]); err != nil {
		t.Errorf("the session answered %q: %v", m[1], err)
	}
}
