// Package frametest builds RSocket frames as bytes for the tests of the
// checking transports (gen/rsrt/guard) and of the server
// (gen/rsrt/server): valid frames as rsocket-go writes them, hostile ones
// by hand, header and fields byte by byte. Frames come without the TCP
// length prefix. It is imported by tests only.
//
// It uses rsocket-go's frame types (core), as the frame checker it serves
// does, and none of the library's socket API; gen/rsrt's
// TestOneBoundaryAroundTheLibrary lists it as allowed to, for tests only.
package frametest

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// Wire returns the bytes of a frame built by rsocket-go.
func Wire(f core.WriteableFrame) []byte {
	var b bytes.Buffer
	if _, err := f.WriteTo(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Raw builds a frame by hand: the header for sid, typ and flags, then the
// body's parts in order.
func Raw(sid uint32, typ core.FrameType, flags core.FrameFlag, body ...[]byte) []byte {
	h := core.NewFrameHeader(sid, typ, flags)
	out := append([]byte(nil), h[:]...)
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// Setup returns a valid SETUP as the tutorial's clients send it (version
// 1.0, keepalive every 500 ms, max lifetime 10 min, no resume token,
// composite metadata and JSON), carrying data and metadata.
func Setup(data, metadata []byte) []byte {
	return Wire(framing.NewWriteableSetupFrame(core.DefaultVersion, 500*time.Millisecond, 10*time.Minute, nil,
		[]byte("message/x.rsocket.composite-metadata.v0"), []byte("application/json"), data, metadata, false))
}

// U24 returns n as a 24-bit big-endian length, as RSocket writes metadata
// lengths and the TCP frame length.
func U24(n int) []byte { return []byte{byte(n >> 16), byte(n >> 8), byte(n)} }

// U32 returns n as 4 big-endian bytes.
func U32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
