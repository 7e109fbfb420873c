package gen

// Step 2 of Parse, validate: the syntax tree into the model. It resolves
// type and entry references, checks what each interaction allows, MIME
// types, names of the schema's own alphabet and recursive types, and
// reports every problem with its position. Go identifiers are left to
// name.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// validator reports the problems of the validate step.
type validator struct {
	*problems
	types   map[string]*Object // by schema name
	entries map[string]*Entry  // by schema name
}

// validate builds the model of s. The model is complete only when no
// problem was reported.
func validate(s *schemaSyntax, probs *problems) *Model {
	v := &validator{problems: probs, types: map[string]*Object{}, entries: map[string]*Entry{}}
	m := &Model{Doc: s.Doc, Server: &Side{}, Client: &Side{Client: true}}
	if s.Package != nil {
		m.Package, m.packagePos = s.Package.Value, s.Package.Pos
	}
	m.Types = v.objects(s.Types)
	m.Entries = v.metadata(s.Entries)
	m.Server.Routes = v.routes(s.Routes, m.Server)
	m.Client.Routes = v.routes(s.ClientRoutes, m.Client)
	return m
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

func (v *validator) objects(ts []*typeSyntax) []*Object {
	// Every type is declared before any field is resolved, so that
	// fields may refer to types declared later.
	objs := make([]*Object, 0, len(ts))
	for _, t := range ts {
		o := &Object{Name: t.Name.Value, Doc: t.Doc, pos: t.Name.Pos}
		switch {
		case slices.Contains(builtinTypes, o.Name):
			v.at(o.pos, "type %q: the name of a built-in type cannot be declared", o.Name)
		case !typeNameRE.MatchString(o.Name):
			v.at(o.pos, "type %q: a type name is a letter followed by letters, digits and underscores", o.Name)
		}
		v.types[o.Name] = o
		objs = append(objs, o)
	}
	for i, t := range ts {
		o := objs[i]
		for _, fs := range t.Fields {
			fd := &Field{Name: fs.Name.Value, Doc: fs.Doc, Optional: fs.Optional, pos: fs.Name.Pos, validName: true}
			fctx := fmt.Sprintf("type %q: field %q", o.Name, fd.Name)
			if !fieldNameRE.MatchString(fd.Name) {
				v.at(fd.pos, "%s: a field name is a letter followed by letters, digits, '_', '-' and '.'", fctx)
				fd.validName = false
			}
			if fs.Type != nil {
				fd.Type = v.fieldType(fs.Type, fctx)
			}
			if fd.Type != nil {
				fd.Rules = v.rules(fs.Rules, fd.Type, fctx)
			}
			o.Fields = append(o.Fields, fd)
		}
	}
	v.checkCycles(objs)
	markValidates(objs)
	return objs
}

// markValidates sets Validates on every type with a constrained field or
// a field whose type validates, through lists and nested types, until
// nothing changes (types may refer to each other).
func markValidates(objs []*Object) {
	for changed := true; changed; {
		changed = false
		for _, o := range objs {
			if o.Validates {
				continue
			}
			for _, f := range o.Fields {
				if f.Rules.Any() || (f.Type != nil && itemType(f.Type).Kind == FieldObject && itemType(f.Type).Object.Validates) {
					o.Validates, changed = true, true
					break
				}
			}
		}
	}
}

// itemType is the type of the values of t: t itself, or the innermost
// item type of a list.
func itemType(t *FieldType) *FieldType {
	for t.Kind == FieldList {
		t = t.Elem
	}
	return t
}

// kindWord names a field kind in messages.
func kindWord(k FieldKind) string {
	return [...]string{FieldString: "a string", FieldInteger: "an integer", FieldNumber: "a number",
		FieldBoolean: "a boolean", FieldList: "a list", FieldObject: "an object"}[k]
}

// rules validates the constraint keys of a field of type t. Each applies
// to some kinds only: lengths, pattern and no_control to strings, bounds to
// numbers, enum to strings and integers (all of them to the items of a
// list), item counts to lists.
func (v *validator) rules(rs []*ruleSyntax, t *FieldType, ctx string) Rules {
	var r Rules
	item := itemType(t).Kind
	wants := func(rs *ruleSyntax, ok bool, what string) bool {
		if !ok {
			got := kindWord(item)
			if t.Kind == FieldList {
				got = "a list of " + strings.TrimPrefix(strings.TrimPrefix(got, "a "), "an ") + "s"
			}
			v.at(rs.Pos, "%s: %s applies to %s; the field is %s", ctx, rs.Key, what, got)
		}
		return ok
	}
	for _, rs := range rs {
		rctx := ctx + ": " + rs.Key
		switch rs.Key {
		case "min_length", "max_length", "min_items", "max_items":
			counts := map[string]**int64{"min_length": &r.MinLength, "max_length": &r.MaxLength,
				"min_items": &r.MinItems, "max_items": &r.MaxItems}
			ok, what := item == FieldString, "strings (or lists of strings)"
			if strings.HasSuffix(rs.Key, "_items") {
				ok, what = t.Kind == FieldList, "lists"
			}
			if wants(rs, ok, what) {
				*counts[rs.Key] = v.count(rs.Value, rctx)
			}
		case "minimum", "maximum":
			if wants(rs, item == FieldInteger || item == FieldNumber, "integers and numbers (or lists of them)") {
				b := v.bound(rs.Value, item == FieldInteger, rctx)
				if rs.Key == "minimum" {
					r.Minimum = b
				} else {
					r.Maximum = b
				}
			}
		case "enum":
			if wants(rs, item == FieldString || item == FieldInteger, "strings and integers (or lists of them)") {
				r.Enum = v.enum(rs.Value, item == FieldInteger, rctx)
			}
		case "pattern":
			if wants(rs, item == FieldString, "strings (or lists of strings)") {
				if rs.Value.Kind != yaml.ScalarNode || rs.Value.ShortTag() != "!!str" {
					v.at(posOf(rs.Value), "%s: want a regular expression as a string, got %s", rctx, describe(rs.Value))
				} else if _, err := regexp.Compile(rs.Value.Value); err != nil {
					v.at(posOf(rs.Value), "%s: invalid regular expression: %v", rctx, err)
				} else if rs.Value.Value == "" {
					v.at(posOf(rs.Value), "%s: empty pattern", rctx)
				} else {
					r.Pattern = rs.Value.Value
				}
			}
		case "no_control":
			if wants(rs, item == FieldString, "strings (or lists of strings)") {
				if rs.Value.Kind != yaml.ScalarNode || rs.Value.ShortTag() != "!!bool" {
					v.at(posOf(rs.Value), "%s: want true or false, got %s", rctx, describe(rs.Value))
				} else {
					r.NoControl = rs.Value.Value == "true"
				}
			}
		}
	}
	pos := func(key string) Pos {
		for _, rs := range rs {
			if rs.Key == key {
				return rs.Pos
			}
		}
		return Pos{}
	}
	if r.MinLength != nil && r.MaxLength != nil && *r.MinLength > *r.MaxLength {
		v.at(pos("max_length"), "%s: max_length %d is less than min_length %d", ctx, *r.MaxLength, *r.MinLength)
	}
	if r.MinItems != nil && r.MaxItems != nil && *r.MinItems > *r.MaxItems {
		v.at(pos("max_items"), "%s: max_items %d is less than min_items %d", ctx, *r.MaxItems, *r.MinItems)
	}
	if lo, hi := r.Minimum, r.Maximum; lo != nil && hi != nil && (item == FieldInteger && lo.Int > hi.Int || lo.Float > hi.Float) {
		v.at(pos("maximum"), "%s: maximum %s is less than minimum %s", ctx, r.Maximum.Text, r.Minimum.Text)
	}
	return r
}

// entryRules validates the constraints of a metadata entry: those of a
// string, and only the lengths for bytes.
func (v *validator) entryRules(rs []*ruleSyntax, bytes bool, ctx string) Rules {
	if bytes {
		var kept []*ruleSyntax
		for _, r := range rs {
			if r.Key != "min_length" && r.Key != "max_length" {
				v.at(r.Pos, "%s: %s applies to string entries; a bytes entry takes min_length and max_length", ctx, r.Key)
				continue
			}
			kept = append(kept, r)
		}
		rs = kept
	}
	return v.rules(rs, &FieldType{Kind: FieldString}, ctx)
}

// count decodes a length or an item count: an integer from 0.
func (v *validator) count(n *yaml.Node, ctx string) *int64 {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || i < 0 {
		v.at(posOf(n), "%s: want an integer from 0, got %s", ctx, describeValue(n))
		return nil
	}
	return &i
}

// bound decodes a minimum or a maximum: an integer for an integer field,
// any number for a number field.
func (v *validator) bound(n *yaml.Node, integer bool, ctx string) *Bound {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		if n.Decode(&i) == nil {
			return &Bound{Int: i, Float: float64(i), Text: n.Value}
		}
	}
	if !integer && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		var f float64
		if n.Decode(&f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return &Bound{Float: f, Text: n.Value}
		}
	}
	want := "a number"
	if integer {
		want = "an integer"
	}
	v.at(posOf(n), "%s: want %s, got %s", ctx, want, describeValue(n))
	return nil
}

// enum decodes the allowed values: a non-empty list of distinct strings,
// or of integers for an integer field.
func (v *validator) enum(n *yaml.Node, integer bool, ctx string) []string {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		v.at(posOf(n), "%s: want a non-empty list of values, got %s", ctx, describeValue(n))
		return nil
	}
	var out []string
	for _, item := range n.Content {
		item = deref(item)
		val := ""
		switch {
		case integer && item.Kind == yaml.ScalarNode && item.ShortTag() == "!!int":
			var i int64
			if item.Decode(&i) != nil {
				v.at(posOf(item), "%s: %s does not fit in 64 bits", ctx, item.Value)
				continue
			}
			val = strconv.FormatInt(i, 10)
		case !integer && isString(item):
			val = item.Value
		default:
			want := "a string; quote it"
			if integer {
				want = "an integer"
			}
			v.at(posOf(item), "%s: want %s, got %s", ctx, want, describeValue(item))
			continue
		}
		if slices.Contains(out, val) {
			v.at(posOf(item), "%s: %q is listed twice", ctx, val)
			continue
		}
		out = append(out, val)
	}
	if out == nil {
		return nil
	}
	return out
}

// describeValue is describe with the value of a scalar.
func describeValue(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%s (%s)", describe(n), n.Value)
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		return "an empty list"
	}
	return describe(n)
}

// fieldType resolves a field type: a scalar type, a declared type name or
// a list.
func (v *validator) fieldType(t *typeRef, ctx string) *FieldType {
	if t.Elem != nil {
		elem := v.fieldType(t.Elem, ctx)
		if elem == nil {
			return nil
		}
		return &FieldType{Kind: FieldList, Elem: elem}
	}
	switch t.Name {
	case "string":
		return &FieldType{Kind: FieldString}
	case "integer":
		return &FieldType{Kind: FieldInteger}
	case "number":
		return &FieldType{Kind: FieldNumber}
	case "boolean":
		return &FieldType{Kind: FieldBoolean}
	case "bytes", "empty":
		v.at(t.Pos, "%s: %s is a payload type, not a field type; use string, integer, number, boolean, [T] or a declared type", ctx, t.Name)
		return nil
	}
	if o := v.types[t.Name]; o != nil {
		return &FieldType{Kind: FieldObject, Object: o}
	}
	v.at(t.Pos, "%s: unknown type %q", ctx, t.Name)
	return nil
}

// checkCycles reports the types that contain themselves through required
// object fields: such a Go struct would have infinite size.
func (v *validator) checkCycles(objs []*Object) {
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
			if f.Optional || f.Type == nil || f.Type.Kind != FieldObject {
				continue
			}
			switch t := f.Type.Object; color[t] {
			case grey:
				v.at(f.pos, "type %q: field %q: type %q contains itself through required fields; make a field of the cycle optional", o.Name, f.Name, t.Name)
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
	"application/x.rsgen.deadline.v0",
}

func (v *validator) metadata(es []*entrySyntax) []*Entry {
	entries := make([]*Entry, 0, len(es))
	byMIME := map[string]*Entry{}
	for _, s := range es {
		e := &Entry{Name: s.Name.Value, Optional: s.Optional, Doc: s.Doc, pos: s.Name.Pos, validName: true}
		ctx := fmt.Sprintf("metadata entry %q", e.Name)
		if !entryNameRE.MatchString(e.Name) {
			v.at(e.pos, "%s: an entry name is a letter followed by letters, digits and underscores", ctx)
			e.validName = false
		}
		if s.MIME != nil {
			e.MIME = s.MIME.Value
			if msg := checkMIME(e.MIME); msg != "" {
				v.at(s.MIME.Pos, "%s: invalid MIME type %q: %s", ctx, e.MIME, msg)
			} else if slices.Contains(reservedMIMEs, e.MIME) {
				v.at(s.MIME.Pos, "%s: MIME type %q is reserved by the runtime", ctx, e.MIME)
			} else if prev := byMIME[e.MIME]; prev != nil {
				v.at(s.MIME.Pos, "%s: MIME type %q is already used by entry %q (line %d)", ctx, e.MIME, prev.Name, prev.pos.Line)
			} else {
				byMIME[e.MIME] = e
			}
		}
		if s.Type != nil {
			switch s.Type.Value {
			case "string":
			case "bytes":
				e.Bytes = true
			default:
				v.at(s.Type.Pos, "%s: unknown entry type %q; want string or bytes", ctx, s.Type.Value)
			}
		}
		e.Rules = v.entryRules(s.Rules, e.Bytes, ctx)
		v.entries[e.Name] = e
		entries = append(entries, e)
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

// routes validates the routes of one side. A route without a name or an
// interaction, or that repeats an (interaction, route) pair of the side,
// is reported and left out of the side's routes, into its unfinished
// ones: name still checks their method names, so that a schema's problems
// come at once.
func (v *validator) routes(rs []*routeSyntax, side *Side) []*Route {
	type key struct {
		i    Interaction
		name string
	}
	seen := map[key]*Route{}
	var routes []*Route
	for _, s := range rs {
		r := v.route(s, side)
		if r.Name == "" || r.Interaction == 0 {
			side.unfinished = append(side.unfinished, r)
			continue
		}
		if prev := seen[key{r.Interaction, r.Name}]; prev != nil {
			v.at(r.pos, "duplicate %s (first at line %d)", r.what(), prev.pos.Line)
			side.unfinished = append(side.unfinished, r)
			continue
		}
		seen[key{r.Interaction, r.Name}] = r
		routes = append(routes, r)
	}
	return routes
}

// route validates one route.
func (v *validator) route(s *routeSyntax, side *Side) *Route {
	r := &Route{Side: side, pos: s.Pos, Doc: s.Doc, label: s.Label, goName: s.Go, routeKey: s.Keys["route"]}
	_, r.goSet = s.Keys["go"]
	ctx := s.Label
	if s.Name != nil {
		r.Name = s.Name.Value
		if msg := routeNameProblem(r.Name); msg != "" {
			v.at(s.Name.Pos, "%s: %s", ctx, msg)
		}
	}
	if s.Interaction != nil {
		r.Interaction = interactionByName[s.Interaction.Value]
		if r.Interaction == 0 {
			v.at(s.Interaction.Pos, "%s: unknown interaction %q; want request-response, fire-and-forget, request-stream, request-channel or metadata-push", ctx, s.Interaction.Value)
		}
	}
	if s.Request != nil {
		r.Request = v.payload(s.Request, ctx+": request")
		if r.Interaction == MetadataPush && r.Request.Kind != PayloadEmpty {
			v.at(s.Keys["request"], "%s: a metadata-push route carries metadata only; remove request (use request_metadata)", ctx)
		}
	}
	noResponse := r.Interaction == FireAndForget || r.Interaction == MetadataPush
	if s.Response != nil {
		r.Response = v.payload(s.Response, ctx+": response")
		if noResponse && r.Response.Kind != PayloadEmpty {
			v.at(s.Keys["response"], "%s: a %s route has no response", ctx, r.Interaction)
		}
	}
	r.RequestMeta = v.entryList(s.RequestMeta, ctx+": request_metadata")
	r.ResponseMeta = v.entryList(s.ResponseMeta, ctx+": response_metadata")
	if noResponse && len(r.ResponseMeta) > 0 {
		v.at(s.Keys["response_metadata"], "%s: a %s route has no response", ctx, r.Interaction)
	}
	r.OpenMeta = v.entryList(s.OpenMeta, ctx+": open_metadata")
	if pos, ok := s.Keys["open_metadata"]; ok && r.Interaction != RequestChannel && r.Interaction != 0 {
		v.at(pos, "%s: open_metadata applies to request-channel routes only; use request_metadata", ctx)
	}
	for _, e := range r.OpenMeta {
		if slices.Contains(r.RequestMeta, e) {
			v.at(s.Keys["open_metadata"], "%s: entry %q is in both open_metadata and request_metadata; a channel's first frame would carry it twice", ctx, e.Name)
		}
	}
	if pos, ok := s.Keys["initial"]; ok {
		if s.Initial != nil && s.Initial.Value != "empty" {
			v.at(s.Initial.Pos, "%s: initial: want empty, got %q", ctx, s.Initial.Value)
		}
		if r.Interaction != RequestChannel && r.Interaction != 0 {
			v.at(pos, "%s: initial applies to request-channel routes only", ctx)
		}
		r.InitialEmpty = true
	}
	return r
}

// payload resolves a request or response type.
func (v *validator) payload(s *scalar, ctx string) Payload {
	switch s.Value {
	case "empty":
		return Payload{Kind: PayloadEmpty}
	case "string":
		return Payload{Kind: PayloadString}
	case "bytes":
		return Payload{Kind: PayloadBytes}
	case "integer", "number", "boolean":
		v.at(s.Pos, "%s: %s is a field type; a payload is string, bytes, empty or a declared type", ctx, s.Value)
	default:
		if o := v.types[s.Value]; o != nil {
			return Payload{Kind: PayloadObject, Object: o}
		}
		v.at(s.Pos, "%s: unknown type %q", ctx, s.Value)
	}
	return Payload{}
}

// entryList resolves a list of metadata entry names.
func (v *validator) entryList(names []scalar, ctx string) []*Entry {
	var out []*Entry
	for _, s := range names {
		e := v.entries[s.Value]
		switch {
		case e == nil:
			v.at(s.Pos, "%s: unknown metadata entry %q", ctx, s.Value)
		case slices.Contains(out, e):
			v.at(s.Pos, "%s: entry %q is listed twice", ctx, s.Value)
		default:
			e.Used = true
			out = append(out, e)
		}
	}
	return out
}
