package guard

import "time"

// Default limits. They fit the chat contract: peers fragment at 1,000,000
// bytes, uploads are several MiB, tutorial clients declare a 10-minute max
// lifetime and keep alive every 500 ms.
const (
	// DefaultMaxFrameSize is the largest frame length the TCP framing can
	// express (24 bits).
	DefaultMaxFrameSize = 1<<24 - 1
	// DefaultMaxPayloadSize bounds one payload, reassembled from fragments.
	DefaultMaxPayloadSize = 16 << 20
	// DefaultMaxPendingBytes bounds the fragments of one connection
	// waiting for the rest of their payload (or twice MaxPayloadSize, if
	// that is more).
	DefaultMaxPendingBytes = 32 << 20
	// DefaultMaxServerPendingBytes bounds the fragments waiting for the
	// rest of their payload on all connections of a server together.
	DefaultMaxServerPendingBytes = 256 << 20
	// DefaultMaxStreams bounds the streams a connection has open at once.
	DefaultMaxStreams = 1024
	// DefaultMaxConnections bounds the connections of one listener.
	DefaultMaxConnections = 10000
	// DefaultSetupTimeout is how long a new connection may take to send
	// its SETUP frame.
	DefaultSetupTimeout = 10 * time.Second
	// DefaultMaxLifetime caps the max lifetime a client declares in SETUP.
	DefaultMaxLifetime = 10 * time.Minute
	// DefaultWriteTimeout bounds the write of one frame to a peer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxKeepaliveData bounds the data of a KEEPALIVE frame.
	// Clients send none (rsocket-go, rsocket-js, rsocket-py, rsocket-java).
	DefaultMaxKeepaliveData = 4 << 10
)

// Limits are the per-connection limits of a checking transport. A zero or
// negative field takes its default.
type Limits struct {
	// MaxFrameSize is the largest frame accepted, header included, in
	// bytes (default DefaultMaxFrameSize). A larger frame closes the
	// connection before it is read.
	MaxFrameSize int
	// MaxPayloadSize is the largest payload (frame bodies, summed over a
	// chain of FOLLOWS fragments) accepted on one stream (default
	// DefaultMaxPayloadSize). A larger one closes the connection.
	MaxPayloadSize int
	// MaxPendingBytes bounds the bytes a connection holds in unfinished
	// fragment chains, all streams together (default
	// DefaultMaxPendingBytes, or 2 × MaxPayloadSize if that is more).
	// Going over it closes the connection.
	MaxPendingBytes int
	// MaxServerPendingBytes bounds the bytes held in unfinished fragment
	// chains by all the connections that share a Reassembly budget
	// together: those of a Server, or of both transports of a
	// server.Server (default DefaultMaxServerPendingBytes, and at least
	// MaxPendingBytes). A request whose fragments would go over it is
	// answered with REJECTED ("server busy") and the rest of its
	// fragments discarded; the connection stays open.
	MaxServerPendingBytes int
	// MaxStreams is how many streams a client may have open at once on a
	// connection, requests being reassembled included (default
	// DefaultMaxStreams). A request over the limit is answered with
	// REJECTED; a fragmented one closes the connection.
	MaxStreams int
	// MaxConnections is how many connections one listener serves at once
	// (default DefaultMaxConnections); more are closed on accept.
	MaxConnections int
	// SetupTimeout is how long a connection may stay without sending its
	// SETUP frame before it is closed (default DefaultSetupTimeout).
	SetupTimeout time.Duration
	// MaxLifetime caps the max lifetime declared in SETUP (default
	// DefaultMaxLifetime). After SETUP, a connection that sends nothing
	// (not even a KEEPALIVE) for its max lifetime is closed (at most an
	// eighth of it later: see lazyDeadline).
	MaxLifetime time.Duration
	// WriteTimeout bounds the write of one frame (at most one fragment) to
	// the peer (default DefaultWriteTimeout). A peer that does not read
	// for that long is disconnected rather than left to fill the
	// library's unbounded send queue. A write may get up to an eighth
	// more (see lazyDeadline).
	WriteTimeout time.Duration
	// MaxKeepaliveData is the largest data a KEEPALIVE frame may carry
	// (default DefaultMaxKeepaliveData); more closes the connection. The
	// transport echoes a KEEPALIVE itself (see Echo), data included.
	MaxKeepaliveData int
	// WSReadLimit is the largest WebSocket message accepted, in bytes
	// (default MaxFrameSize). Over it the connection is closed.
	WSReadLimit int64
	// DisableCreditCheck lets a request-channel client send more payloads
	// than the server requested with REQUEST_N. By default that closes
	// the connection, since the library would buffer them without bound.
	DisableCreditCheck bool
}

// WithDefaults returns l with every unset field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxFrameSize <= 0 {
		l.MaxFrameSize = DefaultMaxFrameSize
	}
	if l.MaxPayloadSize <= 0 {
		l.MaxPayloadSize = DefaultMaxPayloadSize
	}
	if l.MaxPendingBytes <= 0 {
		// Room for two payloads of the largest size at once.
		l.MaxPendingBytes = max(DefaultMaxPendingBytes, 2*l.MaxPayloadSize)
	}
	if l.MaxServerPendingBytes <= 0 {
		l.MaxServerPendingBytes = DefaultMaxServerPendingBytes
	}
	l.MaxServerPendingBytes = max(l.MaxServerPendingBytes, l.MaxPendingBytes)
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.SetupTimeout <= 0 {
		l.SetupTimeout = DefaultSetupTimeout
	}
	if l.MaxLifetime <= 0 {
		l.MaxLifetime = DefaultMaxLifetime
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.MaxKeepaliveData <= 0 {
		l.MaxKeepaliveData = DefaultMaxKeepaliveData
	}
	if l.WSReadLimit <= 0 {
		l.WSReadLimit = int64(l.MaxFrameSize)
	}
	return l
}
