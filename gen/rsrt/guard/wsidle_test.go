package guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// acceptedPair returns both ends of a TCP connection on 127.0.0.1, the
// accepted one as the WebSocket listener sees it.
func acceptedPair(t *testing.T) (*httpConn, net.Conn) {
	nc, peer := loopbackPair(t)
	t.Cleanup(func() { _ = nc.Close(); _ = peer.Close() })
	return &httpConn{Conn: nc}, peer
}

// watchedPair is acceptedPair with the accepted end in a batchConn that
// waits for its socket itself.
func watchedPair(t *testing.T) (*batchConn, *httpConn, net.Conn) {
	t.Helper()
	hc, peer := acceptedPair(t)
	b := newBatchConn(hc)
	b.watchSocket()
	if b.idle.read == nil {
		t.Fatal("no socket to wait on for a TCP connection")
	}
	return b, hc, peer
}

// TestIdleWaitServesWhatItRead: the bytes an idle wait read come out of
// Read first and in order, across reads smaller than them, then the
// socket's next bytes, then the peer's close as io.EOF; a wait that ends
// on the read deadline gives Read that timeout, once.
func TestIdleWaitServesWhatItRead(t *testing.T) {
	b, hc, peer := watchedPair(t)
	// A Read that lost bytes would wait for more: bounded, it fails.
	_ = hc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b.waitIdle()
	small := make([]byte, 3)
	var got []byte
	for len(got) < 5 {
		n, err := b.Read(small)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, small[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("read %q, want hello", got)
	}
	if b.idle.buf != nil {
		t.Fatal("the wait's buffer is held once served")
	}
	if _, err := peer.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadAtLeast(b, buf, 5); err != nil || string(buf[:n]) != "world" {
		t.Fatalf("read %q, %v; want world", buf[:n], err)
	}

	_ = hc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	b.waitIdle()
	if _, err := b.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after a wait past the deadline = %v, want a timeout", err)
	}
	_ = hc.SetReadDeadline(time.Time{})
	_ = peer.Close()
	b.waitIdle()
	if _, err := b.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed = %v, want io.EOF", err)
	}
}

// TestBurstReadInFewSystemCalls: gorilla reads a burst through its
// 288-byte buffer; the rest of the burst after the idle wait's first read
// must still come a whole idle buffer a system call, not 288 bytes one
// (counted by Linux in /proc/self/io; no test in this package runs in
// parallel).
func TestBurstReadInFewSystemCalls(t *testing.T) {
	reads := func() int64 {
		b, err := os.ReadFile("/proc/self/io")
		if err != nil {
			t.Skip("no /proc/self/io to count system calls with")
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "syscr: "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Skip("no syscr in /proc/self/io")
		return 0
	}
	b, hc, peer := watchedPair(t)
	_ = hc.SetReadDeadline(time.Now().Add(5 * time.Second))
	burst := make([]byte, 8<<10)
	for i := range burst {
		burst[i] = byte(i % 251)
	}
	if _, err := peer.Write(burst); err != nil {
		t.Fatal(err)
	}
	r0 := reads()
	got := make([]byte, 0, len(burst))
	small := make([]byte, wsReadBuffer)
	for len(got) < len(burst) {
		if len(got) == 0 {
			b.waitIdle() // as WSConn.Read does before gorilla's first read
		}
		n, err := b.Read(small)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, small[:n]...)
	}
	n := reads() - r0
	if !bytes.Equal(got, burst) {
		t.Fatal("the burst came out changed")
	}
	// 8 at 1 KiB a read, a few more if the burst arrives in parts;
	// 29 at 288 bytes.
	if limit := int64(len(burst)/wsIdleBuffer + 6); n > limit {
		t.Fatalf("%d read system calls for a burst of %d bytes, want at most %d", n, len(burst), limit)
	}
	t.Logf("%d read system calls for %d bytes", n, len(burst))
}

// TestIdleWaitOnlyOverPlainTCP: a connection that is not a TCP socket
// itself (TLS, a pipe) is read as it is, with no wait of its own.
func TestIdleWaitOnlyOverPlainTCP(t *testing.T) {
	a, _ := net.Pipe()
	defer a.Close()
	b := newBatchConn(&httpConn{Conn: a})
	b.watchSocket()
	if b.idle.read != nil {
		t.Fatal("a wait on the socket of a connection that is not plain TCP")
	}
	b.waitIdle() // returns at once
}

// TestIdleWaitHoldsNoBufferWhileIdle: a connection waiting for its peer
// holds no read buffer (10,000 idle connections would hold 10 MiB); it
// takes one when bytes arrive.
func TestIdleWaitHoldsNoBufferWhileIdle(t *testing.T) {
	b, hc, peer := watchedPair(t)
	_ = hc.SetReadDeadline(time.Now().Add(5 * time.Second))
	parked := make(chan bool, 16) // whether a buffer was held when the wait parked
	b.idle.read = func(fd uintptr) bool {
		done := b.readSocket(fd)
		if !done {
			parked <- b.idle.buf != nil
		}
		return done
	}
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		b.waitIdle()
	}()
	select {
	case held := <-parked:
		if held {
			t.Error("the idle wait parked holding a read buffer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait never parked")
	}
	if _, err := peer.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	<-waited
	buf := make([]byte, 16)
	if n, err := b.Read(buf); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q, %v; want late", buf[:n], err)
	}
}

// idleWSPair returns a server WebSocket connection made as the listener
// makes one (a batchWriter's hijack of an accepted connection, gorilla
// reading through its reader) and the client's end.
func idleWSPair(t *testing.T) (*WSConn, *websocket.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *WSConn, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &batchWriter{ResponseWriter: w}
		ws, err := (&websocket.Upgrader{}).Upgrade(bw, r, nil)
		if err != nil {
			return
		}
		if err := bw.conn.Flush(); err != nil {
			return
		}
		c := NewWSConn(ws, Options{Logger: quiet})
		c.idle = bw.br
		conns <- c
	})}
	go func() { _ = srv.Serve(acceptAs{ln}) }()
	t.Cleanup(func() { _ = srv.Close() })
	client, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var c *WSConn
	select {
	case c = <-conns:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection upgraded")
	}
	if c.batch == nil || c.batch.idle.read == nil {
		t.Fatal("the server connection does not wait for its peer itself")
	}
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client
}

// acceptAs hands out accepted connections as the listener's httpConn,
// already upgraded (their server counts nothing).
type acceptAs struct{ net.Listener }

func (l acceptAs) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &httpConn{Conn: nc, s: new(Server), promoted: true}, nil
}

// TestWSConnHoldsNoBuffersWhileIdle: a server WebSocket connection waiting
// for its peer, having written and flushed, holds no message, idle-wait
// or write buffer, and reads what comes after, frames that share a read
// included.
func TestWSConnHoldsNoBuffersWhileIdle(t *testing.T) {
	c, client := idleWSPair(t)
	if err := c.Write(framing.NewWriteableKeepaliveFrame(0, nil, false)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	b := c.batch
	writeBuffer := func() bool {
		b.wq.mu.Lock()
		defer b.wq.mu.Unlock()
		return b.wq.buf != nil
	}
	// The combiner's goroutine writes the flush out, and gives the
	// buffer back then.
	for end := time.Now().Add(5 * time.Second); writeBuffer() && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	parked := make(chan string, 16)
	b.idle.read = func(fd uintptr) bool {
		done := b.readSocket(fd)
		if !done {
			// On the reading goroutine: no race with Read.
			parked <- fmt.Sprintf("message buffer %d bytes, idle buffer held %v, write buffer held %v", cap(c.rbuf), b.idle.buf != nil, writeBuffer())
		}
		return done
	}
	type result struct {
		f   core.BufferedFrame
		err error
	}
	frames := make(chan result, 4)
	go func() {
		for {
			f, err := c.Read()
			frames <- result{f, err}
			if err != nil {
				return
			}
		}
	}()
	want := "message buffer 0 bytes, idle buffer held false, write buffer held false"
	for i, msgs := range [][][]byte{
		{validSetup()},
		{wire(framing.NewWriteableRequestResponseFrame(1, []byte("one"), nil, 0)), wire(framing.NewWriteableRequestResponseFrame(3, []byte("two"), nil, 0))},
	} {
		select {
		case got := <-parked:
			if got != want {
				t.Errorf("waiting for message %d: %s, want %s", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the read loop never waited for its peer")
		}
		// All in one write, so that they arrive in one read: a frame
		// left in a buffer gorilla read ahead into, and not in the one
		// the connection sees, would never be read.
		var raw []byte
		for _, m := range msgs {
			raw = append(raw, maskedFrame(m)...)
		}
		if _, err := client.NetConn().Write(raw); err != nil {
			t.Fatal(err)
		}
		for range msgs {
			select {
			case r := <-frames:
				if r.err != nil {
					t.Fatalf("Read: %v", r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a frame sent was not read")
			}
		}
	}
}

// maskedFrame is a client's binary WebSocket message with a zero mask
// (the payload unchanged), for payloads under 64 KiB.
func maskedFrame(p []byte) []byte {
	b := []byte{0x82}
	if len(p) < 126 {
		b = append(b, 0x80|byte(len(p)))
	} else {
		b = append(b, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, p...)
}
