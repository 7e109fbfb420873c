package guard

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rsocket/rsocket-go/core"
)

// Action is what a checking transport does with an inbound frame.
type Action uint8

const (
	// Deliver hands the frame to the library unchanged.
	Deliver Action = iota
	// Drop discards the frame: it is legal or harmless but has nothing to
	// act on (its stream is not open), or it would crash the library
	// (CANCEL for a server-initiated stream, upstream #122).
	Drop
	// Reject discards a request and answers it with ERROR (REJECTED) on
	// Decision.StreamID, with Decision.Reason as its text: the connection
	// has MaxStreams open, the server is shutting down, or the
	// server-wide reassembly budget is spent (see Reassembly).
	Reject
	// Substitute discards the frame and hands the library, in this order,
	// a CANCEL for Decision.StreamID when Decision.Cancel is set and an
	// empty PAYLOAD with COMPLETE when Decision.Complete is set. It
	// replaces an ERROR sent by the requester of a stream, which the
	// library cannot take (upstream #149): the server stops sending, and
	// a request-channel handler sees its inbound side end.
	Substitute
	// Echo discards a KEEPALIVE with the RESPOND flag and has the
	// transport answer it itself, on the reading goroutine, before it
	// reads on. rsocket-go would queue the echo on its unbounded send
	// queue: a peer sending KEEPALIVEs without reading the echoes would
	// pile them up in the server's memory until the write timeout. Written
	// in line, an echo the peer does not read stops the reading instead,
	// so the peer's own sends block.
	Echo
)

// String returns the name of the action.
func (a Action) String() string {
	switch a {
	case Deliver:
		return "deliver"
	case Drop:
		return "drop"
	case Reject:
		return "reject"
	case Substitute:
		return "substitute"
	case Echo:
		return "echo"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Decision is the verdict of [State.Check] on a frame it accepts.
type Decision struct {
	Action Action
	// StreamID is the stream of the frame.
	StreamID uint32
	// Cancel and Complete say what a Substitute hands to the library; a
	// Reject with Cancel also hands the library a CANCEL, for a request
	// of which it holds fragments.
	Cancel, Complete bool
	// Reason says why a frame is not delivered as is.
	Reason string
}

// Violation is the error [State.Check] returns for a frame that breaks the
// protocol or a limit; the connection must be closed.
type Violation struct {
	// Type and StreamID are those of the offending frame, when its header
	// could be read.
	Type     core.FrameType
	StreamID uint32
	// Reason says what was wrong.
	Reason string
}

// Error says what was wrong and on which frame.
func (v *Violation) Error() string {
	return fmt.Sprintf("rsocket guard: %s (frame %s, stream %d)", v.Reason, v.Type, v.StreamID)
}

// Flag bits allowed per frame type; the IGNORE bit is allowed everywhere.
const (
	flagsRequest = core.FlagMetadata | core.FlagFollow
	flagsChannel = flagsRequest | core.FlagComplete
	flagsPayload = flagsRequest | core.FlagComplete | core.FlagNext
	flagsSetup   = core.FlagMetadata | core.FlagResume | core.FlagLease
)

// infinite is the credit REQUEST_N grants at its maximum value.
const infinite = math.MaxInt32

// stream is a stream a client opened (odd stream id).
type stream struct {
	credit     int32 // at most infinite
	kind       core.FrameType
	assembling bool // the request frame is still being reassembled
	in         bool // a request-channel's client-to-server side is open
	out        bool // the server-to-client side is open
	// The outbound fragment chain in progress, and whether its first
	// frame carried COMPLETE (rsocket-go puts it on the first fragment).
	outChain, outChainDone bool
}

// chain is an inbound fragment chain in progress on one stream.
type chain struct {
	typ   core.FrameType // type of the first frame
	flags core.FrameFlag // flags of the first frame, as the library uses
	size  int
	// discard marks the chain of a request refused for the server-wide
	// reassembly budget: its fragments are dropped until the last one,
	// and its bytes are not held.
	discard bool
}

// State is the protocol state of one connection as the guard follows it:
// whether SETUP was seen, the streams the client opened, the fragment
// chains in progress and the credit granted on request-channels. Check
// runs on the reading goroutine and Outbound on the writing ones; they may
// run concurrently.
type State struct {
	lim Limits

	mu         sync.Mutex
	setup      bool
	lifetime   time.Duration
	streams    map[uint32]stream // by value: opening a stream allocates nothing
	chains     map[uint32]*chain
	evenChains int // chains on server-initiated streams
	discarding int // chains being discarded (see chain.discard)
	pending    int // bytes held in chains
	shared     *Reassembly
	refusing   bool
	ended      bool // the server wrote a connection ERROR (see Ended)
	lingered   bool // see Linger
}

// ReasonShuttingDown is the reason of the requests refused once
// RefuseRequests was called: the text of their REJECTED error.
const ReasonShuttingDown = "server is shutting down"

// RefuseRequests makes Check refuse every new request, for a server that
// is shutting down: a request is answered with ERROR (REJECTED,
// ReasonShuttingDown), a fire-and-forget dropped. The fragments of a
// request that was already arriving still pass, so that it can complete
// (see Assembling).
func (s *State) RefuseRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusing = true
}

// Assembling returns how many requests of the client are still arriving
// in fragments.
func (s *State) Assembling() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.streams {
		if st.assembling {
			n++
		}
	}
	return n
}

// NewState returns the state of a new connection; lim's unset fields take
// their defaults.
func NewState(lim Limits) *State {
	lim = lim.WithDefaults()
	return &State{
		lim:     lim,
		streams: make(map[uint32]stream),
		chains:  make(map[uint32]*chain),
		shared:  NewReassembly(lim.MaxServerPendingBytes),
	}
}

// Release gives the bytes of the connection's unfinished fragment chains
// back to the server-wide budget; the transport calls it when the
// connection is closed. Later chains, should a last frame still be read,
// are held against a budget of the connection's own.
func (s *State) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid := range s.chains {
		s.endChain(sid)
	}
	s.shared = NewReassembly(s.lim.MaxServerPendingBytes)
}

// SetupDone reports whether the connection's SETUP was accepted.
func (s *State) SetupDone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setup
}

// Linger reports whether a connection being closed should linger (see
// lingerClose): true once, on the first call after the server wrote a
// connection ERROR (stream 0), as it does when it refuses a SETUP. A
// later close, the server's own when it shuts down, closes at once.
func (s *State) Linger() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.ended && !s.lingered
	s.lingered = true
	return ok
}

// Lifetime returns the max lifetime the client declared in SETUP, capped
// at Limits.MaxLifetime, or 0 before SETUP.
func (s *State) Lifetime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lifetime
}

// OpenStreams returns how many streams the client has open.
func (s *State) OpenStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams) + s.evenChains
}

// PendingResponses returns how many streams the client opened still wait
// for the end of the server's side (requests being reassembled included).
func (s *State) PendingResponses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.streams {
		if st.out || st.assembling {
			n++
		}
	}
	return n
}

// Check judges one inbound frame, given as its raw bytes without the TCP
// length prefix, and updates the state. It returns what to do with a frame
// it accepts, or a *Violation when the connection must be closed. Check
// never panics and never keeps frame; it clears, in place, flag bits that
// the frame's type does not define.
func (s *State) Check(frame []byte) (Decision, error) {
	if len(frame) < core.FrameHeaderLen {
		return Decision{}, &Violation{Reason: fmt.Sprintf("frame of %d bytes is shorter than a header", len(frame))}
	}
	sid := binary.BigEndian.Uint32(frame)
	hdr := binary.BigEndian.Uint16(frame[4:])
	typ := core.FrameType(hdr >> 10)
	flags := core.FrameFlag(hdr & 0x03FF)
	if defined, ok := definedFlags(typ); ok && flags&^(defined|core.FlagIgnore) != 0 {
		// The spec says flag bits a frame type does not define "SHOULD be
		// set to 0 when sent and not interpreted on reception". Peers do
		// set them (rsocket-go's own client sends NEXT on REQUEST_CHANNEL),
		// so they are cleared here, in place, before the library, which
		// might interpret them, sees the frame.
		flags &= defined | core.FlagIgnore
		binary.BigEndian.PutUint16(frame[4:], uint16(typ)<<10|uint16(flags))
	}
	body := frame[core.FrameHeaderLen:]
	bad := func(format string, args ...any) (Decision, error) {
		return Decision{}, &Violation{Type: typ, StreamID: sid, Reason: fmt.Sprintf(format, args...)}
	}
	if len(frame) > s.lim.MaxFrameSize {
		return bad("frame of %d bytes is over the %d-byte limit", len(frame), s.lim.MaxFrameSize)
	}
	if sid&0x80000000 != 0 {
		return bad("stream id has its reserved top bit set")
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if !s.setup && typ != core.FrameTypeSetup {
		return bad("first frame is not SETUP")
	}
	switch typ {
	case core.FrameTypeSetup:
		if s.setup {
			return bad("second SETUP")
		}
		if sid != 0 {
			return bad("SETUP on a non-zero stream id")
		}
		if err := checkFlags(flags, flagsSetup); err != "" {
			return bad("%s", err)
		}
		life, err := s.checkSetup(flags, body)
		if err != "" {
			return bad("%s", err)
		}
		s.setup, s.lifetime = true, life
		return Decision{StreamID: sid}, nil

	case core.FrameTypeKeepalive:
		if sid != 0 {
			return bad("KEEPALIVE on a non-zero stream id")
		}
		if err := checkFlags(flags, core.FlagRespond); err != "" {
			return bad("%s", err)
		}
		if len(body) < 8 {
			return bad("KEEPALIVE body of %d bytes, want at least 8", len(body))
		}
		if n := len(body) - 8; n > s.lim.MaxKeepaliveData {
			return bad("KEEPALIVE data of %d bytes is over the %d-byte limit", n, s.lim.MaxKeepaliveData)
		}
		if flags&core.FlagRespond != 0 {
			return Decision{Action: Echo, StreamID: sid}, nil
		}
		return Decision{StreamID: sid}, nil

	case core.FrameTypeMetadataPush:
		if sid != 0 {
			return bad("METADATA_PUSH on a non-zero stream id")
		}
		if err := checkFlags(flags, core.FlagMetadata); err != "" {
			return bad("%s", err)
		}
		if flags&core.FlagMetadata == 0 {
			return bad("METADATA_PUSH without the METADATA flag")
		}
		if len(body) > s.lim.MaxPayloadSize {
			return bad("METADATA_PUSH of %d bytes is over the %d-byte payload limit", len(body), s.lim.MaxPayloadSize)
		}
		return Decision{StreamID: sid}, nil

	case core.FrameTypeRequestResponse, core.FrameTypeRequestFNF, core.FrameTypeRequestStream, core.FrameTypeRequestChannel:
		return s.checkRequest(sid, typ, flags, body, bad)

	case core.FrameTypePayload:
		return s.checkPayload(sid, typ, flags, body, bad)

	case core.FrameTypeRequestN:
		if sid == 0 {
			return bad("REQUEST_N on stream id 0")
		}
		if err := checkFlags(flags, 0); err != "" {
			return bad("%s", err)
		}
		if len(body) != 4 {
			return bad("REQUEST_N body of %d bytes, want 4", len(body))
		}
		if binary.BigEndian.Uint32(body) == 0 {
			return bad("REQUEST_N with n = 0")
		}
		if sid&1 == 0 {
			// The responder side of a server-initiated stream: the
			// library ignores what it cannot match.
			return Decision{StreamID: sid}, nil
		}
		st, ok := s.streams[sid]
		if !ok || st.assembling || !st.out || st.kind == core.FrameTypeRequestResponse {
			return Decision{Action: Drop, StreamID: sid, Reason: "REQUEST_N for no open stream"}, nil
		}
		return Decision{StreamID: sid}, nil

	case core.FrameTypeCancel:
		if sid == 0 {
			return bad("CANCEL on stream id 0")
		}
		if err := checkFlags(flags, 0); err != "" {
			return bad("%s", err)
		}
		if len(body) != 0 {
			return bad("CANCEL with a %d-byte body", len(body))
		}
		if sid&1 == 0 {
			// rsocket-go panics on a CANCEL for a stream it initiated
			// (upstream #122).
			return Decision{Action: Drop, StreamID: sid, Reason: "CANCEL for a server-initiated stream"}, nil
		}
		hadChain := s.endChain(sid)
		st, ok := s.streams[sid]
		if !ok {
			if hadChain {
				// Let the library free its fragments of the stream.
				return Decision{StreamID: sid}, nil
			}
			return Decision{Action: Drop, StreamID: sid, Reason: "CANCEL for no open stream"}, nil
		}
		if st.assembling {
			delete(s.streams, sid)
			return Decision{StreamID: sid}, nil
		}
		st.out = false
		s.update(sid, st)
		return Decision{StreamID: sid}, nil

	case core.FrameTypeError:
		if err := checkFlags(flags, 0); err != "" {
			return bad("%s", err)
		}
		if len(body) < 4 {
			return bad("ERROR body of %d bytes, want at least 4", len(body))
		}
		if sid == 0 || sid&1 == 0 {
			// A connection error (the library closes the connection) or
			// the answer to a server-initiated request.
			if sid != 0 {
				s.endChain(sid)
			}
			return Decision{StreamID: sid}, nil
		}
		// The requester of a stream sent ERROR: legal on a channel, but
		// it crashes the library (upstream #149). Replace it.
		hadChain := s.endChain(sid)
		st, ok := s.streams[sid]
		if !ok {
			if hadChain {
				return Decision{Action: Substitute, StreamID: sid, Cancel: true, Reason: "requester ERROR"}, nil
			}
			return Decision{Action: Drop, StreamID: sid, Reason: "ERROR for no open stream"}, nil
		}
		delete(s.streams, sid)
		d := Decision{Action: Substitute, StreamID: sid, Reason: "requester ERROR"}
		switch {
		case st.assembling:
			d.Cancel = true
		case st.kind == core.FrameTypeRequestChannel:
			d.Cancel, d.Complete = st.out || hadChain, st.in
		default:
			d.Cancel = st.out
		}
		if !d.Cancel && !d.Complete {
			return Decision{Action: Drop, StreamID: sid, Reason: "ERROR for an ended stream"}, nil
		}
		return d, nil

	case core.FrameTypeResume, core.FrameTypeResumeOK:
		return bad("resumption is not supported")

	case core.FrameTypeLease:
		return bad("LEASE from a client")
	}
	if flags&core.FlagIgnore != 0 {
		return Decision{Action: Drop, StreamID: sid, Reason: "unknown frame type with the IGNORE flag"}, nil
	}
	return bad("unknown frame type %d", uint8(typ))
}

// checkRequest checks a REQUEST_* frame, which opens a stream.
func (s *State) checkRequest(sid uint32, typ core.FrameType, flags core.FrameFlag, body []byte, bad func(string, ...any) (Decision, error)) (Decision, error) {
	allowed := flagsRequest
	if typ == core.FrameTypeRequestChannel {
		allowed = flagsChannel
	}
	if err := checkFlags(flags, allowed); err != "" {
		return bad("%s", err)
	}
	if sid == 0 || sid&1 == 0 {
		return bad("request on stream id %d, a client must use odd ids", sid)
	}
	payload := body
	if typ == core.FrameTypeRequestStream || typ == core.FrameTypeRequestChannel {
		if len(body) < 4 {
			return bad("no initial request n")
		}
		if binary.BigEndian.Uint32(body) == 0 {
			return bad("initial request n = 0")
		}
		payload = body[4:]
	}
	if err := checkMetadata(flags, payload); err != "" {
		return bad("%s", err)
	}
	if _, ok := s.chains[sid]; ok {
		return bad("request on a stream whose fragments are still arriving")
	}
	if _, ok := s.streams[sid]; ok {
		return bad("request on a stream id already in use")
	}
	if len(payload) > s.lim.MaxPayloadSize {
		return bad("payload of %d bytes is over the %d-byte limit", len(payload), s.lim.MaxPayloadSize)
	}
	if s.refusing {
		if typ == core.FrameTypeRequestFNF {
			return Decision{Action: Drop, StreamID: sid, Reason: ReasonShuttingDown}, nil
		}
		return Decision{Action: Reject, StreamID: sid, Reason: ReasonShuttingDown}, nil
	}
	full := len(s.streams)+s.evenChains+s.discarding >= s.lim.MaxStreams
	if flags&core.FlagFollow != 0 {
		if full {
			return bad("fragmented request over the limit of %d open streams", s.lim.MaxStreams)
		}
		if err, busy := s.startChain(sid, typ, flags, len(payload)); err != "" {
			return bad("%s", err)
		} else if busy {
			s.discard(sid)
			return s.refuseBusy(sid, typ, false), nil
		}
		s.streams[sid] = stream{kind: typ, assembling: true}
		return Decision{StreamID: sid}, nil
	}
	if typ == core.FrameTypeRequestFNF {
		return Decision{StreamID: sid}, nil
	}
	if full {
		return Decision{Action: Reject, StreamID: sid, Reason: fmt.Sprintf("server busy: over the limit of %d open streams", s.lim.MaxStreams)}, nil
	}
	s.streams[sid] = openStream(typ, flags)
	return Decision{StreamID: sid}, nil
}

// checkPayload checks a PAYLOAD frame: a fragment of a chain, an item of a
// request-channel, or the answer to a server-initiated request.
func (s *State) checkPayload(sid uint32, typ core.FrameType, flags core.FrameFlag, body []byte, bad func(string, ...any) (Decision, error)) (Decision, error) {
	if sid == 0 {
		return bad("PAYLOAD on stream id 0")
	}
	if err := checkFlags(flags, flagsPayload); err != "" {
		return bad("%s", err)
	}
	if err := checkMetadata(flags, body); err != "" {
		return bad("%s", err)
	}
	if c := s.chains[sid]; c != nil {
		if c.discard {
			if flags&core.FlagFollow == 0 {
				delete(s.chains, sid)
				s.discarding--
			}
			return Decision{Action: Drop, StreamID: sid, Reason: "fragment of a request refused: " + s.busyReason()}, nil
		}
		if c.size+len(body) > s.lim.MaxPayloadSize {
			return bad("reassembled payload over the %d-byte limit", s.lim.MaxPayloadSize)
		}
		if s.pending+len(body) > s.lim.MaxPendingBytes {
			return bad("fragments waiting for reassembly over the %d-byte limit", s.lim.MaxPendingBytes)
		}
		if !s.shared.take(len(body)) {
			st, ok := s.streams[sid]
			if sid&1 == 0 || !ok || !st.assembling {
				return bad("%s", s.busyReason())
			}
			// A request still arriving: refused, its fragments so far
			// freed by the library on a CANCEL, the rest discarded.
			s.endChain(sid)
			delete(s.streams, sid)
			if flags&core.FlagFollow != 0 {
				s.discard(sid)
			}
			return s.refuseBusy(sid, st.kind, true), nil
		}
		c.size += len(body)
		s.pending += len(body)
		if flags&core.FlagFollow == 0 {
			s.endChain(sid)
			s.chainDone(sid, c)
		}
		return Decision{StreamID: sid}, nil
	}
	if len(body) > s.lim.MaxPayloadSize {
		return bad("payload of %d bytes is over the %d-byte limit", len(body), s.lim.MaxPayloadSize)
	}
	if sid&1 == 0 {
		// The answer to a server-initiated request. The library matches
		// it; only its reassembly needs bounds.
		if flags&core.FlagFollow != 0 {
			if len(s.streams)+s.evenChains+s.discarding >= s.lim.MaxStreams {
				return bad("fragmented payload over the limit of %d open streams", s.lim.MaxStreams)
			}
			if err, busy := s.startChain(sid, typ, flags, len(body)); err != "" {
				return bad("%s", err)
			} else if busy {
				// An answer cannot be refused; the connection is closed.
				return bad("%s", s.busyReason())
			}
			s.evenChains++
		}
		return Decision{StreamID: sid}, nil
	}
	st, ok := s.streams[sid]
	if !ok || st.assembling || st.kind != core.FrameTypeRequestChannel || !st.in {
		return Decision{Action: Drop, StreamID: sid, Reason: "PAYLOAD for no open request-channel"}, nil
	}
	if flags&(core.FlagNext|core.FlagComplete) == 0 {
		return Decision{Action: Drop, StreamID: sid, Reason: "PAYLOAD with neither NEXT nor COMPLETE"}, nil
	}
	if flags&core.FlagNext != 0 && !s.lim.DisableCreditCheck {
		if st.credit == 0 {
			return bad("request-channel PAYLOAD beyond the credit granted by REQUEST_N")
		}
		if st.credit < infinite {
			st.credit--
			s.streams[sid] = st
		}
	}
	if flags&core.FlagFollow != 0 {
		if err, busy := s.startChain(sid, typ, flags, len(body)); err != "" {
			return bad("%s", err)
		} else if busy {
			// An item of a channel cannot be refused alone.
			return bad("%s", s.busyReason())
		}
		return Decision{StreamID: sid}, nil
	}
	if flags&core.FlagComplete != 0 {
		st.in = false
		s.update(sid, st)
	}
	return Decision{StreamID: sid}, nil
}

// startChain records the first frame of a fragment chain. It returns the
// violation when the connection's own bound is exceeded, or busy when the
// server-wide budget is.
func (s *State) startChain(sid uint32, typ core.FrameType, flags core.FrameFlag, size int) (violation string, busy bool) {
	if s.pending+size > s.lim.MaxPendingBytes {
		return fmt.Sprintf("fragments waiting for reassembly over the %d-byte limit", s.lim.MaxPendingBytes), false
	}
	if !s.shared.take(size) {
		return "", true
	}
	s.chains[sid] = &chain{typ: typ, flags: flags, size: size}
	s.pending += size
	return "", false
}

// discard starts dropping the fragments of sid up to its last one.
func (s *State) discard(sid uint32) {
	s.chains[sid] = &chain{discard: true}
	s.discarding++
}

// busyReason is the text of a refusal for the server-wide budget.
func (s *State) busyReason() string {
	return fmt.Sprintf("server busy: fragments waiting for reassembly on all connections over the %d-byte limit", s.shared.Limit())
}

// refuseBusy is the decision on a request refused for the server-wide
// budget: REJECTED, or dropped for a fire-and-forget, with a CANCEL to the
// library when it already holds fragments of the request.
func (s *State) refuseBusy(sid uint32, kind core.FrameType, cancel bool) Decision {
	if kind == core.FrameTypeRequestFNF {
		if cancel {
			return Decision{Action: Substitute, StreamID: sid, Cancel: true, Reason: s.busyReason()}
		}
		return Decision{Action: Drop, StreamID: sid, Reason: s.busyReason()}
	}
	return Decision{Action: Reject, StreamID: sid, Cancel: cancel, Reason: s.busyReason()}
}

// endChain forgets the chain of sid, if any, and reports whether the
// library holds fragments of it (a discarded chain's it never got or has
// freed).
func (s *State) endChain(sid uint32) bool {
	c := s.chains[sid]
	if c == nil {
		return false
	}
	delete(s.chains, sid)
	if c.discard {
		s.discarding--
		return false
	}
	s.pending -= c.size
	s.shared.give(c.size)
	if sid&1 == 0 {
		s.evenChains--
	}
	return true
}

// chainDone updates the stream of a chain that just ended, as the library
// sees it: with the type and flags of the chain's first frame.
func (s *State) chainDone(sid uint32, c *chain) {
	st, ok := s.streams[sid]
	if !ok {
		return
	}
	if st.assembling {
		if c.typ == core.FrameTypeRequestFNF {
			delete(s.streams, sid)
			return
		}
		s.streams[sid] = openStream(st.kind, c.flags)
		return
	}
	if st.kind == core.FrameTypeRequestChannel && c.flags&core.FlagComplete != 0 {
		st.in = false
		s.update(sid, st)
	}
}

func openStream(typ core.FrameType, flags core.FrameFlag) stream {
	st := stream{kind: typ, out: true}
	if typ == core.FrameTypeRequestChannel {
		st.in = flags&core.FlagComplete == 0
	}
	return st
}

// update stores st as the stream sid, or forgets it once both its sides
// have ended.
func (s *State) update(sid uint32, st stream) {
	if !st.out && (st.kind != core.FrameTypeRequestChannel || !st.in) {
		delete(s.streams, sid)
		return
	}
	s.streams[sid] = st
}

// Outbound records a frame the server writes: its header and, for
// REQUEST_N, n. It is how the state learns that a stream the client opened
// ended (the server's final PAYLOAD, ERROR or CANCEL) and how much credit a
// request-channel client has.
//
// It returns the flags the frame must be written with. They differ from
// h's in one case: rsocket-go puts the COMPLETE flag of a fragmented
// request-response answer on its first fragment, where rsocket-js 0.0.27
// stops reassembling; the spec and the other implementations put it on
// the last one, and so does the transport. (rsocket-go's own requester
// does not look at COMPLETE on request-response.)
//
// send is false for a frame that must not reach the peer: a CANCEL on a
// stream the client opened. The server sends one to end the client's side
// of a request-channel, which the spec allows, but an rsocket-go v0.8.16
// requester handles CANCEL only for streams it responds to and panics
// ("unreachable: should never occur socket.requestChannelCallback"),
// killing the client process. Instead the state stops accepting the
// client's items on that stream: they are dropped on arrival.
func (s *State) Outbound(h core.FrameHeader, n uint32) (flags core.FrameFlag, send bool) {
	sid := h.StreamID()
	flags = h.Flag()
	if sid == 0 && h.Type() == core.FrameTypeError {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}
	if sid&1 == 0 {
		return flags, true
	}
	cancel := h.Type() == core.FrameTypeCancel
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[sid]
	if !ok || st.assembling {
		return flags, !cancel
	}
	switch h.Type() {
	case core.FrameTypeError:
		delete(s.streams, sid)
	case core.FrameTypeCancel:
		st.in = false
		s.update(sid, st)
	case core.FrameTypeRequestN:
		if st.kind == core.FrameTypeRequestChannel {
			st.credit = int32(min(int64(st.credit)+int64(n), infinite))
			s.streams[sid] = st
		}
	case core.FrameTypePayload:
		rr := st.kind == core.FrameTypeRequestResponse
		follows := flags&core.FlagFollow != 0
		switch {
		case st.outChain:
			if !follows {
				st.outChain = false
				if rr || st.outChainDone {
					st.out = false
				}
				if rr && st.outChainDone {
					flags |= core.FlagComplete
				}
			}
		case follows:
			st.outChain, st.outChainDone = true, flags&core.FlagComplete != 0
			if rr {
				flags &^= core.FlagComplete
			}
		case rr || flags&core.FlagComplete != 0:
			st.out = false
		}
		s.update(sid, st)
	}
	return flags, !cancel
}

// definedFlags returns the flag bits the spec defines for a frame type,
// the IGNORE bit aside; ok is false for types Check refuses anyway.
func definedFlags(typ core.FrameType) (flags core.FrameFlag, ok bool) {
	switch typ {
	case core.FrameTypeSetup:
		return flagsSetup, true
	case core.FrameTypeKeepalive:
		return core.FlagRespond, true
	case core.FrameTypeMetadataPush:
		return core.FlagMetadata, true
	case core.FrameTypeRequestResponse, core.FrameTypeRequestFNF, core.FrameTypeRequestStream:
		return flagsRequest, true
	case core.FrameTypeRequestChannel:
		return flagsChannel, true
	case core.FrameTypePayload:
		return flagsPayload, true
	case core.FrameTypeRequestN, core.FrameTypeCancel, core.FrameTypeError:
		return 0, true
	}
	return 0, false
}

// checkFlags returns a complaint when flags has bits outside allowed and
// IGNORE.
func checkFlags(flags, allowed core.FrameFlag) string {
	if extra := flags &^ (allowed | core.FlagIgnore); extra != 0 {
		return fmt.Sprintf("flags %#03x not allowed on this frame type", uint16(extra))
	}
	return ""
}

// checkMetadata checks that the metadata length of a payload, present when
// the METADATA flag is set, stays within it.
func checkMetadata(flags core.FrameFlag, payload []byte) string {
	if flags&core.FlagMetadata == 0 {
		return ""
	}
	if len(payload) < 3 {
		return "METADATA flag set but no metadata length"
	}
	n := int(payload[0])<<16 | int(payload[1])<<8 | int(payload[2])
	if n > len(payload)-3 {
		return fmt.Sprintf("metadata length %d past the end of the frame (%d bytes left)", n, len(payload)-3)
	}
	return ""
}

// checkSetup checks the layout of a SETUP body and returns the max
// lifetime to enforce.
func (s *State) checkSetup(flags core.FrameFlag, body []byte) (time.Duration, string) {
	if len(body) < 12 {
		return 0, fmt.Sprintf("SETUP body of %d bytes is truncated", len(body))
	}
	if major := binary.BigEndian.Uint16(body); major != 1 {
		return 0, fmt.Sprintf("unsupported protocol version %d.%d", major, binary.BigEndian.Uint16(body[2:]))
	}
	keepalive := binary.BigEndian.Uint32(body[4:])
	lifetime := binary.BigEndian.Uint32(body[8:])
	if keepalive == 0 || keepalive > math.MaxInt32 {
		return 0, fmt.Sprintf("keepalive interval %d ms out of range", keepalive)
	}
	if lifetime == 0 || lifetime > math.MaxInt32 {
		return 0, fmt.Sprintf("max lifetime %d ms out of range", lifetime)
	}
	rest := body[12:]
	if flags&core.FlagResume != 0 {
		if len(rest) < 2 {
			return 0, "SETUP truncated in its resume token length"
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n > len(rest)-2 {
			return 0, fmt.Sprintf("resume token length %d past the end of the SETUP", n)
		}
		rest = rest[2+n:]
	}
	for _, what := range [...]string{"metadata", "data"} {
		if len(rest) < 1 {
			return 0, fmt.Sprintf("SETUP truncated before its %s MIME type", what)
		}
		n := int(rest[0])
		if n > len(rest)-1 {
			return 0, fmt.Sprintf("%s MIME type length %d past the end of the SETUP", what, n)
		}
		for _, c := range rest[1 : 1+n] {
			if c < 0x20 || c > 0x7e {
				return 0, fmt.Sprintf("%s MIME type is not printable ASCII", what)
			}
		}
		rest = rest[1+n:]
	}
	if err := checkMetadata(flags, rest); err != "" {
		return 0, err
	}
	if len(rest) > s.lim.MaxPayloadSize {
		return 0, fmt.Sprintf("SETUP payload of %d bytes is over the %d-byte limit", len(rest), s.lim.MaxPayloadSize)
	}
	return min(time.Duration(lifetime)*time.Millisecond, s.lim.MaxLifetime), ""
}
