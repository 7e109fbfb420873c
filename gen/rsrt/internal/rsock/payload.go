package rsock

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/extension"
	"github.com/rsocket/rsocket-go/payload"
)

// Payload is a payload as it crosses the boundary: its bytes belong to
// whoever holds it, never to the library (see the package doc, entry
// "Payload bytes are views of pooled buffers").
type Payload struct {
	// Data is the payload data; nil when empty.
	Data []byte
	// Metadata is the payload metadata; nil when the payload has none
	// (an empty, present metadata is an empty non-nil slice).
	Metadata []byte
	// Done, on an outbound payload, is called once the library is done
	// with its bytes: its last frame was written, or it was dropped
	// (with its stream or connection), or the library never took it.
	// It is how a response budget learns its bytes left (entry
	// "Response budget through the library's Releasable interface").
	Done func()
}

// ErrReleased is what a subscriber of [Client.RequestResponse] receives
// (through OnError, before the library's own end) when the response's
// frame was released under the read loop by the connection closing: its
// bytes are lost.
var ErrReleased = errors.New("rsock: the connection closed while its frame was read")

// copyIn copies p out of the library's pooled buffers. rsocket-go releases
// the frames it still holds when a connection closes, concurrently with
// the read loop delivering them; reading a released frame panics, which
// on the read loop would end the process: ok is false then.
func copyIn(p payload.Payload) (out Payload, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = Payload{}, false
		}
	}()
	d := p.Data()
	md, present := p.Metadata()
	if !present {
		if len(d) > 0 {
			out.Data = append([]byte(nil), d...)
		}
		return out, true
	}
	// One allocation for both: a request's metadata is a few bytes.
	buf := make([]byte, len(d)+len(md))
	copy(buf, d)
	copy(buf[len(d):], md)
	if len(d) > 0 {
		out.Data = buf[:len(d):len(d)]
	}
	out.Metadata = buf[len(d):]
	return out, true
}

// Incoming is a request the library delivered, still in its buffers: it
// is valid only during the call it is handed to.
type Incoming struct{ p payload.Payload }

// Size returns the bytes of data and metadata, without copying them.
func (in Incoming) Size() int {
	n := len(in.p.Data())
	if md, ok := in.p.Metadata(); ok {
		n += len(md)
	}
	return n
}

// Claim claims the request's ticket in a, for a one-way request (see
// Arrivals.Claim): false when it has none.
func (in Incoming) Claim(a *Arrivals) (uint64, bool) { return a.Claim(in.p) }

// Copy copies the request out of the library's buffers (see copyIn).
func (in Incoming) Copy() (Payload, bool) { return copyIn(in.p) }

// lib returns p as the library's payload: a heldPayload when p has a Done.
func (p Payload) lib() payload.Payload {
	if p.Done == nil {
		return &outPayload{data: p.Data, md: p.Metadata}
	}
	return &heldPayload{outPayload: outPayload{data: p.Data, md: p.Metadata}, done: p.Done}
}

// outPayload is an outbound payload in the library's type, as
// payload.New makes it, but a value that can be part of another.
type outPayload struct{ data, md []byte }

// Metadata implements payload.Payload.
func (p *outPayload) Metadata() ([]byte, bool) { return p.md, len(p.md) > 0 }

// MetadataUTF8 implements payload.Payload.
func (p *outPayload) MetadataUTF8() (string, bool) { return string(p.md), len(p.md) > 0 }

// Data implements payload.Payload.
func (p *outPayload) Data() []byte { return p.data }

// DataUTF8 implements payload.Payload.
func (p *outPayload) DataUTF8() string { return string(p.data) }

// heldPayload is an outbound payload whose Done is called once rsocket-go
// is done with it: it implements the library's Releasable interface
// (IncRef, RefCnt, Release), whose Release the library calls once the
// payload's last frame is written or dropped.
type heldPayload struct {
	outPayload
	done func()
	refs atomic.Int32
	once sync.Once
}

// IncRef is called by the library when it queues the payload.
func (p *heldPayload) IncRef() int32 { return p.refs.Add(1) }

// RefCnt returns the references the library holds.
func (p *heldPayload) RefCnt() int32 { return p.refs.Load() }

// Release is called by the library once the payload's last frame is
// written (or dropped: a reactor-go operator that drops a value releases
// it without IncRef).
func (p *heldPayload) Release() {
	if p.refs.Add(-1) <= 0 {
		p.free()
	}
}

func (p *heldPayload) free() { p.once.Do(p.done) }

// settle calls Done if the library did not take the payload during the
// hand-off (a subscriber already cancelled, a connection closing): the
// library queues a payload synchronously, so after the hand-off returned,
// no reference means none will come.
func settle(p payload.Payload) {
	if hp, ok := p.(*heldPayload); ok && hp.refs.Load() == 0 {
		hp.free()
	}
}

// ErrorCode is an RSocket error code (the library's type).
type ErrorCode = core.ErrorCode

// PeerError returns the code and text of an ERROR frame the library
// reports as err, if it is one.
func PeerError(err error) (ErrorCode, string, bool) {
	var ce core.CustomError
	if errors.As(err, &ce) {
		return ce.ErrorCode(), string(ce.ErrorData()), true
	}
	return 0, "", false
}

// WellKnownMIME returns the MIME type of a composite-metadata well-known
// id, or "" when the library does not know the id.
func WellKnownMIME(id byte) string { return extension.MIME(id).String() }

// WellKnownID returns the well-known id of a MIME type, if it has one.
func WellKnownID(mime string) (byte, bool) {
	id, ok := extension.ParseMIME(mime)
	return byte(id), ok
}

// RoutingID is the well-known id of message/x.rsocket.routing.v0.
const RoutingID = byte(extension.MessageRouting)
