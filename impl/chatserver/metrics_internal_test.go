package chatserver

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// A service on another store than a directory (a cluster's shared one)
// has no file metrics; one on a directory has them.
func TestChatCollectorFileMetrics(t *testing.T) {
	svc := chatsvc.New(chatsvc.Config{})
	without := chatCollector(svc, nil)
	if err := testutil.CollectAndCompare(without, strings.NewReader(""), "chat_files", "chat_file_bytes"); err != nil {
		t.Errorf("without a store: %v", err)
	}
	store, err := filestore.Open(t.TempDir(), filestore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put("a.txt", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	with := chatCollector(svc, store)
	want := `
# HELP chat_file_bytes Content bytes of the files in the store.
# TYPE chat_file_bytes gauge
chat_file_bytes 3
# HELP chat_files Files in the store.
# TYPE chat_files gauge
chat_files 1
`
	if err := testutil.CollectAndCompare(with, strings.NewReader(want), "chat_files", "chat_file_bytes"); err != nil {
		t.Errorf("with a store: %v", err)
	}
	if n, m := testutil.CollectAndCount(without), testutil.CollectAndCount(with); m != n+4 {
		t.Errorf("%d metrics with a store, %d without: want 4 more", m, n)
	}
}
