package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chattest"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// Two chat-server runs with --nats embedded, routed to each other, form a
// cluster with nothing else running: a user on each sees the other, and
// the first node's metrics show its NATS link up and both nodes live.
func TestRunEmbeddedCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports := []int{chattest.FreePort(t), chattest.FreePort(t)}
	type node struct {
		out  syncbuf.Buffer
		done chan error
	}
	nodes := []*node{{done: make(chan error, 1)}, {done: make(chan error, 1)}}
	for i, n := range nodes {
		var stderr syncbuf.Buffer
		args := []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--data-dir=" + t.TempDir(),
			"--nats=embedded", "--nats-port=-1", "--nats-store=" + t.TempDir(),
			fmt.Sprintf("--nats-cluster-port=%d", ports[i]),
			fmt.Sprintf("--nats-routes=nats://127.0.0.1:%d", ports[1-i]),
			"--nats-dead-after=2s"}
		if i == 0 {
			args = append(args, "--metrics-addr=127.0.0.1:0")
		}
		go func() { n.done <- run(ctx, args, env(nil), &n.out, &stderr) }()
	}
	var clients []*chat.Client
	for i, n := range nodes {
		tcp, _ := addrs(t, &n.out)
		dctx, dcancel := context.WithTimeout(ctx, wait)
		defer dcancel()
		c, err := chat.Dial(dctx, tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Login(dctx, fmt.Sprintf("user%d", i+1)); err != nil {
			t.Fatal(err)
		}
		if err := c.ChannelJoin(dctx, "general"); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	rctx, rcancel := context.WithTimeout(ctx, wait)
	defer rcancel()
	var users []string
	for u, err := range clients[1].ChannelUsers(rctx, "general") {
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	if !slices.Equal(users, []string{"user1", "user2"}) {
		t.Fatalf("channel.users on the second node = %q", users)
	}
	url := printed(t, &nodes[0].out, "metrics ")[0]
	ms := metricstest.Scrape(t, url)
	ms.Want(t, 1, "chat_cluster_nats_connected")
	ms.Want(t, 2, "chat_cluster_live_nodes")
	ms.Want(t, 0, "chat_cluster_relay_errors_total")
	if code, _ := metricstest.Get(t, strings.TrimSuffix(url, "/metrics")+"/readyz"); code != 200 {
		t.Errorf("/readyz of a connected cluster node: %d, want 200", code)
	}
	cancel()
	for _, n := range nodes {
		if err := <-n.done; err != nil {
			t.Fatalf("run: %v", err)
		}
	}
}

// Cluster flags that cannot work are refused with a message saying why;
// an unreachable NATS is an error at start, not a hang.
func TestClusterFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-store=/tmp/x"}, "add --nats embedded"},
		{[]string{"--nats=nats://127.0.0.1:4222", "--nats-routes=nats://b:6222"}, "add --nats embedded"},
		{[]string{"--nats=embedded"}, "needs --nats-store"},
		{[]string{"--nats=nats://127.0.0.1:4222", "--nats-dead-after=500ms"}, "at least 1s"},
		{[]string{"--nats=nats://127.0.0.1:4222", "--nats-replicas=0"}, "must be positive"},
	} {
		_, err := parse(tc.args, env(nil), &syncbuf.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	var out, stderr syncbuf.Buffer
	err := run(context.Background(), []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=", "--data-dir=" + t.TempDir(),
		"--nats=nats://127.0.0.1:" + fmt.Sprint(chattest.FreePort(t))}, env(nil), &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "connecting to NATS") {
		t.Fatalf("unreachable NATS: got %v, want an error saying so", err)
	}
}
