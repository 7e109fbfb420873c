// Package tsgen renders the TypeScript client of an rsgen schema from the
// generator's model (gen.Parse): the schema's types as TypeScript
// interfaces with the same JSON keys and optionality, a Client class with
// one typed method per server route, the ClientHandler interface of the
// client routes (declared in SETUP as the Go client declares them), typed
// metadata entries both ways and a connect function.
//
// The generated file is thin: it imports the hand-written runtime module
// (ts/rsrt.ts in this repository, imported as "@rsgen/rsrt" unless
// Options.Runtime says otherwise), which does the wire work over rsocket-js.
// Like gen.Generate, Generate is pure: it returns the files by name and
// writes nothing.
package tsgen

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/rsocket-chat/rsgen/gen"
)

// DefaultRuntime is the module specifier generated files import the
// runtime from.
const DefaultRuntime = "@rsgen/rsrt"

// Options are the options of Generate.
type Options struct {
	// Runtime is the module specifier of the runtime; DefaultRuntime when
	// empty.
	Runtime string
}

// FileName returns the name of the file Generate renders for m: the Go
// package name with the .ts extension.
func FileName(m *gen.Model) string { return m.Package + ".ts" }

// fixed are the exported names the generated file declares besides the
// schema's types and constants; a schema type of one of these names would
// clash.
var fixed = []string{"Client", "ClientHandler", "ConnectOptions", "connect", "RsgenError"}

// Generate renders the TypeScript client of m, keyed by file name
// (FileName). It fails when a schema name clashes with a name only the
// TypeScript output declares.
func Generate(m *gen.Model, opts Options) (map[string][]byte, error) {
	runtime := opts.Runtime
	if runtime == "" {
		runtime = DefaultRuntime
	}
	for _, o := range m.Types {
		for _, f := range fixed {
			if o.GoName == f {
				return nil, fmt.Errorf("type %q: TypeScript name %s is already used by the generated %s", o.Name, f, f)
			}
		}
	}
	for _, r := range m.Client.Routes {
		if len(r.OpenMeta) > 0 {
			// The runtime's responder would have to hand the first
			// frame's entries to the handler; it does not yet.
			return nil, fmt.Errorf("client route %q: open_metadata is not supported by the TypeScript client", r.Name)
		}
	}
	e := &emitter{m: m}
	e.file(runtime)
	return map[string][]byte{FileName(m): e.buf.Bytes()}, nil
}

// emitter writes one TypeScript file.
type emitter struct {
	m   *gen.Model
	buf bytes.Buffer
}

func (e *emitter) p(format string, args ...any) {
	fmt.Fprintf(&e.buf, format, args...)
	e.buf.WriteByte('\n')
}

// doc writes a TSDoc comment at the given indentation; a doc of several
// lines keeps its lines.
func (e *emitter) doc(indent, text string) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "*/", "*\\/"))
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		e.p("%s/** %s */", indent, lines[0])
		return
	}
	e.p("%s/**", indent)
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			e.p("%s *", indent)
		} else {
			e.p("%s * %s", indent, l)
		}
	}
	e.p("%s */", indent)
}

// orDefault returns doc, or the fallback when the schema gives none.
func orDefault(doc, fallback string) string {
	if strings.TrimSpace(doc) == "" {
		return fallback
	}
	return doc
}

func (e *emitter) file(runtime string) {
	m := e.m
	e.p("%s", gen.Header)
	e.p("// Source: %s", m.Source)
	e.p("")
	e.doc("", orDefault(m.Doc, fmt.Sprintf("The TypeScript client of the %s service.", m.Package))+"\n\n@module")
	e.p("import * as rt from %q;", runtime)
	e.p("")
	e.doc("", "RsgenError is the error of a failed call: `code` is the RSocket error code, `message` the peer's text.")
	e.p("export { RsgenError } from %q;", runtime)
	e.routeConsts()
	e.mimeConsts()
	for _, o := range m.Types {
		e.object(o)
	}
	e.codecs()
	for _, r := range m.Server.Routes {
		e.itemStructs(r)
	}
	for _, r := range m.Client.Routes {
		e.itemStructs(r)
	}
	e.client()
	if len(m.Client.Routes) > 0 {
		e.handler()
	}
	e.connect()
}

func (e *emitter) routeConsts() {
	for _, c := range e.m.RouteConsts {
		e.p("")
		e.doc("", fmt.Sprintf("%s is the route %q.", c.Name, c.Route))
		e.p("export const %s = %q;", c.Name, c.Route)
	}
}

func (e *emitter) mimeConsts() {
	for _, en := range e.m.Entries {
		e.p("")
		e.doc("", fmt.Sprintf("%s is the MIME type of the metadata entry %s. %s", en.Const, en.Name,
			orDefault(en.Doc, "")))
		e.p("export const %s = %q;", en.Const, en.MIME)
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// propName is a field's JSON key as a TypeScript property name: quoted
// when it is not an identifier (keys may hold "-" and ".").
func propName(key string) string {
	if identRE.MatchString(key) {
		return key
	}
	return fmt.Sprintf("%q", key)
}

// fieldType is the TypeScript type of a field type.
func fieldType(t *gen.FieldType) string {
	switch t.Kind {
	case gen.FieldString:
		return "string"
	case gen.FieldInteger, gen.FieldNumber:
		return "number"
	case gen.FieldBoolean:
		return "boolean"
	case gen.FieldList:
		return fieldType(t.Elem) + "[]"
	case gen.FieldObject:
		return t.Object.GoName
	}
	panic(fmt.Sprintf("tsgen: unknown field kind %d", t.Kind))
}

func (e *emitter) object(o *gen.Object) {
	e.p("")
	e.doc("", orDefault(o.Doc, fmt.Sprintf("%s is the object type %s, sent as JSON.", o.GoName, o.Name)))
	e.p("export interface %s {", o.GoName)
	for _, f := range o.Fields {
		doc := orDefault(f.Doc, fmt.Sprintf("The field %s.", f.Name))
		if f.Type.Kind == gen.FieldInteger {
			// JSON numbers are doubles in JavaScript.
			doc += "\n\nAn integer; exact up to 2^53."
		}
		e.doc("  ", doc)
		opt := ""
		if f.Optional {
			opt = "?"
		}
		e.p("  %s%s: %s;", propName(f.Name), opt, fieldType(f.Type))
	}
	e.p("}")
}

// codecName is the module-level codec of an object type.
func codecName(o *gen.Object) string { return "codec" + o.GoName }

// codecs declares one JSON codec per object type a route carries.
func (e *emitter) codecs() {
	used := map[*gen.Object]bool{}
	var order []*gen.Object
	add := func(p gen.Payload) {
		if p.Kind == gen.PayloadObject && !used[p.Object] {
			used[p.Object] = true
			order = append(order, p.Object)
		}
	}
	for _, side := range []*gen.Side{e.m.Server, e.m.Client} {
		for _, r := range side.Routes {
			add(r.Request)
			add(r.Response)
		}
	}
	if len(order) > 0 {
		e.p("")
	}
	for _, o := range order {
		e.p("const %s = rt.jsonCodec<%s>();", codecName(o), o.GoName)
	}
}

// dataType is the TypeScript type of a payload kind.
func dataType(p gen.Payload) string {
	switch p.Kind {
	case gen.PayloadString:
		return "string"
	case gen.PayloadBytes:
		return "Uint8Array"
	case gen.PayloadObject:
		return p.Object.GoName
	}
	return "undefined"
}

// codec is the codec expression of a payload kind.
func codec(p gen.Payload) string {
	switch p.Kind {
	case gen.PayloadString:
		return "rt.stringCodec"
	case gen.PayloadBytes:
		return "rt.bytesCodec"
	case gen.PayloadObject:
		return codecName(p.Object)
	}
	return "rt.emptyCodec"
}

// entryType is the TypeScript type of a metadata entry's value.
func entryType(en *gen.Entry) string {
	t := "string"
	if en.Bytes {
		t = "Uint8Array"
	}
	if en.Optional {
		t += " | undefined"
	}
	return t
}

// entryField is the property of an item struct that holds an entry.
func entryField(en *gen.Entry) string {
	opt := ""
	if en.Optional {
		opt = "?"
	}
	t := "string"
	if en.Bytes {
		t = "Uint8Array"
	}
	return fmt.Sprintf("%s%s: %s;", param(en), opt, t)
}

// tsReserved are the words that may not name a TypeScript parameter, and
// the names the generated functions use themselves (gen already keeps
// entry parameters off Go's keywords and its own locals: req, p, h, data,
// first, in...).
var tsReserved = map[string]bool{
	"arguments": true, "await": true, "class": true, "const": true, "debugger": true, "delete": true,
	"do": true, "enum": true, "eval": true, "export": true, "extends": true, "false": true, "finally": true,
	"function": true, "implements": true, "in": true, "instanceof": true, "let": true, "new": true,
	"null": true, "package": true, "private": true, "protected": true, "public": true, "static": true,
	"super": true, "this": true, "throw": true, "true": true, "try": true, "typeof": true, "var": true,
	"void": true, "while": true, "with": true, "yield": true, "interface": true, "undefined": true,
	"opts": true, "signal": true, "rt": true, "items": true, "v": true, "out": true,
}

// param is an entry's TypeScript parameter and property name.
func param(en *gen.Entry) string {
	if tsReserved[en.Param] {
		return en.Param + "_"
	}
	return en.Param
}

// method is a route's TypeScript method name: its Go name with the first
// word lower-cased (FileDownload -> fileDownload, URLGet -> urlGet,
// IDsList -> idsList).
func method(r *gen.Route) string {
	s := r.GoName
	n := 0
	for n < len(s) && s[n] >= 'A' && s[n] <= 'Z' {
		n++
	}
	var out string
	switch {
	case n == len(s):
		out = strings.ToLower(s)
	case n <= 1:
		out = strings.ToLower(s[:n]) + s[n:]
	case s[n] == 's' && (n+1 == len(s) || (s[n+1] >= 'A' && s[n+1] <= 'Z')):
		// An initialism in the plural: IDs.
		out = strings.ToLower(s[:n+1]) + s[n+1:]
	default:
		// HTTPServer: the last capital starts the next word.
		out = strings.ToLower(s[:n-1]) + s[n-1:]
	}
	if out == "constructor" {
		// A class method of that name would be the constructor.
		return out + "_"
	}
	return out
}

// respType is the type of a route's response or item: the response struct
// when the response carries metadata, else the data type.
func respType(r *gen.Route) string {
	if r.RespStruct != "" {
		return r.RespStruct
	}
	return dataType(r.Response)
}

// reqItemType is the type of a request-channel item.
func reqItemType(r *gen.Route) string {
	if r.ReqStruct != "" {
		return r.ReqStruct
	}
	return dataType(r.Request)
}

// itemStructs declares the response and request-channel item structs of a
// route with metadata (gen names them: FileDownloadResponse).
func (e *emitter) itemStructs(r *gen.Route) {
	if r.RespStruct != "" {
		e.p("")
		e.doc("", fmt.Sprintf("%s is a response of the %s route %q with its metadata.", r.RespStruct, side(r), r.Name))
		e.p("export interface %s {", r.RespStruct)
		if r.Response.Kind != gen.PayloadEmpty {
			e.doc("  ", "The response data.")
			e.p("  data: %s;", dataType(r.Response))
		}
		for _, en := range r.ResponseMeta {
			e.doc("  ", entryDoc(en))
			e.p("  %s", entryField(en))
		}
		e.p("}")
	}
	if r.ReqStruct != "" {
		e.p("")
		e.doc("", fmt.Sprintf("%s is an item of the %s channel %q with its metadata.", r.ReqStruct, side(r), r.Name))
		e.p("export interface %s {", r.ReqStruct)
		if r.Request.Kind != gen.PayloadEmpty {
			e.doc("  ", "The item data.")
			e.p("  data: %s;", dataType(r.Request))
		}
		for _, en := range r.RequestMeta {
			e.doc("  ", entryDoc(en))
			e.p("  %s", entryField(en))
		}
		e.p("}")
	}
}

func side(r *gen.Route) string {
	if r.Side.Client {
		return "client"
	}
	return "server"
}

func entryDoc(en *gen.Entry) string {
	d := fmt.Sprintf("The metadata entry %s (%s).", en.Name, en.MIME)
	if en.Doc != "" {
		d += " " + en.Doc
	}
	return d
}

// entriesExpr is the expression of a payload's metadata entries, from the
// values named by name(entry).
func entriesExpr(entries []*gen.Entry, name func(*gen.Entry) string) string {
	if len(entries) == 0 {
		return ""
	}
	parts := make([]string, len(entries))
	for i, en := range entries {
		f := "rt.stringEntry"
		if en.Bytes {
			f = "rt.bytesEntry"
		}
		parts[i] = fmt.Sprintf("...%s(%s, %s)", f, en.Const, name(en))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// outgoing is the rt.Outgoing literal of data (an expression, or "" for
// empty data) and entries.
func outgoing(p gen.Payload, data string, entries []*gen.Entry, name func(*gen.Entry) string) string {
	d := "new Uint8Array(0)"
	if p.Kind != gen.PayloadEmpty {
		d = fmt.Sprintf("%s.encode(%s)", codec(p), data)
	}
	if es := entriesExpr(entries, name); es != "" {
		return fmt.Sprintf("{ data: %s, entries: %s }", d, es)
	}
	return fmt.Sprintf("{ data: %s }", d)
}

// metaRead reads an entry from p.metadata.
func metaRead(en *gen.Entry) string {
	kind := "string"
	if en.Bytes {
		kind = "bytes"
	}
	return fmt.Sprintf("p.metadata.%s(%s, %t)", kind, en.Const, !en.Optional)
}

// decodeExpr is the function that turns an incoming payload into the
// response type (with the struct when it carries metadata).
func decodeExpr(p gen.Payload, structName string, entries []*gen.Entry) string {
	if structName == "" {
		return fmt.Sprintf("(p) => %s.decode(p.data)", codec(p))
	}
	var fields []string
	if p.Kind != gen.PayloadEmpty {
		fields = append(fields, fmt.Sprintf("data: %s.decode(p.data)", codec(p)))
	}
	for _, en := range entries {
		fields = append(fields, fmt.Sprintf("%s: %s", param(en), metaRead(en)))
	}
	return fmt.Sprintf("(p) => ({ %s })", strings.Join(fields, ", "))
}

// fromStruct reads entry en from the struct value v.
func fromStruct(v string) func(*gen.Entry) string {
	return func(en *gen.Entry) string { return v + "." + param(en) }
}

// byParam reads entry en from its parameter.
func byParam(en *gen.Entry) string { return param(en) }

func (e *emitter) client() {
	e.p("")
	e.doc("", "Client calls the routes the server serves. Every call takes options with an AbortSignal that cancels it on the wire; a failed call rejects with an RsgenError carrying the server's text.")
	e.p("export class Client {")
	e.doc("  ", "Wraps an open connection; connect opens one.")
	e.p("  constructor(")
	e.doc("    ", "The connection the calls go over.")
	e.p("    readonly conn: rt.Conn,")
	e.p("  ) {}")
	e.p("")
	e.doc("  ", "Closes the connection; calls in flight fail.")
	e.p("  close(): void {")
	e.p("    this.conn.close();")
	e.p("  }")
	for _, r := range e.m.Server.Routes {
		e.p("")
		e.callMethod(r)
	}
	e.p("}")
}

// params is the parameter list of a call: the request (unless empty),
// then the request metadata entries.
func params(r *gen.Route, reqName string) []string {
	var ps []string
	if r.Request.Kind != gen.PayloadEmpty {
		ps = append(ps, fmt.Sprintf("%s: %s", reqName, dataType(r.Request)))
	}
	for _, en := range r.RequestMeta {
		ps = append(ps, fmt.Sprintf("%s: %s", param(en), entryType(en)))
	}
	return ps
}

func routeDoc(r *gen.Route) string {
	return orDefault(r.Doc, fmt.Sprintf("Calls the %s route %q.", r.Interaction, r.Name))
}

func (e *emitter) callMethod(r *gen.Route) {
	name := method(r)
	out := outgoing(r.Request, "req", r.RequestMeta, byParam)
	dec := decodeExpr(r.Response, r.RespStruct, r.ResponseMeta)
	switch r.Interaction {
	case gen.RequestResponse:
		ret := respType(r)
		if r.Response.Kind == gen.PayloadEmpty && r.RespStruct == "" {
			ret = "void"
			dec = "() => undefined"
		}
		e.doc("  ", routeDoc(r))
		e.p("  %s(%s): Promise<%s> {", name, strings.Join(append(params(r, "req"), "opts?: rt.CallOptions"), ", "), ret)
		e.p("    return this.conn.requestResponse(%s, %s, %s, opts);", r.Const, out, dec)
		e.p("  }")
	case gen.FireAndForget:
		e.doc("  ", routeDoc(r)+"\n\nFire-and-forget: resolves once sent.")
		e.p("  %s(%s): Promise<void> {", name, strings.Join(append(params(r, "req"), "opts?: rt.CallOptions"), ", "))
		e.p("    return this.conn.fireAndForget(%s, %s, opts);", r.Const, out)
		e.p("  }")
	case gen.MetadataPush:
		e.doc("  ", routeDoc(r)+"\n\nMetadata push: resolves once sent.")
		e.p("  %s(%s): Promise<void> {", name, strings.Join(append(params(r, "req"), "opts?: rt.CallOptions"), ", "))
		es := entriesExpr(r.RequestMeta, byParam)
		if es == "" {
			es = "[]"
		}
		e.p("    return this.conn.metadataPush(%s, %s, opts);", r.Const, es)
		e.p("  }")
	case gen.RequestStream:
		e.doc("  ", routeDoc(r)+"\n\nIterate the result (for await); leaving the loop early cancels the stream.")
		e.p("  %s(%s): rt.Stream<%s> {", name, strings.Join(append(params(r, "req"), "opts?: rt.StreamOptions"), ", "), respType(r))
		e.p("    return this.conn.requestStream(%s, %s, %s, opts);", r.Const, out, dec)
		e.p("  }")
	case gen.RequestChannel:
		item := reqItemType(r)
		// Parenthesised: an arrow function's { would open a block.
		enc := fmt.Sprintf("(v) => (%s)", outgoing(r.Request, "v", r.RequestMeta, fromStruct("v")))
		if r.ReqStruct != "" {
			enc = fmt.Sprintf("(v) => (%s)", outgoing(r.Request, "v.data", r.RequestMeta, fromStruct("v")))
		}
		first := "undefined"
		var ps []string
		for _, en := range r.OpenMeta {
			ps = append(ps, fmt.Sprintf("%s: %s", param(en), entryType(en)))
		}
		doc := routeDoc(r) + "\n\nSend items with send (it waits for the server's demand), read the responses by iterating the channel; cancel ends both."
		open := entriesExpr(r.OpenMeta, byParam)
		switch {
		case !r.InitialEmpty && open != "":
			ps = append(ps, "first: "+item)
			first = fmt.Sprintf("rt.withEntries(enc(first), %s)", open)
			doc += " `first` is the item the REQUEST_CHANNEL frame carries, with the open metadata entries, which are the whole channel's."
		case !r.InitialEmpty:
			ps = append(ps, "first: "+item)
			first = "enc(first)"
			doc += " `first` is the item the REQUEST_CHANNEL frame carries."
		case open != "":
			first = fmt.Sprintf("{ data: new Uint8Array(0), entries: %s }", open)
			doc += " The REQUEST_CHANNEL frame carries the route and the open metadata entries, which are the whole channel's."
		default:
			doc += " The REQUEST_CHANNEL frame carries the route only."
		}
		ps = append(ps, "opts?: rt.StreamOptions")
		e.doc("  ", doc)
		e.p("  %s(%s): rt.Channel<%s, %s> {", name, strings.Join(ps, ", "), item, respType(r))
		e.p("    const enc = %s;", typedFn(enc, item))
		e.p("    return this.conn.requestChannel(%s, %s, enc, %s, opts);", r.Const, first, dec)
		e.p("  }")
	}
}

// typedFn gives an arrow function's single parameter v its type.
func typedFn(fn, typ string) string {
	return strings.Replace(fn, "(v) =>", fmt.Sprintf("(v: %s): rt.Outgoing =>", typ), 1)
}

// handlerSig is the signature of a ClientHandler method.
func handlerSig(r *gen.Route) string {
	name := method(r)
	switch r.Interaction {
	case gen.RequestResponse:
		ret := respType(r)
		if r.Response.Kind == gen.PayloadEmpty && r.RespStruct == "" {
			ret = "void"
		}
		return fmt.Sprintf("%s(%s): Promise<%s>;", name, strings.Join(append(params(r, "req"), "signal: AbortSignal"), ", "), ret)
	case gen.FireAndForget, gen.MetadataPush:
		return fmt.Sprintf("%s(%s): Promise<void> | void;", name, strings.Join(params(r, "req"), ", "))
	case gen.RequestStream:
		return fmt.Sprintf("%s(%s): AsyncIterable<%s>;", name, strings.Join(append(params(r, "req"), "signal: AbortSignal"), ", "), respType(r))
	case gen.RequestChannel:
		return fmt.Sprintf("%s(items: AsyncIterable<%s>, signal: AbortSignal): AsyncIterable<%s>;", name, reqItemType(r), respType(r))
	}
	panic("tsgen: unknown interaction")
}

func (e *emitter) handler() {
	e.p("")
	e.doc("", "ClientHandler serves the routes the server calls on this client. connect declares every one of them in SETUP (application/x.rsgen.client-routes.v0), as the Go client does, so the server may call them. A handler's error answers the call with APPLICATION_ERROR and its message.")
	e.p("export interface ClientHandler {")
	for i, r := range e.m.Client.Routes {
		if i > 0 {
			e.p("")
		}
		doc := routeDoc(r)
		switch r.Interaction {
		case gen.RequestStream:
			doc += "\n\nThe items are sent as the server asks for them; the signal aborts when it cancels."
		case gen.MetadataPush:
			// See served in ts/rsrt.ts.
			doc += "\n\nNot declared in SETUP, so never called: rsocket-js 1.0.0-alpha.3 cannot receive METADATA_PUSH (decoding it closes the connection)."
		case gen.RequestChannel:
			doc += "\n\nitems are the server's items"
			if r.InitialEmpty {
				doc += " (the first frame, which carries the route only, is not one)"
			}
			doc += "; the returned items are sent as the server asks for them."
		}
		e.doc("  ", doc)
		e.p("  %s", handlerSig(r))
	}
	e.p("}")
	e.p("")
	e.p("/** handled adapts a ClientHandler to the runtime's dispatch table, one entry per client route. */")
	e.p("function handled(h: ClientHandler): rt.Handled[] {")
	e.p("  return [")
	for _, r := range e.m.Client.Routes {
		e.handledEntry(r)
	}
	e.p("  ];")
	e.p("}")
}

// args are the arguments of a handler call: the decoded request, then the
// request metadata entries.
func args(r *gen.Route) []string {
	var as []string
	if r.Request.Kind != gen.PayloadEmpty {
		as = append(as, fmt.Sprintf("%s.decode(p.data)", codec(r.Request)))
	}
	for _, en := range r.RequestMeta {
		as = append(as, metaRead(en))
	}
	return as
}

// respOut turns a handler's result v into an rt.Outgoing.
func respOut(r *gen.Route) string {
	if r.RespStruct != "" {
		return outgoing(r.Response, "v.data", r.ResponseMeta, fromStruct("v"))
	}
	return outgoing(r.Response, "v", nil, nil)
}

// loopVar names the handler's items: _ when an item is empty (only its
// arrival matters), which keeps tsc's unused-variable check quiet.
func loopVar(r *gen.Route) string {
	if r.Response.Kind == gen.PayloadEmpty && r.RespStruct == "" {
		return "_"
	}
	return "v"
}

func (e *emitter) handledEntry(r *gen.Route) {
	name := method(r)
	head := fmt.Sprintf("    { interaction: %q, route: %s, ", r.Interaction.String(), r.Const)
	switch r.Interaction {
	case gen.RequestResponse:
		call := fmt.Sprintf("h.%s(%s)", name, strings.Join(append(args(r), "signal"), ", "))
		if r.Response.Kind == gen.PayloadEmpty && r.RespStruct == "" {
			e.p("%shandle: async (p, signal) => {", head)
			e.p("      await %s;", call)
			e.p("      return { data: new Uint8Array(0) };")
			e.p("    } },")
			return
		}
		e.p("%shandle: async (p, signal) => {", head)
		e.p("      const v = await %s;", call)
		e.p("      return %s;", respOut(r))
		e.p("    } },")
	case gen.FireAndForget, gen.MetadataPush:
		e.p("%shandle: async (p) => {", head)
		e.p("      await h.%s(%s);", name, strings.Join(args(r), ", "))
		e.p("    } },")
	case gen.RequestStream:
		e.p("%shandle: async function* (p, signal) {", head)
		e.p("      for await (const %s of h.%s(%s)) yield %s;", loopVar(r), name, strings.Join(append(args(r), "signal"), ", "), respOut(r))
		e.p("    } },")
	case gen.RequestChannel:
		var item string
		if r.ReqStruct != "" {
			var fields []string
			if r.Request.Kind != gen.PayloadEmpty {
				fields = append(fields, fmt.Sprintf("data: %s.decode(p.data)", codec(r.Request)))
			}
			for _, en := range r.RequestMeta {
				fields = append(fields, fmt.Sprintf("%s: %s", param(en), metaRead(en)))
			}
			item = fmt.Sprintf("({ %s })", strings.Join(fields, ", "))
		} else {
			item = fmt.Sprintf("%s.decode(p.data)", codec(r.Request))
		}
		e.p("%sinitialEmpty: %t, handle: async function* (items, signal) {", head, r.InitialEmpty)
		e.p("      const decoded = (async function* (): AsyncIterable<%s> {", reqItemType(r))
		e.p("        for await (const p of items) yield %s;", item)
		e.p("      })();")
		e.p("      for await (const %s of h.%s(decoded, signal)) yield %s;", loopVar(r), name, respOut(r))
		e.p("    } },")
	}
}

func (e *emitter) connect() {
	hasHandler := len(e.m.Client.Routes) > 0
	e.p("")
	e.doc("", "ConnectOptions are the options of connect: the server's WebSocket URL, the SETUP data and keepalive, the WebSocket factory.")
	if hasHandler {
		e.p("export interface ConnectOptions extends Omit<rt.ConnectOptions, \"routes\"> {")
		e.doc("  ", "The routes this client serves; declared in SETUP when set. Without it the server makes no call.")
		e.p("  handler?: ClientHandler;")
		e.p("}")
	} else {
		e.p("export type ConnectOptions = Omit<rt.ConnectOptions, \"routes\">;")
	}
	e.p("")
	e.doc("", "Connects to the server over WebSocket and returns its Client. The SETUP carries composite metadata and JSON data MIME types, the tutorial's keepalive (500 ms, 10 minutes)"+
		map[bool]string{true: " and the declaration of the handler's routes.", false: "."}[hasHandler])
	e.p("export async function connect(opts: ConnectOptions): Promise<Client> {")
	if hasHandler {
		e.p("  const { handler, ...rest } = opts;")
		e.p("  return new Client(await rt.connect({ ...rest, routes: handler ? handled(handler) : [] }));")
	} else {
		e.p("  return new Client(await rt.connect(opts));")
	}
	e.p("}")
}
