package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
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
	if code := run([]string{"-schema", schema, "-out", out}, io.Discard, &stderr); code != 0 {
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
	if code := run([]string{"-schema", schema, "-out", out}, io.Discard, &stderr); code != 1 {
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
	if code := run([]string{"-schema", schema, "-out", out}, io.Discard, &stderr); code != 1 {
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
	if code := run(nil, io.Discard, &stderr); code != 2 {
		t.Errorf("no flags: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-schema") {
		t.Errorf("usage does not mention -schema:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-help"}, io.Discard, &stderr); code != 0 {
		t.Errorf("-help: exit %d, want 0", code)
	}
}

func TestSourceName(t *testing.T) {
	// The test runs in cmd/rsgen of the module.
	if got := sourceName("../../schema/chat.yaml"); got != "schema/chat.yaml" {
		t.Errorf("sourceName = %q, want schema/chat.yaml", got)
	}
	// Outside a module, the header must not depend on the machine (an
	// absolute path) nor on the current directory.
	dir := t.TempDir()
	outside := filepath.Join(dir, "sub", "x.yaml")
	writeFile(t, outside, schemaSrc)
	if got := sourceName(outside); got != "x.yaml" {
		t.Errorf("outside a module: sourceName(%q) = %q, want x.yaml", outside, got)
	}
	t.Chdir(dir)
	if got := sourceName(filepath.Join("sub", "x.yaml")); got != "x.yaml" {
		t.Errorf("outside a module, relative: sourceName = %q, want x.yaml", got)
	}
}

// TestRunSourceHeader runs the command on a schema in no module, given by
// its absolute path: the header names the file alone.
func TestRunSourceHeader(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "demo.yaml")
	out := filepath.Join(dir, "out")
	writeFile(t, schema, schemaSrc)
	var stderr strings.Builder
	if code := run([]string{"-schema", schema, "-out", out}, io.Discard, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	src, err := os.ReadFile(filepath.Join(out, "types.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\n// Source: demo.yaml\n") || strings.Contains(string(src), dir) {
		t.Errorf("types.go header does not name the schema as demo.yaml:\n%s", src)
	}
}

func TestRunVersion(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"-version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// A test binary is built inside the checkout: no module version.
	if got := stdout.String(); !strings.HasPrefix(got, "rsgen ") || !strings.HasSuffix(got, "\n") {
		t.Errorf("-version printed %q, want \"rsgen VERSION\\n\"", got)
	}
}

func TestVersion(t *testing.T) {
	const cmdPath = "github.com/rsocket-chat/rsgen/cmd/rsgen"
	for _, c := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"own checkout", &debug.BuildInfo{Path: cmdPath,
			Main: debug.Module{Path: "github.com/rsocket-chat/rsgen", Version: "(devel)"}}, "(devel)"},
		{"go install", &debug.BuildInfo{Path: cmdPath,
			Main: debug.Module{Path: "github.com/rsocket-chat/rsgen", Version: "v0.3.1"}}, "v0.3.1"},
		{"tool of another module", &debug.BuildInfo{Path: cmdPath,
			Main: debug.Module{Path: "example.com/shop", Version: "(devel)"},
			Deps: []*debug.Module{
				{Path: "github.com/rsocket-chat/rsgen-extra", Version: "v9.0.0"},
				{Path: "github.com/rsocket-chat/rsgen", Version: "v0.3.1"},
			}}, "v0.3.1"},
		{"replaced dependency", &debug.BuildInfo{Path: cmdPath,
			Main: debug.Module{Path: "example.com/shop"},
			Deps: []*debug.Module{{Path: "github.com/rsocket-chat/rsgen", Version: "v0.0.0",
				Replace: &debug.Module{Path: "../rsgen"}}}}, "v0.0.0"},
		{"empty main version", &debug.BuildInfo{Path: cmdPath,
			Main: debug.Module{Path: "github.com/rsocket-chat/rsgen"}}, "(devel)"},
	} {
		if got := version(c.info); got != c.want {
			t.Errorf("%s: version = %q, want %q", c.name, got, c.want)
		}
	}
}
