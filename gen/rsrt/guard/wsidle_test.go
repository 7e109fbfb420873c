package guard

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// acceptedPair returns both ends of a TCP connection on 127.0.0.1, the
// accepted one as the WebSocket listener sees it.
func acceptedPair(t *testing.T) (*httpConn, net.Conn) {
	nc, peer := loopbackPair(t)
	t.Cleanup(func() { _ = nc.Close(); _ = peer.Close() })
	return &httpConn{Conn: nc}, peer
}

// TestIdleWaitServesWhatItRead: the bytes an idle wait read come out of
// Read first and in order, across reads smaller than them, then the
// socket's next bytes, then the peer's close as io.EOF; a wait that ends
// on the read deadline gives Read that timeout, once.
func TestIdleWaitServesWhatItRead(t *testing.T) {
	hc, peer := acceptedPair(t)
	b := &batchConn{Conn: hc}
	b.watchSocket(hc)
	if b.idle.raw == nil {
		t.Fatal("no socket to wait on for a TCP connection")
	}
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

// TestIdleWaitOnlyOverPlainTCP: a connection that is not a TCP socket
// itself (TLS, a pipe) is read as it is, with no wait of its own.
func TestIdleWaitOnlyOverPlainTCP(t *testing.T) {
	a, _ := net.Pipe()
	defer a.Close()
	b := &batchConn{Conn: &httpConn{Conn: a}}
	b.watchSocket(b.Conn)
	if b.idle.raw != nil {
		t.Fatal("a wait on the socket of a connection that is not plain TCP")
	}
	b.waitIdle() // returns at once
}

// TestIdleWaitHoldsNoBufferWhileIdle: a connection waiting for its peer
// holds no read buffer (10,000 idle connections would hold 10 MiB); it
// takes one when bytes arrive.
func TestIdleWaitHoldsNoBufferWhileIdle(t *testing.T) {
	hc, peer := acceptedPair(t)
	b := &batchConn{Conn: hc}
	b.watchSocket(hc)
	if b.idle.raw == nil {
		t.Fatal("no socket to wait on for a TCP connection")
	}
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
