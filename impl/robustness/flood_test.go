package robustness

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/chattest"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// TestFloodWithoutReading: a client writes thousands of requests and reads
// none of the answers for a while. Everyone else is served meanwhile;
// every request gets exactly one answer in the end (its result, or
// REJECTED when the connection had MaxStreams open); the flooder's own
// queue stays within its bound.
func TestFloodWithoutReading(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 5000
	}
	srv := startServer(t, t.TempDir(), nil)
	flood := rawDial(t, srv.TCPAddr())
	flood.login("flooder")
	chattest.Must(t, flood.requestResponse(3, chat.RouteChannelJoin, []byte("flood")))
	if f := flood.expect(3); f.typ != core.FrameTypePayload {
		t.Fatalf("join: %v", f)
	}

	// The flooder sends messages to its own channel without reading, and
	// never opens messages.incoming: each message lands in its queue.
	const first = 5
	wrote := make(chan error, 1)
	go func() {
		var buf []byte
		for i := range n {
			sid := uint32(first + 2*i)
			buf = append(buf, encode(framing.NewWriteableRequestResponseFrame(sid,
				[]byte(`{"channel":"flood","content":"flood"}`), meta(chat.RouteMessage), 0))...)
			if len(buf) > 64<<10 || i == n-1 {
				if err := flood.write(buf); err != nil {
					wrote <- err
					return
				}
				buf = buf[:0]
			}
		}
		wrote <- nil
	}()

	// Served while the flooder's answers pile up unread.
	checkServed(t, srv.TCPAddr())

	answered := make(map[uint32]bool, n)
	rejected := 0
	for len(answered) < n {
		f := flood.mustRead()
		sid := f.sid
		if sid < first || sid > first+2*uint32(n-1) || sid%2 == 0 {
			t.Fatalf("answer on unexpected stream: %v", f)
		}
		if answered[sid] {
			t.Fatalf("second answer on stream %d: %v", sid, f)
		}
		answered[sid] = true
		switch {
		case f.typ == core.FrameTypePayload && f.flags&core.FlagComplete != 0 && len(f.data()) == 0:
		case f.typ == core.FrameTypeError && f.errorCode() == core.ErrorCodeRejected && strings.Contains(f.errorText(), "server busy"):
			rejected++
		default:
			t.Fatalf("answer %v, want an empty response or REJECTED", f)
		}
	}
	chattest.Must(t, <-wrote)
	st := srv.Service().Stats()
	t.Logf("%d requests written unread: %d answered, %d of them REJECTED (MaxStreams %d); flooder's queue %d (QueueLen %d), %d dropped",
		n, len(answered), rejected, guard.DefaultMaxStreams, st.LongestQueue, chatsvc.DefaultQueueLen, st.Dropped)
	accepted := n - rejected
	if st.LongestQueue != min(accepted, chatsvc.DefaultQueueLen) || st.Dropped != uint64(max(0, accepted-chatsvc.DefaultQueueLen)) {
		t.Fatalf("%d messages accepted: queue %d, dropped %d; want the queue at min(accepted, %d) and the rest dropped",
			accepted, st.LongestQueue, st.Dropped, chatsvc.DefaultQueueLen)
	}
	checkServed(t, srv.TCPAddr())
}

// TestFloodMaxStreams: one connection opens more long-lived streams than
// MaxStreams; those over the limit are answered with REJECTED, the others
// work, and a closed stream frees its place.
func TestFloodMaxStreams(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	c := rawDial(t, srv.TCPAddr())
	c.login("streamer")
	const extra = 100
	total := guard.DefaultMaxStreams + extra
	sid := func(i int) uint32 { return uint32(3 + 2*i) }
	// Statistics channels with one unit of demand: each sends a report,
	// then waits for demand and stays open.
	var buf []byte
	for i := range total {
		buf = append(buf, encode(framing.NewWriteableRequestChannelFrame(sid(i), 1, nil, meta(chat.RouteStatistics), 0))...)
	}
	chattest.Must(t, c.write(buf))
	state := map[uint32]string{}
	for len(state) < total {
		f := c.mustRead()
		switch {
		case f.typ == core.FrameTypePayload && f.flags&core.FlagNext != 0:
			if state[f.sid] != "" {
				t.Fatalf("stream %d: %v after %s", f.sid, f, state[f.sid])
			}
			state[f.sid] = "report"
		case f.typ == core.FrameTypeRequestN:
		case f.typ == core.FrameTypeError && f.errorCode() == core.ErrorCodeRejected:
			if !strings.Contains(f.errorText(), fmt.Sprintf("over the limit of %d open streams", guard.DefaultMaxStreams)) {
				t.Fatalf("rejection %q does not name the limit", f.errorText())
			}
			state[f.sid] = "rejected"
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	reports, rejected := 0, 0
	for i := range total {
		switch state[sid(i)] {
		case "report":
			reports++
		case "rejected":
			rejected++
		}
	}
	if reports != guard.DefaultMaxStreams || rejected != extra {
		t.Fatalf("%d streams served, %d rejected; want %d and %d", reports, rejected, guard.DefaultMaxStreams, extra)
	}
	checkServed(t, srv.TCPAddr())

	// End ten of them from the client side (CANCEL, then complete the
	// inbound); ten new streams then fit.
	buf = buf[:0]
	var ended []uint32
	for i := 0; len(ended) < 10; i++ {
		if state[sid(i)] == "report" {
			ended = append(ended, sid(i))
			buf = append(buf, encode(framing.NewWriteableCancelFrame(sid(i)))...)
			buf = append(buf, encode(framing.NewWriteablePayloadFrame(sid(i), nil, nil, core.FlagComplete))...)
		}
	}
	chattest.Must(t, c.write(buf))
	// The check runs on the frames in order: by the time it reads the new
	// requests, the ten streams have ended on both sides.
	buf = buf[:0]
	for i := range 10 {
		buf = append(buf, encode(framing.NewWriteableRequestChannelFrame(sid(total+i), 1, nil, meta(chat.RouteStatistics), 0))...)
	}
	chattest.Must(t, c.write(buf))
	got := 0
	for got < 10 {
		f := c.mustRead()
		if f.sid < sid(total) {
			continue // frames of the ended streams
		}
		switch {
		case f.typ == core.FrameTypePayload && f.flags&core.FlagNext != 0:
			got++
		case f.typ == core.FrameTypeRequestN:
		default:
			t.Fatalf("new stream after ten ended: %v", f)
		}
	}
	// Gone before the server stops: a stop racing the disconnection of
	// a connection with streams open hits rsocket-go's send/close race
	// (see TestSendCloseRace).
	_ = c.nc.Close()
	eventually(t, "the streamer's session is gone", func() bool { return srv.Service().Stats().Connections == 0 })
}

// TestFloodIgnoringCredit: a request-channel peer that sends more updates
// than the server asked for with REQUEST_N is cut off, the reason logged.
func TestFloodIgnoringCredit(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	c := rawDial(t, srv.TCPAddr())
	c.login("greedy")
	chattest.Must(t, c.send(framing.NewWriteableRequestChannelFrame(3, 1, nil, meta(chat.RouteStatistics), 0)))
	var credit uint32
	for gotReport := false; !gotReport || credit == 0; {
		f := c.expect(3)
		switch {
		case f.typ == core.FrameTypeRequestN && len(f.body) == 4:
			credit += uint32(f.body[0])<<24 | uint32(f.body[1])<<16 | uint32(f.body[2])<<8 | uint32(f.body[3])
		case f.typ == core.FrameTypePayload:
			gotReport = true
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	// Ten times the credit, in one write.
	var buf []byte
	for range 10 * credit {
		buf = append(buf, encode(framing.NewWriteablePayloadFrame(3, []byte(`{"ids":["users"]}`), nil, core.FlagNext))...)
	}
	_ = c.write(buf) // may fail half-way: the server closes the connection
	c.waitClosed()
	srv.logs.waitLog(t, "rsocket guard: connection closed", "beyond the credit granted by REQUEST_N")
	t.Logf("credit granted %d, %d updates sent: connection closed", credit, 10*credit)
	eventually(t, "the greedy session is gone", func() bool { return srv.Service().Stats().Connections == 0 })
	checkServed(t, srv.TCPAddr())
}

// TestFloodFragments: fragment chains that never finish are bounded per
// payload (MaxPayloadSize) and per connection (MaxPendingBytes).
func TestFloodFragments(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	chunk := bytes.Repeat([]byte{'f'}, 1_000_000)

	t.Run("one endless chain", func(t *testing.T) {
		c := rawDial(t, srv.TCPAddr())
		c.login("fragments")
		// An upload whose fragments never stop: the payload limit is the
		// largest file plus 64 KiB.
		limit := filestore.DefaultMaxFileBytes + 64<<10
		err := c.send(framing.NewWriteableRequestResponseFrame(3, chunk, meta(chat.RouteFileUpload, fileName("endless")), core.FlagFollow))
		for sent := len(chunk); err == nil && sent <= limit+len(chunk); sent += len(chunk) {
			err = c.send(framing.NewWriteablePayloadFrame(3, chunk, nil, core.FlagFollow))
		}
		c.waitClosed()
		srv.logs.waitLog(t, "rsocket guard: connection closed", fmt.Sprintf("reassembled payload over the %d-byte limit", limit))
	})

	t.Run("many unfinished chains", func(t *testing.T) {
		c := rawDial(t, srv.TCPAddr())
		c.login("fragments")
		// Each chain stays under the payload limit; together they go over
		// the connection's pending-bytes limit.
		pending := guard.Limits{MaxPayloadSize: filestore.DefaultMaxFileBytes + 64<<10}.WithDefaults().MaxPendingBytes
		var err error
		for i := 0; err == nil && i*len(chunk) <= pending; i++ {
			err = c.send(framing.NewWriteableRequestResponseFrame(uint32(3+2*i), chunk, meta(chat.RouteFileUpload, fileName(fmt.Sprint(i))), core.FlagFollow))
		}
		c.waitClosed()
		srv.logs.waitLog(t, "rsocket guard: connection closed", fmt.Sprintf("fragments waiting for reassembly over the %d-byte limit", pending))
	})

	eventually(t, "the offenders' sessions are gone", func() bool { return srv.Service().Stats().Connections == 0 })
	checkServed(t, srv.TCPAddr())
	c := login(t, srv.TCPAddr(), "check")
	if files := chattest.Collect(t, c.Files(ctxT(t))); len(files) != 0 {
		t.Fatalf("unfinished uploads left files: %q", files)
	}
}

// TestFloodHugePayloads: a file over the file limit gets a clear error and
// the connection goes on; a payload over the transport's payload limit
// closes the connection; a message over the content limit gets a clear
// error.
func TestFloodHugePayloads(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := ctxT(t)
	c := login(t, srv.TCPAddr(), "big")

	err := c.FileUpload(ctx, make([]byte, filestore.DefaultMaxFileBytes+1), "too-big")
	chattest.WantError(t, err, fmt.Sprintf("file too large: %d bytes, the limit is %d", filestore.DefaultMaxFileBytes+1, filestore.DefaultMaxFileBytes))
	content := strings.Repeat("m", chatsvc.DefaultMaxContentBytes+1)
	chattest.Must(t, c.ChannelJoin(ctx, "big"))
	err = c.Message(ctx, chat.Message{Channel: str("big"), Content: &content})
	chattest.WantError(t, err, fmt.Sprintf("route message: invalid request data: content: longer than %d bytes", chatsvc.DefaultMaxContentBytes))
	if files := chattest.Collect(t, c.Files(ctx)); len(files) != 0 {
		t.Fatalf("files after refused uploads: %q", files)
	}

	// Over the payload limit, the transport closes the connection
	// before the payload is reassembled.
	limit := filestore.DefaultMaxFileBytes + 64<<10
	huge := login(t, srv.TCPAddr(), "huge")
	err = huge.FileUpload(ctx, make([]byte, limit+1), "huge")
	if err == nil {
		t.Fatal("an upload over the payload limit succeeded")
	}
	select {
	case <-huge.Conn().Done():
	case <-ctx.Done():
		t.Fatal("the connection of the oversized upload is still open")
	}
	srv.logs.waitLog(t, "rsocket guard: connection closed", fmt.Sprintf("reassembled payload over the %d-byte limit", limit))
	checkServed(t, srv.TCPAddr())
	if files := chattest.Collect(t, c.Files(ctx)); len(files) != 0 {
		t.Fatalf("files after refused uploads: %q", files)
	}
}

// TestFloodNames: one connection cannot join more than MaxJoined channels
// nor log in as more than one user. Many connections may log in as the
// same user (the contract allows it); each counts.
func TestFloodNames(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	ctx := ctxT(t)
	c := login(t, srv.TCPAddr(), "joiner")
	for i := range chatsvc.DefaultMaxJoined + 50 {
		err := c.ChannelJoin(ctx, fmt.Sprintf("ch%04d", i))
		if i < chatsvc.DefaultMaxJoined {
			chattest.Must(t, err)
			continue
		}
		chattest.WantError(t, err, fmt.Sprintf("has joined %d channels, the limit", chatsvc.DefaultMaxJoined))
	}
	// Leaving frees a place.
	chattest.Must(t, c.ChannelLeave(ctx, "ch0000"))
	chattest.Must(t, c.ChannelJoin(ctx, "extra"))
	if st := srv.Service().Stats(); st.Channels != chatsvc.DefaultMaxJoined {
		t.Fatalf("%d channels, want %d", st.Channels, chatsvc.DefaultMaxJoined)
	}

	for i := range 1000 {
		_, err := c.Login(ctx, fmt.Sprintf("other%d", i))
		chattest.WantError(t, err, `already logged in as "joiner"`)
	}

	const same = 100
	var wg sync.WaitGroup
	errs := make(chan error, same)
	for range same {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			cc, err := chat.Dial(ctx, srv.TCPAddr())
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(func() { _ = cc.Close() })
			_, err = cc.Login(ctx, "twin")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		chattest.Must(t, err)
	}
	if st := srv.Service().Stats(); st.LoggedIn != same+1 || st.Users != 2 {
		t.Fatalf("%+v: want %d sessions of 2 users", st, same+1)
	}
	checkServed(t, srv.TCPAddr())
}

// TestUnreadDownloadsMemory asks for 300 downloads of a 1 MiB file on one
// connection without reading the answers. MaxStreams (1024) bounds only
// how many such responses wait; their bytes are bounded by the
// connection's response budget (rsrt.DefaultResponseBudget, 16 MiB): the
// download handler reserves a file's size before reading it, and the room
// comes back once the response is written. Before the budget the server
// held about 300 MiB here. Then the client reads: every download arrives,
// whole and in order of its stream.
func TestUnreadDownloadsMemory(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	c := login(t, srv.TCPAddr(), "uploader")
	file := make([]byte, 1<<20)
	for i := range file {
		file[i] = byte(i % 251)
	}
	chattest.Must(t, c.FileUpload(ctxT(t), file, "big"))
	base := heapInUse()
	r := rawDial(t, srv.TCPAddr())
	r.login("reader")
	var buf []byte
	n := 300 // 300 MiB without the budget
	if testing.Short() || raceEnabled {
		n = 100 // reading them back is slow under the race detector
	}
	for i := range n {
		buf = append(buf, encode(framing.NewWriteableRequestResponseFrame(uint32(3+2*i), nil, meta(chat.RouteFileDownload, fileName("big")), 0))...)
	}
	chattest.Must(t, r.write(buf))
	checkServed(t, srv.TCPAddr()) // the server answers everyone else meanwhile
	// The handlers start over time: watch the heap for a while and keep
	// its peak.
	const bound = rsrt.DefaultResponseBudget + 16<<20
	var held uint64
	for range 15 {
		held = max(held, heapInUse()-base)
		if held > bound {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d unread 1 MiB downloads: the server held at most %d MiB", n, held>>20)
	if held > bound {
		t.Fatalf("one connection's unread responses hold %d MiB, over %d MiB", held>>20, bound>>20)
	}
	got := make(map[uint32][]byte, n)
	for done := 0; done < n; {
		f := r.mustRead()
		if f.typ != core.FrameTypePayload {
			t.Fatalf("download answered with %v", f)
		}
		got[f.sid] = append(got[f.sid], f.data()...)
		if f.flags&core.FlagFollow == 0 {
			if !bytes.Equal(got[f.sid], file) {
				t.Fatalf("stream %d: %d bytes, not the file", f.sid, len(got[f.sid]))
			}
			got[f.sid] = nil
			done++
		}
	}
}
