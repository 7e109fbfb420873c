package gen

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from the current output")

const updateHint = "run `go test ./gen -run TestGolden -update` and review the diff"

// TestGolden checks each testdata/valid/NAME.yaml against the files in
// testdata/valid/NAME/, and each testdata/invalid/NAME.yaml against the
// error text in testdata/invalid/NAME.err.
func TestGolden(t *testing.T) {
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatal("no golden cases found in testdata/")
	}
	for _, path := range valid {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run("valid/"+name, func(t *testing.T) {
			files := generateFile(t, path)
			dir := filepath.Join("testdata", "valid", name)
			if *update {
				writeGolden(t, dir, files)
				return
			}
			compareDir(t, dir, files, updateHint)
		})
	}
	for _, path := range invalid {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run("invalid/"+name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.ToSlash(path), src)
			if err == nil {
				t.Fatalf("%s: Parse succeeded; want errors", path)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v; %s", err, updateHint)
			}
			if got != string(want) {
				t.Errorf("errors of %s differ from %s (%s)\ngot:\n%s\nwant:\n%s", path, golden, updateHint, got, want)
			}
		})
	}
}

// generateFile parses and generates the schema at path, failing the test
// on any error.
func generateFile(t *testing.T, path string) map[string][]byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(filepath.ToSlash(path), src)
	if err != nil {
		t.Fatalf("Parse(%s):\n%v", path, err)
	}
	files, err := Generate(m)
	if err != nil {
		t.Fatalf("Generate(%s): %v", path, err)
	}
	return files
}

// writeGolden replaces the contents of dir with files.
func writeGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compareDir checks that the generated *.go files in dir are exactly files.
func compareDir(t *testing.T, dir string, files map[string][]byte, hint string) {
	t.Helper()
	for _, name := range sortedKeys(files) {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v; %s", err, hint)
			continue
		}
		if !bytes.Equal(files[name], want) {
			t.Errorf("%s differs from the generator's output; %s\n%s", filepath.Join(dir, name), hint, firstDiff(files[name], want))
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasSuffix(e.Name(), ".go") && IsGenerated(src) && files[e.Name()] == nil {
			t.Errorf("%s is a generated file that the generator no longer produces; %s", filepath.Join(dir, e.Name()), hint)
		}
	}
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  got:  %s\n  want: %s", i+1, gl, wl)
		}
	}
	return ""
}

// TestDrift checks that the committed generated packages are what the
// committed schemas produce now.
func TestDrift(t *testing.T) {
	for _, name := range []string{"chat", "kitchen"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "schema", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			// The path as the Makefile passes it, from the module root.
			m, err := Parse("schema/"+name+".yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			files, err := Generate(m)
			if err != nil {
				t.Fatal(err)
			}
			compareDir(t, filepath.Join("..", "generated", name), files, "run `make generate` and commit generated/")
		})
	}
}

// TestGeneratedCompiles vets the package of every valid golden case and of
// the matrix schema, in a temporary directory inside the module (so that the module's
// rsrt is used). Directories starting with "_" are ignored by ./...
// patterns, so concurrent builds of the module never see it.
func TestGeneratedCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := os.MkdirTemp("..", "_rsgen-compile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	var pkgs []string
	for _, path := range valid {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		dir := filepath.Join(root, name)
		writeGolden(t, dir, generateFile(t, path))
		pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Join(filepath.Base(root), name)))
	}
	m, err := Parse("matrix.yaml", []byte(matrixSchema()))
	if err != nil {
		t.Fatalf("matrix schema: %v", err)
	}
	files, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	writeGolden(t, filepath.Join(root, "matrix"), files)
	pkgs = append(pkgs, "./"+filepath.Base(root)+"/matrix")
	// go vet type-checks the packages fully, so it also proves they
	// compile, in one pass.
	cmd := exec.Command(goCmd, append([]string{"vet"}, pkgs...)...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go vet of the generated packages: %v\n%s", err, out)
	}
}

// matrixSchema returns a schema with a route for every valid combination
// of side, interaction, request and response kind, request and response
// metadata, initial payload and open metadata, so that the compile test
// covers them all.
func matrixSchema() string {
	var b strings.Builder
	b.WriteString(`package: matrix
types:
  Obj:
    fields:
      a: {type: string}
      b: {type: [Obj], optional: true}
metadata:
  st: {mime: m/s, type: string}
  so: {mime: m/so, type: string, optional: true}
  by: {mime: m/by, type: bytes}
  bo: {mime: m/bo, type: bytes, optional: true}
  ot: {mime: m/ot, type: string}
  ob: {mime: m/ob, type: bytes, optional: true}
`)
	kinds := []string{"empty", "string", "bytes", "Obj"}
	metas := []string{"[]", "[st, so, by, bo]"}
	n := 0
	for _, side := range []string{"routes", "client_routes"} {
		fmt.Fprintf(&b, "%s:\n", side)
		for i := RequestResponse; i <= MetadataPush; i++ {
			for _, req := range kinds {
				for _, resp := range kinds {
					for _, reqMeta := range metas {
						for _, respMeta := range metas {
							for _, initial := range []bool{false, true} {
								for _, open := range []string{"", "[ot, ob]"} {
									noResp := i == FireAndForget || i == MetadataPush
									if (noResp && (resp != "empty" || respMeta != "[]")) ||
										(i == MetadataPush && req != "empty") ||
										(initial && i != RequestChannel) ||
										(open != "" && i != RequestChannel) {
										continue
									}
									n++
									fmt.Fprintf(&b, "  - {route: r%d, interaction: %s, request: %s, response: %s, request_metadata: %s, response_metadata: %s",
										n, i, req, resp, reqMeta, respMeta)
									if initial {
										b.WriteString(", initial: empty")
									}
									if open != "" {
										b.WriteString(", open_metadata: " + open)
									}
									b.WriteString("}\n")
								}
							}
						}
					}
				}
			}
		}
	}
	return b.String()
}

// TestDeterministic generates the kitchen schema repeatedly: the output
// must never change (no map iteration order leaks into it).
func TestDeterministic(t *testing.T) {
	src, err := os.ReadFile("../schema/kitchen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var first map[string][]byte
	for range 5 {
		m, err := Parse("schema/kitchen.yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(m)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = files
			continue
		}
		for name := range first {
			if !bytes.Equal(first[name], files[name]) {
				t.Fatalf("%s differs between two runs", name)
			}
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ in, pascal, camel string }{
		{"channel.join", "ChannelJoin", "channelJoin"},
		{"period_seconds", "PeriodSeconds", "periodSeconds"},
		{"file_name", "FileName", "fileName"},
		{"ids", "IDs", "ids"},
		{"order_id", "OrderID", "orderID"},
		{"OrderId", "OrderID", "orderID"},
		{"userID", "UserID", "userID"},
		{"id", "ID", "id"},
		{"url", "URL", "url"},
		{"base_url", "BaseURL", "baseURL"},
		{"http_status", "HTTPStatus", "httpStatus"},
		{"json-body", "JSONBody", "jsonBody"},
		{"api.urls", "APIURLs", "apiURLs"},
		{"utf8", "UTF8", "utf8"},
		{"HTTPServer", "HTTPServer", "httpServer"},
		{"trace_id", "TraceID", "traceID"},
		{"https", "HTTPS", "https"},
		{"status", "Status", "status"},
		{"is", "Is", "is"},
		{"idea", "Idea", "idea"},
		{"uri_parts", "URIParts", "uriParts"},
		{"messages.incoming", "MessagesIncoming", "messagesIncoming"},
		{"file-name", "FileName", "fileName"},
		{"ServerStatistics", "ServerStatistics", "serverStatistics"},
		{"v2.list", "V2List", "v2List"},
		{"...", "", ""},
	} {
		if got := pascal(c.in); got != c.pascal {
			t.Errorf("pascal(%q) = %q, want %q", c.in, got, c.pascal)
		}
		if got := camel(c.in); got != c.camel {
			t.Errorf("camel(%q) = %q, want %q", c.in, got, c.camel)
		}
	}
}

func TestNounDoc(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"A chat message.", "Message is a chat message."},
		{"Statistics a client reports about itself.", "Message is statistics a client reports about itself."},
		{"Selects what the channel reports.", "Message selects what the channel reports."},
		{"Files stored on the server.", "Message is files stored on the server."},
		{"Message carries text.", "Message carries text."},
		{"UTF-8 text.", "Message is UTF-8 text."},
		{"", "Message fallback"},
		// issue 12: was "Message is asks to cancel an order."
		{"Asks to cancel an order.", "Message asks to cancel an order."},
		{"Reports whether the order shipped.", "Message reports whether the order shipped."},
		{"Free-form labels", "Message is free-form labels."},
		{"Seconds between two reports; 1 when absent.", "Message is seconds between two reports; 1 when absent."},
		{"The status of the order", "Message is the status of the order."},
		{"Cancel an order.", "Message cancels an order."},
		{"Fetch the order", "Message fetches the order."},
		{"Carry the load.", "Message carries the load."},
		{"message carries text.", "message carries text."},
		// A word in -s followed by "to" or an article: a plural noun
		// ("Orders to ship") or a verb ("Ships the order")? Neither reading
		// is forced on the doc.
		{"Orders to ship.", "Message fallback\nOrders to ship."},
		{"Files the server stores.", "Message fallback\nFiles the server stores."},
		{"If set, the order is urgent.", "Message fallback\nIf set, the order is urgent."},
		{"Must be positive.", "Message fallback\nMust be positive."},
		{"`id` of the order.", "Message fallback\n`id` of the order."},
		{"42 is the answer.", "Message fallback\n42 is the answer."},
		{"Deprecated: use Order.", "Message fallback\n\nDeprecated: use Order."},
		{"A chat message.\nSee the channel.", "Message is a chat message.\nSee the channel."},
		{"Whether the message was read.", "Message reports whether the message was read."},
		{"Counts of messages per channel", "Message is counts of messages per channel."},
		{"Set when the message is urgent.", "Message is set when the message is urgent."},
		// A whole sentence is not a phrase to attach.
		{"This type is deprecated.", "Message fallback\nThis type is deprecated."},
		{"The message has been read.", "Message fallback\nThe message has been read."},
		// An imperative without an object could be a noun in a type doc.
		{"Stream new messages.", "Message fallback\nStream new messages."},
	} {
		if got := nounDoc("Message", "message", c.doc, "fallback"); got != c.want {
			t.Errorf("nounDoc(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

func TestMethodDoc(t *testing.T) {
	side, _ := fixedNames().sides()
	for _, c := range []struct{ doc, want string }{
		{"Logs the connection in.", "Login logs the connection in."},
		{"Streams the name of every channel", "Login streams the name of every channel."},
		{"Get the order.", "Login gets the order."},
		{"List all orders", "Login lists all orders."},
		{"A channel that reports.", "Login is a channel that reports."},
		{"Login once per connection.", "Login once per connection."},
		{"Statistics of the server.", "Login is statistics of the server."},
		{"If the user exists, logs in.", "Login serves route \"login\" (request-response).\nIf the user exists, logs in."},
		{"Sign in as the named user", "Login signs in as the named user."},
		{"Log in.", "Login logs in."},
		{"Stream", "Login streams."},
		{"Counts of logins per user.", "Login is counts of logins per user."},
		{"Whether the user may log in.", "Login reports whether the user may log in."},
		{"This route is deprecated.", "Login serves route \"login\" (request-response).\nThis route is deprecated."},
		{"", "Login serves route \"login\" (request-response)."},
	} {
		r := &Route{Name: "login", GoName: "Login", Interaction: RequestResponse, Doc: c.doc, Side: side}
		if got := methodDoc(r); got != c.want {
			t.Errorf("methodDoc(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// positioned matches the start of every message Parse reports.
var positioned = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S`)

// FuzzParse checks that no input makes the parser or the emitters panic,
// that every rejection carries a position, and that every accepted schema
// renders.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../schema/*.yaml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if src, err := os.ReadFile(p); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := Parse("fuzz.yaml", src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T without positions: %v", err, err)
			}
			for _, e := range list {
				if !positioned.MatchString(e.Error()) {
					t.Fatalf("error without a file:line:col: position: %q", e.Error())
				}
			}
			return
		}
		if _, err := Generate(m); err != nil {
			t.Fatalf("accepted schema does not render: %v\n%s", err, src)
		}
	})
}

// TestHeaderSource checks that the generated header never names the schema
// by an absolute path, which would differ between machines.
func TestHeaderSource(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("testdata", "valid", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"schema/chat.yaml", "schema/chat.yaml"},
		{filepath.Join("..", "schema", "chat.yaml"), "../schema/chat.yaml"},
		{abs, "minimal.yaml"},
		{"/srv/schemas/chat.yaml", "chat.yaml"},
	} {
		m, err := Parse(c.in, []byte("package: demo\n"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Source != c.want {
			t.Errorf("Parse(%q): Source = %q, want %q", c.in, m.Source, c.want)
		}
		files, err := Generate(m)
		if err != nil {
			t.Fatal(err)
		}
		if h := "\n// Source: " + c.want + "\n"; !bytes.Contains(files["types.go"], []byte(h)) {
			t.Errorf("Parse(%q): types.go lacks %q", c.in, h)
		}
	}
}

// TestYAMLSyntaxErrorPos checks where YAML syntax errors are reported:
// yaml.v3 gives a line only, one too early for parser errors, so Parse
// locates the problem itself.
func TestYAMLSyntaxErrorPos(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		// The item is indented one column too far.
		{"package: x\nroutes:\n  - route: a\n   interaction: request-response\n", "x.yaml:4:4: invalid YAML: did not find expected '-' indicator"},
		// An unterminated quoted string: where it starts.
		{"package: x\ndoc: \"unterminated\nroutes: []\n", "x.yaml:2:6: invalid YAML: found unexpected end of stream"},
		{"package: x\n\tdoc: tab\n", "x.yaml:2:1: invalid YAML: found a tab character that violates indentation"},
		{"package: x\na: b: c\n", "x.yaml:2:5: invalid YAML: mapping values are not allowed in this context"},
		{"package: x\n- item\n", "x.yaml:2:1: invalid YAML: did not find expected key"},
		{"package: x\nfoo: @bar\n", "x.yaml:2:6: invalid YAML: found character that cannot start any token"},
		{"package: x\ndoc: \"multi\n  line\"\nfoo: @bar\n", "x.yaml:4:6: invalid YAML: found character that cannot start any token"},
		// Columns count runes, as yaml.v3's node positions do.
		{"package: x\ndoc: \"é\" é: b\n", "x.yaml:2:11: invalid YAML: mapping values are not allowed in this context"},
		// An unknown alias: at its '*'.
		{"package: x\nfoo: &a 1\nbaz: [*a, *b]\n", "x.yaml:3:11: invalid YAML: unknown anchor 'b' referenced"},
		// A byte that is not UTF-8 counts as one column, and the
		// search never reads past the input.
		{"package: x\nfoo: {}0\xa8", "x.yaml:2:9: invalid YAML: invalid leading UTF-8 octet"},
		{"package: x\nfoo: 0\xa8 b\n", "x.yaml:2:7: invalid YAML: invalid leading UTF-8 octet"},
	} {
		// Exact capacity: a read past the input panics instead of
		// reading whatever follows it.
		src := []byte(c.src)
		_, err := Parse("x.yaml", src[:len(src):len(src)])
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q):\ngot  %v\nwant %s", c.src, err, c.want)
		}
	}
}

// TestYAMLSyntaxErrorHuge checks that locating a syntax error gives up
// once it has parsed maxRescanBytes again, and falls back to the line
// yaml.v3 reports: the bound, not the input, limits the work.
func TestYAMLSyntaxErrorHuge(t *testing.T) {
	defer func(n int) { maxRescanBytes = n }(maxRescanBytes)
	maxRescanBytes = 1 << 20 // the same path as 16 MiB, faster under -race
	var b strings.Builder
	b.WriteString("package: x\ndoc: |\n")
	for range 100000 {
		b.WriteString("  some documentation text, many times over\n")
	}
	b.WriteString("a: b: c\n")
	_, err := Parse("x.yaml", []byte(b.String()))
	if want := "x.yaml:100003:1: invalid YAML: mapping values are not allowed in this context"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
