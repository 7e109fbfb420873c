package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen"
)

// schemaSrc is a small valid schema.
const schemaSrc = `package: demo
routes:
  - route: ping
    interaction: request-response
    response: string
`

// writeFile writes a file, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunWritesAndCleans(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "demo.yaml")
	out := filepath.Join(dir, "out")
	writeFile(t, schema, schemaSrc)
	// A file an earlier run generated, and hand-written files.
	writeFile(t, filepath.Join(out, "stale.go"), gen.Header+"\n\npackage demo\n")
	writeFile(t, filepath.Join(out, "demo_test.go"), "package demo\n")
	writeFile(t, filepath.Join(out, "extra.go"), "// Hand-written.\npackage demo\n")

	var stderr strings.Builder
	if code := run([]string{"-schema", schema, "-out", out}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"types.go", "server.go", "client.go", "demo_test.go", "extra.go"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "stale.go")); !os.IsNotExist(err) {
		t.Errorf("stale generated file not removed: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(out, "server.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !gen.IsGenerated(src) {
		t.Errorf("server.go lacks the rsgen header:\n%s", src)
	}
}

func TestRunKeepsHandWrittenFile(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "demo.yaml")
	out := filepath.Join(dir, "out")
	writeFile(t, schema, schemaSrc)
	const mine = "// Hand-written.\npackage demo\n"
	writeFile(t, filepath.Join(out, "server.go"), mine)
	var stderr strings.Builder
	if code := run([]string{"-schema", schema, "-out", out}, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "refusing to overwrite") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if src, _ := os.ReadFile(filepath.Join(out, "server.go")); string(src) != mine {
		t.Errorf("hand-written server.go was changed:\n%s", src)
	}
	if _, err := os.Stat(filepath.Join(out, "types.go")); !os.IsNotExist(err) {
		t.Errorf("types.go written although the run was refused: %v", err)
	}
}

func TestRunInvalidSchema(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "bad.yaml")
	out := filepath.Join(dir, "out")
	writeFile(t, schema, "package: demo\nroutes:\n  - route: a\n    interaction: nope\n  - route: b\n    interaction: request-response\n    request: Missing\n")
	var stderr strings.Builder
	if code := run([]string{"-schema", schema, "-out", out}, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 errors, got:\n%s", stderr.String())
	}
	for _, want := range []string{":4:18: ", ":7:14: "} {
		if !strings.Contains(stderr.String(), filepath.ToSlash(schema)+want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory written for an invalid schema: %v", err)
	}
}

func TestRunUsage(t *testing.T) {
	var stderr strings.Builder
	if code := run(nil, &stderr); code != 2 {
		t.Errorf("no flags: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-schema") {
		t.Errorf("usage does not mention -schema:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-help"}, &stderr); code != 0 {
		t.Errorf("-help: exit %d, want 0", code)
	}
}

func TestSourceName(t *testing.T) {
	// The test runs in cmd/rsgen of the module.
	if got := sourceName("../../schema/chat.yaml"); got != "schema/chat.yaml" {
		t.Errorf("sourceName = %q, want schema/chat.yaml", got)
	}
	dir := t.TempDir()
	outside := filepath.Join(dir, "x.yaml")
	if got := sourceName(outside); got != filepath.ToSlash(outside) {
		t.Errorf("outside a module: sourceName = %q, want the path as given", got)
	}
}
