package guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/frametest"
)

// Frame builders, shared with the server's hostile-traffic tests (see
// frametest): wire for the bytes of a frame rsocket-go builds, raw for one
// built by hand, u24 and u32 for its big-endian fields. Short names keep
// the byte layouts below readable.
var (
	wire = frametest.Wire
	raw  = frametest.Raw
	u24  = frametest.U24
	u32  = frametest.U32
)

func validSetup() []byte { return frametest.Setup([]byte("data"), []byte("meta")) }

// setupState returns a state past a valid SETUP.
func setupState(t *testing.T, lim Limits) *State {
	t.Helper()
	s := NewState(lim)
	mustDeliver(t, s, validSetup())
	return s
}

func mustDeliver(t *testing.T, s *State, frame []byte) {
	t.Helper()
	d, err := s.Check(frame)
	if err != nil || d.Action != Deliver {
		t.Fatalf("Check(% x) = %+v, %v; want deliver", frame, d, err)
	}
}

func mustAct(t *testing.T, s *State, frame []byte, want Decision) {
	t.Helper()
	d, err := s.Check(frame)
	if err != nil {
		t.Fatalf("Check(% x): %v; want %+v", frame, err, want)
	}
	d.Reason = ""
	if d != want {
		t.Fatalf("Check(% x) = %+v; want %+v", frame, d, want)
	}
}

func mustViolate(t *testing.T, s *State, frame []byte, reason string) {
	t.Helper()
	d, err := s.Check(frame)
	var v *Violation
	if !errors.As(err, &v) {
		t.Fatalf("Check(% x) = %+v, %v; want a violation %q", frame, d, err, reason)
	}
	if !strings.Contains(v.Reason, reason) {
		t.Fatalf("Check(% x) violation %q; want it to mention %q", frame, v.Reason, reason)
	}
}

func TestSetup(t *testing.T) {
	s := NewState(Limits{MaxLifetime: time.Minute})
	mustDeliver(t, s, validSetup())
	if got := s.Lifetime(); got != time.Minute {
		t.Errorf("lifetime %v, want it capped at 1m", got)
	}
	mustViolate(t, s, validSetup(), "second SETUP")

	s = NewState(Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableSetupFrame(core.DefaultVersion, time.Second, 90*time.Second, []byte("token"),
		[]byte("a/b"), []byte("c/d"), nil, nil, false)))
	if got := s.Lifetime(); got != 90*time.Second {
		t.Errorf("lifetime %v, want 90s", got)
	}
}

func TestSetupTruncated(t *testing.T) {
	full := validSetup()
	// Every strict prefix either cuts a length-prefixed field or leaves
	// the metadata length pointing past the end.
	for n := range len(full) - len("data") {
		d, err := NewState(Limits{}).Check(full[:n])
		if err == nil {
			t.Fatalf("prefix of %d bytes accepted: %+v", n, d)
		}
	}
}

func TestSetupFields(t *testing.T) {
	body := func(version uint32, ka, life uint32, rest ...[]byte) []byte {
		b := append(u32(version), u32(ka)...)
		b = append(b, u32(life)...)
		for _, r := range rest {
			b = append(b, r...)
		}
		return b
	}
	mime := []byte{3, 'a', '/', 'b', 3, 'c', '/', 'd'}
	v1 := uint32(1 << 16)
	for _, tc := range []struct {
		name  string
		flags core.FrameFlag
		body  []byte
		want  string
	}{
		{"version 2", 0, body(2<<16, 500, 1000, mime), "version"},
		{"keepalive 0", 0, body(v1, 0, 1000, mime), "keepalive"},
		{"lifetime 0", 0, body(v1, 500, 0, mime), "lifetime"},
		{"lifetime top bit", 0, body(v1, 500, 1<<31, mime), "lifetime"},
		{"mime length past end", 0, body(v1, 500, 1000, []byte{200, 'a'}), "MIME type length"},
		{"data mime missing", 0, body(v1, 500, 1000, []byte{3, 'a', '/', 'b'}), "before its data MIME"},
		{"mime not printable", 0, body(v1, 500, 1000, []byte{3, 'a', 0, 'b', 0}), "printable"},
		{"token past end", core.FlagResume, body(v1, 500, 1000, []byte{0, 9, 1}), "token"},
		{"metadata past end", core.FlagMetadata, body(v1, 500, 1000, mime, u24(10), []byte("abc")), "metadata length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustViolate(t, NewState(Limits{}), raw(0, core.FrameTypeSetup, tc.flags, tc.body), tc.want)
		})
	}
	mustViolate(t, NewState(Limits{}), raw(2, core.FrameTypeSetup, 0, body(v1, 500, 1000, mime)), "non-zero stream")
}

func TestFirstFrameMustBeSetup(t *testing.T) {
	mustViolate(t, NewState(Limits{}), wire(framing.NewWriteableRequestResponseFrame(1, []byte("x"), nil, 0)), "first frame")
	mustViolate(t, NewState(Limits{}), wire(framing.NewWriteableResumeFrame(core.DefaultVersion, []byte("t"), 0, 0)), "first frame")
	mustViolate(t, NewState(Limits{}), []byte{0, 0}, "shorter than a header")
}

func TestResumeAndLeaseRefused(t *testing.T) {
	mustViolate(t, setupState(t, Limits{}), wire(framing.NewWriteableResumeFrame(core.DefaultVersion, []byte("t"), 0, 0)), "resumption")
	mustViolate(t, setupState(t, Limits{}), wire(framing.NewWriteableLeaseFrame(time.Second, 1, nil)), "LEASE")
}

func TestMetadataLength(t *testing.T) {
	past := append(u24(100), "abc"...)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"request-response", raw(1, core.FrameTypeRequestResponse, core.FlagMetadata, past)},
		{"fire-and-forget", raw(1, core.FrameTypeRequestFNF, core.FlagMetadata, past)},
		{"request-stream", raw(1, core.FrameTypeRequestStream, core.FlagMetadata, u32(1), past)},
		{"request-channel", raw(1, core.FrameTypeRequestChannel, core.FlagMetadata, u32(1), past)},
		{"request-channel no length", raw(1, core.FrameTypeRequestChannel, core.FlagMetadata, u32(1), []byte{0})},
		{"payload", raw(2, core.FrameTypePayload, core.FlagMetadata|core.FlagNext, past)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustViolate(t, setupState(t, Limits{}), tc.frame, "metadata")
		})
	}
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(1, []byte("data"), []byte("meta"), 0)))
	mustDeliver(t, s, raw(3, core.FrameTypeRequestResponse, core.FlagMetadata, u24(0)))
}

func TestStreamIDsAndFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"request on even id", wire(framing.NewWriteableRequestResponseFrame(2, nil, nil, 0)), "odd ids"},
		{"request on id 0", wire(framing.NewWriteableRequestStreamFrame(0, 1, nil, nil, 0)), "odd ids"},
		{"top bit", raw(1<<31|1, core.FrameTypeRequestResponse, 0), "top bit"},
		{"keepalive on stream", raw(1, core.FrameTypeKeepalive, 0, make([]byte, 8)), "non-zero"},
		{"keepalive short", raw(0, core.FrameTypeKeepalive, 0, make([]byte, 7)), "KEEPALIVE body"},
		{"metadata push on stream", raw(1, core.FrameTypeMetadataPush, core.FlagMetadata), "non-zero"},
		{"metadata push without M", raw(0, core.FrameTypeMetadataPush, 0), "METADATA flag"},
		{"request-n on 0", raw(0, core.FrameTypeRequestN, 0, u32(1)), "stream id 0"},
		{"request-n zero", raw(1, core.FrameTypeRequestN, 0, u32(0)), "n = 0"},
		{"request-n short", raw(1, core.FrameTypeRequestN, 0, []byte{1}), "want 4"},
		{"cancel with body", raw(1, core.FrameTypeCancel, 0, []byte{1}), "body"},
		{"error short", raw(1, core.FrameTypeError, 0, []byte{1}), "ERROR body"},
		{"initial n zero", raw(1, core.FrameTypeRequestChannel, 0, u32(0)), "initial request n"},
		{"unknown type", raw(1, core.FrameType(0x20), 0), "unknown frame type"},
		{"ext", raw(1, core.FrameTypeExt, 0), "unknown frame type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustViolate(t, setupState(t, Limits{}), tc.frame, tc.want)
		})
	}
	mustAct(t, setupState(t, Limits{}), raw(1, core.FrameType(0x20), core.FlagIgnore), Decision{Action: Drop, StreamID: 1})
}

func TestStreamIDReuse(t *testing.T) {
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(1, 1, nil, nil, 0)))
	mustViolate(t, s, wire(framing.NewWriteableRequestResponseFrame(1, nil, nil, 0)), "in use")
}

func TestRequesterError(t *testing.T) {
	errFrame := func(sid uint32) []byte {
		return wire(framing.NewWriteableErrorFrame(sid, core.ErrorCodeApplicationError, []byte("boom")))
	}
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("x"), nil, 0)))
	mustAct(t, s, errFrame(1), Decision{Action: Substitute, StreamID: 1, Cancel: true, Complete: true})
	if n := s.OpenStreams(); n != 0 {
		t.Errorf("%d streams open after the channel ended", n)
	}
	// A channel whose outbound side already completed only needs its
	// inbound side ended.
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(3, 1, []byte("x"), nil, 0)))
	s.Outbound(core.NewFrameHeader(3, core.FrameTypePayload, core.FlagComplete), 0)
	mustAct(t, s, errFrame(3), Decision{Action: Substitute, StreamID: 3, Complete: true})

	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(5, 1, nil, nil, 0)))
	mustAct(t, s, errFrame(5), Decision{Action: Substitute, StreamID: 5, Cancel: true})
	mustAct(t, s, errFrame(7), Decision{Action: Drop, StreamID: 7})
	// The answer to a server-initiated request goes through.
	mustDeliver(t, s, errFrame(2))
}

func TestCancel(t *testing.T) {
	s := setupState(t, Limits{})
	mustAct(t, s, wire(framing.NewWriteableCancelFrame(2)), Decision{Action: Drop, StreamID: 2})
	mustAct(t, s, wire(framing.NewWriteableCancelFrame(1)), Decision{Action: Drop, StreamID: 1})
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(1, 1, nil, nil, 0)))
	mustDeliver(t, s, wire(framing.NewWriteableCancelFrame(1)))
	if n := s.OpenStreams(); n != 0 {
		t.Errorf("%d streams open after CANCEL", n)
	}
	mustAct(t, s, wire(framing.NewWriteableRequestNFrame(1, 5, 0)), Decision{Action: Drop, StreamID: 1})
}

func TestFragments(t *testing.T) {
	lim := Limits{MaxPayloadSize: 100, MaxPendingBytes: 150}
	s := setupState(t, lim)
	chunk := bytes.Repeat([]byte{'x'}, 40)
	mustDeliver(t, s, raw(1, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	mustDeliver(t, s, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk))
	if s.OpenStreams() != 1 {
		t.Fatalf("a request being reassembled must count as a stream")
	}
	mustDeliver(t, s, raw(1, core.FrameTypePayload, core.FlagNext, chunk[:10]))
	mustViolate(t, s, raw(1, core.FrameTypeRequestResponse, 0), "in use")

	s = setupState(t, lim)
	mustDeliver(t, s, raw(1, core.FrameTypeRequestFNF, core.FlagFollow, chunk))
	mustDeliver(t, s, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk))
	mustViolate(t, s, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk), "reassembled payload")

	s = setupState(t, lim)
	mustDeliver(t, s, raw(1, core.FrameTypeRequestFNF, core.FlagFollow, chunk))
	mustDeliver(t, s, raw(1, core.FrameTypePayload, core.FlagNext, chunk))
	if s.OpenStreams() != 0 {
		t.Fatalf("a finished fire-and-forget must not stay open")
	}

	s = setupState(t, lim)
	mustDeliver(t, s, raw(1, core.FrameTypeRequestFNF, core.FlagFollow, chunk))
	mustDeliver(t, s, raw(3, core.FrameTypeRequestFNF, core.FlagFollow, chunk))
	mustDeliver(t, s, raw(2, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk[:31]))
	mustViolate(t, s, raw(5, core.FrameTypeRequestFNF, core.FlagFollow, chunk), "waiting for reassembly")

	// CANCEL in the middle frees the chain.
	s = setupState(t, lim)
	mustDeliver(t, s, raw(1, core.FrameTypeRequestStream, core.FlagFollow, u32(1), chunk))
	mustDeliver(t, s, wire(framing.NewWriteableCancelFrame(1)))
	mustAct(t, s, raw(1, core.FrameTypePayload, core.FlagNext, chunk), Decision{Action: Drop, StreamID: 1})
	if s.OpenStreams() != 0 {
		t.Fatalf("cancelled chain still open")
	}

	mustViolate(t, setupState(t, lim), raw(1, core.FrameTypeRequestResponse, 0, bytes.Repeat(chunk, 3)), "over the 100-byte limit")
}

func TestMaxStreams(t *testing.T) {
	s := setupState(t, Limits{MaxStreams: 2})
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(1, nil, nil, 0)))
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(3, 1, nil, nil, 0)))
	mustAct(t, s, wire(framing.NewWriteableRequestResponseFrame(5, nil, nil, 0)), Decision{Action: Reject, StreamID: 5})
	// Fire-and-forget opens no stream.
	mustDeliver(t, s, wire(framing.NewWriteableFireAndForgetFrame(7, nil, nil, 0)))
	mustViolate(t, s, raw(9, core.FrameTypeRequestResponse, core.FlagFollow), "fragmented request over the limit")

	s = setupState(t, Limits{MaxStreams: 2})
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(1, nil, nil, 0)))
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(3, 1, nil, nil, 0)))
	// The response to 1, fragmented, ends the stream at its last fragment.
	s.Outbound(core.NewFrameHeader(1, core.FrameTypePayload, core.FlagNext|core.FlagFollow), 0)
	mustAct(t, s, wire(framing.NewWriteableRequestResponseFrame(5, nil, nil, 0)), Decision{Action: Reject, StreamID: 5})
	s.Outbound(core.NewFrameHeader(1, core.FrameTypePayload, core.FlagNext), 0)
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(5, nil, nil, 0)))
	// An item of the stream does not end it; COMPLETE does, ERROR too.
	s.Outbound(core.NewFrameHeader(3, core.FrameTypePayload, core.FlagNext), 0)
	mustAct(t, s, wire(framing.NewWriteableRequestResponseFrame(7, nil, nil, 0)), Decision{Action: Reject, StreamID: 7})
	s.Outbound(core.NewFrameHeader(3, core.FrameTypePayload, core.FlagComplete), 0)
	s.Outbound(core.NewFrameHeader(5, core.FrameTypeError, 0), 0)
	if n := s.OpenStreams(); n != 0 {
		t.Fatalf("%d streams open, want 0", n)
	}
}

func TestChannelCredit(t *testing.T) {
	item := func(flags core.FrameFlag) []byte { return raw(1, core.FrameTypePayload, flags, []byte("item")) }
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)))
	s.Outbound(core.NewFrameHeader(1, core.FrameTypeRequestN, 0), 2)
	mustDeliver(t, s, item(core.FlagNext))
	mustDeliver(t, s, item(core.FlagNext|core.FlagFollow))
	mustDeliver(t, s, item(core.FlagNext)) // continuation: no credit used
	mustViolate(t, s, item(core.FlagNext), "credit")

	s = setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)))
	s.Outbound(core.NewFrameHeader(1, core.FrameTypeRequestN, 0), infinite)
	s.Outbound(core.NewFrameHeader(1, core.FrameTypeRequestN, 0), infinite)
	for range 10 {
		mustDeliver(t, s, item(core.FlagNext))
	}
	mustDeliver(t, s, item(core.FlagComplete))
	mustAct(t, s, item(core.FlagNext), Decision{Action: Drop, StreamID: 1})
	// The client's side ended; the server's COMPLETE ends the stream.
	s.Outbound(core.NewFrameHeader(1, core.FrameTypePayload, core.FlagComplete), 0)
	if n := s.OpenStreams(); n != 0 {
		t.Fatalf("%d streams open, want 0", n)
	}

	s = setupState(t, Limits{DisableCreditCheck: true})
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)))
	mustDeliver(t, s, item(core.FlagNext))

	// The server cancelling the client's side drops what follows. The
	// CANCEL itself is withheld: it would crash an rsocket-go requester.
	s = setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestChannelFrame(1, 1, []byte("first"), nil, 0)))
	if _, send := s.Outbound(core.NewFrameHeader(1, core.FrameTypeCancel, 0), 0); send {
		t.Error("CANCEL on a client-initiated channel would be sent")
	}
	mustAct(t, s, item(core.FlagNext), Decision{Action: Drop, StreamID: 1})
	// Also once the stream is gone (the client cancelled first).
	if _, send := s.Outbound(core.NewFrameHeader(1, core.FrameTypeCancel, 0), 0); send {
		t.Error("CANCEL on a closed client-initiated stream would be sent")
	}
	// A CANCEL for a server-initiated request goes out as usual.
	if _, send := s.Outbound(core.NewFrameHeader(2, core.FrameTypeCancel, 0), 0); !send {
		t.Error("CANCEL on a server-initiated stream withheld")
	}
}

func TestPayloadForNoStream(t *testing.T) {
	s := setupState(t, Limits{})
	mustAct(t, s, raw(1, core.FrameTypePayload, core.FlagNext, []byte("x")), Decision{Action: Drop, StreamID: 1})
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(3, 1, nil, nil, 0)))
	mustAct(t, s, raw(3, core.FrameTypePayload, core.FlagNext, []byte("x")), Decision{Action: Drop, StreamID: 3})
	// Answers to server-initiated requests reach the library.
	mustDeliver(t, s, raw(2, core.FrameTypePayload, core.FlagNext|core.FlagComplete, []byte("x")))
}

// TestUndefinedFlagsCleared checks that flag bits a frame type does not
// define are accepted and cleared before the library sees them, as the spec
// asks of receivers (rsocket-go's client sets NEXT on REQUEST_CHANNEL).
func TestUndefinedFlagsCleared(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   core.FrameType
		flags core.FrameFlag
		body  []byte
		want  core.FrameFlag
	}{
		{"next on request-channel", core.FrameTypeRequestChannel, core.FlagNext | core.FlagComplete, u32(1), core.FlagComplete},
		{"next on request-response", core.FrameTypeRequestResponse, core.FlagNext, nil, 0},
		{"complete on request-stream", core.FrameTypeRequestStream, core.FlagComplete, u32(1), 0},
		{"low bits on request-stream", core.FrameTypeRequestStream, 1, u32(1), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setupState(t, Limits{})
			f := raw(1, tc.typ, tc.flags, tc.body)
			if _, err := s.Check(f); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := core.FrameFlag(binary.BigEndian.Uint16(f[4:]) & 0x03FF); got != tc.want {
				t.Errorf("flags after Check = %#03x, want %#03x", uint16(got), uint16(tc.want))
			}
		})
	}
}

// TestCompleteMovesToLastFragment checks that the COMPLETE flag rsocket-go
// puts on the first fragment of a request-response answer is written on
// the last one, and only for request-response.
func TestCompleteMovesToLastFragment(t *testing.T) {
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(1, nil, nil, 0)))
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(3, 1, nil, nil, 0)))
	out := func(sid uint32, flags core.FrameFlag) core.FrameFlag {
		f, send := s.Outbound(core.NewFrameHeader(sid, core.FrameTypePayload, flags), 0)
		if !send {
			t.Fatalf("PAYLOAD on stream %d withheld", sid)
		}
		return f
	}
	nfc := core.FlagNext | core.FlagFollow | core.FlagComplete
	if got := out(1, nfc); got != core.FlagNext|core.FlagFollow {
		t.Errorf("first fragment written with %s, want N|FRS", got)
	}
	if got := out(1, core.FlagNext|core.FlagFollow); got != core.FlagNext|core.FlagFollow {
		t.Errorf("middle fragment written with %s", got)
	}
	if got := out(1, core.FlagNext); got != core.FlagNext|core.FlagComplete {
		t.Errorf("last fragment written with %s, want N|CL", got)
	}
	if got := out(3, nfc); got != nfc {
		t.Errorf("request-stream fragment written with %s, want it unchanged", got)
	}
	// An unfragmented answer is written as is.
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(5, nil, nil, 0)))
	if got := out(5, core.FlagNext|core.FlagComplete); got != core.FlagNext|core.FlagComplete {
		t.Errorf("unfragmented answer written with %s", got)
	}
}

func TestRefuseRequests(t *testing.T) {
	s := setupState(t, Limits{})
	mustDeliver(t, s, wire(framing.NewWriteableRequestResponseFrame(1, []byte("up"), nil, core.FlagFollow)))
	mustDeliver(t, s, wire(framing.NewWriteableRequestStreamFrame(3, 10, []byte("s"), nil, 0)))
	if n := s.Assembling(); n != 1 {
		t.Fatalf("Assembling = %d, want 1", n)
	}
	s.RefuseRequests()
	// decide checks the decision, reason included: it is the text of the
	// REJECTED error.
	decide := func(frame []byte, want Decision) {
		t.Helper()
		if d, err := s.Check(frame); err != nil || d != want {
			t.Fatalf("Check(% x) = %+v, %v; want %+v", frame, d, err, want)
		}
	}
	for sid, f := range map[uint32][]byte{
		5:  wire(framing.NewWriteableRequestResponseFrame(5, []byte("x"), nil, 0)),
		7:  wire(framing.NewWriteableRequestStreamFrame(7, 1, []byte("x"), nil, 0)),
		9:  wire(framing.NewWriteableRequestChannelFrame(9, 1, []byte("x"), nil, 0)),
		11: wire(framing.NewWriteableRequestResponseFrame(11, []byte("x"), nil, core.FlagFollow)),
	} {
		decide(f, Decision{Action: Reject, StreamID: sid, Reason: ReasonShuttingDown})
	}
	decide(wire(framing.NewWriteableFireAndForgetFrame(13, []byte("x"), nil, 0)), Decision{Action: Drop, StreamID: 13, Reason: ReasonShuttingDown})
	// The fragments of a refused request find no stream; those of the
	// request that was arriving, and the open stream's frames, go on.
	mustAct(t, s, wire(framing.NewWriteablePayloadFrame(11, []byte("y"), nil, core.FlagNext)), Decision{Action: Drop, StreamID: 11})
	mustDeliver(t, s, wire(framing.NewWriteableRequestNFrame(3, 5, 0)))
	mustDeliver(t, s, wire(framing.NewWriteablePayloadFrame(1, []byte("load"), nil, core.FlagNext)))
	if n := s.Assembling(); n != 0 {
		t.Fatalf("Assembling after the last fragment = %d, want 0", n)
	}
}

// The reassembly budget is shared: two connections each within their own
// bound cannot together hold more than the server-wide one. The request
// that would go over it is refused, the rest of its fragments dropped, and
// both connections go on.
func TestServerWideReassembly(t *testing.T) {
	lim := Limits{MaxPayloadSize: 100, MaxPendingBytes: 150}
	shared := NewReassembly(100)
	a, b := setupState(t, lim), setupState(t, lim)
	a.shared, b.shared = shared, shared
	chunk := bytes.Repeat([]byte{'x'}, 40)

	mustDeliver(t, a, raw(1, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	mustDeliver(t, b, raw(1, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	if got := shared.Used(); got != 80 {
		t.Fatalf("shared budget holds %d bytes, want 80", got)
	}
	// b's next fragment would hold 120: b's request is refused, and the
	// library, which holds its first fragment, gets a CANCEL.
	mustAct(t, b, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk), Decision{Action: Reject, StreamID: 1, Cancel: true})
	if got := shared.Used(); got != 40 {
		t.Fatalf("after the refusal the budget holds %d bytes, want 40", got)
	}
	// Its remaining fragments are dropped, to the last one.
	mustAct(t, b, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk), Decision{Action: Drop, StreamID: 1})
	mustAct(t, b, raw(1, core.FrameTypePayload, core.FlagNext, chunk), Decision{Action: Drop, StreamID: 1})
	if b.OpenStreams() != 0 || len(b.chains) != 0 {
		t.Fatalf("refused request still open on b: %d streams, %d chains", b.OpenStreams(), len(b.chains))
	}
	// a goes on and completes.
	mustDeliver(t, a, raw(1, core.FrameTypePayload, core.FlagFollow|core.FlagNext, chunk))
	// A new request whose first fragment does not fit is refused at once,
	// with nothing for the library; a fire-and-forget is dropped.
	mustAct(t, b, raw(3, core.FrameTypeRequestStream, core.FlagFollow, u32(1), chunk), Decision{Action: Reject, StreamID: 3})
	mustAct(t, b, raw(5, core.FrameTypeRequestFNF, core.FlagFollow, chunk), Decision{Action: Drop, StreamID: 5})
	// CANCEL of a discarded request is dropped (the library knows nothing
	// of it) and ends the discarding.
	mustAct(t, b, wire(framing.NewWriteableCancelFrame(3)), Decision{Action: Drop, StreamID: 3})
	mustDeliver(t, a, raw(1, core.FrameTypePayload, core.FlagNext, chunk[:10]))
	if got := shared.Used(); got != 0 {
		t.Fatalf("after a's request completed the budget holds %d bytes, want 0", got)
	}
	// With room again, b is served.
	mustDeliver(t, b, raw(7, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	mustDeliver(t, b, raw(7, core.FrameTypePayload, core.FlagNext, chunk))

	// A closed connection gives its share back.
	mustDeliver(t, a, raw(3, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	mustDeliver(t, b, raw(9, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	a.Release()
	if got := shared.Used(); got != 40 {
		t.Fatalf("after a closed the budget holds %d bytes, want b's 40", got)
	}
	// A frame read after the release is held against a budget of a's own.
	mustDeliver(t, a, raw(5, core.FrameTypeRequestResponse, core.FlagFollow, chunk))
	if got := shared.Used(); got != 40 {
		t.Fatalf("a frame after the release took %d bytes of the shared budget", got-40)
	}

	// Discarded requests count against the stream limit: they cannot
	// pile up.
	s := setupState(t, Limits{MaxStreams: 2, MaxPayloadSize: 100, MaxPendingBytes: 150})
	s.shared = NewReassembly(10)
	mustAct(t, s, raw(1, core.FrameTypeRequestResponse, core.FlagFollow, chunk), Decision{Action: Reject, StreamID: 1})
	mustAct(t, s, raw(3, core.FrameTypeRequestResponse, core.FlagFollow, chunk), Decision{Action: Reject, StreamID: 3})
	mustViolate(t, s, raw(5, core.FrameTypeRequestResponse, core.FlagFollow, chunk), "fragmented request over the limit")
}
