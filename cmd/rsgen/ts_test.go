package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen"
)

// TestTSCommand writes the chat's TypeScript client, removes a stale
// generated .ts file and keeps a hand-written one.
func TestTSCommand(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "old.ts")
	own := filepath.Join(dir, "page.ts")
	if err := os.WriteFile(stale, []byte(gen.Header+"\n// Source: x.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, []byte("// hand-written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"ts", "-schema", "../../schema/chat.yaml", "-out", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("rsgen ts: status %d, stderr:\n%s", code, stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "chat.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte(gen.Header+"\n// Source: schema/chat.yaml\n")) {
		t.Errorf("chat.ts header:\n%s", got[:min(len(got), 120)])
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale generated old.ts not removed (stat: %v)", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("hand-written page.ts: %v", err)
	}
}

// TestTSCommandRefusesToOverwrite leaves a hand-written file of the
// generated name alone and fails.
func TestTSCommandRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.ts")
	if err := os.WriteFile(path, []byte("// mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"ts", "-schema", "../../schema/chat.yaml", "-out", dir}, &stdout, &stderr); code != 1 {
		t.Fatalf("status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "refusing to overwrite") {
		t.Errorf("stderr = %q", stderr.String())
	}
	if b, _ := os.ReadFile(path); string(b) != "// mine\n" {
		t.Errorf("chat.ts was changed: %q", b)
	}
}

// TestTSCommandUsage: no flags is a usage error.
func TestTSCommandUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"ts"}, &stdout, &stderr); code != 2 {
		t.Fatalf("status %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage: rsgen ts") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
