package chatsvc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestChannelUsersCounted: channel.users lists a user once however many of
// its sessions joined, until the last of them leaves or closes.
func TestChannelUsersCounted(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{})
	a1, a2, b := login(t, svc, "alice"), login(t, svc, "alice"), login(t, svc, "bob")
	for _, c := range []*conn{a1, a2, b} {
		if err := c.ChannelJoin(ctx, "room"); err != nil {
			t.Fatal(err)
		}
	}
	walk := func() []string {
		return collect(t, func(send func(string) error) error {
			return sendEach(func(prev string) (string, bool) { return svc.channelUserAfter("room", prev) }, send)
		})
	}
	if got := walk(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("users = %q", got)
	}
	if err := a1.ChannelLeave(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if got := walk(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("after one alice left: %q", got)
	}
	a2.cancel() // the connection closes
	waitFor(t, func() bool { return slices.Equal(walk(), []string{"bob"}) })
	if err := b.ChannelLeave(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if got := walk(); len(got) != 0 || len(svc.channelNames()) != 0 {
		t.Fatalf("an empty channel: users %q, channels %q", got, svc.channelNames())
	}
}

// TestChannelsStreamWalksIndex: the channels stream sends the sorted
// names from the shared index, item by item.
func TestChannelsStreamWalksIndex(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, Config{MaxJoined: 100})
	c := login(t, svc, "u")
	var want []string
	for i := range 100 {
		name := fmt.Sprintf("ch%03d", 99-i)
		if err := c.ChannelJoin(ctx, name); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	slices.Sort(want)
	got := collect(t, func(send func(string) error) error { return sendEach(svc.channelAfter, send) })
	if !slices.Equal(got, want) {
		t.Fatalf("channels = %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 1000 {
			t.Fatal("condition not met")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
