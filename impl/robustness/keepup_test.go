package robustness

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// A reader that keeps up loses nothing, even when its own connection
// carries 256 requests in flight: one connection, joined to a channel of
// its own, drains its messages.incoming stream while 256 `message`
// requests to that channel are kept in flight. With a fixed 64-item
// demand window the stream delivered a third of what the requests
// produced (one item window per round trip, and the round trip grows with
// the requests in flight) and the session queue dropped the rest; drops
// are for readers that do not read.
func TestReaderThatKeepsUpLosesNothing(t *testing.T) {
	const inflight, total = 256, 20_000
	srv := startServer(t, t.TempDir(), func(cfg *chatserver.Config) { cfg.WSAddr = "127.0.0.1:0" })
	for _, tc := range []struct{ name, addr string }{{"tcp", srv.TCPAddr()}, {"websocket", srv.WSURL()}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			user := "keeper-" + tc.name
			c := login(t, tc.addr, user)
			if err := c.ChannelJoin(ctx, user); err != nil {
				t.Fatal(err)
			}
			dropped0 := srv.Service().Stats().Dropped
			var got atomic.Int64
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				for _, err := range c.MessagesIncoming(sctx) {
					if err != nil {
						return
					}
					got.Add(1)
				}
			}()
			send := func() error {
				return c.Message(ctx, chat.Message{Channel: &user, Content: str("x")})
			}
			// The stream is open once the first message comes back.
			if err := send(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the first message delivered", func() bool { return got.Load() == 1 })

			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, inflight)
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= total {
						if err := send(); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("message: %v", err)
			}
			eventually(t, fmt.Sprintf("%d messages delivered (%d so far, %d dropped)", total+1, got.Load(), srv.Service().Stats().Dropped-dropped0),
				func() bool { return got.Load() == total+1 })
			if d := srv.Service().Stats().Dropped - dropped0; d != 0 {
				t.Errorf("%d messages dropped for a reader that kept reading", d)
			}
		})
	}
}
