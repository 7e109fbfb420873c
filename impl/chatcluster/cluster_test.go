package chatcluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// wait bounds every blocking step: a guard against a hang, never an
// assertion on speed.
const wait = 60 * time.Second

// The test cluster's timing: short, so that a dead node's members leave
// within a second or two.
const (
	testHeartbeat = 200 * time.Millisecond
	testDeadAfter = time.Second
)

// natsCluster is three embedded NATS servers with JetStream, routed to
// each other on 127.0.0.1. The tests share one (starting a JetStream
// cluster takes seconds); each test uses a prefix of its own, so that
// their buckets and subjects do not meet.
type natsCluster struct {
	cfgs    []EmbeddedConfig
	servers []*Embedded
}

var (
	sharedOnce sync.Once
	shared     *natsCluster
	sharedErr  error
	prefixes   atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		for _, s := range shared.servers {
			if s != nil {
				s.Shutdown()
			}
		}
		for _, c := range shared.cfgs {
			_ = os.RemoveAll(c.StoreDir)
		}
	}
	os.Exit(code)
}

// testNATS returns the shared NATS cluster, started on first use.
func testNATS(t *testing.T) *natsCluster {
	t.Helper()
	sharedOnce.Do(func() {
		c := &natsCluster{}
		var clusterURLs []string
		for i := range 3 {
			dir, err := os.MkdirTemp("", "chatcluster-nats-")
			if err != nil {
				sharedErr = err
				return
			}
			cp := chattest.FreePort(t)
			c.cfgs = append(c.cfgs, EmbeddedConfig{
				Name: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: chattest.FreePort(t),
				ClusterName: "chattest", ClusterPort: cp, StoreDir: dir,
			})
			clusterURLs = append(clusterURLs, fmt.Sprintf("nats://127.0.0.1:%d", cp))
		}
		for i := range c.cfgs {
			for j, u := range clusterURLs {
				if j != i {
					c.cfgs[i].Routes = append(c.cfgs[i].Routes, u)
				}
			}
		}
		c.servers = make([]*Embedded, len(c.cfgs))
		for i := range c.cfgs {
			if c.servers[i], sharedErr = StartEmbedded(c.cfgs[i]); sharedErr != nil {
				return
			}
		}
		sharedErr = c.waitJetStream()
		shared = c
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// waitJetStream waits until every server knows the three JetStream peers
// and is current, so that replicated buckets can be created.
func (c *natsCluster) waitJetStream() error {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		ok, leader := true, false
		for _, s := range c.servers {
			if s.srv.JetStreamIsLeader() && len(s.srv.JetStreamClusterPeers()) == len(c.servers) {
				leader = true
			}
			ok = ok && s.srv.JetStreamIsCurrent()
		}
		ok = ok && leader
		if ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("JetStream cluster not formed within %v", wait)
}

// restart stops server i and starts it again with the same ports and
// directory, after down returns.
func (c *natsCluster) restart(t *testing.T, i int, down func()) {
	t.Helper()
	c.servers[i].Shutdown()
	down()
	s, err := StartEmbedded(c.cfgs[i])
	if err != nil {
		t.Fatal(err)
	}
	c.servers[i] = s
	if err := c.waitJetStream(); err != nil {
		t.Fatal(err)
	}
}

func (c *natsCluster) url(i int) string { return c.servers[i].ClientURL() }

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// chatNode is a chat server that is a node of the cluster.
type chatNode struct {
	node *Node
	srv  *chatserver.Running
}

// startNode starts a chat node connected to natsURL only (it does not
// move to the other servers it learns of, so that a test can cut it off).
func startNode(t *testing.T, prefix, natsURL string, opts ...func(*Config)) *chatNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg := Config{
		URL: natsURL, Prefix: prefix, Replicas: 3,
		Heartbeat: testHeartbeat, DeadAfter: testDeadAfter,
		Logger:      testLogger(),
		NATSOptions: []nats.Option{nats.IgnoreDiscoveredServers()},
	}
	for _, o := range opts {
		o(&cfg)
	}
	node, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	srv := chattest.Start(t, chatserver.Config{
		TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0",
		Chat:   chatsvc.Config{Hub: node, Files: node.Files()},
		Logger: testLogger(),
	}, wait, nil)
	return &chatNode{node: node, srv: srv}
}

func newPrefix() string { return "t" + strconv.FormatInt(prefixes.Add(1), 10) + "x" + newID()[:6] }

// threeNodes starts the chat nodes A, B and C, on NATS servers 0, 1, 2.
func threeNodes(t *testing.T, opts ...func(*Config)) (*natsCluster, []*chatNode) {
	nc := testNATS(t)
	prefix := newPrefix()
	var nodes []*chatNode
	for i := range 3 {
		nodes = append(nodes, startNode(t, prefix, nc.url(i), opts...))
	}
	return nc, nodes
}

type user struct {
	c     *chat.Client
	inbox *chattest.Inbox
	name  string
}

// loginOn logs name in on node n, over TCP, or over WebSocket when ws.
func loginOn(t *testing.T, n *chatNode, name string, ws ...bool) *user {
	t.Helper()
	ctx := chattest.Context(t, wait)
	addr := n.srv.TCPAddr()
	if len(ws) > 0 && ws[0] {
		addr = n.srv.WSURL()
	}
	c := chattest.Dial(t, addr, wait)
	if _, err := c.Login(ctx, name); err != nil {
		t.Fatalf("login %q: %v", name, err)
	}
	return &user{c: c, inbox: chattest.Listen(t, c), name: name}
}

func str(s string) *string { return &s }

// TestReferenceScenarioAcrossNodes replays the tutorial's scenario with
// user1 on node A (TCP) and user2 on node B (WebSocket).
func TestReferenceScenarioAcrossNodes(t *testing.T) {
	_, nodes := threeNodes(t)
	a, b := nodes[0], nodes[1]
	ctx := chattest.Context(t, wait)
	u1, u2 := loginOn(t, a, "user1"), loginOn(t, b, "user2", true)

	chattest.Must(t, u1.c.ChannelJoin(ctx, "channel1"))
	chattest.Must(t, u2.c.ChannelJoin(ctx, "channel1"))
	// A join answered on one node is listed by a request that starts
	// after it on any node (Sync): no polling here.
	for _, u := range []*user{u1, u2} {
		if got := chattest.Collect(t, u.c.Channels(ctx)); !slices.Equal(got, []string{"channel1"}) {
			t.Fatalf("%s: channels = %q", u.name, got)
		}
		if got := chattest.Collect(t, u.c.ChannelUsers(ctx, "channel1")); !slices.Equal(got, []string{"user1", "user2"}) {
			t.Fatalf("%s: channel.users = %q", u.name, got)
		}
	}

	chattest.Must(t, u1.c.Message(ctx, chat.Message{User: str("user2"), Content: str("private message from user1")}))
	chattest.CheckMsg(t, u2.inbox.Next(t, wait), "user1", "private message from user1", nil)

	chattest.Must(t, u1.c.Message(ctx, chat.Message{Channel: str("channel1"), Content: str("channel message from user1")}))
	chattest.CheckMsg(t, u1.inbox.Next(t, wait), "user1", "channel message from user1", str("channel1"))
	chattest.CheckMsg(t, u2.inbox.Next(t, wait), "user1", "channel message from user1", str("channel1"))

	chattest.Must(t, u1.c.ChannelLeave(ctx, "channel1"))
	for _, u := range []*user{u1, u2} {
		if got := chattest.Collect(t, u.c.ChannelUsers(ctx, "channel1")); !slices.Equal(got, []string{"user2"}) {
			t.Fatalf("%s: channel.users after leave = %q", u.name, got)
		}
	}
	// user1 no longer gets channel1's messages, from either node.
	chattest.Must(t, u2.c.Message(ctx, chat.Message{Channel: str("channel1"), Content: str("after leave")}))
	chattest.CheckMsg(t, u2.inbox.Next(t, wait), "user2", "after leave", str("channel1"))
	chattest.Must(t, u2.c.Message(ctx, chat.Message{User: str("user1"), Content: str("back to A")}))
	chattest.CheckMsg(t, u1.inbox.Next(t, wait), "user2", "back to A", nil)

	// A private message to a user logged in nowhere is refused on every node.
	chattest.WantError(t, u1.c.Message(ctx, chat.Message{User: str("nobody"), Content: str("x")}), `user "nobody" is not logged in`)

	// Statistics count the whole cluster.
	chattest.Must(t, u1.c.SendStatistics(ctx, chat.ClientStatistics{MemoryUsage: ptr(12345.0)}))
	st, err := u1.c.Statistics(ctx)
	chattest.Must(t, err)
	next, stop := iterPull(st)
	defer stop()
	first := next(t)
	if first.UserCount == nil || *first.UserCount != 2 || first.ChannelCount == nil || *first.ChannelCount != 1 {
		t.Fatalf("statistics = %s, want users 2, channels 1", fmtStats(first))
	}
	chattest.Must(t, st.Send(chat.ServerStatisticsRequest{IDs: []string{"users"}}))
	for {
		s := next(t)
		if s.ChannelCount == nil {
			if s.UserCount == nil || *s.UserCount != 2 {
				t.Fatalf("statistics = %s, want users 2 only", fmtStats(s))
			}
			break
		}
	}
	_ = st.Close()

	// Files: uploaded through A, listed and downloaded through B.
	content := []byte("file content 1")
	chattest.Must(t, u1.c.FileUpload(ctx, content, "file_name_1.txt"))
	if got := chattest.Collect(t, u1.c.Files(ctx)); !slices.Equal(got, []string{"file_name_1.txt"}) {
		t.Fatalf("files on A = %q", got)
	}
	got, err := u2.c.FileDownload(ctx, "file_name_1.txt")
	chattest.Must(t, err)
	if string(got.Data) != string(content) || got.FileName != "file_name_1.txt" {
		t.Fatalf("download through B = %q named %q", got.Data, got.FileName)
	}
	// B's listing follows the store's watch: eventually, within the guard.
	waitFor(t, "B lists the file", func() bool {
		return slices.Equal(chattest.Collect(t, u2.c.Files(ctx)), []string{"file_name_1.txt"})
	})
	_, err = u2.c.FileDownload(ctx, "missing.txt")
	chattest.WantError(t, err, "file not found")
}

func ptr[T any](v T) *T { return &v }

func fmtStats(s chat.ServerStatistics) string {
	f := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return strconv.FormatInt(*p, 10)
	}
	return "{users " + f(s.UserCount) + ", channels " + f(s.ChannelCount) + "}"
}

// iterPull reads a statistics channel's reports one at a time.
func iterPull(st *rsrt.Channel[chat.ServerStatisticsRequest, chat.ServerStatistics]) (func(t *testing.T) chat.ServerStatistics, func()) {
	ch := make(chan chat.ServerStatistics, 16)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for s, err := range st.Recv() {
			if err != nil {
				return
			}
			select {
			case ch <- s:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func(t *testing.T) chat.ServerStatistics {
			t.Helper()
			select {
			case s, ok := <-ch:
				if !ok {
					t.Fatal("statistics channel ended")
				}
				return s
			case <-time.After(wait):
				t.Fatal("no statistics report")
			}
			return chat.ServerStatistics{}
		}, func() {
			once.Do(func() { close(done) })
		}
}

// waitFor polls cond until it holds, failing the test after the guard.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > wait {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestDeadNodeLeaves crashes node C (no goodbye: its connection just
// closes) and checks that its sessions leave the membership and the
// counts of A and B within the documented bound, while A and B go on
// exchanging messages. The measured time is logged.
func TestDeadNodeLeaves(t *testing.T) {
	_, nodes := threeNodes(t)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := chattest.Context(t, wait)
	ua, ub, uc := loginOn(t, a, "alice"), loginOn(t, b, "bob"), loginOn(t, c, "carol")
	for _, u := range []*user{ua, ub, uc} {
		chattest.Must(t, u.c.ChannelJoin(ctx, "room"))
	}
	if got := chattest.Collect(t, ua.c.ChannelUsers(ctx, "room")); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Fatalf("channel.users = %q", got)
	}
	if users, _ := a.node.Counts(); users != 3 {
		t.Fatalf("user count on A = %d, want 3", users)
	}

	// Messages keep flowing between A and B while C dies.
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		i := 0
		defer func() { sent <- i }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if ua.c.Message(ctx, chat.Message{Channel: str("room"), Content: str(strconv.Itoa(i))}) != nil {
				return
			}
			i++
			time.Sleep(10 * time.Millisecond)
		}
	}()

	killed := time.Now()
	c.node.abort()
	gone := func(n *chatNode) bool {
		users, _ := n.node.Counts()
		return users == 2 && !slices.Contains(chattest.Collect(t, ua.c.ChannelUsers(ctx, "room")), "carol")
	}
	waitFor(t, "carol leaves A's view", func() bool { return gone(a) })
	waitFor(t, "carol leaves B's view", func() bool { return gone(b) })
	took := time.Since(killed)
	t.Logf("a crashed node's sessions left the others' membership %v after the crash (heartbeat %v, dead after %v)",
		took.Round(time.Millisecond), testHeartbeat, testDeadAfter)
	// A private message to carol is now refused: she is logged in nowhere.
	chattest.WantError(t, ub.c.Message(ctx, chat.Message{User: str("carol"), Content: str("x")}), `user "carol" is not logged in`)

	close(stop)
	n := <-sent
	if n == 0 {
		t.Fatal("alice could not send while C died")
	}
	// Every message alice sent reached bob, in order: nothing was lost
	// on the way between A and B.
	for i := range n {
		chattest.CheckMsg(t, ub.inbox.Next(t, wait), "alice", strconv.Itoa(i), str("room"))
	}
	t.Logf("%d messages from A to B while C died, all delivered in order", n)
}

// TestNATSRestartKeepsSubscriptions stops the NATS server node B is
// connected to, and starts it again: once B has reconnected, its users
// are members again and messages flow both ways, as before.
func TestNATSRestartKeepsSubscriptions(t *testing.T) {
	nc, nodes := threeNodes(t)
	a, b := nodes[0], nodes[1]
	ctx := chattest.Context(t, wait)
	ua, ub := loginOn(t, a, "alice"), loginOn(t, b, "bob")
	chattest.Must(t, ua.c.ChannelJoin(ctx, "room"))
	chattest.Must(t, ub.c.ChannelJoin(ctx, "room"))
	chattest.Must(t, ua.c.Message(ctx, chat.Message{Channel: str("room"), Content: str("before")}))
	chattest.CheckMsg(t, ub.inbox.Next(t, wait), "alice", "before", str("room"))
	chattest.CheckMsg(t, ua.inbox.Next(t, wait), "alice", "before", str("room"))
	incBefore := b.node.Health().Incarnation

	nc.restart(t, 1, func() {
		waitFor(t, "B reports the NATS connection lost", func() bool { return !b.node.Health().Connected })
		// B keeps serving its own sessions meanwhile, new ones included,
		// and lists them.
		chattest.Must(t, ub.c.Message(ctx, chat.Message{Channel: str("room"), Content: str("while down")}))
		chattest.CheckMsg(t, ub.inbox.Next(t, wait), "bob", "while down", str("room"))
		ub2 := loginOn(t, b, "bob2")
		chattest.Must(t, ub2.c.ChannelJoin(ctx, "room"))
		chattest.Must(t, ub.c.Message(ctx, chat.Message{User: str("bob2"), Content: str("local")}))
		chattest.CheckMsg(t, ub2.inbox.Next(t, wait), "bob", "local", nil)
		if got := chattest.Collect(t, ub.c.ChannelUsers(ctx, "room")); !slices.Contains(got, "bob2") {
			t.Fatalf("channel.users on B while cut off = %q, want bob2 in it", got)
		}
	})
	took := waitFor(t, "B reconnects", func() bool { return b.node.Health().Connected })
	h := b.node.Health()
	t.Logf("B reconnected %v after the NATS server came back: %+v", took.Round(time.Millisecond), h)
	if h.Reconnects == 0 || h.Disconnects == 0 || h.Incarnation == incBefore {
		t.Fatalf("health after the restart = %+v, want a disconnect, a reconnect and a new incarnation", h)
	}
	// The membership comes back (a new incarnation of B) ...
	// Every node may have lost its heartbeat while the NATS servers
	// elected new stream leaders (with the tests' 1 s TTL), and then comes
	// back under a new incarnation too: wait for both views.
	for _, u := range []*user{ua, ub} {
		waitFor(t, u.name+" lists bob, and bob2 who joined while B was cut off", func() bool {
			return slices.Equal(chattest.Collect(t, u.c.ChannelUsers(ctx, "room")), []string{"alice", "bob", "bob2"})
		})
	}
	// ... and every subscription works: the next messages reach the other
	// node, in order, in both directions, channel and private.
	for i := range 20 {
		chattest.Must(t, ua.c.Message(ctx, chat.Message{Channel: str("room"), Content: str("a" + strconv.Itoa(i))}))
		chattest.Must(t, ub.c.Message(ctx, chat.Message{User: str("alice"), Content: str("b" + strconv.Itoa(i))}))
	}
	var fromA, fromB []string
	for range 20 {
		fromA = append(fromA, chattest.Deref(ub.inbox.Next(t, wait).Content))
	}
	// Alice also gets her own channel messages, and bob's "while down"
	// if nats.go's reconnect buffer relayed it (at most once).
	for len(fromB) < 20 {
		if m := ua.inbox.Next(t, wait); m.Channel == nil {
			fromB = append(fromB, chattest.Deref(m.Content))
		}
	}
	for i := range 20 {
		if fromA[i] != "a"+strconv.Itoa(i) || fromB[i] != "b"+strconv.Itoa(i) {
			t.Fatalf("after the restart: bob got %q, alice got %q", fromA, fromB)
		}
	}
	if users, channels := a.node.Counts(); users != 3 || channels != 1 {
		t.Fatalf("counts on A = %d users, %d channels; want 3, 1", users, channels)
	}
}

// TestHostileNames checks that user and channel names made of NATS
// subject characters stay isolated: no collision, no wildcard, no escape.
func TestHostileNames(t *testing.T) {
	_, nodes := threeNodes(t)
	ctx := chattest.Context(t, wait)
	names := []string{".", "*", ">", "a.b", "a", "b", "a.*", "a.>", "a b", "ü", "日本", "$KV", "chat.msg.c.61", "61"}
	users := make([]*user, len(names))
	for i, name := range names {
		users[i] = loginOn(t, nodes[i%2], name, i%4 == 1)
		chattest.Must(t, users[i].c.ChannelJoin(ctx, name))
	}
	want := slices.Sorted(slices.Values(names))
	for _, u := range []*user{users[0], users[1]} {
		if got := chattest.Collect(t, u.c.Channels(ctx)); !slices.Equal(got, want) {
			t.Fatalf("channels = %q, want %q", got, want)
		}
	}
	for i, name := range names {
		if got := chattest.Collect(t, users[(i+1)%len(users)].c.ChannelUsers(ctx, name)); !slices.Equal(got, []string{name}) {
			t.Fatalf("channel.users %q = %q", name, got)
		}
	}
	// One private message to each user, from a user on the other node,
	// then one channel message to each channel from its only member.
	for i, name := range names {
		from := users[(i+1)%len(users)]
		chattest.Must(t, from.c.Message(ctx, chat.Message{User: str(name), Content: str("private for " + name)}))
		chattest.Must(t, users[i].c.Message(ctx, chat.Message{Channel: str(name), Content: str("channel " + name)}))
	}
	// Each user's sender is on the other node (even and odd indices
	// alternate), so is every other sender of the test: a last private
	// message from there comes after anything a wildcard or a collision
	// would have delivered, and must be the next one.
	for i, name := range names {
		from := users[(i+1)%len(users)]
		chattest.Must(t, from.c.Message(ctx, chat.Message{User: str(name), Content: str("end")}))
	}
	for i, name := range names {
		got := []chat.Message{users[i].inbox.Next(t, wait), users[i].inbox.Next(t, wait)}
		if got[0].Channel != nil {
			got[0], got[1] = got[1], got[0]
		}
		sender := names[(i+1)%len(names)]
		chattest.CheckMsg(t, got[0], sender, "private for "+name, nil)
		chattest.CheckMsg(t, got[1], name, "channel "+name, str(name))
		chattest.CheckMsg(t, users[i].inbox.Next(t, wait), sender, "end", nil)
	}
}

// TestRestartedNodeDoesNotResurrect crashes node C and starts a new node
// on the same NATS server at once: the crashed incarnation's user leaves
// when its heartbeat expires, whatever the new node does, and its keys
// are purged from the bucket.
func TestRestartedNodeDoesNotResurrect(t *testing.T) {
	nc, nodes := threeNodes(t)
	a, c := nodes[0], nodes[2]
	ctx := chattest.Context(t, wait)
	ua, uc := loginOn(t, a, "alice"), loginOn(t, c, "carol")
	chattest.Must(t, ua.c.ChannelJoin(ctx, "room"))
	chattest.Must(t, uc.c.ChannelJoin(ctx, "room"))
	oldInc := c.node.Health().Incarnation
	c.node.abort()
	c2 := startNode(t, c.node.cfg.Prefix, nc.url(2))
	ud := loginOn(t, c2, "dave")
	chattest.Must(t, ud.c.ChannelJoin(ctx, "room"))
	took := waitFor(t, "carol leaves", func() bool {
		return slices.Equal(chattest.Collect(t, ua.c.ChannelUsers(ctx, "room")), []string{"alice", "dave"})
	})
	t.Logf("the crashed incarnation's user left %v after the restart", took.Round(time.Millisecond))
	if users, channels := a.node.Counts(); users != 2 || channels != 1 {
		t.Fatalf("counts = %d users, %d channels; want 2, 1", users, channels)
	}
	waitFor(t, "the dead incarnation's keys are purged", func() bool {
		keys, err := a.node.kv.ListKeys(ctx)
		if err != nil {
			return false
		}
		for k := range keys.Keys() {
			if pk, ok := parseKey(k); ok && pk.inc == oldInc {
				_ = keys.Stop()
				return false
			}
		}
		return true
	})
	// Messages flow between A and the new node.
	chattest.Must(t, ud.c.Message(ctx, chat.Message{Channel: str("room"), Content: str("hello from the new node")}))
	chattest.CheckMsg(t, ua.inbox.Next(t, wait), "dave", "hello from the new node", str("room"))
}

// TestFileLimitsAcrossNodes: the count and size limits count the files
// uploaded through every node.
func TestFileLimitsAcrossNodes(t *testing.T) {
	_, nodes := threeNodes(t, func(c *Config) {
		c.Files.MaxFiles, c.Files.MaxFileBytes = 2, 1000
	})
	ctx := chattest.Context(t, wait)
	ua, ub := loginOn(t, nodes[0], "alice"), loginOn(t, nodes[1], "bob")
	chattest.Must(t, ua.c.FileUpload(ctx, []byte("one"), "one.txt"))
	chattest.Must(t, ua.c.FileUpload(ctx, []byte("two"), "two.txt"))
	chattest.WantError(t, ub.c.FileUpload(ctx, make([]byte, 1001), "big.bin"), "file too large")
	waitFor(t, "B lists A's files", func() bool {
		return slices.Equal(chattest.Collect(t, ub.c.Files(ctx)), []string{"one.txt", "two.txt"})
	})
	chattest.WantError(t, ub.c.FileUpload(ctx, []byte("three"), "three.txt"), "too many files")
	// Replacing a file is not a new one.
	chattest.Must(t, ub.c.FileUpload(ctx, []byte("two, again"), "two.txt"))
	got, err := ua.c.FileDownload(ctx, "two.txt")
	chattest.Must(t, err)
	if string(got.Data) != "two, again" {
		t.Fatalf("download = %q", got.Data)
	}
}

// TestFileOverwriteIsAtomic overwrites a file through A again and again
// while B downloads it: every download is one whole version.
func TestFileOverwriteIsAtomic(t *testing.T) {
	_, nodes := threeNodes(t)
	ctx := chattest.Context(t, wait)
	ua, ub := loginOn(t, nodes[0], "alice"), loginOn(t, nodes[1], "bob")
	const size = 600 << 10 // several object store chunks
	version := func(b byte) []byte { return bytes.Repeat([]byte{b}, size) }
	chattest.Must(t, ua.c.FileUpload(ctx, version('a'), "f.bin"))
	done := make(chan error, 1)
	go func() {
		var err error
		for i := range 8 {
			if err = ua.c.FileUpload(ctx, version(byte('b'+i%2)), "f.bin"); err != nil {
				break
			}
		}
		done <- err
	}()
	downloads := 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			chattest.Must(t, err)
			finished = true
		default:
		}
		got, err := ub.c.FileDownload(ctx, "f.bin")
		chattest.Must(t, err)
		if len(got.Data) != size || bytes.Count(got.Data, got.Data[:1]) != size {
			t.Fatalf("download %d: %d bytes, not one whole version", downloads, len(got.Data))
		}
		downloads++
	}
	t.Logf("%d downloads during 8 overwrites, each one whole version", downloads)
}

// TestOrderPerSender: two senders on different nodes send to a channel
// whose members are on all three nodes, concurrently; every member gets
// every message, each sender's in the order sent, and the members on one
// node all see the same interleaving.
func TestOrderPerSender(t *testing.T) {
	_, nodes := threeNodes(t)
	ctx := chattest.Context(t, wait)
	var members []*user
	for i := range 6 {
		u := loginOn(t, nodes[i%3], "m"+strconv.Itoa(i), i%2 == 0)
		chattest.Must(t, u.c.ChannelJoin(ctx, "room"))
		members = append(members, u)
	}
	senders := []*user{members[0], members[1]} // on A and B
	const n = 50
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := s.c.Message(ctx, chat.Message{Channel: str("room"), Content: str(strconv.Itoa(i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := make([][]string, len(members))
	for i, m := range members {
		next := map[string]int{}
		for range 2 * n {
			got := m.inbox.Next(t, wait)
			from := chattest.Deref(got.User)
			if want := strconv.Itoa(next[from]); chattest.Deref(got.Content) != want {
				t.Fatalf("%s got %q from %s, want %s: out of order", m.name, chattest.Deref(got.Content), from, want)
			}
			next[from]++
			seen[i] = append(seen[i], from+":"+chattest.Deref(got.Content))
		}
	}
	for i := range members {
		if j := i + 3; j < len(members) && !slices.Equal(seen[i], seen[j]) {
			t.Fatalf("%s and %s, on the same node, saw different orders", members[i].name, members[j].name)
		}
	}
}
