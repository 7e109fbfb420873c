package chatsvc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// wait bounds every blocking step of these tests; it is a failure guard,
// never an assertion on timing.
const wait = 10 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Files == nil {
		fs, err := filestore.Open(t.TempDir(), filestore.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Files = fs
	}
	svc := New(cfg)
	svc.statsUnit = 10 * time.Millisecond
	return svc
}

// conn is one simulated connection: a session and its lifetime.
type conn struct {
	*Session
	cancel context.CancelFunc
}

func connect(t *testing.T, svc *Service) *conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &conn{Session: svc.newSession(ctx, "test", nil), cancel: cancel}
}

func login(t *testing.T, svc *Service, user string) *conn {
	t.Helper()
	c := connect(t, svc)
	if _, err := c.Login(context.Background(), user); err != nil {
		t.Fatalf("login %q: %v", user, err)
	}
	return c
}

// inbox is an open messages.incoming stream.
type inbox struct {
	msgs   chan chat.Message
	cancel context.CancelFunc
	done   chan error
}

func (c *conn) listen(t *testing.T) *inbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &inbox{msgs: make(chan chat.Message, 16), cancel: cancel, done: make(chan error, 1)}
	go func() {
		in.done <- c.MessagesIncoming(ctx, rsrt.NewSender(ctx, inboxStream{in.msgs}, rsrt.EncodeJSON[chat.Message]))
	}()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// inboxStream is the outbound side of a messages.incoming stream with no
// connection under it: every item sent is decoded onto msgs. (Being no
// stream of the runtime's, it is served on the handler's goroutine; the
// tests over real connections serve the stream as the server does.)
type inboxStream struct{ msgs chan chat.Message }

func (s inboxStream) Send(ctx context.Context, p rsrt.Payload) error {
	m, err := rsrt.DecodeJSON[chat.Message](&p)
	if err != nil {
		return err
	}
	select {
	case s.msgs <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (inboxStream) Recv(context.Context) (*rsrt.Payload, error) { return nil, io.EOF }

// failingStream is an outbound side whose every send fails.
type failingStream struct{ err error }

func (s failingStream) Send(context.Context, rsrt.Payload) error { return s.err }

func (failingStream) Recv(context.Context) (*rsrt.Payload, error) { return nil, io.EOF }

func (in *inbox) stop(t *testing.T) {
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(wait):
		t.Fatal("messages.incoming did not end")
	}
	in.done <- nil // let a later stop return at once
}

func (in *inbox) next(t *testing.T) chat.Message {
	t.Helper()
	select {
	case m := <-in.msgs:
		return m
	case <-time.After(wait):
		t.Fatal("no message arrived")
		return chat.Message{}
	}
}

// waitStreams waits until n messages.incoming streams have opened on c.
func (c *conn) waitStreams(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		gen := c.incOpened.Load()
		if gen >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams opened, want %d", gen, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func str(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func checkMsg(t *testing.T, got chat.Message, user, content string, channel *string) {
	t.Helper()
	if deref(got.User) != user || deref(got.Content) != content || deref(got.Channel) != deref(channel) {
		t.Fatalf("got {user:%s content:%s channel:%s}, want {user:%s content:%s channel:%s}",
			deref(got.User), deref(got.Content), deref(got.Channel), user, content, deref(channel))
	}
}

func collect(t *testing.T, f func(send func(string) error) error) []string {
	t.Helper()
	var out []string
	if err := f(func(s string) error { out = append(out, s); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *conn) channels(t *testing.T) []string {
	return collect(t, func(send func(string) error) error { return sendAll(c.svc.channelNames(), send) })
}

func (c *conn) users(t *testing.T, ch string) []string {
	return collect(t, func(send func(string) error) error { return sendAll(c.svc.channelUsers(ch), send) })
}

func TestReferenceScenario(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	u1, u2 := login(t, svc, "user1"), login(t, svc, "user2")
	in1, in2 := u1.listen(t), u2.listen(t)
	for _, c := range []*conn{u1, u2} {
		if err := c.ChannelJoin(ctx, "channel1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := u1.channels(t); !slices.Equal(got, []string{"channel1"}) {
		t.Fatalf("channels = %q", got)
	}
	if got := u1.users(t, "channel1"); !slices.Equal(got, []string{"user1", "user2"}) {
		t.Fatalf("channel.users = %q", got)
	}
	// The user field the sender writes is ignored: recipients see the sender.
	if err := u1.Message(ctx, chat.Message{User: str("user2"), Content: str("private")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, in2.next(t), "user1", "private", nil)
	if err := u1.Message(ctx, chat.Message{User: str("impostor"), Channel: str("channel1"), Content: str("hello")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, in1.next(t), "user1", "hello", str("channel1"))
	checkMsg(t, in2.next(t), "user1", "hello", str("channel1"))
	if err := u1.ChannelLeave(ctx, "channel1"); err != nil {
		t.Fatal(err)
	}
	if got := u1.users(t, "channel1"); !slices.Equal(got, []string{"user2"}) {
		t.Fatalf("channel.users after leave = %q", got)
	}
	// user1 left: user2's channel message reaches user2 only.
	if err := u2.Message(ctx, chat.Message{Channel: str("channel1"), Content: str("after")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, in2.next(t), "user2", "after", str("channel1"))
	select {
	case m := <-in1.msgs:
		t.Fatalf("user1 received %s after leaving", deref(m.Content))
	default:
	}
	if users, channels := svc.counts(); users != 2 || channels != 1 {
		t.Fatalf("counts = %d users, %d channels; want 2, 1", users, channels)
	}
}

func appErr(t *testing.T, err error, want string) {
	t.Helper()
	var e *rsrt.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *rsrt.Error", err)
	}
	if e.Code != rsrt.NewError("").Code {
		t.Fatalf("error code %v, want APPLICATION_ERROR", e.Code)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("error %q does not say %q", e.Message, want)
	}
}

// TestLoginRequired checks that RequireLogin refuses every route of a
// session that has not logged in, login excepted, and lets every route of
// a logged-in session through. (Over the network: the chatserver tests.)
func TestLoginRequired(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	c := connect(t, svc)
	alice := login(t, svc, "alice")
	served := func(s *Session, i rsrt.Interaction, route string) error {
		_, err := RequireLogin.WrapUnary(func(context.Context, *rsrt.Call, *rsrt.Payload) (*rsrt.Payload, error) {
			return nil, nil
		})(ctx, &rsrt.Call{Route: route, Interaction: i, Handler: s}, &rsrt.Payload{})
		if i == rsrt.RequestStream || i == rsrt.RequestChannel {
			err = RequireLogin.WrapStreamHandler(func(context.Context, *rsrt.Call, *rsrt.Payload, rsrt.Stream) error {
				return nil
			})(ctx, &rsrt.Call{Route: route, Interaction: i, Handler: s}, nil, nil)
		}
		return err
	}
	for name, route := range map[string]struct {
		i     rsrt.Interaction
		route string
	}{
		"join":     {rsrt.RequestResponse, chat.RouteChannelJoin},
		"leave":    {rsrt.RequestResponse, chat.RouteChannelLeave},
		"message":  {rsrt.RequestResponse, chat.RouteMessage},
		"upload":   {rsrt.RequestResponse, chat.RouteFileUpload},
		"download": {rsrt.RequestResponse, chat.RouteFileDownload},
		"stats":    {rsrt.FireAndForget, chat.RouteStatistics},
		"incoming": {rsrt.RequestStream, chat.RouteMessagesIncoming},
		"channels": {rsrt.RequestStream, chat.RouteChannels},
		"users":    {rsrt.RequestStream, chat.RouteChannelUsers},
		"files":    {rsrt.RequestStream, chat.RouteFiles},
		"stats-ch": {rsrt.RequestChannel, chat.RouteStatistics},
	} {
		t.Run(name, func(t *testing.T) {
			appErr(t, served(c.Session, route.i, route.route), route.route+": log in first")
			if err := served(alice.Session, route.i, route.route); err != nil {
				t.Errorf("refused for a logged-in session: %v", err)
			}
		})
	}
	if err := served(c.Session, rsrt.RequestResponse, chat.RouteLogin); err != nil {
		t.Errorf("login refused: %v", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{MaxContentBytes: 10})
	c := login(t, svc, "alice")
	other := login(t, svc, "bob")
	if err := other.ChannelJoin(ctx, "bobs"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxNameBytes+1)
	_, err := c.Login(ctx, "again")
	appErr(t, err, `already logged in as "alice"`)
	appErr(t, c.Message(ctx, chat.Message{User: str("nobody"), Content: str("c")}), `user "nobody" is not logged in`)
	appErr(t, c.Message(ctx, chat.Message{Content: str("c")}), "neither user nor channel")
	appErr(t, c.Message(ctx, chat.Message{Channel: str("nochan"), Content: str("c")}), `channel "nochan" does not exist`)
	appErr(t, c.Message(ctx, chat.Message{Channel: str("bobs"), Content: str("c")}), `not joined channel "bobs"`)
	appErr(t, c.Message(ctx, chat.Message{Channel: str("bobs"), Content: str("0123456789a")}), "limit is 10")
	appErr(t, c.ChannelJoin(ctx, ""), "channel name is empty")
	appErr(t, c.ChannelJoin(ctx, "  "), "channel name is empty")
	appErr(t, c.ChannelJoin(ctx, long), "channel name is 65 bytes long")
	appErr(t, c.ChannelJoin(ctx, "a\x00b"), "control character")
	appErr(t, c.ChannelLeave(ctx, ""), "channel name is empty")
	appErr(t, c.Message(ctx, chat.Message{User: str(long), Content: str("c")}), "user name is 65 bytes long")
	appErr(t, c.ChannelUsers(ctx, "a\nb", nil), "control character")
	for _, bad := range []string{"", long, "tab\there", "bad\xff"} {
		_, err := connect(t, svc).Login(ctx, bad)
		appErr(t, err, "user name")
	}
	_, err = c.FileDownload(ctx, "missing.txt")
	appErr(t, err, "file not found")
	appErr(t, c.FileUpload(ctx, []byte("x"), ""), "invalid file name")
	appErr(t, c.FileUpload(ctx, []byte("x"), strings.Repeat("f", 256)), "invalid file name")
	if users, _ := svc.counts(); users != 2 {
		t.Fatalf("failed logins changed the user count: %d", users)
	}
}

func TestFilesNeedAStore(t *testing.T) {
	svc := New(Config{Logger: quietLogger()})
	c := login(t, svc, "u")
	appErr(t, c.FileUpload(context.Background(), []byte("x"), "f"), "not available")
}

func TestFileStoreFailure(t *testing.T) {
	dir := t.TempDir()
	fs, err := filestore.Open(dir, filestore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, Config{Files: fs})
	c := login(t, svc, "u")
	// The data directory vanishes under the server: an I/O error, reported
	// without the server's paths.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err = c.FileUpload(context.Background(), []byte("x"), "f.txt")
	appErr(t, err, `upload "f.txt": file storage error on the server`)
	if strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q leaks the data directory", err)
	}
}

func TestFiles(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	u1, u2 := login(t, svc, "user1"), login(t, svc, "user2")
	data := []byte("14 bytes file\n")
	for _, n := range []string{"file_name_1.txt", "a.txt"} {
		if err := u1.FileUpload(ctx, data, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := collect(t, func(send func(string) error) error { return sendAll(svc.cfg.Files.List(), send) }); !slices.Equal(got, []string{"a.txt", "file_name_1.txt"}) {
		t.Fatalf("files = %q", got)
	}
	r, err := u2.FileDownload(ctx, "file_name_1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != string(data) || r.FileName != "file_name_1.txt" {
		t.Fatalf("download = %q %q", r.FileName, r.Data)
	}
}

func TestSameUserSeveralConnections(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a1, a2, b := login(t, svc, "ann"), login(t, svc, "ann"), login(t, svc, "bob")
	in1, in2 := a1.listen(t), a2.listen(t)
	if err := b.Message(ctx, chat.Message{User: str("ann"), Content: str("hi")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, in1.next(t), "bob", "hi", nil)
	checkMsg(t, in2.next(t), "bob", "hi", nil)
	for _, c := range []*conn{a1, a2, b} {
		if err := c.ChannelJoin(ctx, "room"); err != nil {
			t.Fatal(err)
		}
	}
	if got := a1.users(t, "room"); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Fatalf("channel.users = %q, want each user once", got)
	}
	if users, _ := svc.counts(); users != 3 {
		t.Fatalf("user count %d, want 3 sessions", users)
	}
	// One of ann's connections closes: the other still receives.
	a1.cancel()
	if err := b.Message(ctx, chat.Message{User: str("ann"), Content: str("still")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, in2.next(t), "bob", "still", nil)
}

func TestDisconnectLeavesAtOnce(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a, b := login(t, svc, "a"), login(t, svc, "b")
	for _, c := range []*conn{a, b} {
		if err := c.ChannelJoin(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.ChannelJoin(ctx, "only-a"); err != nil {
		t.Fatal(err)
	}
	a.cancel()
	// context.AfterFunc runs the close on its own goroutine: wait for it
	// by polling the state, bounded.
	deadline := time.Now().Add(wait)
	for svc.Stats().Connections != 1 {
		if time.Now().After(deadline) {
			t.Fatal("closed session still registered")
		}
		time.Sleep(time.Millisecond)
	}
	if got := b.users(t, "r"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("channel.users = %q after a disconnected", got)
	}
	if got := b.channels(t); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("channels = %q: the emptied channel should be gone", got)
	}
	appErr(t, b.Message(ctx, chat.Message{User: str("a"), Content: str("x")}), "not logged in")
	if users, channels := svc.counts(); users != 1 || channels != 1 {
		t.Fatalf("counts %d, %d; want 1, 1", users, channels)
	}
}

func TestMaxJoined(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{MaxJoined: 2})
	c := login(t, svc, "u")
	for _, ch := range []string{"a", "b", "a"} {
		if err := c.ChannelJoin(ctx, ch); err != nil {
			t.Fatalf("join %s: %v", ch, err)
		}
	}
	appErr(t, c.ChannelJoin(ctx, "c"), "limit")
}

func TestQueuedBeforeIncomingOpens(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a, b := login(t, svc, "a"), login(t, svc, "b")
	for i := range 3 {
		if err := a.Message(ctx, chat.Message{User: str("b"), Content: str(string(rune('0' + i)))}); err != nil {
			t.Fatal(err)
		}
	}
	in := b.listen(t)
	for i := range 3 {
		checkMsg(t, in.next(t), "a", string(rune('0'+i)), nil)
	}
}

func TestSecondIncomingReplacesFirst(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a, b := login(t, svc, "a"), login(t, svc, "b")
	first := b.listen(t)
	b.waitStreams(t, 1) // so that "first" is indeed the first
	second := b.listen(t)
	select {
	case <-first.done:
		first.done <- nil
	case <-time.After(wait):
		t.Fatal("the first stream did not complete when the second opened")
	}
	if err := a.Message(ctx, chat.Message{User: str("b"), Content: str("m")}); err != nil {
		t.Fatal(err)
	}
	checkMsg(t, second.next(t), "a", "m", nil)
}

func TestFailedSendIsKept(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a, b := login(t, svc, "a"), login(t, svc, "b")
	if err := a.Message(ctx, chat.Message{User: str("b"), Content: str("kept")}); err != nil {
		t.Fatal(err)
	}
	err := b.MessagesIncoming(ctx, rsrt.NewSender(ctx, failingStream{io.ErrClosedPipe}, rsrt.EncodeJSON[chat.Message]))
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("messages.incoming after a failed send = %v, want the send's error", err)
	}
	checkMsg(t, b.listen(t).next(t), "a", "kept", nil)
}

func TestTimeCall(t *testing.T) {
	svc := newService(t, Config{})
	called := make(chan struct{}, 2)
	for _, fail := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := svc.newSession(ctx, "test", func(context.Context) (string, error) {
			called <- struct{}{}
			if fail {
				return "", errors.New("client broke")
			}
			return "2026-01-01", nil
		})
		if _, err := s.Login(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-called:
		case <-time.After(wait):
			t.Fatal("time route not called after login")
		}
		// A failed call changes nothing: the session goes on.
		if err := s.ChannelJoin(ctx, "c"); err != nil {
			t.Fatal(err)
		}
	}
	// No time route declared: nothing is called.
	login(t, svc, "u")
	select {
	case <-called:
		t.Fatal("called an undeclared time route")
	default:
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	conns := make([]*conn, 8)
	for i := range conns {
		conns[i] = login(t, svc, string(rune('a'+i)))
		conns[i].listen(t)
	}
	// Joins, messages, leaves and disconnects race with each other and
	// with the incoming streams; the race detector checks the locking.
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if err := c.ChannelJoin(ctx, "all"); err != nil {
				t.Error(err)
			}
			for range 50 {
				if err := c.Message(ctx, chat.Message{Channel: str("all"), Content: str("x")}); err != nil {
					t.Error(err)
				}
			}
			_ = c.ChannelLeave(ctx, "all")
			c.cancel()
		})
	}
	wg.Wait()
	deadline := time.Now().Add(wait)
	for svc.Stats().Connections != 0 {
		if time.Now().After(deadline) {
			t.Fatal("sessions left registered")
		}
		time.Sleep(time.Millisecond)
	}
	if st := svc.Stats(); st.Channels != 0 || st.LoggedIn != 0 || st.Queued != 0 {
		t.Fatalf("state left behind: %+v", st)
	}
}

// TestChannelOrderSameForAll checks the documented guarantee that holds
// now that messages are pushed outside the registry lock: concurrent
// senders to one channel, and every member queues the same sequence.
func TestChannelOrderSameForAll(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{QueueLen: 10_000})
	conns := make([]*conn, 8)
	for i := range conns {
		conns[i] = login(t, svc, string(rune('a'+i)))
		if err := conns[i].ChannelJoin(ctx, "all"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for i := range 200 {
				if err := c.Message(ctx, chat.Message{Channel: str("all"), Content: str(strconv.Itoa(i))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	sequence := func(c *conn) []string {
		c.queue.mu.Lock()
		defer c.queue.mu.Unlock()
		var seq []string
		for _, d := range c.queue.items {
			seq = append(seq, deref(d.message().User)+":"+deref(d.message().Content))
		}
		return seq
	}
	want := sequence(conns[0])
	if len(want) != len(conns)*200 {
		t.Fatalf("member a queued %d messages, want %d", len(want), len(conns)*200)
	}
	for _, c := range conns[1:] {
		if got := sequence(c); !slices.Equal(got, want) {
			t.Fatalf("member %s queued another order than member a", c.userName())
		}
	}
}
