package chatsvc

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

// recordingHub is a Hub that records what the service tells it and
// answers the views from what a test sets, as another node would.
type recordingHub struct {
	localHub // the views of the service's own registry, unless overridden
	mu       sync.Mutex
	events   []string
	remote   map[string]bool // users online on "other nodes"
	synced   int
}

func (h *recordingHub) Attach(s *Service) { h.s = s }
func (h *recordingHub) record(e string) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}
func (h *recordingHub) SetUser(user string, n int) { h.record("user " + user + " " + strconv.Itoa(n)) }
func (h *recordingHub) SetMember(channel, user string, n int) {
	h.record("member " + channel + " " + user + " " + strconv.Itoa(n))
}
func (h *recordingHub) PublishChannel(channel, from string, content *string) {
	h.record("publish c " + channel + " " + from + " " + deref(content))
}
func (h *recordingHub) PublishPrivate(user, from string, content *string) {
	h.record("publish u " + user + " " + from + " " + deref(content))
}
func (h *recordingHub) Sync(context.Context) {
	h.mu.Lock()
	h.synced++
	h.mu.Unlock()
}
func (h *recordingHub) UserOnline(ctx context.Context, user string) bool {
	h.mu.Lock()
	remote := h.remote[user]
	h.mu.Unlock()
	return remote || h.localHub.UserOnline(ctx, user)
}

// TestHubSeam checks what a Hub sees of a service and what it can do
// with it: every membership change in order, one relay per message sent
// by a local session (none for a message delivered from another node),
// the views asked of it, and deliveries from other nodes reaching the
// local recipients only.
func TestHubSeam(t *testing.T) {
	ctx := context.Background()
	hub := &recordingHub{remote: map[string]bool{"remote-user": true}}
	svc := newService(t, Config{Hub: hub})
	alice, alice2, bob := login(t, svc, "alice"), login(t, svc, "alice"), login(t, svc, "bob")
	inA, inB := alice.listen(t), bob.listen(t)
	noErr(t, alice.ChannelJoin(ctx, "room"))
	noErr(t, alice2.ChannelJoin(ctx, "room"))
	noErr(t, bob.ChannelJoin(ctx, "room"))

	noErr(t, alice.Message(ctx, chat.Message{Channel: str("room"), Content: str("hi")}))
	checkMsg(t, inB.next(t), "alice", "hi", str("room"))
	checkMsg(t, inA.next(t), "alice", "hi", str("room"))
	// A private message to a user only another node has is relayed, not
	// refused; one to a user logged in nowhere is refused.
	noErr(t, bob.Message(ctx, chat.Message{User: str("remote-user"), Content: str("psst")}))
	if err := bob.Message(ctx, chat.Message{User: str("nobody"), Content: str("x")}); err == nil {
		t.Fatal("a private message to a user logged in nowhere was accepted")
	}
	// Another node's messages reach the local members, and are not
	// relayed again.
	svc.DeliverChannel("room", "carol", str("from afar"))
	checkMsg(t, inA.next(t), "carol", "from afar", str("room"))
	checkMsg(t, inB.next(t), "carol", "from afar", str("room"))
	svc.DeliverPrivate("bob", "carol", str("just you"))
	checkMsg(t, inB.next(t), "carol", "just you", nil)
	svc.DeliverChannel("no-such-channel", "carol", str("dropped"))

	noErr(t, alice2.ChannelLeave(ctx, "room"))
	bob.cancel()
	waitHub(t, func() bool { return !hub.localHub.UserOnline(ctx, "bob") })

	hub.mu.Lock()
	defer hub.mu.Unlock()
	want := []string{
		"user alice 1", "user alice 2", "user bob 1",
		"member room alice 1", "member room alice 2", "member room bob 1",
		"publish c room alice hi",
		"publish u remote-user bob psst",
		"member room alice 1",
		"member room bob 0", "user bob 0",
	}
	if !slices.Equal(hub.events, want) {
		t.Fatalf("the hub saw\n%q\nwant\n%q", hub.events, want)
	}
	// login x3, join x3, leave: each answered after a Sync.
	if hub.synced < 7 {
		t.Fatalf("Sync called %d times, want at least 7", hub.synced)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitHub(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInlineRoutes checks which routes the service lets the server run on
// the read loop: message on a single node, none with a hub, whose private
// messages may wait for a Sync.
func TestInlineRoutes(t *testing.T) {
	if got := newService(t, Config{}).InlineRoutes(); !slices.Equal(got, []string{chat.RouteMessage}) {
		t.Errorf("single node: %q, want [message]", got)
	}
	if got := newService(t, Config{Hub: &recordingHub{}}).InlineRoutes(); got != nil {
		t.Errorf("with a hub: %q, want none", got)
	}
}
