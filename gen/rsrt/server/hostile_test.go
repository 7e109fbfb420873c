package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
	"github.com/rsocket/rsocket-go/payload"

	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/frametest"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// The hostile-traffic suite: each input below crashed, stalled or
// exhausted a plain rsocket-go v0.8.16 server (see the project's notes on
// the library). Each runs on a raw connection to a server built with
// package server around an acceptor of the runtime (rsrt, see
// responder), the stack the project serves; after each, the offending
// connection must be closed (or its request answered with an error, or
// the connection must carry on when the input is legal), the counters
// must say so, and a legitimate client on a fresh connection must still
// get a correct answer. The inputs that close a connection while the
// server sends on it run under the race detector too: rsrt queues every
// frame inside the connection's fence, which the guard's transport shuts
// before rsocket-go closes its send queue.

// hostileLimits are small, so that the tests reach every limit quickly.
var hostileLimits = guard.Limits{
	MaxFrameSize:    2 << 20,
	MaxPayloadSize:  3 << 20,
	MaxPendingBytes: 8 << 20,
	MaxStreams:      8,
	// Long enough that a loaded machine (the race detector, packages
	// tested in parallel) reads a prompt SETUP in time: a hostile test
	// that sends SETUP first must count its violation, not a timeout.
	SetupTimeout: time.Second,
	WriteTimeout: 200 * time.Millisecond,
	WSReadLimit:  64 << 10,
}

// Frame builders, shared with the guard's tests (see frametest). Valid
// frames come from rsocket-go's framing package through wire, hostile
// ones are written by hand with raw, u24 and u32.
var (
	wire = frametest.Wire
	raw  = frametest.Raw
	u24  = frametest.U24
	u32  = frametest.U32
)

func setupFrame() []byte { return frametest.Setup(nil, nil) }

// prefixed adds the TCP length prefix to frames.
func prefixed(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, u24(len(f))...)
		out = append(out, f...)
	}
	return out
}

// rawTCP is a raw TCP connection to the server.
type rawTCP struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, run *running) *rawTCP { return dialRawAt(t, run.tcp()) }

// dialRawAt opens a raw TCP connection to addr, closed when the test ends.
func dialRawAt(t *testing.T, addr string) *rawTCP {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	// Bounds every read and write of the test.
	nc.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { nc.Close() })
	return &rawTCP{t: t, nc: nc}
}

// serveAcceptor serves acc with cfg until the test ends.
func serveAcceptor(t *testing.T, acc rsocket.ServerAcceptor, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.New(acc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	<-srv.Ready()
	return srv
}

// write sends bytes; errors are ignored, since the server may close the
// connection while they are being written.
func (c *rawTCP) write(b []byte) { _, _ = c.nc.Write(b) }

func (c *rawTCP) send(frames ...[]byte) { c.write(prefixed(frames...)) }

// frame is an inbound frame as the test sees it.
type frame struct {
	sid   uint32
	typ   core.FrameType
	flags core.FrameFlag
	body  []byte
}

// read returns the next frame the server sent.
func (c *rawTCP) read() (frame, error) {
	var prefix [3]byte
	if _, err := io.ReadFull(c.nc, prefix[:]); err != nil {
		return frame{}, err
	}
	b := make([]byte, int(prefix[0])<<16|int(prefix[1])<<8|int(prefix[2]))
	if _, err := io.ReadFull(c.nc, b); err != nil {
		return frame{}, err
	}
	if len(b) < core.FrameHeaderLen {
		return frame{}, errors.New("short frame from the server")
	}
	h := core.ParseFrameHeader(b)
	return frame{sid: h.StreamID(), typ: h.Type(), flags: h.Flag(), body: b[core.FrameHeaderLen:]}, nil
}

// await reads frames until one of type typ on stream sid.
func (c *rawTCP) await(sid uint32, typ core.FrameType) frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s on stream %d: %v", typ, sid, err)
		}
		if f.sid == sid && f.typ == typ {
			return f
		}
	}
}

// expectClosed reads until the server closes the connection; a read
// timeout means it did not.
func (c *rawTCP) expectClosed() {
	c.t.Helper()
	buf := make([]byte, 64<<10)
	for {
		_, err := c.nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("the server did not close the connection")
		}
		return // EOF or reset: closed
	}
}

// expectOpen checks that the connection still serves requests: a
// request-response on sid is answered.
func (c *rawTCP) expectOpen(sid uint32) {
	c.t.Helper()
	c.send(wire(framing.NewWriteableRequestResponseFrame(sid, []byte("still there"), meta(routeEcho), 0)))
	if f := c.await(sid, core.FrameTypePayload); string(f.body) != "echo:still there" {
		c.t.Fatalf("answer %q", f.body)
	}
}

// counter selects one of the counts.
type counter func(guard.Counts) int64

func violations(c guard.Counts) int64    { return c.Violations }
func setupTimeouts(c guard.Counts) int64 { return c.SetupTimeouts }
func dropped(c guard.Counts) int64       { return c.Dropped }
func idleTimeouts(c guard.Counts) int64  { return c.IdleTimeouts }
func substituted(c guard.Counts) int64   { return c.Substituted }
func writeTimeouts(c guard.Counts) int64 { return c.WriteTimeouts }

// waitFor polls the server's counts until cond holds, within the test
// timeout.
func (run *running) waitFor(t *testing.T, what string, cond func(guard.Counts) bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond(run.srv.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: counts %+v", what, run.srv.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHostileTCP(t *testing.T) {
	r := newResponder()
	run := start(t, r, server.Config{Limits: hostileLimits})
	mb := bytes.Repeat([]byte{'x'}, 1_000_000)

	for _, tc := range []struct {
		name string
		// counts is the counter the input must increase.
		counts counter
		run    func(c *rawTCP)
	}{
		{"truncated SETUP", violations, func(c *rawTCP) {
			c.send(setupFrame()[:20])
			c.expectClosed()
		}},
		{"SETUP with bogus MIME length", violations, func(c *rawTCP) {
			s := setupFrame()
			s[core.FrameHeaderLen+12] = 250 // metadata MIME length
			c.send(s)
			c.expectClosed()
		}},
		{"second SETUP with short body", violations, func(c *rawTCP) {
			c.send(setupFrame(), raw(0, core.FrameTypeSetup, 0, []byte{0, 1}))
			c.expectClosed()
		}},
		{"RESUME first", violations, func(c *rawTCP) {
			c.send(wire(framing.NewWriteableResumeFrame(core.DefaultVersion, []byte("token"), 0, 0)))
			c.expectClosed()
		}},
		{"REQUEST_CHANNEL with metadata length past the end", violations, func(c *rawTCP) {
			c.send(setupFrame(), raw(1, core.FrameTypeRequestChannel, core.FlagMetadata, u32(1), u24(1000), []byte("abc")))
			c.expectClosed()
		}},
		{"PAYLOAD with metadata length past the end", violations, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("a"), meta(routeMirror), 0)))
			c.await(1, core.FrameTypePayload)
			c.send(raw(1, core.FrameTypePayload, core.FlagMetadata|core.FlagNext, u24(1000), []byte("abc")))
			c.expectClosed()
		}},
		{"REQUEST_RESPONSE with bad metadata length", violations, func(c *rawTCP) {
			c.send(setupFrame(), raw(1, core.FrameTypeRequestResponse, core.FlagMetadata, []byte{0xff, 0xff}))
			c.expectClosed()
		}},
		{"client ERROR on the channel it opened", substituted, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestChannelFrame(1, 10, []byte("a"), meta(routeMirror), 0)))
			if f := c.await(1, core.FrameTypePayload); string(f.body) != "a" {
				c.t.Fatalf("channel echo %q", f.body)
			}
			c.send(wire(framing.NewWriteableErrorFrame(1, core.ErrorCodeApplicationError, []byte("publisher failed"))))
			c.expectOpen(3)
		}},
		{"client ERROR on the stream it opened", substituted, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestStreamFrame(1, 1, []byte("many"), meta(routeItems), 0)))
			c.await(1, core.FrameTypePayload)
			c.send(wire(framing.NewWriteableErrorFrame(1, core.ErrorCodeApplicationError, []byte("not allowed"))))
			c.expectOpen(3)
		}},
		{"CANCEL for a server-initiated stream", dropped, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableCancelFrame(2)))
			c.expectOpen(1)
		}},
		{"REQUEST_N with n = 0", violations, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestStreamFrame(1, 1, []byte("many"), meta(routeItems), 0)))
			c.await(1, core.FrameTypePayload)
			c.send(raw(1, core.FrameTypeRequestN, 0, u32(0)))
			c.expectClosed()
		}},
		{"connect and never SETUP", setupTimeouts, func(c *rawTCP) {
			c.expectClosed()
		}},
		{"silence past the declared max lifetime", idleTimeouts, func(c *rawTCP) {
			c.send(wire(framing.NewWriteableSetupFrame(core.DefaultVersion, 100*time.Millisecond, 200*time.Millisecond, nil,
				[]byte("message/x.rsocket.composite-metadata.v0"), []byte("application/json"), nil, nil, false)))
			c.expectClosed()
		}},
		{"SETUP sent one byte at a time, too slowly", setupTimeouts, func(c *rawTCP) {
			// Each byte is read well within the timeout; the deadline is
			// for the whole SETUP.
			for _, b := range prefixed(setupFrame())[:10] {
				c.write([]byte{b})
				time.Sleep(hostileLimits.SetupTimeout / 6)
			}
			c.expectClosed()
		}},
		{"FOLLOWS fragments that never finish", violations, func(c *rawTCP) {
			c.send(setupFrame(), raw(1, core.FrameTypeRequestResponse, core.FlagFollow, mb))
			for range 5 {
				c.send(raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, mb))
			}
			c.expectClosed()
		}},
		{"FOLLOWS fragments on many streams", violations, func(c *rawTCP) {
			c.send(setupFrame())
			for sid := uint32(1); sid < 40; sid += 2 {
				c.send(raw(sid, core.FrameTypeRequestFNF, core.FlagFollow, mb))
			}
			c.expectClosed()
		}},
		{"oversized frame", violations, func(c *rawTCP) {
			c.send(setupFrame())
			c.write(u24(1<<24 - 1))
			c.expectClosed()
		}},
		{"garbage bytes", violations, func(c *rawTCP) {
			c.write([]byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"))
			c.expectClosed()
		}},
		{"garbage frame", violations, func(c *rawTCP) {
			c.send(setupFrame(), []byte{0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 1, 2, 3})
			c.expectClosed()
		}},
		{"frame length 0", violations, func(c *rawTCP) {
			c.send(setupFrame())
			c.write([]byte{0, 0, 0})
			c.expectClosed()
		}},
		{"unknown frame type", violations, func(c *rawTCP) {
			c.send(setupFrame(), raw(1, core.FrameType(0x1f), 0, []byte("?")))
			c.expectClosed()
		}},
		{"request on an even stream id", violations, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestResponseFrame(2, []byte("x"), nil, 0)))
			c.expectClosed()
		}},
		{"channel payloads beyond the credit", violations, func(c *rawTCP) {
			// rsrt's channel inbound grants credit as items arrive,
			// never more than 64 ahead of them, until 256 are left
			// unread (the handler, whose send waits for the demand
			// the client never gives, reads no more): a flood paced
			// for its REQUEST_N frames is refused at its 260th item.
			// 400 exceed whatever it granted, however its REQUEST_N
			// frames and the flood interleave.
			c.send(setupFrame(), wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("a"), meta(routeMirror), 0)))
			for range 400 {
				c.send(wire(framing.NewWriteablePayloadFrame(1, []byte("flood"), nil, core.FlagNext)))
			}
			c.expectClosed()
		}},
		{"stream to a client that does not read", writeTimeouts, func(c *rawTCP) {
			before := run.srv.Stats().WriteTimeouts
			c.send(setupFrame(), wire(framing.NewWriteableRequestStreamFrame(1, 1<<31-1, []byte("big"), meta(routeItems), 0)))
			run.waitFor(c.t, "a write timeout", func(n guard.Counts) bool { return n.WriteTimeouts > before })
			c.expectClosed()
		}},
		{"disconnect mid-stream", nil, func(c *rawTCP) {
			// The producer waits for demand when the client goes.
			c.send(setupFrame(), wire(framing.NewWriteableRequestStreamFrame(1, 1, []byte("many"), meta(routeItems), 0)))
			c.await(1, core.FrameTypePayload)
			c.nc.Close()
		}},
		{"disconnect mid-stream while the server sends", nil, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestStreamFrame(1, 1<<31-1, []byte("many"), meta(routeItems), 0)))
			c.await(1, core.FrameTypePayload)
			c.nc.Close()
		}},
		{"disconnect mid-channel", nil, func(c *rawTCP) {
			c.send(setupFrame(), wire(framing.NewWriteableRequestChannelFrame(1, 1<<31-1, []byte("a"), meta(routeMirror), 0)))
			c.await(1, core.FrameTypePayload)
			c.nc.Close()
		}},
		{"disconnect mid-frame", nil, func(c *rawTCP) {
			c.send(setupFrame())
			c.write(prefixed(wire(framing.NewWriteableRequestResponseFrame(1, mb[:1000], nil, 0)))[:500])
			c.nc.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := run.srv.Stats()
			tc.run(dialRaw(t, run))
			if tc.counts != nil {
				if after := run.srv.Stats(); tc.counts(after) <= tc.counts(before) {
					t.Errorf("counts did not increase: before %+v, after %+v", before, after)
				}
			}
			run.checkServes(t)
		})
	}
}

func TestHostileMaxStreams(t *testing.T) {
	r := newResponder()
	defer r.releaseHeld()
	run := start(t, r, server.Config{Limits: hostileLimits})
	c := dialRaw(t, run)
	c.send(setupFrame())
	for sid := uint32(1); sid <= 2*uint32(hostileLimits.MaxStreams); sid += 2 {
		c.send(wire(framing.NewWriteableRequestResponseFrame(sid, []byte("hold"), meta(routeEcho), 0)))
		<-r.held
	}
	// One more than the limit is rejected; the connection stays.
	sid := 2*uint32(hostileLimits.MaxStreams) + 1
	c.send(wire(framing.NewWriteableRequestResponseFrame(sid, []byte("hold"), meta(routeEcho), 0)))
	f := c.await(sid, core.FrameTypeError)
	if code := binary.BigEndian.Uint32(f.body); code != uint32(core.ErrorCodeRejected) {
		t.Errorf("error code %#x, want REJECTED", code)
	}
	if got := run.srv.Stats().Rejected; got != 1 {
		t.Errorf("%d rejected, want 1", got)
	}
	// Once the held requests are answered, the connection serves again.
	r.releaseHeld()
	for answered := 0; answered < hostileLimits.MaxStreams; {
		f, err := c.read()
		if err != nil {
			t.Fatalf("waiting for the held answers: %v", err)
		}
		if f.typ == core.FrameTypePayload && string(f.body) == "released" {
			answered++
		}
	}
	c.expectOpen(sid + 2)
}

// wsDial opens a raw WebSocket connection to the server.
func wsDial(t *testing.T, run *running) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, _, err := d.Dial(run.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { ws.Close() })
	return ws
}

// wsSetup opens a WebSocket to the server at addr (path /) and sends a
// SETUP.
func wsSetup(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(testTimeout))
	if err := ws.WriteMessage(websocket.BinaryMessage, setupFrame()); err != nil {
		t.Fatal(err)
	}
	return ws
}

// wsExpectClosed reads until the server closes the connection.
func wsExpectClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server did not close the WebSocket connection")
		}
		return
	}
}

func TestHostileWebSocket(t *testing.T) {
	r := newResponder()
	run := start(t, r, server.Config{Limits: hostileLimits})
	for _, tc := range []struct {
		name     string
		messages [][]byte
	}{
		{"truncated SETUP", [][]byte{setupFrame()[:20]}},
		{"REQUEST_CHANNEL with metadata length past the end", [][]byte{setupFrame(), raw(1, core.FrameTypeRequestChannel, core.FlagMetadata, u32(1), u24(1000))}},
		{"message over the read limit", [][]byte{setupFrame(), wire(framing.NewWriteableRequestResponseFrame(1, make([]byte, hostileLimits.WSReadLimit), nil, 0))}},
		{"frame shorter than a header", [][]byte{setupFrame(), {1, 2}}},
		{"empty message", [][]byte{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := run.srv.Stats()
			ws := wsDial(t, run)
			for _, m := range tc.messages {
				if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
					break // closed by the server already
				}
			}
			wsExpectClosed(t, ws)
			if after := run.srv.Stats(); after.Violations <= before.Violations {
				t.Errorf("violation not counted: before %+v, after %+v", before, after)
			}
			run.checkServes(t)
		})
	}
	t.Run("never SETUP", func(t *testing.T) {
		before := run.srv.Stats()
		wsExpectClosed(t, wsDial(t, run))
		if after := run.srv.Stats(); after.SetupTimeouts <= before.SetupTimeouts {
			t.Errorf("setup timeout not counted")
		}
		run.checkServes(t)
	})
}

func TestHostileConnectionFlood(t *testing.T) {
	lim := hostileLimits
	lim.MaxConnections = 3
	lim.SetupTimeout = testTimeout // the flood holds its connections
	run := start(t, newResponder(), server.Config{Limits: lim})
	// Fill the TCP listener; the WebSocket listener counts apart.
	for range lim.MaxConnections - 1 {
		c := dialRaw(t, run)
		c.send(setupFrame())
		c.expectOpen(1)
	}
	legit := dialTCP(t, run.tcp())
	if got, err := requestResponse(legit, "ping"); err != nil || got != "echo:ping" {
		t.Fatalf("legitimate request under the limit: %q, %v", got, err)
	}
	over := dialRaw(t, run)
	over.expectClosed()
	if got := run.srv.Stats().RefusedConnections; got != 1 {
		t.Errorf("%d connections refused, want 1", got)
	}
	// The connections already open are still served.
	if got, err := requestResponse(legit, "ping"); err != nil || got != "echo:ping" {
		t.Fatalf("legitimate request at the limit: %q, %v", got, err)
	}
	for range lim.MaxConnections {
		wsDial(t, run)
	}
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	if ws, resp, err := d.Dial(run.wsURL(), nil); err == nil {
		ws.Close()
		t.Error("WebSocket connection accepted over the limit")
	} else if resp == nil || resp.StatusCode != 503 {
		t.Errorf("WebSocket over the limit: %v, want status 503", err)
	}
}

// setupRefusal is an acceptor error with a SETUP error code, as the
// runtime returns.
type setupRefusal struct{}

func (setupRefusal) Error() string             { return "UNSUPPORTED_SETUP: text/plain" }
func (setupRefusal) ErrorCode() core.ErrorCode { return core.ErrorCodeUnsupportedSetup }
func (setupRefusal) ErrorData() []byte         { return []byte("metadata MIME type text/plain") }

// TestSetupRefusalKeepsItsCode checks that an acceptor refusing a SETUP
// with UNSUPPORTED_SETUP is answered with that code, although rsocket-go
// sends REJECTED_SETUP for any acceptor error, over TCP and WebSocket.
func TestSetupRefusalKeepsItsCode(t *testing.T) {
	acc := func(context.Context, payload.SetupPayload, rsocket.CloseableRSocket) (rsocket.RSocket, error) {
		return nil, setupRefusal{}
	}
	srv := serveAcceptor(t, acc, server.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Logger: testLogger()})
	check := func(t *testing.T, body []byte) {
		t.Helper()
		h := core.ParseFrameHeader(body)
		if h.Type() != core.FrameTypeError || h.StreamID() != 0 {
			t.Fatalf("got %s, want a connection ERROR", h)
		}
		if code := core.ErrorCode(binary.BigEndian.Uint32(body[core.FrameHeaderLen:])); code != core.ErrorCodeUnsupportedSetup {
			t.Errorf("code %s, want UNSUPPORTED_SETUP", code)
		}
		if msg := string(body[core.FrameHeaderLen+4:]); msg != "metadata MIME type text/plain" {
			t.Errorf("message %q", msg)
		}
	}
	t.Run("tcp", func(t *testing.T) {
		c := dialRawAt(t, srv.TCPAddr().String())
		c.send(setupFrame())
		f := c.await(0, core.FrameTypeError)
		check(t, append(raw(0, core.FrameTypeError, 0), f.body...))
		c.expectClosed()
	})
	t.Run("websocket", func(t *testing.T) {
		ws := wsSetup(t, srv.WSAddr().String())
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		check(t, msg)
	})
}

// TestSetupRefusalEndsCleanly: a client whose first request arrives
// while its SETUP is being refused, as a client that sends it once the
// SETUP is out does, reads the ERROR and then the end of the stream, not
// a reset. A socket closed with the request unread answers with a reset,
// which can reach the client before it reads the ERROR (rsocket-js
// 0.0.27 throws the reset as an uncaught exception); so the server
// half-closes, and reads and drops what comes until the client closes.
func TestSetupRefusalEndsCleanly(t *testing.T) {
	acc := func(context.Context, payload.SetupPayload, rsocket.CloseableRSocket) (rsocket.RSocket, error) {
		time.Sleep(200 * time.Millisecond) // the request arrives meanwhile
		return nil, setupRefusal{}
	}
	srv := serveAcceptor(t, acc, server.Config{TCPAddr: "127.0.0.1:0", Logger: testLogger()})
	c := dialRawAt(t, srv.TCPAddr().String())
	c.send(setupFrame())
	time.Sleep(50 * time.Millisecond) // the server has read the SETUP alone
	c.send(wire(framing.NewWriteableRequestResponseFrame(1, []byte("hi"), meta(routeEcho), 0)))
	time.Sleep(300 * time.Millisecond) // the refusal is out, and a reset would be too
	if f := c.await(0, core.FrameTypeError); core.ErrorCode(binary.BigEndian.Uint32(f.body)) != core.ErrorCodeUnsupportedSetup {
		t.Errorf("ERROR %q, want UNSUPPORTED_SETUP", f.body)
	}
	if n, err := io.Copy(io.Discard, c.nc); err != nil || n != 0 {
		t.Errorf("after the ERROR: %d more bytes and %v, want the end of the stream", n, err)
	}
}

// TestSetupRefusalEndsCleanlyOverWebSocket: over WebSocket, the same
// client reads the ERROR and then the server's close frame, which ends
// the WebSocket normally (a browser's close event has code 1000), not a
// reset (code 1006).
func TestSetupRefusalEndsCleanlyOverWebSocket(t *testing.T) {
	acc := func(context.Context, payload.SetupPayload, rsocket.CloseableRSocket) (rsocket.RSocket, error) {
		time.Sleep(200 * time.Millisecond) // the request arrives meanwhile
		return nil, setupRefusal{}
	}
	srv := serveAcceptor(t, acc, server.Config{WSAddr: "127.0.0.1:0", Logger: testLogger()})
	ws := wsSetup(t, srv.WSAddr().String())
	time.Sleep(50 * time.Millisecond) // the server has read the SETUP alone
	if err := ws.WriteMessage(websocket.BinaryMessage, wire(framing.NewWriteableRequestResponseFrame(1, []byte("hi"), meta(routeEcho), 0))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the refusal is out, and a reset would be too
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("before the ERROR: %v", err)
	}
	if h := core.ParseFrameHeader(msg); h.Type() != core.FrameTypeError || h.StreamID() != 0 {
		t.Fatalf("got %s, want the connection ERROR", h)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("after the ERROR: %v, want the server's close frame (1000)", err)
	}
}

// TestWebSocketControlFrames checks that the server answers a ping and
// a close at once, though it holds its writes until the library flushes
// (guard's batchConn), and that the connection then still serves.
func TestWebSocketControlFrames(t *testing.T) {
	run := start(t, newResponder(), server.Config{Limits: hostileLimits})
	ws := wsDial(t, run)
	if err := ws.WriteMessage(websocket.BinaryMessage, setupFrame()); err != nil {
		t.Fatal(err)
	}
	pong := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	read := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				read <- err
				return
			}
		}
	}()
	// The largest control payload the protocol allows goes through the
	// server's read buffer whole (gorilla peeks at it there).
	for _, ping := range []string{"are you there", strings.Repeat("p", 125)} {
		if err := ws.WriteControl(websocket.PingMessage, []byte(ping), time.Now().Add(testTimeout)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pong:
			if got != ping {
				t.Fatalf("pong %q, want %q", got, ping)
			}
		case err := <-read:
			t.Fatalf("connection ended before the pong: %v", err)
		case <-time.After(testTimeout):
			t.Fatal("no pong")
		}
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-read:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Fatalf("after our close: %v, want the server's close frame", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("no close frame from the server")
	}
}
