package gen

// Step 1 of Parse, decode: the YAML document into a syntax tree that keeps
// the position of every value. Decoding checks the shape of the document
// only: YAML syntax, the kind of each value (mapping, list, string,
// boolean), unknown, missing and repeated keys, empty strings and the depth
// of list types. What the values mean (which types exist, which
// interactions take which keys) is for validate; Go names are for name.

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// scalar is a string value of the schema and where it was written.
type scalar struct {
	Value string
	Pos   Pos
}

// schemaSyntax is a schema as written. A value that could not be decoded
// (wrong kind, empty) has been reported and is absent (nil).
type schemaSyntax struct {
	Package              *scalar
	Doc                  string
	Types                []*typeSyntax
	Entries              []*entrySyntax
	Routes, ClientRoutes []*routeSyntax
}

// typeSyntax is a declared type; each name appears once.
type typeSyntax struct {
	Name   scalar
	Doc    string
	Fields []*fieldSyntax
}

// fieldSyntax is a field of a declared type; each name appears once.
type fieldSyntax struct {
	Name     scalar
	Type     *typeRef
	Optional bool
	Doc      string
	// Rules are the constraint keys the field has, in the order of ruleKeys.
	Rules []*ruleSyntax
}

// ruleSyntax is one constraint key of a field as written: its key, where
// the key is, and its value node, whose kind validate checks against the
// field's type.
type ruleSyntax struct {
	Key   string
	Pos   Pos
	Value *yaml.Node
}

// typeRef is a field type as written: a type name, or a list [T].
type typeRef struct {
	Pos  Pos
	Name string   // a type name, when Elem is nil
	Elem *typeRef // the item type of a list
}

// entrySyntax is a declared metadata entry; each name appears once.
type entrySyntax struct {
	Name     scalar
	MIME     *scalar
	Type     *scalar
	Optional bool
	Doc      string
	// Rules are the constraint keys the entry has, in the order of
	// entryRuleKeys.
	Rules []*ruleSyntax
}

// routeSyntax is one item of routes or client_routes.
type routeSyntax struct {
	// Label names the route in messages: `route "login"` once its name
	// is known to be valid, `routes[2]` before.
	Label string
	// Pos is the position of the route name, or of the item without one.
	Pos  Pos
	Name *scalar // may be empty
	// Keys holds the position of every key the item has.
	Keys              map[string]Pos
	Interaction       *scalar
	Request, Response *scalar
	RequestMeta       []scalar
	ResponseMeta      []scalar
	OpenMeta          []scalar
	Initial           *scalar
	Go                *scalar
	Doc               string
}

// The keys of each mapping of the schema, in the order messages list them.
// The JSON Schema of the language (jsonschema.go) is built from the same
// lists.
var (
	schemaKeys = []string{"package", "doc", "types", "metadata", "routes", "client_routes"}
	typeKeys   = []string{"doc", "fields"}
	fieldKeys  = append([]string{"type", "optional", "doc"}, ruleKeys...)
	// ruleKeys are the constraint keys of a field (see validate.rules).
	ruleKeys  = []string{"min_length", "max_length", "min_items", "max_items", "minimum", "maximum", "enum", "pattern", "no_control"}
	entryKeys = append([]string{"mime", "type", "doc", "optional"}, entryRuleKeys...)
	// entryRuleKeys are the constraint keys of a metadata entry: those
	// of a string (lengths also apply to bytes).
	entryRuleKeys = []string{"min_length", "max_length", "enum", "pattern", "no_control"}
	routeKeys     = []string{"route", "interaction", "request", "response", "request_metadata", "response_metadata", "open_metadata", "initial", "go", "doc"}
)

// decoder reports the problems of the decode step.
type decoder struct{ *problems }

// decode returns the syntax tree of src, or nil when src is not a YAML
// mapping.
func decode(src []byte, probs *problems) *schemaSyntax {
	d := decoder{probs}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		pos, msg := yamlErrorPos(src, err)
		d.at(pos, "invalid YAML: %s", msg)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.at(Pos{1, 1}, "empty schema: want a mapping with at least the key package")
		return nil
	}
	top := d.mapping(doc.Content[0], "schema", schemaKeys...)
	if top == nil {
		return nil
	}
	s := &schemaSyntax{}
	if n := top.require("package"); n != nil {
		s.Package = d.word(n, "package")
	}
	s.Doc = d.doc(top, "package")
	if n := top.get("types"); n != nil {
		s.Types = d.types(n)
	}
	if n := top.get("metadata"); n != nil {
		s.Entries = d.entries(n)
	}
	if n := top.get("routes"); n != nil {
		s.Routes = d.routes(n, false)
	}
	if n := top.get("client_routes"); n != nil {
		s.ClientRoutes = d.routes(n, true)
	}
	return s
}

// yamlLine matches the position yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxRescanBytes bounds the bytes yamlErrorPos parses again to locate a
// syntax error (a prefix per line up to the problem, then one per rune of
// its line): plenty for a hand-written schema of a few thousand lines, and
// a bound on the time (well under a second) a huge or hostile input takes.
// A variable, so that a test can reach the bound quickly.
var maxRescanBytes = 16 << 20

// yamlErrorPos returns the position and the message of a YAML syntax error.
// yaml.v3 reports a line only: for scanner errors the line of the problem,
// for parser errors the 0-based line of the construct being parsed, so one
// line too early, and never a column. The position is therefore found
// again: the first line, and within it the first column, at which a prefix
// of src fails to parse with the same message. A prefix that ends inside a
// construct fails too, but with another message ("found unexpected end of
// stream"), so it does not stop the search. When no prefix gives the
// message, the line yaml.v3 reports is used, at column 1.
func yamlErrorPos(src []byte, err error) (Pos, string) {
	full := err.Error()
	pos, msg := Pos{1, 1}, strings.TrimPrefix(full, "yaml: ")
	if m := yamlLine.FindStringSubmatch(full); m != nil {
		line, _ := strconv.Atoi(m[1])
		pos, msg = Pos{line, 1}, m[2]
	}
	// failsAs reports whether src[:n] fails with the message of the whole.
	rescanned := 0
	failsAs := func(n int) bool {
		rescanned += n
		var doc yaml.Node
		err := yaml.Unmarshal(src[:n], &doc)
		if err == nil {
			return false
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return m[2] == msg
		}
		return strings.TrimPrefix(err.Error(), "yaml: ") == msg
	}
	start := 0 // of the current line
	for line := 1; start < len(src) && rescanned < maxRescanBytes; line++ {
		end := len(src)
		if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		if !failsAs(end) {
			start = end
			continue
		}
		// The first rune at which the line fails; the line break itself
		// when only the whole line does.
		text := string(src[start:end])
		col := 0
		for i := range text {
			col++
			// The rune's width in src: one byte for a byte that is
			// not UTF-8, which range reads as U+FFFD.
			_, w := utf8.DecodeRuneInString(text[i:])
			if rescanned >= maxRescanBytes || failsAs(start+i+w) {
				break
			}
		}
		// An alias is checked once its whole name is read: point at its
		// '*' instead of its last letter.
		if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
			name = strings.TrimSuffix(name, "' referenced")
			if i := strings.LastIndex(text[:min(len(text), byteOffset(text, col)+1)], "*"+name); i >= 0 {
				col = utf8.RuneCountInString(text[:i]) + 1
			}
		}
		return Pos{line, col}, msg
	}
	return pos, msg
}

// byteOffset returns the byte offset of the col-th rune (1-based) of s.
func byteOffset(s string, col int) int {
	n := 0
	for i := range s {
		n++
		if n == col {
			return i
		}
	}
	return len(s)
}

func (d decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.at(posOf(n), format, args...)
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{1, 1}
	}
	return Pos{n.Line, n.Column}
}

// deref follows YAML aliases, which are allowed anywhere.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

// isString reports whether n is a string scalar.
func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// fields is a YAML mapping whose keys have been checked.
type fields struct {
	node *yaml.Node
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	ctx  string
	d    decoder
}

// mapping checks that n is a mapping with string keys among allowed, each
// at most once. It reports every offending key, and returns nil when n is
// not a mapping at all. Without allowed keys, only the kind is checked: the
// caller reads the keys itself (names of types, fields, entries).
func (d decoder) mapping(n *yaml.Node, ctx string, allowed ...string) *fields {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", ctx, describe(n))
		return nil
	}
	f := &fields{node: n, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, ctx: ctx, d: d}
	if allowed == nil {
		return f
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if !isString(k) {
			d.errorf(k, "%s: keys must be strings, got %s", ctx, describe(k))
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			d.errorf(k, "%s: unknown key %q; want one of %s", ctx, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			d.errorf(k, "%s: duplicate key %q (first at line %d)", ctx, k.Value, first.Line)
			continue
		}
		f.keys[k.Value], f.vals[k.Value] = k, deref(v)
	}
	return f
}

// get returns the value of key, or nil when absent.
func (f *fields) get(key string) *yaml.Node { return f.vals[key] }

// require returns the value of key, reporting it missing.
func (f *fields) require(key string) *yaml.Node {
	v := f.vals[key]
	if v == nil {
		f.d.errorf(f.node, "%s: missing key %q", f.ctx, key)
	}
	return v
}

// keyPos returns the position of every key of f.
func (f *fields) keyPos() map[string]Pos {
	m := make(map[string]Pos, len(f.keys))
	for k, n := range f.keys {
		m[k] = posOf(n)
	}
	return m
}

// pair is a key and its value in a mapping whose keys are names.
type pair struct{ key, value *yaml.Node }

// namedPairs returns the entries of a mapping whose keys are names (types,
// fields, entries), reporting keys that are not strings with what (as in
// "type names") and repeated names with dup.
func (f *fields) namedPairs(what string, dup func(k *yaml.Node, first Pos)) []pair {
	var out []pair
	first := map[string]Pos{}
	for i := 0; i+1 < len(f.node.Content); i += 2 {
		k := deref(f.node.Content[i])
		if !isString(k) {
			f.d.errorf(k, "%s: %s must be strings, got %s", f.ctx, what, describe(k))
			continue
		}
		if pos, seen := first[k.Value]; seen {
			dup(k, pos)
			continue
		}
		first[k.Value] = posOf(k)
		out = append(out, pair{k, f.node.Content[i+1]})
	}
	return out
}

// str returns a string scalar, or nil after reporting a value of another
// kind.
func (d decoder) str(n *yaml.Node, ctx string) *scalar {
	if !isString(n) {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = "; quote it"
		}
		d.errorf(n, "%s: want a string, got %s%s", ctx, describe(n), hint)
		return nil
	}
	return &scalar{n.Value, posOf(n)}
}

// word is str for values that must not be empty.
func (d decoder) word(n *yaml.Node, ctx string) *scalar {
	s := d.str(n, ctx)
	if s != nil && s.Value == "" {
		d.errorf(n, "%s: empty value", ctx)
		return nil
	}
	return s
}

// boolean returns the value of a boolean node.
func (d decoder) boolean(n *yaml.Node, ctx string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, "%s: want true or false, got %s", ctx, describe(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// doc returns the doc key of f, without the trailing newline of YAML block
// scalars.
func (d decoder) doc(f *fields, ctx string) string {
	n := f.get("doc")
	if n == nil {
		return ""
	}
	if s := d.str(n, ctx+": doc"); s != nil {
		return strings.TrimSpace(s.Value)
	}
	return ""
}

// list returns the items of a sequence node.
func (d decoder) list(n *yaml.Node, ctx string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list, got %s", ctx, describe(n))
		return nil
	}
	return n.Content
}

func (d decoder) types(n *yaml.Node) []*typeSyntax {
	f := d.mapping(n, "types")
	if f == nil {
		return nil
	}
	var out []*typeSyntax
	for _, kv := range f.namedPairs("type names", func(k *yaml.Node, first Pos) {
		d.errorf(k, "types: duplicate type %q (first at line %d)", k.Value, first.Line)
	}) {
		out = append(out, d.object(scalar{kv.key.Value, posOf(kv.key)}, kv.value))
	}
	return out
}

func (d decoder) object(name scalar, n *yaml.Node) *typeSyntax {
	t := &typeSyntax{Name: name}
	ctx := fmt.Sprintf("type %q", name.Value)
	f := d.mapping(n, ctx, typeKeys...)
	if f == nil {
		return t
	}
	t.Doc = d.doc(f, ctx)
	fn := f.get("fields")
	if fn == nil {
		return t
	}
	ff := d.mapping(fn, ctx+": fields")
	if ff == nil {
		return t
	}
	ff.ctx = ctx // "type "T": field names must be strings"
	for _, kv := range ff.namedPairs("field names", func(k *yaml.Node, first Pos) {
		d.errorf(k, "%s: field %q: duplicate field (first at line %d)", ctx, k.Value, first.Line)
	}) {
		fctx := fmt.Sprintf("%s: field %q", ctx, kv.key.Value)
		fd := &fieldSyntax{Name: scalar{kv.key.Value, posOf(kv.key)}}
		t.Fields = append(t.Fields, fd)
		body := d.mapping(kv.value, fctx, fieldKeys...)
		if body == nil {
			continue
		}
		if tn := body.require("type"); tn != nil {
			fd.Type = d.typeRef(tn, fctx, 0)
		}
		if on := body.get("optional"); on != nil {
			fd.Optional = d.boolean(on, fctx+": optional")
		}
		fd.Doc = d.doc(body, fctx)
		for _, k := range ruleKeys {
			if v := body.get(k); v != nil {
				fd.Rules = append(fd.Rules, &ruleSyntax{Key: k, Pos: posOf(body.keys[k]), Value: v})
			}
		}
	}
	return t
}

// maxListDepth bounds the nesting of list types. It also stops the
// recursion on a YAML alias that refers to its own anchor (&a [*a]), which
// yaml.v3 turns into a cyclic node graph.
const maxListDepth = 8

// typeRef decodes a field type: a type name or a one-item list [T]. depth
// counts the enclosing lists.
func (d decoder) typeRef(n *yaml.Node, ctx string, depth int) *typeRef {
	switch n.Kind {
	case yaml.SequenceNode:
		if depth >= maxListDepth {
			d.errorf(n, "%s: list types nest more than %d deep", ctx, maxListDepth)
			return nil
		}
		if len(n.Content) != 1 {
			d.errorf(n, "%s: a list type has exactly one item type, as in [string]; got %d", ctx, len(n.Content))
			return nil
		}
		elem := d.typeRef(deref(n.Content[0]), ctx, depth+1)
		if elem == nil {
			return nil
		}
		return &typeRef{Pos: posOf(n), Elem: elem}
	case yaml.ScalarNode:
		s := d.word(n, ctx+": type")
		if s == nil {
			return nil
		}
		return &typeRef{Pos: s.Pos, Name: s.Value}
	}
	d.errorf(n, "%s: want a type name or a list [T], got %s", ctx, describe(n))
	return nil
}

func (d decoder) entries(n *yaml.Node) []*entrySyntax {
	f := d.mapping(n, "metadata")
	if f == nil {
		return nil
	}
	var out []*entrySyntax
	for _, kv := range f.namedPairs("entry names", func(k *yaml.Node, first Pos) {
		d.errorf(k, "metadata: duplicate entry %q (first at line %d)", k.Value, first.Line)
	}) {
		e := &entrySyntax{Name: scalar{kv.key.Value, posOf(kv.key)}}
		out = append(out, e)
		ctx := fmt.Sprintf("metadata entry %q", e.Name.Value)
		body := d.mapping(kv.value, ctx, entryKeys...)
		if body == nil {
			continue
		}
		if mn := body.require("mime"); mn != nil {
			e.MIME = d.word(mn, ctx+": mime")
		}
		if tn := body.require("type"); tn != nil {
			e.Type = d.word(tn, ctx+": type")
		}
		if on := body.get("optional"); on != nil {
			e.Optional = d.boolean(on, ctx+": optional")
		}
		e.Doc = d.doc(body, ctx)
		for _, k := range entryRuleKeys {
			if v := body.get(k); v != nil {
				e.Rules = append(e.Rules, &ruleSyntax{Key: k, Pos: posOf(body.keys[k]), Value: v})
			}
		}
	}
	return out
}

func (d decoder) routes(n *yaml.Node, client bool) []*routeSyntax {
	key := "routes"
	if client {
		key = "client_routes"
	}
	var out []*routeSyntax
	for i, item := range d.list(n, key) {
		if r := d.route(deref(item), client, fmt.Sprintf("%s[%d]", key, i)); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func (d decoder) route(n *yaml.Node, client bool, label string) *routeSyntax {
	f := d.mapping(n, label, routeKeys...)
	if f == nil {
		return nil
	}
	r := &routeSyntax{Label: label, Pos: posOf(n), Keys: f.keyPos()}
	if rn := f.require("route"); rn != nil {
		r.Pos = posOf(rn)
		r.Name = d.str(rn, label+": route")
		if r.Name != nil && routeNameProblem(r.Name.Value) == "" {
			r.Label = fmt.Sprintf("%s %q", sideWord(client), r.Name.Value)
		}
	}
	ctx := r.Label
	if in := f.require("interaction"); in != nil {
		r.Interaction = d.word(in, ctx+": interaction")
	}
	r.Doc = d.doc(f, ctx)
	if rn := f.get("request"); rn != nil {
		r.Request = d.payload(rn, ctx+": request")
	}
	if rn := f.get("response"); rn != nil {
		r.Response = d.payload(rn, ctx+": response")
	}
	if mn := f.get("request_metadata"); mn != nil {
		r.RequestMeta = d.words(mn, ctx+": request_metadata")
	}
	if mn := f.get("response_metadata"); mn != nil {
		r.ResponseMeta = d.words(mn, ctx+": response_metadata")
	}
	if mn := f.get("open_metadata"); mn != nil {
		r.OpenMeta = d.words(mn, ctx+": open_metadata")
	}
	if in := f.get("initial"); in != nil {
		r.Initial = d.word(in, ctx+": initial")
	}
	if gn := f.get("go"); gn != nil {
		r.Go = d.word(gn, ctx+": go")
	}
	return r
}

// routeNameProblem says what is wrong with a route name, or "".
func routeNameProblem(name string) string {
	switch {
	case name == "":
		return "empty route name"
	case len(name) > 255:
		return fmt.Sprintf("route name of %d bytes; routing metadata allows 255", len(name))
	case !utf8.ValidString(name):
		return "route name is not valid UTF-8"
	}
	return ""
}

// sideWord names a route of one side in messages and docs.
func sideWord(client bool) string {
	if client {
		return "client route"
	}
	return "route"
}

// payload decodes a request or response type name.
func (d decoder) payload(n *yaml.Node, ctx string) *scalar {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: want string, bytes, empty or a declared type, got %s", ctx, describe(n))
		return nil
	}
	return d.word(n, ctx)
}

// words decodes a list of names.
func (d decoder) words(n *yaml.Node, ctx string) []scalar {
	var out []scalar
	for _, item := range d.list(n, ctx) {
		if s := d.word(deref(item), ctx); s != nil {
			out = append(out, *s)
		}
	}
	return out
}
