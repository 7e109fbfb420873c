package robustness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/logger"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// wait bounds every blocking step of a test. It is a guard against a hang,
// never an assertion on speed.
const wait = 30 * time.Second

// logSink keeps the server's log records so that a test can check why a
// connection was closed.
type logSink struct {
	mu      sync.Mutex
	records []string
}

func (s *logSink) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	// Only what the tests look for is kept, so that thousands of
	// connections do not fill the test's own heap with log lines.
	if r.Level < slog.LevelWarn && !strings.HasPrefix(r.Message, "rsocket guard") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	if len(s.records) < 100_000 {
		s.records = append(s.records, b.String())
	}
	s.mu.Unlock()
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

// count returns how many records contain every one of parts.
func (s *logSink) count(parts ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.records {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r, p)
		}
		if ok {
			n++
		}
	}
	return n
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// waitLog waits until a record contains every one of parts.
func (s *logSink) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a log record with %q (records: %q)", parts, s.all()), func() bool { return s.count(parts...) > 0 })
}

type server struct {
	*chatserver.Running
	logs *logSink
	dir  string
}

// startServer starts an embedded chat server on 127.0.0.1 (TCP only) with
// its files in dir, and stops it at the end of the test.
func startServer(t *testing.T, dir string, mod func(*chatserver.Config)) *server {
	t.Helper()
	logs := &logSink{}
	cfg := chatserver.Config{TCPAddr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(logs)}
	if mod != nil {
		mod(&cfg)
	}
	r := chattest.Start(t, cfg, wait, nil) // this suite does not check what Stop returns
	return &server{Running: r, logs: logs, dir: dir}
}

func ctxT(t *testing.T) context.Context { return chattest.Context(t, wait) }

func str(s string) *string { return &s }

// dial connects the generated client within this suite's wait; the
// connection closes at the end of the test.
func dial(t *testing.T, addr string) *chat.Client {
	t.Helper()
	return chattest.Dial(t, addr, wait)
}

// login dials and logs in as user.
func login(t *testing.T, addr, user string) *chat.Client {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Login(ctxT(t), user); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// eventually polls cond until it holds, failing the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not the case after %v: %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkServed checks that a fresh legitimate client is fully served: it
// logs in, joins a channel, gets its own message back on messages.incoming,
// and lists channels.
func checkServed(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := chat.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("legitimate client: dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "legit"); err != nil {
		t.Fatalf("legitimate client: login: %v", err)
	}
	if err := c.ChannelJoin(ctx, "legit-room"); err != nil {
		t.Fatalf("legitimate client: join: %v", err)
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	msgs := c.MessagesIncoming(sctx)
	if err := c.Message(ctx, chat.Message{Channel: str("legit-room"), Content: str("still served")}); err != nil {
		t.Fatalf("legitimate client: message: %v", err)
	}
	for m, err := range msgs {
		if err != nil {
			t.Fatalf("legitimate client: incoming: %v", err)
		}
		chattest.CheckMsg(t, m, "legit", "still served", str("legit-room"))
		break
	}
	found := false
	for name, err := range c.Channels(ctx) {
		if err != nil {
			t.Fatalf("legitimate client: channels: %v", err)
		}
		found = found || name == "legit-room"
	}
	if !found {
		t.Fatal("legitimate client: its channel is not listed")
	}
}

// ---- raw RSocket over TCP ----

// frame is one frame read from the server.
type frame struct {
	sid   uint32
	typ   core.FrameType
	flags core.FrameFlag
	body  []byte // after the header
}

// errorCode and errorText decode an ERROR frame's body.
func (f frame) errorCode() core.ErrorCode {
	if len(f.body) < 4 {
		return 0
	}
	return core.ErrorCode(binary.BigEndian.Uint32(f.body))
}

func (f frame) errorText() string {
	if len(f.body) < 4 {
		return ""
	}
	return string(f.body[4:])
}

// data returns a PAYLOAD frame's data, after its metadata if any.
func (f frame) data() []byte {
	b := f.body
	if f.flags&core.FlagMetadata != 0 && len(b) >= 3 {
		n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if 3+n <= len(b) {
			return b[3+n:]
		}
	}
	return b
}

func (f frame) String() string {
	if f.typ == core.FrameTypeError {
		return fmt.Sprintf("ERROR stream %d %s %q", f.sid, f.errorCode(), f.errorText())
	}
	return fmt.Sprintf("%s stream %d flags %s %d bytes", f.typ, f.sid, f.flags, len(f.body))
}

// rawConn is a hand-driven RSocket client connection.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
	wm sync.Mutex
}

// rawDial connects and sends a valid SETUP (composite metadata, JSON,
// keepalive 500 ms, max lifetime 10 min, as the tutorial's clients do).
func rawDial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := newRaw(addr, true)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	c.t = t
	t.Cleanup(func() { _ = c.nc.Close() })
	return c
}

// newRaw connects, and sends SETUP when setup is set. The connection's
// must* methods cannot be used (it has no test).
func newRaw(addr string, setup bool) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, err
	}
	c := &rawConn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	if setup {
		err = c.send(framing.NewWriteableSetupFrame(core.DefaultVersion, 500*time.Millisecond, 10*time.Minute, nil,
			[]byte(rsrt.MIMECompositeMetadata), []byte(rsrt.MIMEJSON), nil, nil, false))
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	return c, nil
}

// encode returns a frame's bytes with the TCP length prefix.
func encode(f core.WriteableFrame) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0})
	if _, err := f.WriteTo(&b); err != nil {
		panic(err)
	}
	out := b.Bytes()
	n := len(out) - 3
	out[0], out[1], out[2] = byte(n>>16), byte(n>>8), byte(n)
	return out
}

// send writes frames, in one write.
func (c *rawConn) send(fs ...core.WriteableFrame) error {
	var b []byte
	for _, f := range fs {
		b = append(b, encode(f)...)
	}
	return c.write(b)
}

func (c *rawConn) write(b []byte) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(wait))
	_, err := c.nc.Write(b)
	return err
}

// read returns the next frame. KEEPALIVE frames are skipped.
func (c *rawConn) read() (frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	for {
		var h [3]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return frame{}, err
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		b := make([]byte, n)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return frame{}, err
		}
		if n < core.FrameHeaderLen {
			return frame{}, fmt.Errorf("frame of %d bytes from the server", n)
		}
		hdr := binary.BigEndian.Uint16(b[4:])
		f := frame{sid: binary.BigEndian.Uint32(b), typ: core.FrameType(hdr >> 10), flags: core.FrameFlag(hdr & 0x3ff), body: b[core.FrameHeaderLen:]}
		if f.typ == core.FrameTypeKeepalive {
			continue
		}
		return f, nil
	}
}

// mustRead reads the next frame or fails.
func (c *rawConn) mustRead() frame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("raw read: %v", err)
	}
	return f
}

// waitClosed reads until the server closes the connection, discarding
// frames, and fails if it does not within wait.
func (c *rawConn) waitClosed() {
	c.t.Helper()
	for {
		_, err := c.read()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the server did not close the connection within %v", wait)
		}
		return // EOF or reset: closed
	}
}

// meta returns composite metadata with the route and entries.
func meta(route string, entries ...rsrt.Entry) []byte {
	b, err := rsrt.EncodeComposite(route, entries)
	if err != nil {
		panic(err)
	}
	return b
}

func fileName(name string) rsrt.Entry { return rsrt.Entry{MIME: chat.MIMEFileName, Data: []byte(name)} }

// requestResponse sends a REQUEST_RESPONSE on sid.
func (c *rawConn) requestResponse(sid uint32, route string, data []byte, entries ...rsrt.Entry) error {
	return c.send(framing.NewWriteableRequestResponseFrame(sid, data, meta(route, entries...), 0))
}

// rawLogin logs the raw connection in on stream 1 and checks the answer.
func (c *rawConn) login(user string) {
	c.t.Helper()
	if err := c.requestResponse(1, chat.RouteLogin, []byte(user)); err != nil {
		c.t.Fatalf("raw login: %v", err)
	}
	f := c.mustRead()
	if f.sid != 1 || f.typ != core.FrameTypePayload || len(f.data()) != 36 {
		c.t.Fatalf("raw login: got %v, want the session id", f)
	}
}

// expect reads frames until one for sid arrives and returns it.
func (c *rawConn) expect(sid uint32) frame {
	c.t.Helper()
	for {
		f := c.mustRead()
		if f.sid == sid {
			return f
		}
	}
}

func TestMain(m *testing.M) {
	// rsocket-go logs every connection that ends abruptly; the tests make
	// thousands on purpose.
	logger.SetLevel(logger.LevelError << 1)
	os.Exit(m.Run())
}
