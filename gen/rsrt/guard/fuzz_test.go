package guard

import (
	"encoding/binary"
	"testing"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// fuzzLimits are small, so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxFrameSize: 4096, MaxPayloadSize: 256, MaxPendingBytes: 512, MaxStreams: 4}

// FuzzCheck feeds a connection's State with a sequence of records, each
// one byte of kind, two bytes of length and the frame: an inbound frame for
// Check when the kind is even, otherwise an outbound frame header (and
// REQUEST_N value) for Outbound. When setup is set, a valid SETUP comes
// first. Check must never panic, every frame it lets through must be one
// rsocket-go can decode and read without panicking, and the state must
// stay within its limits.
func FuzzCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, setup bool, data []byte) {
		s := NewState(fuzzLimits)
		if setup {
			if _, err := s.Check(validSetup()); err != nil {
				t.Fatal(err)
			}
		}
		for len(data) >= 3 {
			kind := data[0]
			n := min(int(binary.BigEndian.Uint16(data[1:])), len(data)-3)
			frame := data[3 : 3+n]
			data = data[3+n:]
			if kind&1 == 1 {
				if len(frame) >= core.FrameHeaderLen {
					var reqN uint32
					if len(frame) >= core.FrameHeaderLen+4 {
						reqN = binary.BigEndian.Uint32(frame[core.FrameHeaderLen:])
					}
					s.Outbound(core.ParseFrameHeader(frame), reqN)
				}
				continue
			}
			d, err := s.Check(frame)
			if err != nil {
				return // the connection is closed
			}
			if d.Action == Deliver {
				readAll(t, frame)
			}
			if n := s.OpenStreams(); n > fuzzLimits.MaxStreams {
				t.Fatalf("%d streams open, over the limit", n)
			}
			if s.pending < 0 || s.pending > fuzzLimits.MaxPendingBytes {
				t.Fatalf("%d bytes pending", s.pending)
			}
		}
	})
}

// readAll decodes a delivered frame and calls every accessor the library
// uses on it.
func readAll(t *testing.T, frame []byte) {
	f, err := framing.FromBytes(frame)
	if err != nil {
		t.Fatalf("delivered frame % x does not decode: %v", frame, err)
	}
	defer f.Release()
	if err := f.Validate(); err != nil {
		t.Fatalf("delivered frame % x does not validate: %v", frame, err)
	}
	type payloadish interface {
		Metadata() ([]byte, bool)
		Data() []byte
	}
	if p, ok := f.(payloadish); ok {
		p.Metadata()
		p.Data()
	}
	switch v := f.(type) {
	case *framing.SetupFrame:
		v.Version()
		v.TimeBetweenKeepalive()
		v.MaxLifetime()
		v.Token()
		v.DataMimeType()
		v.MetadataMimeType()
	case *framing.RequestStreamFrame:
		v.InitialRequestN()
	case *framing.RequestChannelFrame:
		v.InitialRequestN()
	case *framing.RequestNFrame:
		v.N()
	case *framing.ErrorFrame:
		_ = v.ToError()
	case *framing.KeepaliveFrame:
		v.LastReceivedPosition()
	}
}
