package chatserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// TestChannelCancelKeepsGoClientAlive is a regression test: a client that
// sends a statistics update and then cancels the channel used to receive
// the server's CANCEL for the channel's inbound side, on which an
// rsocket-go v0.8.16 requester panics ("unreachable: should never occur
// socket.requestChannelCallback"), killing this test process. The guard
// transport now withholds CANCEL on client-initiated streams.
func TestChannelCancelKeepsGoClientAlive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr, cfg.WSAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	srv, err := chatserver.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())

	c, err := chat.Dial(ctx, srv.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "canceller"); err != nil {
		t.Fatal(err)
	}
	// The panic came on some runs only: repeat, with and without reading
	// a report before cancelling.
	for i := range 40 {
		ch, err := c.Statistics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Send(chat.ServerStatisticsRequest{IDs: []string{"users"}}); err != nil {
			t.Fatalf("round %d: update: %v", i, err)
		}
		if i%2 == 0 {
			for st, err := range ch.Recv() {
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				if st.UserCount == nil || *st.UserCount != 1 {
					t.Fatalf("round %d: report %+v, want user_count 1", i, st)
				}
				break // cancels the channel
			}
		}
		ch.Close()
		// The connection keeps serving after each cancel.
		if err := c.ChannelJoin(ctx, "after-cancel"); err != nil {
			t.Fatalf("round %d: join after cancel: %v", i, err)
		}
	}
}
