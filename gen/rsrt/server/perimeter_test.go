package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// The perimeter suite: inputs that cost an unauthenticated peer a few
// bytes and, before these tests, cost the server far more (memory, file
// descriptors, log volume). Each checks the server's cost against a
// budget that the old behaviour exceeded many times over, that the
// offending connection is answered or closed, and that a fresh client is
// served.

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// peakHeapGrowth samples the live heap for a while (the server works on
// what the test sent concurrently) and returns the largest growth over
// base.
func peakHeapGrowth(base uint64, samples int) int64 {
	var peak int64
	for range samples {
		time.Sleep(20 * time.Millisecond)
		peak = max(peak, int64(heapInUse())-int64(base))
	}
	return peak
}

const mib = 1 << 20

// A declared frame length is not an allocation: 64 connections each
// announce a frame of 16 MiB (the most the 24-bit length says) and send
// 100 bytes of it. Allocating the declared length cost 1 GiB here.
func TestPerimeterDeclaredLengthIsNotAllocated(t *testing.T) {
	run := start(t, newResponder(), server.Config{}) // default limits: 16 MiB frames
	const conns = 64
	base := heapInUse()
	for range conns {
		c := dialRaw(t, run)
		c.send(setupFrame())
		c.expectOpen(1) // the server read everything before the prefix
		c.write(append([]byte{0xff, 0xff, 0xff}, make([]byte, 100)...))
	}
	for range conns {
		ws := wsDial(t, run)
		if err := ws.WriteMessage(websocket.BinaryMessage, setupFrame()); err != nil {
			t.Fatal(err)
		}
		// A message whose first 8 KiB are sent and the rest never.
		w, err := ws.NextWriter(websocket.BinaryMessage)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 8<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if grew := peakHeapGrowth(base, 10); grew > 32*mib {
		t.Errorf("%d connections that declared 16 MiB frames and sent 100 bytes grew the heap by %d MiB, budget 32 MiB", 2*conns, grew/mib)
	}
	run.checkServes(t)
}

// keepalive returns a KEEPALIVE frame.
func keepalive(respond bool, data []byte) []byte {
	return wire(framing.NewWriteableKeepaliveFrame(7, data, respond))
}

// KEEPALIVE echoes are written by the transport before it reads on: a
// peer that sends KEEPALIVEs with data and never reads the echoes stops
// being read, instead of piling echoes up in the server's memory.
func TestPerimeterKeepaliveEchoes(t *testing.T) {
	run := start(t, newResponder(), server.Config{}) // default write timeout: 30 s
	t.Run("echo", func(t *testing.T) {
		c := dialRaw(t, run)
		c.send(setupFrame(), keepalive(true, []byte("ping")))
		f := c.await(0, core.FrameTypeKeepalive)
		if f.flags&core.FlagRespond != 0 || !bytes.Equal(f.body[8:], []byte("ping")) {
			t.Fatalf("echo flags %v, data %q; want no RESPOND and the data sent", f.flags, f.body[8:])
		}
		c.expectOpen(1)
	})
	t.Run("echo over WebSocket", func(t *testing.T) {
		ws := wsDial(t, run)
		for _, m := range [][]byte{setupFrame(), keepalive(true, []byte("ping"))} {
			if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
				t.Fatal(err)
			}
		}
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		h := core.ParseFrameHeader(m)
		if h.Type() != core.FrameTypeKeepalive || h.Flag()&core.FlagRespond != 0 || !bytes.Equal(m[core.FrameHeaderLen+8:], []byte("ping")) {
			t.Fatalf("echo %s, data %q; want a KEEPALIVE without RESPOND and the data sent", h, m[core.FrameHeaderLen+8:])
		}
	})
	t.Run("data over the limit over WebSocket", func(t *testing.T) {
		ws := wsDial(t, run)
		for _, m := range [][]byte{setupFrame(), keepalive(true, make([]byte, guard.DefaultMaxKeepaliveData+1))} {
			if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
				break
			}
		}
		wsExpectClosed(t, ws)
	})
	t.Run("data over the limit", func(t *testing.T) {
		c := dialRaw(t, run)
		c.send(setupFrame(), keepalive(true, make([]byte, guard.DefaultMaxKeepaliveData+1)))
		c.expectClosed()
	})
	t.Run("echoes never read", func(t *testing.T) {
		// Large echoes, so that a queue of them would show: a server
		// whose limit allows 1 MiB of KEEPALIVE data.
		run := start(t, newResponder(), server.Config{Limits: guard.Limits{MaxKeepaliveData: mib}})
		base := heapInUse()
		const floods = 4
		var wg sync.WaitGroup
		var sent atomic.Int64
		for range floods {
			c := dialRaw(t, run)
			c.send(setupFrame())
			c.expectOpen(1)
			frame := prefixed(keepalive(true, make([]byte, mib)))
			// Sends for 2 s at most, never reading: the sends block
			// once the server stops reading.
			c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			wg.Go(func() {
				for range 256 { // 256 MiB at most
					n, err := c.nc.Write(frame)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
		for range floods {
			ws := wsDial(t, run)
			if err := ws.WriteMessage(websocket.BinaryMessage, setupFrame()); err != nil {
				t.Fatal(err)
			}
			frame := keepalive(true, make([]byte, mib))
			ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
			wg.Go(func() {
				for range 256 {
					if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
						return
					}
					sent.Add(int64(len(frame)))
				}
			})
		}
		grew := peakHeapGrowth(base, 50)
		wg.Wait()
		t.Logf("%d TCP and %d WebSocket connections sent %d MiB of KEEPALIVEs without reading; heap grew by %d MiB at most", floods, floods, sent.Load()/mib, grew/mib)
		// A few MiB per connection: the frame being read and the echo
		// being written. A queue of echoes held hundreds.
		if grew > 96*mib {
			t.Errorf("unread KEEPALIVE echoes grew the heap by %d MiB, budget 96 MiB", grew/mib)
		}
		run.checkServes(t)
	})
}

// HTTP connections on the WebSocket port that are never upgraded count
// against the connection limit and time out.
func TestPerimeterIdleHTTPConnections(t *testing.T) {
	lim := hostileLimits
	lim.MaxConnections = 4
	lim.SetupTimeout = 500 * time.Millisecond
	run := start(t, newResponder(), server.Config{Limits: lim})
	addr := run.srv.WSAddr().String()
	var idle []net.Conn
	for range lim.MaxConnections {
		nc, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(testTimeout))
		// A plain GET, answered 400, on a keep-alive connection.
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET: status %d, want 400", resp.StatusCode)
		}
		idle = append(idle, nc)
	}
	// The idle connections fill the limit: an upgrade is refused.
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	if ws, resp, err := d.Dial(run.wsURL(), nil); err == nil {
		ws.Close()
		t.Fatal("WebSocket upgrade accepted while idle HTTP connections fill the limit")
	} else if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade over the limit: %v, want status 503", err)
	}
	// The server closes them (idle timeout)...
	for _, nc := range idle {
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("idle HTTP connection not closed by the server: %v", err)
		}
	}
	// ...and serves again once they are gone.
	deadline := time.Now().Add(testTimeout)
	for {
		ws, _, err := d.Dial(run.wsURL(), nil)
		if err == nil {
			ws.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upgrade after the idle connections closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	run.checkServes(t)
}

// A flood of HTTP connections beyond the limit is closed on accept, past a
// small number kept to be answered 503: it cannot exhaust descriptors.
func TestPerimeterHTTPConnectionFlood(t *testing.T) {
	lim := hostileLimits
	lim.MaxConnections = 2
	lim.SetupTimeout = testTimeout // the flood's connections would stay
	run := start(t, newResponder(), server.Config{Limits: lim})
	const flood = 300
	var open atomic.Int64
	var wg sync.WaitGroup
	for range flood {
		nc, err := net.DialTimeout("tcp", run.srv.WSAddr().String(), testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		wg.Go(func() {
			// Open if the server does not close it within a second.
			nc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := nc.Read(make([]byte, 1)); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open.Add(1)
				}
			}
		})
	}
	wg.Wait()
	// The limit, and at most 64 waiting for their 503.
	if got := open.Load(); got > int64(lim.MaxConnections)+64 {
		t.Errorf("%d of %d silent HTTP connections kept open, want at most %d", got, flood, lim.MaxConnections+64)
	}
	if got := run.srv.Stats().RefusedConnections; got < flood-int64(lim.MaxConnections)-64 {
		t.Errorf("%d connections refused, want at least %d", got, flood-lim.MaxConnections-64)
	}
}

// logSize counts the bytes and lines written to a log.
type logSize struct {
	mu           sync.Mutex
	bytes, lines int
	longest      int
}

func (l *logSize) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += len(p)
	l.lines += bytes.Count(p, []byte("\n"))
	l.longest = max(l.longest, len(p))
	return len(p), nil
}

func (l *logSize) get() (bytes, lines, longest int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes, l.lines, l.longest
}

// Refused one-way requests cost the log a few lines per second and a few
// hundred bytes per line, whatever the peer sends, over TCP and WebSocket.
func TestPerimeterLogFlood(t *testing.T) {
	// Unknown routes whose names are as long as a routing tag can be,
	// and fire-and-forget frames with no metadata at all.
	long := meta(strings.Repeat("r", 255))
	const flood = 5000
	var frames [][]byte
	for i := range flood {
		sid := uint32(2*i + 3)
		if i%2 == 0 {
			frames = append(frames, wire(framing.NewWriteableFireAndForgetFrame(sid, make([]byte, 1000), long, 0)))
		} else {
			frames = append(frames, wire(framing.NewWriteableFireAndForgetFrame(sid, []byte("x"), nil, 0)))
		}
	}
	last := uint32(2*flood + 3)
	for _, tp := range []string{"tcp", "websocket"} {
		t.Run(tp, func(t *testing.T) {
			var size logSize
			log := slog.New(slog.NewTextHandler(&size, nil))
			r := newResponder()
			r.log = log
			run := start(t, r, server.Config{Logger: log})
			if tp == "tcp" {
				c := dialRaw(t, run)
				c.send(setupFrame())
				c.expectOpen(1)
				c.send(frames...)
				c.expectOpen(last) // every frame before it was read
			} else {
				ws := wsDial(t, run)
				for _, m := range append([][]byte{setupFrame()}, frames...) {
					if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
						t.Fatal(err)
					}
				}
				if err := ws.WriteMessage(websocket.BinaryMessage, wire(framing.NewWriteableRequestResponseFrame(last, []byte("x"), meta(routeEcho), 0))); err != nil {
					t.Fatal(err)
				}
				if _, m, err := ws.ReadMessage(); err != nil || core.ParseFrameHeader(m).StreamID() != last {
					t.Fatalf("answer after the flood: %v", err)
				}
			}
			n, lines, longest := size.get()
			t.Logf("%d refused fire-and-forget requests: %d log lines, %d bytes, longest %d", flood, lines, n, longest)
			if lines > 100 || n > 64<<10 {
				t.Errorf("%d refused requests logged %d lines, %d bytes; budget 100 lines, 64 KiB", flood, lines, n)
			}
			if longest > 2<<10 {
				t.Errorf("a log line of %d bytes", longest)
			}
			run.checkServes(t)
		})
	}
}

// One-way requests are admitted like streams: a connection has at most a
// bounded number of fire-and-forget requests in progress, the one whose
// handler runs (they run one at a time, in arrival order) and those
// waiting for their turn; the others are dropped, and the connection and
// everyone else are still served.
func TestPerimeterOneWayAdmission(t *testing.T) {
	r := newResponder()
	gate := rsrt.NewGate()
	run := start(t, r, server.Config{Gate: gate})
	c := dialRaw(t, run)
	c.send(setupFrame())
	var batch []byte
	const sent = 2000
	for i := range sent {
		batch = append(batch, prefixed(wire(framing.NewWriteableFireAndForgetFrame(uint32(2*i+1), []byte("park"), meta(routeCount), 0)))...)
	}
	c.write(batch)
	c.expectOpen(2*sent + 1)
	// Every frame was read; the first admitted handler waits, holding up
	// the other admitted ones, which are in flight (the gate counts them)
	// while they wait their turn.
	deadline := time.Now().Add(testTimeout)
	for (r.parked.Load() < 1 || gate.InFlight() < 256) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a handler running beside it, or one over the bound, would show now
	if got := r.parked.Load(); got != 1 {
		t.Errorf("%d fire-and-forget handlers running at once on one connection, want 1", got)
	}
	if got := gate.InFlight(); got != 256 {
		t.Errorf("%d fire-and-forget requests in progress on one connection, want the bound, 256", got)
	}
	run.checkServes(t)
	// Released, the admitted ones run, one after the other.
	r.releaseHeld()
	for r.fnf.Load() < 256 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.fnf.Load(); got < 256 || got == sent {
		t.Errorf("%d of %d fire-and-forget handlers ran; want the 256 admitted, the others dropped", got, sent)
	}
	run.checkServes(t)
}

// An error text longer than a frame is clipped, so that the request is
// still answered, over TCP and WebSocket.
func TestPerimeterHugeErrorText(t *testing.T) {
	run := start(t, newResponder(), server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// The runtime's client: rsocket-go's own WebSocket client races
	// writing its SETUP with its write loop (-race reports it).
	for _, addr := range []string{run.tcp(), run.wsURL()} {
		c, err := rsrt.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Caller().RequestResponse(ctx, routeEcho, rsrt.Payload{Data: []byte("huge error")})
		var e *rsrt.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v, want an error answer", addr, err)
		}
		if len(e.Message) > rsrt.MaxErrorText || !strings.HasSuffix(e.Message, fmt.Sprintf("(%d bytes)", 17<<20)) {
			t.Errorf("%s: error text of %d bytes, want at most %d ending with the original length: %.80s…", addr, len(e.Message), rsrt.MaxErrorText, e.Message)
		}
	}
	run.checkServes(t)
}

// Every connection's unwritten responses count against the server's
// budget too: many connections that each stay within their own budget
// (16 MiB + 64 KiB by default) but never read cannot together pin more
// than the server's.
func TestPerimeterServerResponseBudget(t *testing.T) {
	r := newResponder()
	r.opts = []rsrt.AcceptOption{rsrt.WithServerResponseBudget(32 * mib)}
	run := start(t, r, server.Config{})
	base := heapInUse()
	const conns = 16
	for range conns {
		c := dialRaw(t, run)
		// 64 downloads of 1 MiB, none read.
		frames := [][]byte{setupFrame()}
		for i := range 64 {
			frames = append(frames, wire(framing.NewWriteableRequestResponseFrame(uint32(2*i+1), []byte("blob"), meta(routeEcho), 0)))
		}
		c.send(frames...)
	}
	grew := peakHeapGrowth(base, 50)
	t.Logf("%d connections that never read their downloads grew the heap by %d MiB at most", conns, grew/mib)
	if grew > 96*mib {
		t.Errorf("unread responses of %d connections grew the heap by %d MiB, budget 96 MiB (32 MiB of responses)", conns, grew/mib)
	}
	run.checkServes(t)
}

// Unfinished fragment chains count against a server-wide budget, not only
// each connection's own (32 MiB): connections that each start a 7 MiB
// request and never send its last fragment cannot together hold more
// than the server's bound. The request that would go over it is refused
// with REJECTED "server busy", the rest of its fragments are discarded,
// and its connection keeps being served; the bytes come back when the
// holders close.
func TestPerimeterServerWideReassembly(t *testing.T) {
	const bound = 32 * mib
	run := start(t, newResponder(), server.Config{Limits: guard.Limits{MaxServerPendingBytes: bound}})
	const conns, fragments = 12, 7
	mb := bytes.Repeat([]byte{'x'}, mib)
	md := meta(routeEcho)
	first := raw(1, core.FrameTypeRequestResponse, core.FlagMetadata|core.FlagFollow, u24(len(md)), md, mb)
	next := raw(1, core.FrameTypePayload, core.FlagNext|core.FlagFollow, mb)
	// At most bound/(fragments MiB) requests fit whole; the ones after
	// those are certainly refused.
	const surelyRefused = bound/(fragments*mib) + 1

	base := heapInUse()
	var tcps []*rawTCP
	for i := range conns {
		c := dialRaw(t, run)
		c.send(setupFrame(), first)
		for range fragments - 1 {
			c.send(next)
		}
		// A request after the fragments is answered once they were all
		// read, so connections fill the budget one after the other; a
		// refusal is written before that answer.
		c.send(wire(framing.NewWriteableRequestResponseFrame(3, []byte("after"), md, 0)))
		refused := false
		for {
			f, err := c.read()
			if err != nil {
				t.Fatalf("connection %d: waiting for the answer after its fragments: %v", i, err)
			}
			if f.sid == 1 && f.typ == core.FrameTypeError {
				if !strings.Contains(string(f.body[4:]), "server busy") {
					t.Errorf("refusal text %q", f.body[4:])
				}
				refused = true
			}
			if f.sid == 3 && f.typ == core.FrameTypePayload {
				break
			}
		}
		if i >= surelyRefused && !refused {
			t.Errorf("connection %d: its %d MiB request fit in the %d MiB budget after %d others", i, fragments, bound/mib, i)
		}
		if refused {
			c.send(raw(1, core.FrameTypePayload, core.FlagNext, mb[:10])) // ends the discarded chain
		}
		tcps = append(tcps, c)
	}
	var wss []*websocket.Conn
	for range conns {
		ws := wsDial(t, run)
		for _, f := range [][]byte{setupFrame(), first} {
			if err := ws.WriteMessage(websocket.BinaryMessage, f); err != nil {
				t.Fatal(err)
			}
		}
		for range fragments - 1 {
			if err := ws.WriteMessage(websocket.BinaryMessage, next); err != nil {
				t.Fatal(err)
			}
		}
		wss = append(wss, ws)
	}
	run.waitFor(t, "the refusals", func(c guard.Counts) bool { return c.Rejected >= 2*conns-surelyRefused })
	grew := peakHeapGrowth(base, 10)
	t.Logf("%d connections each holding a %d MiB unfinished request: heap +%d MiB (server-wide bound %d MiB)", 2*conns, fragments, grew/mib, bound/mib)
	if grew > 2*bound {
		t.Errorf("unfinished fragment chains grew the heap by %d MiB, budget %d MiB", grew/mib, 2*bound/mib)
	}
	// The refused requests were answered, and their connections still
	// serve; their discarded fragments end with the last one.
	for _, c := range tcps {
		c.nc.SetDeadline(time.Now().Add(testTimeout)) // the test's own steps took time
		c.expectOpen(5)
	}
	for _, ws := range wss {
		ws.SetReadDeadline(time.Now().Add(testTimeout))
		if err := ws.WriteMessage(websocket.BinaryMessage, wire(framing.NewWriteableRequestResponseFrame(3, []byte("ws"), md, 0))); err != nil {
			t.Fatal(err)
		}
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("WebSocket connection with a refused or held request: %v", err)
			}
			if h := core.ParseFrameHeader(m); h.StreamID() == 3 && h.Type() == core.FrameTypePayload {
				break
			}
		}
	}
	run.checkServes(t)

	// Once the holders close, their share is free for a whole request.
	for _, c := range tcps {
		c.nc.Close()
	}
	for _, ws := range wss {
		ws.Close()
	}
	c := dialRaw(t, run)
	c.send(setupFrame())
	deadline := time.Now().Add(testTimeout)
	for sid := uint32(1); ; sid += 2 {
		md := meta(routeEcho)
		c.send(raw(sid, core.FrameTypeRequestResponse, core.FlagMetadata|core.FlagFollow, u24(len(md)), md, mb))
		for range fragments - 2 {
			c.send(raw(sid, core.FrameTypePayload, core.FlagNext|core.FlagFollow, mb))
		}
		c.send(raw(sid, core.FrameTypePayload, core.FlagNext, mb[:10]))
		f := c.answer(sid)
		if f.typ == core.FrameTypePayload {
			break
		}
		if !strings.Contains(string(f.body[4:]), "server busy") {
			t.Fatalf("whole request after the holders closed: error %q", f.body[4:])
		}
		if time.Now().After(deadline) {
			t.Fatal("the holders closed, but their share of the reassembly budget never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
