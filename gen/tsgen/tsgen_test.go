package tsgen

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from the current output")

const updateHint = "run `go test ./gen/tsgen -run TestGolden -update` and review the diff"

// goldenCases are the schemas whose TypeScript clients are kept in
// testdata/NAME.ts: schema/kitchen.yaml (which has every
// interaction model and payload kind on both sides) and gen's valid test
// schemas (names, docs, initialisms). Source is what the header names.
func goldenCases(t *testing.T) map[string]string {
	// chat is left out: TestCommitted compares it with generated/chat-ts.
	cases := map[string]string{"kitchen": "../../schema/kitchen.yaml"}
	valid, _ := filepath.Glob("../testdata/valid/*.yaml")
	if len(valid) == 0 {
		t.Fatal("no schemas in ../testdata/valid")
	}
	for _, p := range valid {
		cases[strings.TrimSuffix(filepath.Base(p), ".yaml")] = p
	}
	return cases
}

// render generates the TypeScript client of the schema at path, named in
// the header by its path from the module root.
func render(t *testing.T, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gen.Parse(path, src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m.Source = strings.TrimPrefix(filepath.ToSlash(path), "../../")
	if !strings.HasPrefix(m.Source, "schema/") {
		m.Source = "gen/" + strings.TrimPrefix(m.Source, "../")
	}
	files, err := Generate(m, Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(files) != 1 || files[FileName(m)] == nil {
		t.Fatalf("%s: Generate returned %d files, want only %s", path, len(files), FileName(m))
	}
	return files[FileName(m)]
}

// TestGolden compares the TypeScript client of each schema with
// testdata/NAME.ts. The type-check of those files (tsc --strict) runs in
// `make test-ts`.
func TestGolden(t *testing.T) {
	for name, path := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			got := render(t, path)
			golden := filepath.Join("testdata", name+".ts")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v; %s", err, updateHint)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the output for %s; %s\n%s", golden, path, updateHint, firstDiff(got, want))
			}
		})
	}
}

// TestCommitted fails when generated/chat-ts/chat.ts is not what
// schema/chat.yaml produces (`make generate` rewrites it).
func TestCommitted(t *testing.T) {
	got := render(t, "../../schema/chat.yaml")
	want, err := os.ReadFile("../../generated/chat-ts/chat.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated/chat-ts/chat.ts is out of date with schema/chat.yaml; run `make generate`\n%s", firstDiff(got, want))
	}
}

// TestDeterministic renders the kitchen schema twice.
func TestDeterministic(t *testing.T) {
	a := render(t, "../../schema/kitchen.yaml")
	b := render(t, "../../schema/kitchen.yaml")
	if !bytes.Equal(a, b) {
		t.Errorf("two renders differ:\n%s", firstDiff(a, b))
	}
}

// TestHeader checks the header gen.IsGenerated recognises.
func TestHeader(t *testing.T) {
	got := render(t, "../../schema/chat.yaml")
	if !gen.IsGenerated(got) {
		t.Errorf("output does not start with %q", gen.Header)
	}
	if !bytes.HasPrefix(got, []byte(gen.Header+"\n// Source: schema/chat.yaml\n")) {
		t.Errorf("header is not followed by the Source line:\n%s", got[:min(len(got), 200)])
	}
}

// TestClash checks that a schema type named like a name only the
// TypeScript output declares is refused.
func TestClash(t *testing.T) {
	src := []byte("package: p\ntypes:\n  ConnectOptions:\n    fields: {}\nroutes:\n  - route: r\n    interaction: request-response\n    request: ConnectOptions\n")
	m, err := gen.Parse("clash.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(m, Options{}); err == nil || !strings.Contains(err.Error(), "ConnectOptions") {
		t.Errorf("Generate: err = %v, want a clash on ConnectOptions", err)
	}
}

// TestMethodNames checks how Go method names become TypeScript ones.
func TestMethodNames(t *testing.T) {
	for goName, want := range map[string]string{
		"FileDownload": "fileDownload",
		"Login":        "login",
		"URLGet":       "urlGet",
		"IDs":          "ids",
		"IDsList":      "idsList",
		"HTTPServer":   "httpServer",
		"ID":           "id",
		"Constructor":  "constructor_",
	} {
		if got := method(&gen.Route{GoName: goName}); got != want {
			t.Errorf("method(%s) = %s, want %s", goName, got, want)
		}
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}

// TestEveryExportDocumented checks that every exported declaration of the
// kitchen client, and every member of its exported interfaces and
// classes, follows a TSDoc comment.
func TestEveryExportDocumented(t *testing.T) {
	lines := strings.Split(string(render(t, "../../schema/kitchen.yaml")), "\n")
	inExported := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "export "):
			inExported = (strings.HasPrefix(l, "export interface ") || strings.HasPrefix(l, "export class ")) && strings.HasSuffix(l, "{")
		case l == "}":
			inExported = false
			continue
		case !inExported || !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") || l == "  }" || l == "  ) {}" || strings.HasPrefix(l, "  /**") || strings.HasPrefix(l, "  *") || strings.HasPrefix(l, "   *"):
			continue
		}
		if i == 0 || !strings.HasSuffix(strings.TrimSpace(lines[i-1]), "*/") {
			t.Errorf("line %d has no doc comment: %s", i+1, l)
		}
	}
}
