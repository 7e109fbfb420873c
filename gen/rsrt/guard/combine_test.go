package guard

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/core/transport"
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

// flushPair is a server connection whose flushes are combined, seen
// through what a test needs: send writes a message and flushes, receive
// reads the next message at the peer.
type flushPair struct {
	send    func(msg []byte) error
	peer    net.Conn
	receive func(t *testing.T, r *bufio.Reader) []byte
}

// The connections whose flushes are combined: TCP, and the connection
// under a WebSocket (messages as raw bytes there).
var flushKinds = []struct {
	name string
	open func(t *testing.T, small bool) flushPair
}{
	{"tcp", func(t *testing.T, small bool) flushPair {
		c, peer := streamingPair(t, func(server, _ *net.TCPConn) {
			if small {
				smallSendBuffer(server)
			}
		})
		return flushPair{
			send: func(msg []byte) error {
				if err := c.Write(framing.NewWriteablePayloadFrame(1, msg, nil, core.FlagNext)); err != nil {
					return err
				}
				return c.Flush()
			},
			peer: peer,
			receive: func(t *testing.T, r *bufio.Reader) []byte {
				f := readWireFrame(t, r)
				p, ok := f.(*framing.PayloadFrame)
				if !ok {
					t.Fatalf("got %s, want PAYLOAD", f.Header())
				}
				return p.Data()
			},
		}
	}},
	{"websocket", func(t *testing.T, small bool) flushPair {
		hc, peer := acceptedPair(t)
		if small {
			smallSendBuffer(hc.Conn.(*net.TCPConn))
		}
		b := newBatchConn(hc)
		if b.wq.raw == nil {
			t.Fatal("no raw socket under a plain TCP connection")
		}
		return flushPair{
			send: func(msg []byte) error {
				if _, err := b.Write(msg); err != nil {
					return err
				}
				return b.Flush()
			},
			peer: peer,
			receive: func(t *testing.T, r *bufio.Reader) []byte {
				msg := make([]byte, slowMsgSize)
				if _, err := io.ReadFull(r, msg); err != nil {
					t.Fatal(err)
				}
				return msg
			},
		}
	}},
}

// smallSendBuffer makes the socket's send buffer small, so that a peer's
// not reading shows soon. (Not a small receive buffer at the peer:
// shrunk on an open connection, it can stall the transfer in the kernel.)
func smallSendBuffer(c *net.TCPConn) { _ = c.SetWriteBuffer(4 << 10) }

const slowMsgSize = 1 << 10

// A connection whose peer does not read must not hold up the flushes of
// the others: the combining goroutine does not wait for a socket, and the
// slow connection's messages reach its peer whole and in order once it
// reads.
func TestCombinerDoesNotWaitForASlowPeer(t *testing.T) {
	for _, kind := range flushKinds {
		t.Run(kind.name, func(t *testing.T) {
			slow, fast := kind.open(t, true), kind.open(t, false)
			const msgs = 4096 // far more than the sockets hold
			body := func(i int) []byte { return fmt.Appendf(nil, "%04d%0*d", i, slowMsgSize-4, 0) }
			var sent atomic.Int64
			slowDone := make(chan error, 1)
			go func() {
				for i := range msgs {
					if err := slow.send(body(i)); err != nil {
						slowDone <- err
						return
					}
					sent.Add(1)
				}
				slowDone <- nil
			}()
			// Wait until the slow connection's writer is stuck behind
			// its peer.
			for last := int64(-1); ; {
				time.Sleep(50 * time.Millisecond)
				n := sent.Load()
				if n == msgs {
					t.Fatal("the sockets took every message without the peer reading; the test needs smaller buffers")
				}
				if n == last {
					break
				}
				last = n
			}

			deadline := func(c net.Conn) { _ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) }
			deadline(fast.peer)
			fr := bufio.NewReader(fast.peer)
			for round := range 3 {
				msg := fmt.Appendf(nil, "%0*d", slowMsgSize, round)
				if err := fast.send(msg); err != nil {
					t.Fatal(err)
				}
				if got := fast.receive(t, fr); !bytes.Equal(got, msg) {
					t.Fatalf("round %d: the fast peer got %.20q..., want %.20q...", round, got, msg)
				}
			}

			deadline(slow.peer)
			sr := bufio.NewReader(slow.peer)
			for i := range msgs {
				if got := slow.receive(t, sr); !bytes.Equal(got, body(i)) {
					t.Fatalf("message %d: the slow peer got %.20q..., want %.20q...", i, got, body(i))
				}
			}
			if err := <-slowDone; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Many connections flushing at once, frame after frame, through one
// combiner: every frame reaches its peer, in order.
func TestCombinedFlushesDeliverEverythingInOrder(t *testing.T) {
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
		c.wq.mu.Lock()
		h := c.wq.buf != nil
		c.wq.mu.Unlock()
		if !h {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// A connection closed right after its last frame was flushed writes that
// frame out, even when the combiner is writing it as Close begins:
// rsocket-go refuses a SETUP so (it sends the ERROR, flushed, and
// closes), and a client must read why it was refused.
func TestCloseWaitsForTheCombinersWrite(t *testing.T) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			last := []byte("the last frame over " + tr)
			held := make(chan struct{})
			hook := func(o *outbox) {
				if !bytes.Contains(*o.buf, last) {
					return
				}
				close(held)
				// Keep the lock until Close has begun, and a while
				// longer: a Close that did not wait would be done.
				for end := time.Now().Add(5 * time.Second); o.closeBy.Load() == 0 && time.Now().Before(end); {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
			}
			testHookWriteOut.Store(&hook)
			t.Cleanup(func() { testHookWriteOut.Store(nil) })
			refuse := func(tp *transport.Transport, _ core.BufferedFrame) {
				_ = tp.Send(framing.NewWriteableErrorFrame(0, core.ErrorCodeConnectionError, last), true)
				select {
				case <-held:
				case <-time.After(5 * time.Second):
				}
				_ = tp.Close()
			}
			write, read := serveFireAndForget(t, tr, Options{Logger: quiet}, refuse)
			write(validSetup())
			write(wire(framing.NewWriteableFireAndForgetFrame(1, []byte("go"), nil, 0)))
			f, err := framing.FromBytes(read())
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := f.(*framing.ErrorFrame); !ok || !bytes.Equal(e.ErrorData(), last) {
				t.Fatalf("got %s, want the ERROR %q", f.Header(), last)
			}
			select {
			case <-held:
			default:
				t.Fatal("the combiner did not write the frame: nothing was tested")
			}
		})
	}
}
