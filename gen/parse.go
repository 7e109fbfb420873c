package gen

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Parse decodes and validates the schema src read from filename, and
// returns its model. filename is only used in messages and in the
// generated header (with forward slashes). On failure the error is an
// [ErrorList] holding every problem found, sorted by position.
func Parse(filename string, src []byte) (*Model, error) {
	p := &parser{file: filepath.ToSlash(filename)}
	m := p.parse(filename, src)
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	return m, nil
}

// parser collects the problems of one schema while building its model.
type parser struct {
	file string
	errs ErrorList

	types   map[string]*Object // by schema name
	entries map[string]*Entry  // by schema name
}

func (p *parser) errorAt(pos Pos, format string, args ...any) {
	if pos.Line < 1 {
		pos = Pos{1, 1}
	}
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errorAt(posOf(n), format, args...)
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{1, 1}
	}
	return Pos{n.Line, n.Column}
}

// yamlLine matches the position yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxRescanBytes bounds the bytes yamlErrorPos parses again to locate a
// syntax error (a prefix per line up to the problem, then one per rune of
// its line): plenty for a hand-written schema of a few thousand lines, and
// a bound on the time (well under a second) a huge or hostile input takes.
const maxRescanBytes = 16 << 20

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
		for i, r := range text {
			col++
			if rescanned >= maxRescanBytes || failsAs(start+i+utf8.RuneLen(r)) {
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

// headerSource is the schema path for the generated header: the path as
// given with forward slashes, except that an absolute path, which would
// differ between machines, is cut to its base name.
func headerSource(filename string) string {
	if filepath.IsAbs(filename) || path.IsAbs(filepath.ToSlash(filename)) {
		return path.Base(filepath.ToSlash(filename))
	}
	return filepath.ToSlash(filename)
}

func (p *parser) parse(filename string, src []byte) *Model {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		pos, msg := yamlErrorPos(src, err)
		p.errorAt(pos, "invalid YAML: %s", msg)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errorAt(Pos{1, 1}, "empty schema: want a mapping with at least the key package")
		return nil
	}
	top := p.mapping(doc.Content[0], "schema", "package", "doc", "types", "metadata", "routes", "client_routes")
	if top == nil {
		return nil
	}
	m := &Model{Source: headerSource(filename), Server: newServerSide(), Client: newClientSide()}
	if n := top.require("package"); n != nil {
		m.Package = p.word(n, "package")
		if m.Package != "" && (!isIdent(m.Package) || m.Package == "_" || m.Package == "main") {
			p.errorf(n, "package: %q is not a valid Go package name", m.Package)
		}
	}
	m.Doc = p.doc(top, "package")
	p.types = map[string]*Object{}
	p.entries = map[string]*Entry{}
	if n := top.get("types"); n != nil {
		m.Types = p.parseTypes(n)
	}
	if n := top.get("metadata"); n != nil {
		m.Entries = p.parseEntries(n)
	}
	if n := top.get("routes"); n != nil {
		m.Server.Routes = p.parseRoutes(n, m.Server)
	}
	if n := top.get("client_routes"); n != nil {
		m.Client.Routes = p.parseRoutes(n, m.Client)
	}
	p.checkNames(m)
	return m
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

// fields is a YAML mapping whose keys have been checked.
type fields struct {
	node *yaml.Node
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	ctx  string
	p    *parser
}

// mapping checks that n is a mapping with string keys among allowed, each
// at most once. It reports every offending key, and returns nil when n is
// not a mapping at all. Without allowed keys, only the kind is checked: the
// caller reads the keys itself (names of types, fields, entries).
func (p *parser) mapping(n *yaml.Node, ctx string, allowed ...string) *fields {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping, got %s", ctx, describe(n))
		return nil
	}
	f := &fields{node: n, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, ctx: ctx, p: p}
	if allowed == nil {
		return f
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			p.errorf(k, "%s: keys must be strings, got %s", ctx, describe(k))
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.errorf(k, "%s: unknown key %q; want one of %s", ctx, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			p.errorf(k, "%s: duplicate key %q (first at line %d)", ctx, k.Value, first.Line)
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
		f.p.errorf(f.node, "%s: missing key %q", f.ctx, key)
	}
	return v
}

// str returns the string value of a scalar node, or "" after reporting it.
func (p *parser) str(n *yaml.Node, ctx string) string {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = "; quote it"
		}
		p.errorf(n, "%s: want a string, got %s%s", ctx, describe(n), hint)
		return ""
	}
	return n.Value
}

// word is str for values that must not be empty.
func (p *parser) word(n *yaml.Node, ctx string) string {
	s := p.str(n, ctx)
	if s == "" && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		p.errorf(n, "%s: empty value", ctx)
	}
	return s
}

// boolean returns the value of a boolean node.
func (p *parser) boolean(n *yaml.Node, ctx string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.errorf(n, "%s: want true or false, got %s", ctx, describe(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// doc returns the doc key of f, without the trailing newline of YAML block
// scalars.
func (p *parser) doc(f *fields, ctx string) string {
	n := f.get("doc")
	if n == nil {
		return ""
	}
	return strings.TrimSpace(p.str(n, ctx+": doc"))
}

// list returns the items of a sequence node.
func (p *parser) list(n *yaml.Node, ctx string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list, got %s", ctx, describe(n))
		return nil
	}
	return n.Content
}

// Names of declared types and fields: they become Go identifiers and, for
// fields, JSON keys, so they are kept to a portable alphabet.
var (
	typeNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
	entryNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// builtinTypes are the names of the schema's own types.
var builtinTypes = []string{"string", "integer", "number", "boolean", "bytes", "empty"}

func (p *parser) parseTypes(n *yaml.Node) []*Object {
	f := p.mapping(n, "types")
	if f == nil {
		return nil
	}
	// Every type is declared before any field is resolved, so that
	// fields may refer to types declared later.
	var objs []*Object
	var bodies []*yaml.Node
	for i := 0; i+1 < len(f.node.Content); i += 2 {
		k := deref(f.node.Content[i])
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			p.errorf(k, "types: type names must be strings, got %s", describe(k))
			continue
		}
		name := k.Value
		if prev, dup := p.types[name]; dup {
			p.errorf(k, "types: duplicate type %q (first at line %d)", name, prev.pos.Line)
			continue
		}
		o := &Object{Name: name, GoName: pascal(name), pos: posOf(k)}
		switch {
		case slices.Contains(builtinTypes, name):
			p.errorf(k, "type %q: the name of a built-in type cannot be declared", name)
		case !typeNameRE.MatchString(name):
			p.errorf(k, "type %q: a type name is a letter followed by letters, digits and underscores", name)
		}
		p.types[name] = o
		objs = append(objs, o)
		bodies = append(bodies, deref(f.node.Content[i+1]))
	}
	for i, o := range objs {
		p.parseObject(o, bodies[i])
	}
	p.checkCycles(objs)
	return objs
}

func (p *parser) parseObject(o *Object, n *yaml.Node) {
	ctx := fmt.Sprintf("type %q", o.Name)
	f := p.mapping(n, ctx, "doc", "fields")
	if f == nil {
		return
	}
	o.Doc = p.doc(f, ctx)
	fn := f.get("fields")
	if fn == nil {
		return
	}
	ff := p.mapping(fn, ctx+": fields")
	if ff == nil {
		return
	}
	byGo := map[string]*Field{}
	for i := 0; i+1 < len(ff.node.Content); i += 2 {
		k := deref(ff.node.Content[i])
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			p.errorf(k, "%s: field names must be strings, got %s", ctx, describe(k))
			continue
		}
		fctx := fmt.Sprintf("%s: field %q", ctx, k.Value)
		fd := &Field{Name: k.Value, GoName: pascal(k.Value), pos: posOf(k)}
		if !fieldNameRE.MatchString(fd.Name) {
			p.errorf(k, "%s: a field name is a letter followed by letters, digits, '_', '-' and '.'", fctx)
		} else if prev := byGo[fd.GoName]; prev != nil {
			if prev.Name == fd.Name {
				p.errorf(k, "%s: duplicate field (first at line %d)", fctx, prev.pos.Line)
			} else {
				p.errorf(k, "%s: fields %q (line %d) and %q both map to Go field %s; rename one", fctx, prev.Name, prev.pos.Line, fd.Name, fd.GoName)
			}
			continue
		}
		byGo[fd.GoName] = fd
		body := p.mapping(ff.node.Content[i+1], fctx, "type", "optional", "doc")
		if body == nil {
			continue
		}
		if tn := body.require("type"); tn != nil {
			fd.Type = p.fieldType(tn, fctx, 0)
		}
		if on := body.get("optional"); on != nil {
			fd.Optional = p.boolean(on, fctx+": optional")
		}
		fd.Doc = p.doc(body, fctx)
		if fd.Type != nil {
			o.Fields = append(o.Fields, fd)
		}
	}
}

// maxListDepth bounds the nesting of list types. It also stops the
// recursion on a YAML alias that refers to its own anchor (&a [*a]), which
// yaml.v3 turns into a cyclic node graph.
const maxListDepth = 8

// fieldType resolves a field type: a scalar type, a declared type name or
// a one-item list [T]. depth counts the enclosing lists.
func (p *parser) fieldType(n *yaml.Node, ctx string, depth int) *FieldType {
	switch n.Kind {
	case yaml.SequenceNode:
		if depth >= maxListDepth {
			p.errorf(n, "%s: list types nest more than %d deep", ctx, maxListDepth)
			return nil
		}
		if len(n.Content) != 1 {
			p.errorf(n, "%s: a list type has exactly one item type, as in [string]; got %d", ctx, len(n.Content))
			return nil
		}
		elem := p.fieldType(deref(n.Content[0]), ctx, depth+1)
		if elem == nil {
			return nil
		}
		return &FieldType{Kind: FieldList, Elem: elem}
	case yaml.ScalarNode:
		name := p.word(n, ctx+": type")
		switch name {
		case "":
			return nil
		case "string":
			return &FieldType{Kind: FieldString}
		case "integer":
			return &FieldType{Kind: FieldInteger}
		case "number":
			return &FieldType{Kind: FieldNumber}
		case "boolean":
			return &FieldType{Kind: FieldBoolean}
		case "bytes", "empty":
			p.errorf(n, "%s: %s is a payload type, not a field type; use string, integer, number, boolean, [T] or a declared type", ctx, name)
			return nil
		}
		if o := p.types[name]; o != nil {
			return &FieldType{Kind: FieldObject, Object: o}
		}
		p.errorf(n, "%s: unknown type %q", ctx, name)
		return nil
	}
	p.errorf(n, "%s: want a type name or a list [T], got %s", ctx, describe(n))
	return nil
}

// checkCycles reports the types that contain themselves through required
// object fields: such a Go struct would have infinite size.
func (p *parser) checkCycles(objs []*Object) {
	const (
		white = iota
		grey
		black
	)
	color := map[*Object]int{}
	var visit func(o *Object)
	visit = func(o *Object) {
		color[o] = grey
		for _, f := range o.Fields {
			if f.Optional || f.Type.Kind != FieldObject {
				continue
			}
			switch t := f.Type.Object; color[t] {
			case grey:
				p.errorAt(f.pos, "type %q: field %q: type %q contains itself through required fields; make a field of the cycle optional", o.Name, f.Name, t.Name)
			case white:
				visit(t)
			}
		}
		color[o] = black
	}
	for _, o := range objs {
		if color[o] == white {
			visit(o)
		}
	}
}

// Well-known MIME types that a metadata entry must not reuse: the runtime
// owns them.
var reservedMIMEs = []string{
	"message/x.rsocket.routing.v0",
	"message/x.rsocket.composite-metadata.v0",
	"application/x.rsgen.client-routes.v0",
}

func (p *parser) parseEntries(n *yaml.Node) []*Entry {
	f := p.mapping(n, "metadata")
	if f == nil {
		return nil
	}
	var entries []*Entry
	byGo := map[string]*Entry{}
	byMIME := map[string]*Entry{}
	for i := 0; i+1 < len(f.node.Content); i += 2 {
		k := deref(f.node.Content[i])
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			p.errorf(k, "metadata: entry names must be strings, got %s", describe(k))
			continue
		}
		name := k.Value
		ctx := fmt.Sprintf("metadata entry %q", name)
		if prev := p.entries[name]; prev != nil {
			p.errorf(k, "metadata: duplicate entry %q (first at line %d)", name, prev.pos.Line)
			continue
		}
		e := &Entry{Name: name, Const: mimeConstName(name), Param: camel(name), Field: pascal(name),
			Func: entryFuncName(name), pos: posOf(k)}
		p.entries[name] = e
		switch {
		case !entryNameRE.MatchString(name):
			p.errorf(k, "%s: an entry name is a letter followed by letters, digits and underscores", ctx)
		case !isIdent(e.Param):
			p.errorf(k, "%s: its parameter name %q is a Go keyword; rename the entry", ctx, e.Param)
		case predeclared[e.Param] || reservedLocals[e.Param]:
			p.errorf(k, "%s: its parameter name %q would shadow a name the generated code uses; rename the entry", ctx, e.Param)
		case e.Field == "Data":
			p.errorf(k, "%s: its field name Data is taken by the payload data in generated structs; rename the entry", ctx)
		case byGo[e.Field] != nil:
			p.errorf(k, "%s: entries %q (line %d) and %q both map to Go name %s; rename one", ctx, byGo[e.Field].Name, byGo[e.Field].pos.Line, name, e.Field)
		default:
			byGo[e.Field] = e
		}
		body := p.mapping(f.node.Content[i+1], ctx, "mime", "type", "doc", "optional")
		entries = append(entries, e)
		if body == nil {
			continue
		}
		if mn := body.require("mime"); mn != nil {
			e.MIME = p.word(mn, ctx+": mime")
			if e.MIME != "" {
				if msg := checkMIME(e.MIME); msg != "" {
					p.errorf(mn, "%s: invalid MIME type %q: %s", ctx, e.MIME, msg)
				} else if slices.Contains(reservedMIMEs, e.MIME) {
					p.errorf(mn, "%s: MIME type %q is reserved by the runtime", ctx, e.MIME)
				} else if prev := byMIME[e.MIME]; prev != nil {
					p.errorf(mn, "%s: MIME type %q is already used by entry %q (line %d)", ctx, e.MIME, prev.Name, prev.pos.Line)
				} else {
					byMIME[e.MIME] = e
				}
			}
		}
		if tn := body.require("type"); tn != nil {
			switch t := p.word(tn, ctx+": type"); t {
			case "string":
			case "bytes":
				e.Bytes = true
			case "":
			default:
				p.errorf(tn, "%s: unknown entry type %q; want string or bytes", ctx, t)
			}
		}
		if on := body.get("optional"); on != nil {
			e.Optional = p.boolean(on, ctx+": optional")
		}
		e.Doc = p.doc(body, ctx)
	}
	return entries
}

// checkMIME returns what is wrong with a custom MIME type, or "". Composite
// metadata encodes it in 1 to 127 bytes of ASCII.
func checkMIME(s string) string {
	if len(s) > 127 {
		return fmt.Sprintf("%d bytes, the limit is 127", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return "only printable ASCII without spaces is allowed"
		}
	}
	typ, sub, ok := strings.Cut(s, "/")
	if !ok || typ == "" || sub == "" || strings.Contains(sub, "/") {
		return "want type/subtype"
	}
	return ""
}

var interactionByName = map[string]Interaction{
	"request-response": RequestResponse,
	"fire-and-forget":  FireAndForget,
	"request-stream":   RequestStream,
	"request-channel":  RequestChannel,
	"metadata-push":    MetadataPush,
}

func (p *parser) parseRoutes(n *yaml.Node, side *Side) []*Route {
	key := "routes"
	if side.Client {
		key = "client_routes"
	}
	var routes []*Route
	for i, item := range p.list(n, key) {
		if r := p.parseRoute(deref(item), side, fmt.Sprintf("%s[%d]", key, i)); r != nil {
			routes = append(routes, r)
		}
	}
	return routes
}

func (p *parser) parseRoute(n *yaml.Node, side *Side, ctx string) *Route {
	f := p.mapping(n, ctx, "route", "interaction", "request", "response", "request_metadata", "response_metadata", "initial", "go", "doc")
	if f == nil {
		return nil
	}
	r := &Route{Side: side, pos: posOf(n)}
	if rn := f.require("route"); rn != nil {
		r.Name = p.str(rn, ctx+": route")
		r.pos = posOf(rn)
		switch {
		case rn.Kind != yaml.ScalarNode || rn.ShortTag() != "!!str":
		case r.Name == "":
			p.errorf(rn, "%s: empty route name", ctx)
		case len(r.Name) > 255:
			p.errorf(rn, "%s: route name of %d bytes; routing metadata allows 255", ctx, len(r.Name))
		case !utf8.ValidString(r.Name):
			p.errorf(rn, "%s: route name is not valid UTF-8", ctx)
		default:
			if side.Client {
				ctx = fmt.Sprintf("client route %q", r.Name)
			} else {
				ctx = fmt.Sprintf("route %q", r.Name)
			}
		}
	}
	if in := f.require("interaction"); in != nil {
		s := p.word(in, ctx+": interaction")
		if s != "" {
			r.Interaction = interactionByName[s]
			if r.Interaction == 0 {
				p.errorf(in, "%s: unknown interaction %q; want request-response, fire-and-forget, request-stream, request-channel or metadata-push", ctx, s)
			}
		}
	}
	r.Doc = p.doc(f, ctx)
	if rn := f.get("request"); rn != nil {
		r.Request = p.payload(rn, ctx+": request")
		if r.Interaction == MetadataPush && r.Request.Kind != PayloadEmpty {
			p.errorf(f.keys["request"], "%s: a metadata-push route carries metadata only; remove request (use request_metadata)", ctx)
		}
	}
	if rn := f.get("response"); rn != nil {
		r.Response = p.payload(rn, ctx+": response")
		if (r.Interaction == FireAndForget || r.Interaction == MetadataPush) && r.Response.Kind != PayloadEmpty {
			p.errorf(f.keys["response"], "%s: a %s route has no response", ctx, r.Interaction)
		}
	}
	if mn := f.get("request_metadata"); mn != nil {
		r.RequestMeta = p.entryList(mn, ctx+": request_metadata")
	}
	if mn := f.get("response_metadata"); mn != nil {
		r.ResponseMeta = p.entryList(mn, ctx+": response_metadata")
		if (r.Interaction == FireAndForget || r.Interaction == MetadataPush) && len(r.ResponseMeta) > 0 {
			p.errorf(f.keys["response_metadata"], "%s: a %s route has no response", ctx, r.Interaction)
		}
	}
	if in := f.get("initial"); in != nil {
		if s := p.word(in, ctx+": initial"); s != "" && s != "empty" {
			p.errorf(in, "%s: initial: want empty, got %q", ctx, s)
		}
		if r.Interaction != RequestChannel && r.Interaction != 0 {
			p.errorf(f.keys["initial"], "%s: initial applies to request-channel routes only", ctx)
		}
		r.InitialEmpty = true
	}
	if gn := f.get("go"); gn != nil {
		r.GoName = p.word(gn, ctx+": go")
		if r.GoName != "" && !isExported(r.GoName) {
			p.errorf(gn, "%s: go: %q is not an exported Go identifier", ctx, r.GoName)
		}
	} else if r.Name != "" {
		r.GoName = pascal(r.Name)
		if !isExported(r.GoName) {
			p.errorf(f.keys["route"], "%s: its Go name %q is not an exported Go identifier; set go: to name its method", ctx, r.GoName)
		}
	}
	if r.Name == "" || r.Interaction == 0 {
		return nil
	}
	return r
}

// payload resolves a request or response type.
func (p *parser) payload(n *yaml.Node, ctx string) Payload {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: want string, bytes, empty or a declared type, got %s", ctx, describe(n))
		return Payload{}
	}
	switch name := p.word(n, ctx); name {
	case "", "empty":
		return Payload{Kind: PayloadEmpty}
	case "string":
		return Payload{Kind: PayloadString}
	case "bytes":
		return Payload{Kind: PayloadBytes}
	case "integer", "number", "boolean":
		p.errorf(n, "%s: %s is a field type; a payload is string, bytes, empty or a declared type", ctx, name)
	default:
		if o := p.types[name]; o != nil {
			return Payload{Kind: PayloadObject, Object: o}
		}
		p.errorf(n, "%s: unknown type %q", ctx, name)
	}
	return Payload{}
}

// entryList resolves a list of metadata entry names.
func (p *parser) entryList(n *yaml.Node, ctx string) []*Entry {
	var out []*Entry
	for _, item := range p.list(n, ctx) {
		item = deref(item)
		name := p.word(item, ctx)
		if name == "" {
			continue
		}
		e := p.entries[name]
		switch {
		case e == nil:
			p.errorf(item, "%s: unknown metadata entry %q", ctx, name)
		case slices.Contains(out, e):
			p.errorf(item, "%s: entry %q is listed twice", ctx, name)
		default:
			e.Used = true
			out = append(out, e)
		}
	}
	return out
}

// checkNames derives the names that depend on several declarations and
// reports every collision among the generated identifiers.
func (p *parser) checkNames(m *Model) {
	// Package-level exported identifiers, with what claimed them.
	type claim struct {
		what string
		pos  Pos
	}
	global := map[string]claim{}
	for _, n := range fixedNames {
		global[n] = claim{what: "the generated " + n}
	}
	register := func(name, what string, pos Pos) {
		if prev, ok := global[name]; ok {
			if prev.pos.Line > 0 {
				p.errorAt(pos, "%s: Go name %s is already used by %s (line %d)", what, name, prev.what, prev.pos.Line)
			} else {
				p.errorAt(pos, "%s: Go name %s is already used by %s", what, name, prev.what)
			}
			return
		}
		global[name] = claim{what: what, pos: pos}
	}
	for _, o := range m.Types {
		if isExported(o.GoName) {
			register(o.GoName, fmt.Sprintf("type %q", o.Name), o.pos)
		}
	}
	for _, e := range m.Entries {
		register(e.Const, fmt.Sprintf("metadata entry %q", e.Name), e.pos)
	}

	// Route constants are shared by every route of the same name, on both
	// sides; two different names must not make the same constant.
	consts := map[string]*RouteConst{}
	for _, side := range []*Side{m.Server, m.Client} {
		for _, r := range side.Routes {
			r.Const = routeConstName(r.Name)
			rc := consts[r.Const]
			switch {
			case pascal(r.Name) == "":
				p.errorAt(r.pos, "%s %q: the name has no letter or digit to name its constant", sideWord(side), r.Name)
				continue
			case rc == nil:
				rc = &RouteConst{Name: r.Const, Route: r.Name}
				consts[r.Const] = rc
				m.RouteConsts = append(m.RouteConsts, rc)
				register(rc.Name, fmt.Sprintf("%s %q", sideWord(side), r.Name), r.pos)
			case rc.Route != r.Name:
				p.errorAt(r.pos, "%s %q: routes %q (line %d) and %q both make constant %s; rename one", sideWord(side), r.Name, rc.Route, rc.Routes[0].pos.Line, r.Name, r.Const)
				continue
			}
			rc.Routes = append(rc.Routes, r)
		}
	}

	for _, side := range []*Side{m.Server, m.Client} {
		p.checkSide(side, register)
	}
}

func sideWord(side *Side) string {
	if side.Client {
		return "client route"
	}
	return "route"
}

// checkSide checks one side's routes: duplicates, method names, and the
// structs generated for metadata.
func (p *parser) checkSide(side *Side, register func(name, what string, pos Pos)) {
	type key struct {
		i    Interaction
		name string
	}
	seen := map[key]*Route{}
	methods := map[string]*Route{}
	reserved := clientMethods
	if side.Client {
		reserved = peerMethods
	}
	for _, r := range side.Routes {
		what := fmt.Sprintf("%s %q (%s)", sideWord(side), r.Name, r.Interaction)
		if prev := seen[key{r.Interaction, r.Name}]; prev != nil {
			p.errorAt(r.pos, "duplicate %s (first at line %d)", what, prev.pos.Line)
			continue
		}
		seen[key{r.Interaction, r.Name}] = r
		if !isExported(r.GoName) {
			continue // already reported
		}
		if prev := methods[r.GoName]; prev != nil {
			p.errorAt(r.pos, "%s: method name %s is already used by %s %q (%s) at line %d; set go: on one of them",
				what, r.GoName, sideWord(side), prev.Name, prev.Interaction, prev.pos.Line)
			continue
		}
		if slices.Contains(reserved, r.GoName) {
			p.errorAt(r.pos, "%s: method name %s is taken by the generated code; set go: to another name", what, r.GoName)
			continue
		}
		if slices.Contains(vetMethods, r.GoName) {
			p.errorAt(r.pos, "%s: method name %s has a fixed signature for go vet and the encoding packages; set go: to another name", what, r.GoName)
			continue
		}
		methods[r.GoName] = r
		r.Serve = serveFuncName(side, r.GoName)
		if r.Interaction == RequestChannel && len(r.RequestMeta) > 0 {
			r.ReqStruct = requestStructName(r.GoName)
			register(r.ReqStruct, what+" request item", r.pos)
		}
		if len(r.ResponseMeta) > 0 {
			r.RespStruct = responseStructName(r.GoName)
			register(r.RespStruct, what+" response", r.pos)
		}
	}
}
