package guard

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// streamingPair returns a checking connection past SETUP with stream 1
// open for responses, and the raw client end of it.
func streamingPair(t *testing.T, setup func(server, client *net.TCPConn)) (*TCPConn, net.Conn) {
	t.Helper()
	server, client := loopbackPair(t)
	if setup != nil {
		setup(server.(*net.TCPConn), client.(*net.TCPConn))
	}
	c := NewTCPConn(server, Options{Stats: new(Stats), Logger: quiet})
	t.Cleanup(func() { c.Close(); client.Close() })
	send(t, client, validSetup(), wire(framing.NewWriteableRequestStreamFrame(1, 1<<30, []byte("go"), nil, 0)))
	readFrame(t, c)
	readFrame(t, c)
	return c, client
}

// readPayloads reads n PAYLOAD frames from r and fails unless they carry
// want(0) ... want(n-1) in that order. The reads fail after the deadline
// instead of hanging the test.
func readPayloads(t *testing.T, conn net.Conn, r *bufio.Reader, n int, want func(int) string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range n {
		f := readWireFrame(t, r)
		p, ok := f.(*framing.PayloadFrame)
		if !ok || string(p.Data()) != want(i) {
			t.Fatalf("frame %d: got %s, want PAYLOAD %q", i, f.Header(), want(i))
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
}

// A connection whose peer does not read must not hold up the flushes of
// the others: the combining goroutine does not wait for a socket, and the
// slow connection's frames reach its peer whole and in order once it reads.
func TestCombinerDoesNotWaitForASlowPeer(t *testing.T) {
	slow, slowPeer := streamingPair(t, func(server, client *net.TCPConn) {
		// A small send buffer, so that the peer's not reading shows
		// soon. (Not a small receive buffer: shrunk on an open
		// connection, it can stall the transfer in the kernel.)
		_ = server.SetWriteBuffer(4 << 10)
	})
	fast, fastPeer := streamingPair(t, nil)

	const frames = 4096 // 1 KiB each: far more than the sockets hold
	body := func(i int) string { return fmt.Sprintf("%04d%01020d", i, 0) }
	var wrote atomic.Int64
	slowDone := make(chan error, 1)
	go func() {
		for i := range frames {
			if err := slow.Write(framing.NewWriteablePayloadFrame(1, []byte(body(i)), nil, core.FlagNext)); err != nil {
				slowDone <- err
				return
			}
			if err := slow.Flush(); err != nil {
				slowDone <- err
				return
			}
			wrote.Add(1)
		}
		slowDone <- nil
	}()
	// Wait until the slow connection's writer is stuck behind its peer.
	for last := int64(-1); ; {
		time.Sleep(50 * time.Millisecond)
		n := wrote.Load()
		if n == frames {
			t.Fatal("the sockets took every frame without the peer reading; the test needs smaller buffers")
		}
		if n == last {
			break
		}
		last = n
	}

	fr := bufio.NewReader(fastPeer)
	for round := range 3 {
		msg := func(int) string { return fmt.Sprint("fast ", round) }
		if err := fast.Write(framing.NewWriteablePayloadFrame(1, []byte(msg(0)), nil, core.FlagNext)); err != nil {
			t.Fatal(err)
		}
		if err := fast.Flush(); err != nil {
			t.Fatal(err)
		}
		readPayloads(t, fastPeer, fr, 1, msg)
	}

	readPayloads(t, slowPeer, bufio.NewReader(slowPeer), frames, body)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
}

// Many connections flushing at once, frame after frame, through one
// combiner that hands its queue on every few connections: every frame
// reaches its peer, in order.
func TestCombinedFlushesDeliverEverythingInOrder(t *testing.T) {
	defer func(n int) { combineLimit = n }(combineLimit)
	combineLimit = 2

	const conns, frames = 16, 400
	type pair struct {
		c    *TCPConn
		peer net.Conn
	}
	pairs := make([]pair, conns)
	for i := range pairs {
		pairs[i].c, pairs[i].peer = streamingPair(t, nil)
	}
	body := func(conn int) func(int) string {
		return func(i int) string { return fmt.Sprintf("conn %d frame %d %*s", conn, i, i%700, "") }
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for n, p := range pairs {
		want := body(n)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range frames {
				if err := p.c.Write(framing.NewWriteablePayloadFrame(1, []byte(want(i)), nil, core.FlagNext)); err != nil {
					errs <- err
					return
				}
				if i%3 != 1 { // sometimes two frames a flush
					if err := p.c.Flush(); err != nil {
						errs <- err
						return
					}
				}
			}
			if err := p.c.Flush(); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			_ = p.peer.SetReadDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(p.peer)
			for i := range frames {
				var prefix [3]byte
				if _, err := io.ReadFull(r, prefix[:]); err != nil {
					errs <- fmt.Errorf("conn %d frame %d: %w", n, i, err)
					return
				}
				b := make([]byte, int(prefix[0])<<16|int(prefix[1])<<8|int(prefix[2]))
				if _, err := io.ReadFull(r, b); err != nil {
					errs <- fmt.Errorf("conn %d frame %d: %w", n, i, err)
					return
				}
				f, err := framing.FromBytes(b)
				if err != nil {
					errs <- err
					return
				}
				if p, ok := f.(*framing.PayloadFrame); !ok || string(p.Data()) != want(i) {
					errs <- fmt.Errorf("conn %d frame %d: got %s, want %q", n, i, f.Header(), want(i))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for n, p := range pairs {
		if held(p.c) {
			t.Errorf("conn %d holds a write buffer after everything was written", n)
		}
	}
}

// held reports whether c holds a write buffer, waiting a while for a
// combining goroutine to finish with it: the peer can read the bytes
// before the buffer goes back.
func held(c *TCPConn) bool {
	for range 100 {
		c.wmu.Lock()
		h := c.w != nil
		c.wmu.Unlock()
		if !h {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
