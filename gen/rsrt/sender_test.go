package rsrt

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// The peer's CANCEL also ends the handler's context, and a send about to
// wait for demand when it comes sees both at once (it checks its state,
// unlocks, then selects): it must report ErrCancelled, the cause, not
// the context's end (TestWebSocket saw "context canceled" in a loaded
// CI run). Only a context that ended by itself is reported as such.
func TestSendReportsTheCancelNotItsContext(t *testing.T) {
	scope := clientScope(rsock.NewArrivals(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	s := newSender(scope, &handlerCtx{Context: ctx, b: scope.budget}, make(chan struct{}), cancel)
	cancel()
	if err := s.ctxErr(ctx); err != context.Canceled {
		t.Fatalf("the handler's context ended alone: %v, want context.Canceled", err)
	}
	s.cancel()
	if err := s.ctxErr(ctx); err != ErrCancelled {
		t.Fatalf("after the peer's cancel: %v, want ErrCancelled", err)
	}
	if err := s.sendRaw(ctx, rsock.Payload{Data: []byte("x")}); err != ErrCancelled {
		t.Fatalf("a send after the peer's cancel: %v, want ErrCancelled", err)
	}
}
