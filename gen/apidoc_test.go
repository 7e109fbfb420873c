package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const docUpdateHint = "run `go test ./gen -run TestDocGolden -update` and review the diff"

// TestDocGolden checks the API reference of each testdata/valid/NAME.yaml
// against testdata/valid/NAME.md.
func TestDocGolden(t *testing.T) {
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(valid) == 0 {
		t.Fatal("no golden cases found in testdata/valid")
	}
	for _, path := range valid {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			got := referenceOf(t, path, filepath.ToSlash(path))
			golden := strings.TrimSuffix(path, ".yaml") + ".md"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v; %s", err, docUpdateHint)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the API reference of %s; %s\n%s", golden, path, docUpdateHint, firstDiff(got, want))
			}
		})
	}
}

// TestDocDrift checks that the committed references in generated/ are what
// the committed schemas produce now.
func TestDocDrift(t *testing.T) {
	for _, name := range []string{"chat", "kitchen"} {
		got := referenceOf(t, filepath.Join("..", "schema", name+".yaml"), "schema/"+name+".yaml")
		path := filepath.Join("..", "generated", name, "API.md")
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; run `make generate` and commit generated/", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale; run `make generate` and commit generated/\n%s", path, firstDiff(got, want))
		}
	}
}

func referenceOf(t *testing.T, path, source string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(source, src)
	if err != nil {
		t.Fatal(err)
	}
	return Reference(m)
}

// TestDocContent checks what a reader needs from the chat's reference, so
// that the golden files cannot be updated into saying less.
func TestDocContent(t *testing.T) {
	doc := string(referenceOf(t, "../schema/chat.yaml", "schema/chat.yaml"))
	for _, want := range []string{
		"### request-response\n",
		"### request-stream\n",
		"### request-channel\n",
		"### fire-and-forget\n",
		"## Client routes (server to client)",
		`#### <a id="client-route-request-response-time"></a>time`,
		"`file_name` | `chat/file-name` | UTF-8 text | yes |",
		"- Request metadata: [`file_name`](#metadata-file_name) (`chat/file-name`, required)",
		"| `ids` | list of string | no | each: one of `users`, `channels` | The counts to report",
		"| `content` | string | no | at most 65536 bytes | The text of the message. |",
		"- Initial: empty",
		"Used by [`message`](#route-request-response-message) (request), [`messages.incoming`](#route-request-stream-messages.incoming) (response).",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the chat reference lacks %q", want)
		}
	}
	// Every link points at an anchor of the document.
	for _, part := range strings.Split(doc, "](#")[1:] {
		id := part[:strings.IndexByte(part, ')')]
		if !strings.Contains(doc, `<a id="`+id+`"></a>`) {
			t.Errorf("link to #%s has no anchor", id)
		}
	}
}
