package guard

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// countConn is a net.Conn that records its writes and write deadlines.
type countConn struct {
	net.Conn // nil: only the methods below are called
	mu       sync.Mutex
	writes   [][]byte
	dls      []time.Time
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *countConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dls = append(c.dls, t)
	return nil
}

// TestBatchConn checks that a batch leaves in one write, in order, with
// its write deadline set only when it changed; that a batch never grows
// past maxBatch; and that an empty flush writes nothing.
func TestBatchConn(t *testing.T) {
	cc := &countConn{}
	b := newBatchConn(cc)
	dl := time.Now().Add(time.Minute)
	var want []byte
	for _, m := range []string{"one", "two", "three"} {
		_ = b.SetWriteDeadline(dl) // gorilla sets it before every message
		if n, err := b.Write([]byte(m)); n != len(m) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		want = append(want, m...)
	}
	if len(cc.writes) != 0 {
		t.Fatal("written before the flush")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(cc.writes) != 1 || !bytes.Equal(cc.writes[0], want) || len(cc.dls) != 1 || !cc.dls[0].Equal(dl) {
		t.Fatalf("writes %q, deadlines %v; want one write %q with one deadline", cc.writes, cc.dls, want)
	}
	if err := b.Flush(); err != nil || len(cc.writes) != 1 {
		t.Fatalf("an empty flush wrote: %v, %d writes", err, len(cc.writes))
	}
	// The same deadline again is not set again; a new one is.
	_ = b.SetWriteDeadline(dl)
	_, _ = b.Write([]byte("x"))
	_ = b.Flush()
	if len(cc.dls) != 1 {
		t.Fatalf("unchanged deadline set again: %v", cc.dls)
	}
	_ = b.SetWriteDeadline(dl.Add(time.Second))
	_, _ = b.Write([]byte("y"))
	_ = b.Flush()
	if len(cc.dls) != 2 {
		t.Fatalf("new deadline not set: %v", cc.dls)
	}
	// A batch is written out before it would pass maxBatch, and a write
	// larger than that goes out by itself.
	cc.writes = nil
	half := make([]byte, maxBatch/2+1)
	_, _ = b.Write(half)
	_, _ = b.Write(half)
	big := make([]byte, maxBatch+1)
	_, _ = b.Write(big)
	_ = b.Flush()
	if len(cc.writes) != 3 || len(cc.writes[0]) != len(half) || len(cc.writes[1]) != len(half) || len(cc.writes[2]) != len(big) {
		sizes := []int{}
		for _, w := range cc.writes {
			sizes = append(sizes, len(w))
		}
		t.Fatalf("write sizes %v, want %d, %d, %d", sizes, len(half), len(half), len(big))
	}
	if b.wq.buf != nil {
		t.Fatal("a flushed connection holds a buffer")
	}
}

// A server's WebSocket messages, framed by the connection itself, reach
// a client whole at every size where the header's length field changes
// (7, 16 and 64 bits) and past the largest batch (written at once), in
// order, whatever was batched before them.
func TestWSFramedMessagesAtEverySize(t *testing.T) {
	const overhead = core.FrameHeaderLen + 8 // a KEEPALIVE: header, last position
	write, read := serveFireAndForget(t, "ws", Options{Logger: quiet}, echo)
	write(validSetup())
	sizes := []int{overhead, 125, 126, 127, 0xFFFF, 0x10000, maxBatch - 1, maxBatch + 1, 3 * maxBatch}
	for i, size := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i)}, size-overhead)
		write(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), data, nil, 0)))
	}
	for i, size := range sizes {
		msg := read()
		if len(msg) != size {
			t.Fatalf("message %d: %d bytes, want %d", i, len(msg), size)
		}
		f, err := framing.FromBytes(msg)
		if err != nil {
			t.Fatal(err)
		}
		ka, ok := f.(*framing.KeepaliveFrame)
		if !ok || !bytes.Equal(ka.Data(), bytes.Repeat([]byte{byte('a' + i)}, size-overhead)) {
			t.Fatalf("message %d: %s with other data, want the KEEPALIVE sent", i, f.Header())
		}
	}
}
