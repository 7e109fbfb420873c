package chatserver_test

// End-to-end tests: the generated client (chat.Dial) against the real
// server on 127.0.0.1, over TCP and WebSocket.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/chattest"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// wait bounds every blocking step; it is a failure guard, never an
// assertion on timing.
const wait = 15 * time.Second

// logSink keeps log records so that tests can look for one.
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	s.records = append(s.records, r.Clone())
	s.mu.Unlock()
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s } // attrs are not needed here
func (s *logSink) WithGroup(string) slog.Handler      { return s }

// find returns the first record with the message, with its attributes.
func (s *logSink) find(msg string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.Message == msg {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			return attrs, true
		}
	}
	return nil, false
}

// contents reports whether any record mentions text, in its message or
// attributes.
func (s *logSink) mentions(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		found := strings.Contains(r.Message, text)
		r.Attrs(func(a slog.Attr) bool {
			found = found || strings.Contains(a.Value.String(), text)
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

type server struct {
	*chatserver.Running
	logs *logSink
}

func start(t *testing.T, dir string, mod func(*chatserver.Config)) *server {
	t.Helper()
	logs := &logSink{}
	cfg := chatserver.Config{
		TCPAddr: "127.0.0.1:0",
		WSAddr:  "127.0.0.1:0",
		DataDir: dir,
		Logger:  slog.New(logs),
	}
	if mod != nil {
		mod(&cfg)
	}
	r := chattest.Start(t, cfg, wait, func(err error) {
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &server{Running: r, logs: logs}
}

// transports runs f once per transport.
func transports(t *testing.T, f func(t *testing.T, addr func(*server) string)) {
	t.Run("tcp", func(t *testing.T) { f(t, func(s *server) string { return s.TCPAddr() }) })
	t.Run("websocket", func(t *testing.T) { f(t, func(s *server) string { return s.WSURL() }) })
}

// dial and ctxT bound their wait by this suite's.
func dial(t *testing.T, addr string, opts ...rsrt.DialOption) *chat.Client {
	t.Helper()
	return chattest.Dial(t, addr, wait, opts...)
}

func ctxT(t *testing.T) context.Context { return chattest.Context(t, wait) }

func str(s string) *string { return &s }

func count(p *int64) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

// TestReferenceScenario replays the contract's ten steps.
func TestReferenceScenario(t *testing.T) {
	transports(t, func(t *testing.T, addr func(*server) string) {
		srv := start(t, t.TempDir(), nil)
		ctx := ctxT(t)
		// 1. Two connections, logged in as user1 and user2.
		c1, c2 := dial(t, addr(srv)), dial(t, addr(srv))
		id1, err := c1.Login(ctx, "user1")
		chattest.Must(t, err)
		id2, err := c2.Login(ctx, "user2")
		chattest.Must(t, err)
		if len(id1) != 36 || id1 == id2 {
			t.Fatalf("session ids %q, %q: want two distinct UUIDs", id1, id2)
		}
		// 2. Both open messages.incoming.
		in1, in2 := chattest.Listen(t, c1), chattest.Listen(t, c2)
		// 3. Both join channel1.
		chattest.Must(t, c1.ChannelJoin(ctx, "channel1"))
		chattest.Must(t, c2.ChannelJoin(ctx, "channel1"))
		// 4. channels and channel.users.
		if got := chattest.Collect(t, c1.Channels(ctx)); !slices.Equal(got, []string{"channel1"}) {
			t.Fatalf("channels = %q", got)
		}
		if got := chattest.Collect(t, c1.ChannelUsers(ctx, "channel1")); !slices.Equal(got, []string{"user1", "user2"}) {
			t.Fatalf("channel.users = %q", got)
		}
		// 5. A private message.
		chattest.Must(t, c1.Message(ctx, chat.Message{User: str("user2"), Content: str("private message from user1")}))
		chattest.CheckMsg(t, in2.Next(t, wait), "user1", "private message from user1", nil)
		// 6. A channel message reaches both, the sender included.
		chattest.Must(t, c1.Message(ctx, chat.Message{Channel: str("channel1"), Content: str("channel message from user1")}))
		chattest.CheckMsg(t, in1.Next(t, wait), "user1", "channel message from user1", str("channel1"))
		chattest.CheckMsg(t, in2.Next(t, wait), "user1", "channel message from user1", str("channel1"))
		// 7. user1 leaves.
		chattest.Must(t, c1.ChannelLeave(ctx, "channel1"))
		if got := chattest.Collect(t, c1.ChannelUsers(ctx, "channel1")); !slices.Equal(got, []string{"user2"}) {
			t.Fatalf("channel.users after leave = %q", got)
		}
		// 8. Both cancel their incoming streams.
		in1.Stop()
		in2.Stop()
		// 9. Statistics: the report, then an update to users only.
		chattest.Must(t, c1.SendStatistics(ctx, chat.ClientStatistics{MemoryUsage: new(float64(123456))}))
		st, err := c1.Statistics(ctx)
		chattest.Must(t, err)
		next, stop := pull(st.Recv())
		defer stop()
		r := nextStats(t, next)
		if count(r.UserCount) != "2" || count(r.ChannelCount) != "1" {
			t.Fatalf("statistics users %s channels %s, want 2 and 1", count(r.UserCount), count(r.ChannelCount))
		}
		chattest.Must(t, st.Send(chat.ServerStatisticsRequest{IDs: []string{"users"}}))
		for i := 0; ; i++ { // reports already sent may carry both counts
			r = nextStats(t, next)
			if r.ChannelCount == nil {
				break
			}
			if i > 3 {
				t.Fatal("the statistics update did not apply")
			}
		}
		if count(r.UserCount) != "2" {
			t.Fatalf("user count %s, want 2", count(r.UserCount))
		}
		chattest.Must(t, st.Close())
		// Fire-and-forget has no answer, and rsocket-go runs its handler
		// on a pool goroutine that requests sent later can overtake:
		// the report is recorded, but maybe only after the channel's
		// exchange.
		for deadline := time.Now().Add(wait); srv.Service().Stats().ClientReports != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("client statistics not recorded: %+v", srv.Service().Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		// 10. Files.
		data := []byte("abcdefg1234567")
		chattest.Must(t, c1.FileUpload(ctx, data, "file_name_1.txt"))
		if got := chattest.Collect(t, c1.Files(ctx)); !slices.Equal(got, []string{"file_name_1.txt"}) {
			t.Fatalf("files = %q", got)
		}
		resp, err := c2.FileDownload(ctx, "file_name_1.txt")
		chattest.Must(t, err)
		if !bytes.Equal(resp.Data, data) || resp.FileName != "file_name_1.txt" {
			t.Fatalf("download = %q named %q", resp.Data, resp.FileName)
		}
		// Never message contents in the logs.
		if srv.logs.mentions("private message from user1") || srv.logs.mentions("channel message from user1") {
			t.Fatal("a message content was logged")
		}
	})
}

// pull adapts an iterator to next/stop.
func pull[T any](seq func(yield func(T, error) bool)) (func() (T, error, bool), func()) {
	type item struct {
		v   T
		err error
	}
	ch := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for v, err := range seq {
			select {
			case ch <- item{v, err}:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() (T, error, bool) {
			select {
			case it, ok := <-ch:
				return it.v, it.err, ok
			case <-time.After(wait):
				var zero T
				return zero, errors.New("nothing received"), true
			}
		}, func() {
			once.Do(func() { close(done) })
		}
}

func nextStats(t *testing.T, next func() (chat.ServerStatistics, error, bool)) chat.ServerStatistics {
	t.Helper()
	r, err, ok := next()
	if !ok {
		t.Fatal("statistics channel ended")
	}
	chattest.Must(t, err)
	return r
}

func streamErr(seq func(yield func(string, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestErrorAnswers checks every error answer of the contract, and that the
// connection and the other sessions keep working after them.
func TestErrorAnswers(t *testing.T) {
	transports(t, func(t *testing.T, addr func(*server) string) {
		srv := start(t, t.TempDir(), nil)
		ctx := ctxT(t)
		c, other := dial(t, addr(srv)), dial(t, addr(srv))
		_, err := other.Login(ctx, "other")
		chattest.Must(t, err)
		chattest.Must(t, other.ChannelJoin(ctx, "others"))
		inOther := chattest.Listen(t, other)

		// A request that needs a login, before login.
		chattest.WantError(t, c.ChannelJoin(ctx, "x"), "log in first")
		chattest.WantError(t, streamErr(c.Channels(ctx)), "log in first")
		_, err = c.Login(ctx, "")
		chattest.WantError(t, err, "user name is empty")
		_, err = c.Login(ctx, strings.Repeat("u", 65))
		chattest.WantError(t, err, "user name is 65 bytes long")
		_, err = c.Login(ctx, "ctl\x01")
		chattest.WantError(t, err, "control character")
		// Not valid UTF-8.
		_, err = c.Conn().Caller().RequestResponse(ctx, chat.RouteLogin, rsrt.Payload{Data: []byte("bad\xff")})
		chattest.WantError(t, err, "UTF-8")

		_, err = c.Login(ctx, "me")
		chattest.Must(t, err)
		_, err = c.Login(ctx, "again")
		chattest.WantError(t, err, "already logged in")

		// Messages.
		chattest.WantError(t, c.Message(ctx, chat.Message{User: str("ghost"), Content: str("x")}), `user "ghost" is not logged in`)
		chattest.WantError(t, c.Message(ctx, chat.Message{Content: str("x")}), "neither user nor channel")
		chattest.WantError(t, c.Message(ctx, chat.Message{Channel: str("nowhere"), Content: str("x")}), `channel "nowhere" does not exist`)
		chattest.WantError(t, c.Message(ctx, chat.Message{Channel: str("others"), Content: str("x")}), `not joined channel "others"`)
		for _, bad := range []string{`{"content": "x", "channel": 5}`, `{"content": "x", "extra": 1}`, `not json`, `[1]`} {
			_, err = c.Conn().Caller().RequestResponse(ctx, chat.RouteMessage, rsrt.Payload{Data: []byte(bad)})
			chattest.WantError(t, err, "invalid request data")
		}
		// Names.
		chattest.WantError(t, c.ChannelJoin(ctx, ""), "channel name is empty")
		chattest.WantError(t, c.ChannelJoin(ctx, strings.Repeat("c", 65)), "channel name is 65 bytes long")
		chattest.WantError(t, c.FileUpload(ctx, []byte("x"), ""), "invalid file name")
		// Refused by the generated decoder (schema/chat.yaml's constraints
		// on chat/file-name), before the file store sees them.
		chattest.WantError(t, c.FileUpload(ctx, []byte("x"), strings.Repeat("f", 256)), "metadata entry chat/file-name: longer than 255 bytes")
		chattest.WantError(t, c.FileUpload(ctx, []byte("x"), "nul\x00"), "metadata entry chat/file-name: contains a control character")
		// Files.
		_, err = c.FileDownload(ctx, "missing.txt")
		chattest.WantError(t, err, `file not found: "missing.txt"`)
		_, err = c.Conn().Caller().RequestResponse(ctx, chat.RouteFileDownload, rsrt.Payload{})
		chattest.WantError(t, err, chat.MIMEFileName)
		// Unknown route.
		_, err = c.Conn().Caller().RequestResponse(ctx, "no.such.route", rsrt.Payload{})
		chattest.WantError(t, err, "no.such.route", core.ErrorCodeApplicationError, core.ErrorCodeRejected)

		// The connection and the other session still work.
		chattest.Must(t, c.Message(ctx, chat.Message{User: str("other"), Content: str("still here")}))
		chattest.CheckMsg(t, inOther.Next(t, wait), "me", "still here", nil)
	})
}

// TestSlowConsumer: one channel member's incoming stream stops reading;
// the others keep receiving everything, the laggard's queue stays at its
// bound, the drop counter grows and the heap stays bounded.
func TestSlowConsumer(t *testing.T) {
	const (
		queueLen = 128
		batches  = 20
		batch    = 100
		size     = 1024
	)
	srv := start(t, t.TempDir(), func(c *chatserver.Config) { c.Chat = chatsvc.Config{QueueLen: queueLen} })
	// Thousands of round trips under the race detector on a busy machine:
	// a bound for the whole flood, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	addr := srv.TCPAddr()
	sender, reader, laggard, idle := dial(t, addr), dial(t, addr), dial(t, addr, rsrt.WithPrefetch(1)), dial(t, addr)
	for i, c := range []*chat.Client{sender, reader, laggard, idle} {
		_, err := c.Login(ctx, fmt.Sprintf("u%d", i))
		chattest.Must(t, err)
		chattest.Must(t, c.ChannelJoin(ctx, "flood"))
	}
	inS, inR := chattest.Listen(t, sender), chattest.Listen(t, reader)
	// The laggard reads one message and then nothing: its stream has no
	// demand left. The idle member never opens its stream.
	lctx, lcancel := context.WithCancel(context.Background())
	lgot, ldone := make(chan struct{}), make(chan struct{})
	// End the stream before the connection closes: the library races
	// when a stream is cancelled while its connection closes.
	defer func() { lcancel(); <-ldone }()
	go func() {
		defer close(ldone)
		for range laggard.MessagesIncoming(lctx) {
			close(lgot)
			<-lctx.Done()
			return
		}
	}()

	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var peak uint64
	pad := strings.Repeat("p", size)
	n := 0
	for range batches {
		for range batch {
			chattest.Must(t, sender.Message(ctx, chat.Message{Channel: str("flood"), Content: str(fmt.Sprintf("%06d%s", n, pad))}))
			n++
		}
		for i := n - batch; i < n; i++ {
			for _, in := range []*chattest.Inbox{inS, inR} {
				if got := in.Next(t, wait); !strings.HasPrefix(*got.Content, fmt.Sprintf("%06d", i)) {
					t.Fatalf("got message %.6s, want %06d", *got.Content, i)
				}
			}
		}
		if st := srv.Service().Stats(); st.LongestQueue > queueLen {
			t.Fatalf("a queue grew to %d, over its bound %d", st.LongestQueue, queueLen)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	select {
	case <-lgot:
	case <-time.After(wait):
		t.Fatal("the laggard received nothing")
	}
	st := srv.Service().Stats()
	if st.LongestQueue != queueLen {
		t.Fatalf("longest queue %d, want the bound %d", st.LongestQueue, queueLen)
	}
	// The idle member dropped all but queueLen; the laggard about as many
	// (less the few its stream took before stalling).
	if min := uint64(2*(n-queueLen) - 2*batch); st.Dropped < min {
		t.Fatalf("dropped %d, want at least %d", st.Dropped, min)
	}
	// The flood is n*size = 2 MB. Recipients share a channel message's
	// content, so queues keeping it all would hold over 2 MB live (2.5 MB
	// measured); bounded, they hold queueLen messages each (150 KB
	// measured). Half the flood is far from both.
	growth := int64(peak) - int64(base.HeapAlloc)
	if growth > int64(n*size/2) {
		t.Fatalf("heap grew by %d bytes for a %d-byte flood: not bounded", growth, n*size)
	}
	t.Logf("sent %d messages; dropped %d; longest queue %d; heap growth peak %d bytes", n, st.Dropped, st.LongestQueue, growth)
	if _, ok := srv.logs.find("slow reader: dropping oldest queued messages"); !ok {
		t.Fatal("drops were not logged")
	}
}

// TestRestart uploads a file, restarts the server on the same data dir and
// downloads the same bytes. The file is large enough to be fragmented.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	ctx := ctxT(t)

	srv := start(t, dir, nil)
	c := dial(t, srv.TCPAddr())
	_, err := c.Login(ctx, "uploader")
	chattest.Must(t, err)
	chattest.Must(t, c.FileUpload(ctx, data, "../big.bin"))
	chattest.Must(t, srv.Stop(ctx))

	srv = start(t, dir, nil)
	c = dial(t, srv.WSURL())
	_, err = c.Login(ctx, "downloader")
	chattest.Must(t, err)
	if got := chattest.Collect(t, c.Files(ctx)); !slices.Equal(got, []string{"../big.bin"}) {
		t.Fatalf("files after restart = %q", got)
	}
	resp, err := c.FileDownload(ctx, "../big.bin")
	chattest.Must(t, err)
	if !bytes.Equal(resp.Data, data) {
		t.Fatalf("downloaded %d bytes, not the %d uploaded", len(resp.Data), len(data))
	}
}

// TestFileLimits checks the size limits' error answers.
func TestFileLimits(t *testing.T) {
	srv := start(t, t.TempDir(), func(c *chatserver.Config) {
		// Room for 1500 bytes of content and the overhead of one file.
		c.Files.MaxFileBytes, c.Files.MaxTotalBytes = 1000, 1500+filestore.Limits{}.Charge("a", 0)
	})
	ctx := ctxT(t)
	c := dial(t, srv.TCPAddr())
	_, err := c.Login(ctx, "u")
	chattest.Must(t, err)
	chattest.WantError(t, c.FileUpload(ctx, make([]byte, 1001), "big"), "file too large")
	chattest.Must(t, c.FileUpload(ctx, make([]byte, 1000), "a"))
	chattest.WantError(t, c.FileUpload(ctx, make([]byte, 1000), "b"), "file store full")
}

// timeHandler answers the server's time calls.
type timeHandler struct{ answer string }

func (h timeHandler) Time(context.Context) (string, error) { return h.answer, nil }

// TestTimeCall: a client that declares the time route is called after
// login and the answer is logged; one that does not is never called.
func TestTimeCall(t *testing.T) {
	transports(t, func(t *testing.T, addr func(*server) string) {
		srv := start(t, t.TempDir(), nil)
		ctx := ctxT(t)
		plain := dial(t, addr(srv))
		_, err := plain.Login(ctx, "plain")
		chattest.Must(t, err)
		c := dial(t, addr(srv), chat.WithHandler(timeHandler{answer: "2026-11-26 tea time"}))
		_, err = c.Login(ctx, "timely")
		chattest.Must(t, err)
		deadline := time.Now().Add(wait)
		for {
			if attrs, ok := srv.logs.find("client time"); ok {
				if attrs["time"] != "2026-11-26 tea time" {
					t.Fatalf("logged time %q", attrs["time"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the client's time was not logged")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, failed := srv.logs.find("time call to the client failed"); failed {
			t.Fatal("a time call failed (or an undeclared client was called)")
		}
		// The connection carries on.
		chattest.Must(t, c.ChannelJoin(ctx, "after-time"))
	})
}

// TestSessionsEndWithConnections: a closed connection leaves its channels
// and the user count at once; the same user on another connection stays.
func TestSessionsEndWithConnections(t *testing.T) {
	srv := start(t, t.TempDir(), nil)
	ctx := ctxT(t)
	a1, a2, b := dial(t, srv.TCPAddr()), dial(t, srv.WSURL()), dial(t, srv.TCPAddr())
	for i, c := range []*chat.Client{a1, a2, b} {
		_, err := c.Login(ctx, []string{"ann", "ann", "bob"}[i])
		chattest.Must(t, err)
		chattest.Must(t, c.ChannelJoin(ctx, "room"))
	}
	in2 := chattest.Listen(t, a2)
	chattest.Must(t, a1.Close())
	deadline := time.Now().Add(wait)
	for srv.Service().Stats().Connections != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection's session is still registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := chattest.Collect(t, b.ChannelUsers(ctx, "room")); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("channel.users = %q", got)
	}
	chattest.Must(t, b.Message(ctx, chat.Message{User: str("ann"), Content: str("hi")}))
	chattest.CheckMsg(t, in2.Next(t, wait), "bob", "hi", nil)
	if st := srv.Service().Stats(); st.LoggedIn != 2 {
		t.Fatalf("logged in %d, want 2", st.LoggedIn)
	}
}

// TestQueuedUntilIncomingOpens: messages sent while a session has no
// incoming stream are delivered when it opens, also after a cancel. (A
// message sent between a client's cancel and the server seeing it may go
// out on the cancelled stream and be lost: that window is the protocol's,
// so the test waits for the server to end the stream.)
func TestQueuedUntilIncomingOpens(t *testing.T) {
	srv := start(t, t.TempDir(), nil)
	ctx := ctxT(t)
	a, b := dial(t, srv.TCPAddr()), dial(t, srv.TCPAddr())
	_, err := a.Login(ctx, "a")
	chattest.Must(t, err)
	_, err = b.Login(ctx, "b")
	chattest.Must(t, err)
	chattest.Must(t, a.Message(ctx, chat.Message{User: str("b"), Content: str("early")}))
	in := chattest.Listen(t, b)
	chattest.CheckMsg(t, in.Next(t, wait), "a", "early", nil)
	in.Stop()
	deadline := time.Now().Add(wait)
	for srv.Service().Stats().IncomingStreams != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled stream did not end on the server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	chattest.Must(t, a.Message(ctx, chat.Message{User: str("b"), Content: str("while closed")}))
	chattest.CheckMsg(t, chattest.Listen(t, b).Next(t, wait), "a", "while closed", nil)
}

// TestSecondIncomingStream: on one connection the newest messages.incoming
// stream takes over and the older one completes.
func TestSecondIncomingStream(t *testing.T) {
	srv := start(t, t.TempDir(), nil)
	ctx := ctxT(t)
	a, b := dial(t, srv.TCPAddr()), dial(t, srv.WSURL())
	_, err := a.Login(ctx, "a")
	chattest.Must(t, err)
	_, err = b.Login(ctx, "b")
	chattest.Must(t, err)
	first := chattest.Listen(t, b)
	waitStreams(t, srv, 1)
	second := chattest.Listen(t, b)
	select {
	case <-first.Done(): // completed by the server
	case <-time.After(wait):
		t.Fatal("the first stream did not end when the second opened")
	}
	waitStreams(t, srv, 1)
	chattest.Must(t, a.Message(ctx, chat.Message{User: str("b"), Content: str("to the newest")}))
	chattest.CheckMsg(t, second.Next(t, wait), "a", "to the newest", nil)
}

func waitStreams(t *testing.T, srv *server, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for srv.Service().Stats().IncomingStreams != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d incoming streams open, want %d", srv.Service().Stats().IncomingStreams, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStopEndsOpenStreams: a graceful stop ends the endless streams
// (messages.incoming, the statistics channel) instead of waiting for them,
// and closes the connections.
func TestStopEndsOpenStreams(t *testing.T) {
	srv := start(t, t.TempDir(), nil)
	ctx := ctxT(t)
	c := dial(t, srv.TCPAddr())
	_, err := c.Login(ctx, "u")
	chattest.Must(t, err)
	in := chattest.Listen(t, c)
	st, err := c.Statistics(ctx)
	chattest.Must(t, err)
	next, stop := pull(st.Recv())
	defer stop()
	nextStats(t, next)
	waitStreams(t, srv, 1)

	chattest.Must(t, srv.Stop(ctx))
	select {
	case <-in.Done():
	case <-time.After(wait):
		t.Fatal("messages.incoming still open after Stop")
	}
	for {
		_, err, ok := next()
		if !ok || err != nil {
			break // completed, or ended by the closed connection
		}
	}
	// (No request is sent while the connection closes: rsocket-go's
	// client races with itself when a request meets the close.)
	select {
	case <-c.Conn().Done():
	case <-time.After(wait):
		t.Fatal("the connection is still open after Stop")
	}
}

// TestStatisticsInvalidUpdate: an invalid settings update ends the
// statistics channel with an APPLICATION_ERROR saying why; the connection
// goes on.
func TestStatisticsInvalidUpdate(t *testing.T) {
	srv := start(t, t.TempDir(), nil)
	ctx := ctxT(t)
	c := dial(t, srv.WSURL())
	_, err := c.Login(ctx, "u")
	chattest.Must(t, err)
	st, err := c.Statistics(ctx)
	chattest.Must(t, err)
	next, stop := pull(st.Recv())
	defer stop()
	nextStats(t, next)
	period := int64(0)
	chattest.Must(t, st.Send(chat.ServerStatisticsRequest{PeriodSeconds: &period}))
	for {
		_, err, ok := next()
		if !ok {
			t.Fatal("the channel completed instead of failing")
		}
		if err != nil {
			chattest.WantError(t, err, "route statistics: invalid request data: period_seconds: less than 1")
			break
		}
	}
	chattest.Must(t, c.ChannelJoin(ctx, "still-fine"))
}
