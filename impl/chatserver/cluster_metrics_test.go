package chatserver_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// link is a cluster link whose state the test sets (the real one is
// covered with NATS in cmd/chat-server's TestRunEmbeddedCluster).
type link struct{ up atomic.Bool }

func (l *link) state() chatserver.ClusterState {
	return chatserver.ClusterState{Connected: l.up.Load(), LiveNodes: 3, Disconnects: 1, Reconnects: 1}
}

// A cluster node whose NATS link is down still serves its own sessions
// but is not ready: /readyz answers 503 until the link is back, and the
// metrics say so.
func TestReadyFollowsTheClusterLink(t *testing.T) {
	l := &link{}
	l.up.Store(true)
	srv := chattest.Start(t, chatserver.Config{TCPAddr: "127.0.0.1:0", DataDir: t.TempDir(), MetricsAddr: "127.0.0.1:0", Cluster: l.state}, 30*time.Second, nil)
	base := "http://" + srv.MetricsAddr()
	if code, _ := metricstest.Get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz with the link up: %d, want 200", code)
	}
	metricstest.Scrape(t, base+"/metrics").Want(t, 1, "chat_cluster_nats_connected")
	l.up.Store(false)
	if code, _ := metricstest.Get(t, base+"/readyz"); code != 503 {
		t.Errorf("/readyz with the link down: %d, want 503", code)
	}
	if code, _ := metricstest.Get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz with the link down: %d, want 200 (alive)", code)
	}
	ms := metricstest.Scrape(t, base+"/metrics")
	ms.Want(t, 0, "chat_cluster_nats_connected")
	ms.Want(t, 3, "chat_cluster_live_nodes")
	ms.Want(t, 1, "chat_cluster_nats_reconnects_total")
}
