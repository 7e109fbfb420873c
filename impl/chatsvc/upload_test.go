package chatsvc

import (
	"context"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

// TestUploadMemoryBudget: while the uploads being stored hold the
// server-wide budget, another upload is refused at once with a clear
// error (and counted), and goes through once the budget is back.
func TestUploadMemoryBudget(t *testing.T) {
	ctx := context.Background()
	fs, err := filestore.Open(t.TempDir(), filestore.Limits{MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, Config{Files: fs, UploadMemoryBytes: 3000})
	c := login(t, svc, "uploader")
	// Uploads of other connections, being written.
	if ok, _ := svc.holdUpload(2500); !ok {
		t.Fatal("the budget refused a first upload")
	}
	err = c.FileUpload(ctx, make([]byte, 600), "f")
	var e *rsrt.Error
	if !asError(err, &e) || !strings.HasPrefix(e.Message, "server busy: uploads being stored hold 2500 bytes, the limit is 3000") {
		t.Fatalf("upload over the budget: %v", err)
	}
	if st := svc.Stats(); st.UploadsBusy != 1 || st.UploadBytes != 2500 {
		t.Fatalf("%+v", st)
	}
	if err := c.FileUpload(ctx, make([]byte, 500), "g"); err != nil {
		t.Fatalf("upload within the budget: %v", err)
	}
	svc.releaseUpload(2500)
	if err := c.FileUpload(ctx, make([]byte, 600), "f"); err != nil {
		t.Fatalf("upload once the budget is back: %v", err)
	}
	if st := svc.Stats(); st.UploadBytes != 0 {
		t.Fatalf("%d bytes still held after the uploads", st.UploadBytes)
	}
	// A file over the size limit is answered as such, not as busy.
	if ok, _ := svc.holdUpload(3000); !ok {
		t.Fatal("hold")
	}
	if err := c.FileUpload(ctx, make([]byte, 1001), "h"); !asError(err, &e) || !strings.HasPrefix(e.Message, "file too large") {
		t.Fatalf("oversized upload with the budget exhausted: %v", err)
	}
}

// TestUploadMemoryBudgetFitsLargestFile: a budget below the largest file
// is raised to it, so that the largest file can always be uploaded.
func TestUploadMemoryBudgetFitsLargestFile(t *testing.T) {
	fs, err := filestore.Open(t.TempDir(), filestore.Limits{MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := newService(t, Config{Files: fs, UploadMemoryBytes: 10}).UploadMemoryBytes(); got != 1000 {
		t.Fatalf("budget %d, want the largest file, 1000", got)
	}
}

func asError(err error, e **rsrt.Error) bool {
	v, ok := err.(*rsrt.Error)
	*e = v
	return ok
}

// TestUploadShare: one connection's uploads being stored hold at most a
// quarter of the budget (at least the largest file), so that a connection
// pipelining uploads leaves room for everyone else's.
func TestUploadShare(t *testing.T) {
	ctx := context.Background()
	fs, err := filestore.Open(t.TempDir(), filestore.Limits{MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, Config{Files: fs, UploadMemoryBytes: 8000})
	a, b := login(t, svc, "a"), login(t, svc, "b")
	// a's earlier uploads, being written, hold its share.
	if err := a.holdUpload(2000); err != nil {
		t.Fatal(err)
	}
	var e *rsrt.Error
	err = a.FileUpload(ctx, []byte("x"), "a.txt")
	if !asError(err, &e) || e.Message != "server busy: this connection's uploads being stored hold 2000 bytes, a connection's share is 2000; try again later" {
		t.Fatalf("upload over the connection's share: %v", err)
	}
	if err := b.FileUpload(ctx, make([]byte, 1000), "b.txt"); err != nil {
		t.Fatalf("another connection's upload: %v", err)
	}
	a.releaseUpload(2000)
	if err := a.FileUpload(ctx, []byte("x"), "a.txt"); err != nil {
		t.Fatalf("once its uploads are written: %v", err)
	}
	if st := svc.Stats(); st.UploadBytes != 0 || st.UploadsBusy != 1 || a.uploadBytes.Load() != 0 {
		t.Fatalf("%+v, a holds %d", st, a.uploadBytes.Load())
	}
}
