package e2e_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

// TestOpenMetadata checks a request-channel's open_metadata over TCP and
// WebSocket: the entries travel once, in the REQUEST_CHANNEL frame, reach
// the handler as parameters, and stay out of the items (whose own entries
// are unaffected), with a first item and with initial: empty. A first
// frame without a required open entry ends the channel with an error
// naming the route.
func TestOpenMetadata(t *testing.T) {
	rec := newRecorder()
	s := serveBoth(t, func(peer *kitchen.Peer) kitchen.Server {
		return &server{peer: peer, events: make(chan string, 1024)}
	}, rsrt.WithInterceptors(rec))
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			rec.skip()
			c, _ := s.dial(t, addr)
			ctx := ctxFor(t)

			tag := "blue"
			ch, err := c.ChannelTraced(ctx, "trace-1", &tag, kitchen.ChannelTracedRequest{Data: "a", Checksum: []byte{1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Send(kitchen.ChannelTracedRequest{Data: "b"}); err != nil {
				t.Fatal(err)
			}
			_ = ch.CloseSend()
			if got, want := collect(t, ch.Recv()), []string{"trace-1 blue a 2", "trace-1 blue b 0"}; !slices.Equal(got, want) {
				t.Errorf("channel.traced answered %q, want %q", got, want)
			}
			// The first frame carried the item's entry, then the open ones.
			rec.want(t, "request-channel channel.traced served peer=true handler=*e2e_test.server md=kitchen/checksum,kitchen/trace-id,kitchen/tag req=false sent=2 recv=2 end=ok")

			ce, err := c.ChannelTracedEmpty(ctx, "trace-2")
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"x", "y"} {
				if err := ce.Send(v); err != nil {
					t.Fatal(err)
				}
			}
			_ = ce.CloseSend()
			if got, want := collect(t, ce.Recv()), []string{"trace-2 x", "trace-2 y"}; !slices.Equal(got, want) {
				t.Errorf("channel.traced.empty answered %q, want %q", got, want)
			}
			rec.want(t, "request-channel channel.traced.empty served peer=true handler=*e2e_test.server md=kitchen/trace-id req=false sent=2 recv=2 end=ok")

			// Without the generated client: no open metadata.
			raw, err := c.Conn().Caller().RequestChannel(ctx, kitchen.RouteChannelTracedEmpty, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := "route channel.traced.empty: invalid open metadata: missing metadata entry kitchen/trace-id"
			n := 0
			for _, err := range raw.Recv() {
				n++
				if e, ok := err.(*rsrt.Error); !ok || e.Message != want {
					t.Errorf("the channel ended with %v, want APPLICATION_ERROR %q", err, want)
				}
			}
			if n != 1 {
				t.Errorf("%d results from a channel refused at once, want its error alone", n)
			}
			rec.skip()
		})
	}
}
