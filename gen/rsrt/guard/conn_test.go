package guard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

var quiet = slog.New(slog.DiscardHandler)

// loopbackPair returns both ends of a TCP connection on 127.0.0.1: the
// accepted one and the client's.
func loopbackPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

// tcpPair returns a checking connection and the raw client end of it.
func tcpPair(t *testing.T, lim Limits) (*TCPConn, net.Conn, *Stats) {
	t.Helper()
	server, client := loopbackPair(t)
	stats := new(Stats)
	c := NewTCPConn(server, Options{Limits: lim, Stats: stats, Logger: quiet})
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client, stats
}

func send(t *testing.T, w io.Writer, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if _, err := w.Write(append(u24(len(f)), f...)); err != nil {
			t.Fatal(err)
		}
	}
}

func readFrame(t *testing.T, c *TCPConn) core.BufferedFrame {
	t.Helper()
	f, err := c.Read()
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return f
}

func TestTCPConnDelivers(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup(), wire(framing.NewWriteableRequestResponseFrame(1, []byte("ping"), nil, 0)))
	if f := readFrame(t, c); f.Header().Type() != core.FrameTypeSetup {
		t.Fatalf("got %s, want SETUP", f.Header())
	}
	f := readFrame(t, c)
	rr, ok := f.(*framing.RequestResponseFrame)
	if !ok || string(rr.Data()) != "ping" {
		t.Fatalf("got %s, want the request", f.Header())
	}
	if c.Addr() != client.LocalAddr().String() {
		t.Errorf("Addr() = %q, want %q", c.Addr(), client.LocalAddr())
	}
}

func TestTCPConnSubstitutesRequesterError(t *testing.T) {
	c, client, stats := tcpPair(t, Limits{})
	send(t, client, validSetup(),
		wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)),
		wire(framing.NewWriteableErrorFrame(1, core.ErrorCodeApplicationError, []byte("publisher failed"))),
		wire(framing.NewWriteableCancelFrame(2)),
		wire(framing.NewWriteableRequestResponseFrame(3, nil, nil, 0)))
	readFrame(t, c)
	readFrame(t, c)
	if f := readFrame(t, c); f.Header().Type() != core.FrameTypeCancel || f.StreamID() != 1 {
		t.Fatalf("got %s, want CANCEL on 1", f.Header())
	}
	f := readFrame(t, c)
	if h := f.Header(); h.Type() != core.FrameTypePayload || h.StreamID() != 1 || !h.Flag().Check(core.FlagComplete) || h.Flag().Check(core.FlagNext) {
		t.Fatalf("got %s, want PAYLOAD COMPLETE on 1", h)
	}
	// The CANCEL for stream 2 is dropped: the next frame is the request.
	if f := readFrame(t, c); f.Header().Type() != core.FrameTypeRequestResponse {
		t.Fatalf("got %s, want REQUEST_RESPONSE", f.Header())
	}
	if got := stats.Snapshot(); got.Substituted != 1 || got.Dropped != 1 {
		t.Errorf("stats %+v, want 1 substituted and 1 dropped", got)
	}
}

func TestTCPConnRejectsOverMaxStreams(t *testing.T) {
	c, client, stats := tcpPair(t, Limits{MaxStreams: 1})
	send(t, client, validSetup(),
		wire(framing.NewWriteableRequestStreamFrame(1, 1, nil, nil, 0)),
		wire(framing.NewWriteableRequestResponseFrame(3, nil, nil, 0)),
		wire(framing.NewWriteableRequestNFrame(1, 1, 0)))
	readFrame(t, c)
	readFrame(t, c)
	if f := readFrame(t, c); f.Header().Type() != core.FrameTypeRequestN {
		t.Fatalf("got %s, want REQUEST_N (the request on 3 is rejected)", f.Header())
	}
	f := readWireFrame(t, bufio.NewReader(client))
	ef, ok := f.(*framing.ErrorFrame)
	if !ok || ef.StreamID() != 3 || ef.ErrorCode() != core.ErrorCodeRejected {
		t.Fatalf("client got %s, want ERROR REJECTED on 3", f.Header())
	}
	if got := stats.Snapshot().Rejected; got != 1 {
		t.Errorf("%d rejected, want 1", got)
	}
}

func TestTCPConnClosesOnViolation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		input  []byte
		reason string
	}{
		{"frame length 0", []byte{0, 0, 0}, "frame length 0"},
		{"frame too large", u24(5000), "frame length 5000"},
		{"truncated setup", append(u24(10), validSetup()[:10]...), "truncated"},
		{"request first", append(u24(6), raw(1, core.FrameTypeRequestResponse, 0)...), "first frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client, stats := tcpPair(t, Limits{MaxFrameSize: 4096})
			if _, err := client.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			_, err := c.Read()
			var v *Violation
			if !errors.As(err, &v) || !strings.Contains(v.Reason, tc.reason) {
				t.Fatalf("Read error %v, want a violation about %q", err, tc.reason)
			}
			if stats.Snapshot().Violations != 1 {
				t.Errorf("violation not counted")
			}
		})
	}
}

// A connection's log lines name its peer, and a connection that logs
// nothing holds no logger of its own.
func TestTCPConnLogsNameThePeer(t *testing.T) {
	var buf syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	quietConn, _ := loopbackPair(t)
	idle := NewTCPConn(quietConn, Options{Logger: logger})
	defer idle.Close()
	server, client := loopbackPair(t)
	c := NewTCPConn(server, Options{Logger: logger})
	defer c.Close()
	send(t, client, raw(1, core.FrameTypeRequestResponse, 0))
	if _, err := c.Read(); err == nil {
		t.Fatal("a request before SETUP was read")
	}
	want := "remote=" + client.LocalAddr().String()
	if out := buf.String(); !strings.Contains(out, "connection closed") || !strings.Contains(out, want) {
		t.Errorf("log %q, want the closing line with %s", out, want)
	}
	if idle.log.Load() != nil {
		t.Error("a connection that logged nothing made a logger")
	}
}

func TestTCPConnSetupTimeout(t *testing.T) {
	c, _, stats := tcpPair(t, Limits{SetupTimeout: 50 * time.Millisecond})
	if _, err := c.Read(); !errors.Is(err, ErrSetupTimeout) {
		t.Fatalf("Read error %v, want ErrSetupTimeout", err)
	}
	if stats.Snapshot().SetupTimeouts != 1 {
		t.Errorf("setup timeout not counted")
	}
}

func TestTCPConnEOF(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup())
	client.Write([]byte{0, 0, 20, 1, 2}) // half a frame, then gone
	client.Close()
	readFrame(t, c)
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read error %v, want io.EOF", err)
	}
}

func TestTCPConnOutboundCredit(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup(), wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)))
	readFrame(t, c)
	readFrame(t, c)
	// The server grants one item by writing REQUEST_N; a second item is
	// over the credit.
	if err := c.Write(framing.NewWriteableRequestNFrame(1, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	send(t, client, raw(1, core.FrameTypePayload, core.FlagNext, []byte("a")), raw(1, core.FrameTypePayload, core.FlagNext, []byte("b")))
	readFrame(t, c)
	if _, err := c.Read(); err == nil || !strings.Contains(err.Error(), "credit") {
		t.Fatalf("Read error %v, want a credit violation", err)
	}
}

// wsPair returns a checking WebSocket connection and the client end.
func wsPair(t *testing.T, lim Limits) (*WSConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *WSConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- NewWSConn(ws, Options{Limits: lim, Logger: quiet})
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := <-conns
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client
}

func TestWSConn(t *testing.T) {
	c, client := wsPair(t, Limits{WSReadLimit: 1024})
	for _, m := range [][]byte{validSetup(), wire(framing.NewWriteableRequestResponseFrame(1, []byte("ping"), nil, 0))} {
		if err := client.WriteMessage(websocket.BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.WriteMessage(websocket.TextMessage, []byte("ignored")); err != nil {
		t.Fatal(err)
	}
	f, err := c.Read()
	if err != nil || f.Header().Type() != core.FrameTypeSetup {
		t.Fatalf("Read = %v, %v; want SETUP", f, err)
	}
	f, err = c.Read()
	if err != nil || f.Header().Type() != core.FrameTypeRequestResponse {
		t.Fatalf("Read = %v, %v; want the request", f, err)
	}
	// The server answers on the same connection.
	if err := c.Write(framing.NewWriteablePayloadFrame(1, []byte("pong"), nil, core.FlagNext|core.FlagComplete)); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := client.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("client read %d, %v", typ, err)
	}
	if p, err := framing.FromBytes(msg); err != nil || string(p.(*framing.PayloadFrame).Data()) != "pong" {
		t.Fatalf("client got % x, %v", msg, err)
	}
	if err := client.WriteMessage(websocket.BinaryMessage, make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(); err == nil || !strings.Contains(err.Error(), "read limit") {
		t.Fatalf("Read error %v, want the read limit", err)
	}
}

func TestWSConnClosedByPeer(t *testing.T) {
	c, client := wsPair(t, Limits{})
	client.WriteMessage(websocket.BinaryMessage, validSetup())
	client.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if _, err := c.Read(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read error %v, want io.EOF", err)
	}
}

func TestTCPConnRewritesSetupError(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	refusal := AsSetupError(SetupError(core.ErrorCodeUnsupportedSetup, "no such MIME type"))
	// What rsocket-go writes for any acceptor error, then an ordinary
	// REJECTED_SETUP that must go out unchanged.
	for _, f := range []core.WriteableFrame{
		framing.NewWriteableErrorFrame(0, core.ErrorCodeRejectedSetup, []byte(refusal.Error())),
		framing.NewWriteableErrorFrame(0, core.ErrorCodeRejectedSetup, []byte("go away")),
	} {
		if err := c.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(client)
	for _, want := range []struct {
		code core.ErrorCode
		msg  string
	}{{core.ErrorCodeUnsupportedSetup, "no such MIME type"}, {core.ErrorCodeRejectedSetup, "go away"}} {
		ef := readWireFrame(t, r).(*framing.ErrorFrame)
		if ef.ErrorCode() != want.code || string(ef.ErrorData()) != want.msg {
			t.Errorf("client got %s %q, want %s %q", ef.ErrorCode(), ef.ErrorData(), want.code, want.msg)
		}
	}
}

func TestAsSetupError(t *testing.T) {
	type coded interface {
		ErrorCode() core.ErrorCode
		ErrorData() []byte
	}
	for _, tc := range []struct {
		name string
		err  error
		code core.ErrorCode
		text string
	}{
		// Refusals without a SETUP code go out as REJECTED_SETUP, with
		// their text and no code name in front of it.
		{"plain", errors.New("plain"), core.ErrorCodeRejectedSetup, "plain"},
		{"application error", SetupError(core.ErrorCodeApplicationError, "bad login"), core.ErrorCodeRejectedSetup, "bad login"},
		{"wrapped SETUP code", fmt.Errorf("wrapped: %w", SetupError(core.ErrorCodeInvalidSetup, "bad")), core.ErrorCodeInvalidSetup, "bad"},
		{"SETUP code", SetupError(core.ErrorCodeUnsupportedSetup, "no such MIME type"), core.ErrorCodeUnsupportedSetup, "no such MIME type"},
	} {
		var c coded
		if got := AsSetupError(tc.err); !errors.As(got, &c) || c.ErrorCode() != tc.code || string(c.ErrorData()) != tc.text {
			t.Errorf("%s: %v, want %s %q", tc.name, got, tc.code, tc.text)
		}
	}
	if AsSetupError(nil) != nil {
		t.Error("nil became an error")
	}
}

// The write buffer is taken from a pool for the first frame and given
// back once flushed: frames written between flushes, small and larger than
// the buffer, reach the peer whole and in order, round after round.
func TestTCPConnWriteBufferPooled(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup(), wire(framing.NewWriteableRequestStreamFrame(1, 1000, []byte("go"), nil, 0)))
	readFrame(t, c)
	readFrame(t, c)
	if c.wq.buf != nil {
		t.Fatal("a connection that wrote nothing holds a write buffer")
	}
	large := strings.Repeat("x", 3*ioBufSize+17)
	var want []string
	r := bufio.NewReader(client)
	done := 0
	for round := range 3 {
		for i, data := range []string{fmt.Sprintf("small %d", round), large + fmt.Sprint(round), "after"} {
			if err := c.Write(framing.NewWriteablePayloadFrame(1, []byte(data), nil, core.FlagNext)); err != nil {
				t.Fatalf("round %d, frame %d: %v", round, i, err)
			}
			want = append(want, data)
		}
		c.wq.mu.Lock()
		buffered := c.wq.buf != nil
		c.wq.mu.Unlock()
		if !buffered {
			t.Fatalf("round %d: no write buffer while frames wait for Flush", round)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		readPayloads(t, client, r, len(want)-done, func(i int) string { return want[done+i] })
		done = len(want)
		if held(c) {
			t.Fatalf("round %d: the write buffer is kept after a flush", round)
		}
	}
	if err := c.Flush(); err != nil { // nothing to write
		t.Fatal(err)
	}
}

// A connection waits for its peer with a small idle buffer and takes a
// pooled reader for what arrives: frames smaller and larger than the idle
// buffer and than the reader, several in one write, and one sent a few
// bytes at a time, all arrive whole and in order.
func TestTCPConnReadsAcrossIdleBuffer(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	sizes := []int{1, idleBufSize - 20, idleBufSize, idleBufSize + 1, ioBufSize - 10, ioBufSize + 1, 3*ioBufSize + 5, 7, 0, 2 * idleBufSize}
	var frames [][]byte
	var want []string
	for i, n := range sizes {
		data := strings.Repeat(string(rune('a'+i)), n)
		frames = append(frames, wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), []byte(data), nil, 0)))
		want = append(want, data)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			if _, err := client.Write(append(u24(len(validSetup())), validSetup()...)); err != nil {
				return err
			}
			// The first half in one write, the rest a few bytes at a
			// time: frames straddle the idle buffer and the reader.
			var all []byte
			for _, f := range frames {
				all = append(all, append(u24(len(f)), f...)...)
			}
			half := len(all) / 2
			if _, err := client.Write(all[:half]); err != nil {
				return err
			}
			for rest := all[half:]; len(rest) > 0; {
				k := min(len(rest), 1+len(rest)%97)
				if _, err := client.Write(rest[:k]); err != nil {
					return err
				}
				rest = rest[k:]
			}
			return nil
		}()
	}()
	if f := readFrame(t, c); f.Header().Type() != core.FrameTypeSetup {
		t.Fatalf("got %s, want SETUP", f.Header())
	}
	for i, w := range want {
		f := readFrame(t, c)
		fnf, ok := f.(*framing.FireAndForgetFrame)
		if !ok || string(fnf.Data()) != w {
			t.Fatalf("frame %d: got %s, want REQUEST_FNF with %d bytes", i, f.Header(), len(w))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	client.Close()
	if _, err := c.Read(); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want EOF", err)
	}
}

// readWireFrame reads one length-prefixed frame from what a TCPConn wrote.
func readWireFrame(t *testing.T, r *bufio.Reader) core.BufferedFrame {
	t.Helper()
	var prefix [3]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(prefix[0])<<16|int(prefix[1])<<8|int(prefix[2]))
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	f, err := framing.FromBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A connection that wrote a connection ERROR lingers on Close: the peer
// reads the ERROR and then the end of the stream while what it still
// sends is read and dropped; a second Close, as the server's when it
// shuts down, ends the linger at once.
func TestTCPConnLingersAfterAConnectionError(t *testing.T) {
	old := lingerTime
	lingerTime = time.Hour // only the second Close can end it
	t.Cleanup(func() { lingerTime = old })
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup())
	readFrame(t, c)
	if err := c.Write(framing.NewWriteableErrorFrame(0, core.ErrorCodeRejectedSetup, []byte("no"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()

	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(client)
	if f := readWireFrame(t, r); f.Header().Type() != core.FrameTypeError || f.Header().StreamID() != 0 {
		t.Fatalf("got %s, want the connection ERROR", f.Header())
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the ERROR: %v, want the end of the stream", err)
	}
	// The server still reads: these bytes are dropped, not answered
	// with a reset.
	send(t, client, wire(framing.NewWriteableRequestResponseFrame(1, []byte("late"), nil, 0)))
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while the peer is still connected", err)
	case <-time.After(100 * time.Millisecond):
	}
	go func() { closed <- c.Close() }()
	for i := range 2 {
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of the two Closes returned: the second did not end the linger", i)
		}
	}
}
