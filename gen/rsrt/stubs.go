package rsrt

// TEMPORARY: compile-only stubs of the runtime internals, replaced by the
// real implementation. Everything here panics.

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/rsocket/rsocket-go"
)

func interactionString(i Interaction) string {
	switch i {
	case RequestResponse:
		return "request-response"
	case FireAndForget:
		return "fire-and-forget"
	case RequestStream:
		return "request-stream"
	case RequestChannel:
		return "request-channel"
	case MetadataPush:
		return "metadata-push"
	}
	return "unknown"
}

type handler[S any] struct {
	rr  func(ctx context.Context, s S, req *Payload) (Payload, error)
	fnf func(ctx context.Context, s S, req *Payload) error
	rs  func(ctx context.Context, s S, req *Payload, out *RawSender) error
	rc  func(ctx context.Context, s S, in *RawInbound, out *RawSender) error
	mp  func(ctx context.Context, s S, req *Payload) error
}

type routeTable[S any] struct{}

func newRouteTable[S any]() routeTable[S] { return routeTable[S]{} }
func (t *routeTable[S]) add(i Interaction, route string, initialEmpty bool, h handler[S]) {
}
func (t *routeTable[S]) declarations() []Declaration { panic("unimplemented") }

func newResponder[S any](ctx context.Context, t *routeTable[S], s S, log *slog.Logger, c *conn) rsocket.RSocket {
	panic("unimplemented")
}

type sender struct{}

func (s *sender) send(ctx context.Context, r Payload) error { panic("unimplemented") }

type inbound struct{}

func (in *inbound) recv(ctx context.Context) (*Payload, error) { panic("unimplemented") }

func inboundAll[T any](in *Inbound[T]) iter.Seq2[T, error] { panic("unimplemented") }

type acceptConfig struct {
	log  *slog.Logger
	gate *Gate
}

func newAcceptor[S any](routes *Routes[S], newServer func(ctx context.Context, conn *Conn) (S, error), opts []AcceptOption) rsocket.ServerAcceptor {
	panic("unimplemented")
}

type conn struct {
	ctx    context.Context
	setup  Setup
	addr   string
	caller *Caller
}

func (c *conn) declares(i Interaction, route string) bool { panic("unimplemented") }

type caller struct{}

func (c *caller) requestResponse(ctx context.Context, route string, req Payload) (*Payload, error) {
	panic("unimplemented")
}
func (c *caller) fireAndForget(ctx context.Context, route string, req Payload) error {
	panic("unimplemented")
}
func (c *caller) metadataPush(ctx context.Context, route string, entries Metadata) error {
	panic("unimplemented")
}
func (c *caller) requestStream(ctx context.Context, route string, req Payload) iter.Seq2[*Payload, error] {
	panic("unimplemented")
}
func (c *caller) requestChannel(ctx context.Context, route string, first *Payload) (*RawChannel, error) {
	panic("unimplemented")
}

type channel struct{ route string }

func (c *channel) send(ctx context.Context, r Payload) error { panic("unimplemented") }
func (c *channel) closeSend() error                          { panic("unimplemented") }
func (c *channel) recv() iter.Seq2[*Payload, error]          { panic("unimplemented") }
func (c *channel) close() error                              { panic("unimplemented") }

func decodeSeq[T any](raw iter.Seq2[*Payload, error], route string, dec func(*Payload) (T, error)) iter.Seq2[T, error] {
	panic("unimplemented")
}

type dialConfig struct {
	setupData   []byte
	prefetch    int
	keepalive   time.Duration
	maxLifetime time.Duration
	log         *slog.Logger
	onClose     func(error)
	decls       []Declaration
	responder   func(ctx context.Context, log *slog.Logger) rsocket.RSocket
}

func dial(ctx context.Context, addr string, opts []DialOption) (*ClientConn, error) {
	panic("unimplemented")
}

type clientConn struct {
	caller *Caller
	done   chan struct{}
}

func (c *clientConn) close() error { panic("unimplemented") }

type gate struct{}

func newGate() *Gate                           { panic("unimplemented") }
func (g *gate) close()                         { panic("unimplemented") }
func (g *gate) wait(ctx context.Context) error { panic("unimplemented") }
func (g *gate) inFlight() int                  { panic("unimplemented") }
