package robustness

import (
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// Sessions that never read their messages cannot together pin more than
// the service's queue budget (twice it at worst), though each stays within
// its own 4 MiB; a session that reads loses nothing meanwhile.
func TestQueueBudgetAcrossSessions(t *testing.T) {
	const (
		budget   = 4 << 20
		sessions = 16
		perUser  = 32
		size     = 60 << 10 // 32 × 60 KiB: under one session's 4 MiB
	)
	srv := startServer(t, t.TempDir(), func(cfg *chatserver.Config) { cfg.Chat.MaxQueuedBytes = budget })
	ctx := ctxT(t)
	sender := login(t, srv.TCPAddr(), "sender")
	reader := login(t, srv.TCPAddr(), "reader")
	inbox := chattest.Listen(t, reader)
	for i := range sessions {
		login(t, srv.TCPAddr(), "sleeper"+string(rune('a'+i)))
	}
	base := heapInUse()
	var peak int64
	for n := range perUser {
		for i := range sessions {
			// Each message its own content, as private messages are.
			content := strings.Repeat(string(rune('a'+n%26)), size-1) + string(rune('a'+i))
			chattest.Must(t, sender.Message(ctx, chat.Message{User: str("sleeper" + string(rune('a'+i))), Content: &content}))
		}
		content := "to the reader"
		chattest.Must(t, sender.Message(ctx, chat.Message{User: str("reader"), Content: &content}))
		chattest.CheckMsg(t, inbox.Next(t, wait), "sender", "to the reader", nil)
		if n%8 == 7 {
			peak = max(peak, int64(heapInUse())-int64(base))
		}
	}
	t.Logf("%d sessions sent %d MiB they never read; heap grew by %d MiB at most; %d dropped",
		sessions, sessions*perUser*size>>20, peak>>20, srv.Service().Stats().Dropped)
	if peak > 3*budget {
		t.Errorf("unread queues grew the heap by %d MiB, over three times the %d MiB budget", peak>>20, budget>>20)
	}
	if st := srv.Service().Stats(); st.QueuedBytes > 2*budget {
		t.Errorf("%d bytes queued, over twice the budget", st.QueuedBytes)
	}
}
