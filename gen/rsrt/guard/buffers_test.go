package guard

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// bufferSizes are payload sizes around the read paths of the connections:
// frames read in place in the bufio buffer, at its edge, in the grown read
// buffer, past keepBuf (a buffer of their own), and small again after.
var bufferSizes = []int{10, 3000, ioBufSize - core.FrameHeaderLen, ioBufSize, 10_000, keepBuf, 200_000, 100, 50_000, 7}

// pattern returns n bytes that differ from one frame to the next, so that
// a frame that still pointed into a reused buffer would show.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*13)
	}
	return b
}

// checkFrames checks the frames read, all kept until the end: each one
// must hold its own bytes even after the buffers were reused or dropped.
func checkFrames(t *testing.T, got []core.BufferedFrame) {
	t.Helper()
	for i, f := range got {
		ff, ok := f.(*framing.FireAndForgetFrame)
		if !ok {
			t.Fatalf("frame %d: got %s, want FNF", i, f.Header())
		}
		if want := pattern(bufferSizes[i], i); !bytes.Equal(ff.Data(), want) {
			t.Errorf("frame %d (%d bytes): data differs from what was sent", i, len(want))
		}
	}
}

func TestTCPConnReadBuffers(t *testing.T) {
	c, client, _ := tcpPair(t, Limits{})
	send(t, client, validSetup())
	readFrame(t, c)
	var got []core.BufferedFrame
	for i, n := range bufferSizes {
		f := wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), pattern(n, i), nil, 0))
		// Written while the connection reads: a large frame need not
		// fit in the socket buffers.
		written := make(chan error, 1)
		go func() {
			_, err := client.Write(append(u24(len(f)), f...))
			written <- err
		}()
		got = append(got, readFrame(t, c))
		if err := <-written; err != nil {
			t.Fatal(err)
		}
		// The connection never keeps more than keepBuf between frames.
		if cap(c.buf) > keepBuf {
			t.Errorf("after a %d-byte payload the read buffer keeps %d bytes, over %d", n, cap(c.buf), keepBuf)
		}
	}
	checkFrames(t, got)
}

func TestWSConnReadBuffers(t *testing.T) {
	c, client := wsPair(t, Limits{})
	if err := client.WriteMessage(websocket.BinaryMessage, validSetup()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(); err != nil {
		t.Fatal(err)
	}
	var got []core.BufferedFrame
	for i, n := range bufferSizes {
		msg := wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), pattern(n, i), nil, 0))
		written := make(chan error, 1)
		go func() { written <- client.WriteMessage(websocket.BinaryMessage, msg) }()
		f, err := c.Read()
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if err := <-written; err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
		if cap(c.rbuf) > keepBuf {
			t.Errorf("after a %d-byte payload the read buffer keeps %d bytes, over %d", n, cap(c.rbuf), keepBuf)
		}
	}
	checkFrames(t, got)
}
