// Package guard keeps hostile RSocket traffic away from rsocket-go.
//
// rsocket-go v0.8.16 trusts the bytes it reads: a frame whose metadata
// length points past its end, a truncated SETUP, an ERROR frame from a
// requester or a CANCEL for a server-initiated stream makes it panic on a
// goroutine nobody recovers, which kills the whole process; fragments that
// never finish, connections that never send SETUP and channel peers that
// ignore REQUEST_N make it hold memory without limit.
//
// This package replaces the library's transports with checking ones. A
// [State] follows one connection: [State.Check] judges each inbound frame
// as raw bytes (header, type, flags, stream id rules, metadata lengths,
// SETUP layout, fragment chains, stream and credit accounting) before
// framing.FromBytes ever sees it, and [State.Outbound] learns from the
// frames the server writes when its streams end. A frame is delivered,
// dropped, answered with REJECTED, replaced by a safe equivalent, answered
// by the transport itself (a KEEPALIVE echo, written before the next frame
// is read), or, when it breaks the protocol, the connection is closed.
// Nothing is allocated for bytes that have not arrived: a frame's buffer
// grows with what is read, not with the length the frame declares. An
// idle TCP connection holds no read or write buffer either: it waits with
// 512 bytes of its own and takes pooled 4 KiB buffers while frames come
// and go.
//
// rsocket-go's write loop flushes after every frame that reaches it
// alone, which in a fan-out is one write system call per delivery. The
// connections' flushes are combined instead: a goroutine of the
// combiner's own writes out every connection that flushed, without
// waiting for any socket, so that a busy server sends several frames per
// system call and an idle one pays nothing (see combine.go). On the way
// in, the library's read loop hands each request to a goroutine of its
// own; a connection with nothing more buffered yields to it before
// reading again, so that the request is handled before the read that
// finds nothing, not after it.
//
// [NewTCPServer] and [NewWebSocketServer] are rsocket-go server transports
// built on that check, with the limits of a [Limits] value; [Stats] counts
// what they refused, and the frames they read and wrote. On the way out,
// the transports also correct two things rsocket-go writes: the code of a
// SETUP refusal (see [SetupError]) and the fragment that carries COMPLETE
// in a fragmented request-response answer (see [State.Outbound]). Frame
// flags a type does not define are cleared on the way in, as the spec asks
// of receivers.
// A connection that ends with a connection ERROR (a refused SETUP) is
// half-closed and drained briefly before it is closed, after a close
// frame over WebSocket, so that the client reads the ERROR and the end of
// the stream (a normal closure) instead of a reset.
//
// A WebSocket server checks the Origin of each upgrade against an
// [OriginPolicy] (browsers let any site open a WebSocket to any server),
// and can hand plain HTTP requests to a handler of its own (Options.HTTP),
// so that a web client's page shares the port.
//
// # Which room, and why it imports rsocket-go
//
// Below the boundary (gen/rsrt/internal/rsock) and above the socket. This
// package is the one place besides the boundary whose non-test files
// import rsocket-go, and only its frame and transport layers (core,
// core/framing, core/transport), never its socket API: its servers are
// the library's server transports (transport.ServerTransport), its
// connections are transport.Conn, and the frames it hands up and writes
// are the library's frame types, because the library's read and write
// loops consume exactly those. The raw-byte checks themselves ([State])
// use only the library's frame-type and flag constants. gen/rsrt's
// TestOneBoundaryAroundTheLibrary lists it, with this reason. Change it
// when the wire protocol or a limit changes; a fix of the library's
// frame parsing upstream would shrink [State.Check], not move it.
package guard
