package robustness

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// sizedLog counts what a text handler writes: lines, bytes and the
// longest line; it keeps the start of each line.
type sizedLog struct {
	mu                    sync.Mutex
	bytes, lines, longest int
	starts                []string
}

func (l *sizedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.starts) < 1000 {
		l.starts = append(l.starts, string(p[:min(len(p), 200)]))
	}
	l.bytes += len(p)
	l.lines += bytes.Count(p, []byte("\n"))
	l.longest = max(l.longest, len(p))
	return len(p), nil
}

// has reports whether the start of a line contains s.
func (l *sizedLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.starts {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *sizedLog) get() (bytes, lines, longest int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes, l.lines, l.longest
}

// startSized starts a chat server whose log, at info level, goes to size.
func startSized(t *testing.T, size *sizedLog) *server {
	return startServer(t, t.TempDir(), func(cfg *chatserver.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(size, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
}

// What a peer sends reaches the log clipped, and a peer that makes the
// server log in a loop gets a few lines a second: the log never costs more
// than the peer's traffic. Before, a statistics request of 1 MiB whose
// JSON has an unknown key was quoted whole in the WARN line, and every
// refused fire-and-forget was a line of its own.
func TestLogsCostNoMoreThanTraffic(t *testing.T) {
	t.Run("invalid statistics JSON", func(t *testing.T) {
		var size sizedLog
		srv := startSized(t, &size)
		c := rawDial(t, srv.TCPAddr())
		c.login("mallory")
		key := strings.Repeat("k", 1<<20)
		for i := range 20 {
			chattest.Must(t, c.send(framing.NewWriteableFireAndForgetFrame(uint32(2*i+3), []byte(`{"`+key+`":1}`), meta(chat.RouteStatistics), 0)))
		}
		settle(t, &size, 20)
		checkLogSize(t, &size, 20, 20<<20)
		checkServed(t, srv.TCPAddr())
	})
	t.Run("fire-and-forget before login", func(t *testing.T) {
		var size sizedLog
		srv := startSized(t, &size)
		c := rawDial(t, srv.TCPAddr())
		var batch []byte
		for i := range 20_000 {
			batch = append(batch, encode(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), []byte(`{}`), meta(chat.RouteStatistics), 0))...)
		}
		chattest.Must(t, c.write(batch))
		c.login("mallory") // answered once every frame before it was read
		settle(t, &size, 20)
		checkLogSize(t, &size, 20_000, len(batch))
		checkServed(t, srv.TCPAddr())
	})
	t.Run("answer to time", func(t *testing.T) {
		var size sizedLog
		srv := startSized(t, &size)
		ctx := ctxT(t)
		c, err := chat.Dial(ctx, srv.TCPAddr(), chat.WithHandler(hugeClock{}))
		chattest.Must(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Login(ctx, "mallory")
		chattest.Must(t, err)
		// The server asks for the time at login and logs the answer.
		eventually(t, "the time answer logged", func() bool { return size.has(`msg="client time"`) })
		checkLogSize(t, &size, 1, 1<<20)
	})
}

// hugeClock answers the server's time call with 1 MiB of text.
type hugeClock struct {
	chat.UnimplementedClientHandler
}

func (hugeClock) Time(context.Context) (string, error) { return strings.Repeat("t", 1<<20), nil }

// settle waits until the log has at least min lines and then none more
// for 200 ms: the handlers of one-way requests run after the frames were
// read, so the test waits for their lines before it measures.
func settle(t *testing.T, size *sizedLog, min int) {
	t.Helper()
	eventually(t, "the log lines of the flood", func() bool {
		_, lines, _ := size.get()
		return lines >= min
	})
	for {
		_, before, _ := size.get()
		time.Sleep(200 * time.Millisecond)
		if _, after, _ := size.get(); after == before {
			return
		}
	}
}

// checkLogSize fails when the log of inputs requests, of size bytes sent
// in all, is over its budget: lines of at most 2 KiB, and at most 100
// lines and 64 KiB for the whole flood.
func checkLogSize(t *testing.T, size *sizedLog, inputs, sent int) {
	t.Helper()
	n, lines, longest := size.get()
	t.Logf("%d inputs (%d bytes sent): %d log lines, %d bytes, longest line %d bytes", inputs, sent, lines, n, longest)
	if longest > 2<<10 {
		t.Errorf("a log line of %d bytes", longest)
	}
	if lines > 100 || n > 64<<10 {
		t.Errorf("%d log lines, %d bytes; budget 100 lines, 64 KiB", lines, n)
	}
}
