package gen

// Step 3 of Parse, name: every Go identifier of the generated code, fixed
// or derived from the schema, is assigned here and only here, and checked
// for collisions and validity. The emitters read every identifier they
// write from the model: a local variable of a generated body is a field of
// Locals, so the names a metadata entry's parameter must not take are
// exactly the ones the generated code uses.

import (
	"fmt"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names are the fixed identifiers of a generated package, besides those of
// each side (see Side).
type Names struct {
	// Exported functions.
	NewAcceptor, Dial, NewClient, WithHandler string
	// ClientConn is the connection field of Client; ConnMethod and
	// CloseMethod are the methods of Client besides its route methods.
	ClientConn, ConnMethod, CloseMethod string
	// PeerConn is the embedded *rsrt.Conn field of Peer: it takes the
	// name of rsrt's type.
	PeerConn string
	// Data is the data field of the structs of payloads with metadata.
	Data string
	// Locals are the parameters and variables of the functions that also
	// take metadata entries as parameters.
	Locals Locals
	// Helpers are the parameters and variables of the other generated
	// functions.
	Helpers HelperLocals
	// Imports are the packages the generated code uses, with the name it
	// refers to each by.
	Imports []Import
}

// Locals are the names of the parameters and variables of the handler
// methods and adapters, the codecs of the request structs and the call
// methods, whose parameters (or fields) include the metadata entries of the
// route: an entry's parameter must differ from every one of them (see
// reservedLocals).
type Locals struct {
	Ctx, Req, Payload, Out, Err, In, First, Args, Open string
	// Receivers and handler parameters: the Server (s) and ClientHandler
	// (h) of the adapters, the Client (c) and Peer (peer) of the call
	// methods.
	Server, Handler, Client, Peer string
}

// HelperLocals are the names of the parameters and variables of the
// generated functions that take no metadata entry as a parameter: Dial,
// NewClient, NewAcceptor, the entry decoders, the codecs of payloads with
// metadata and the dispatch table constructors.
type HelperLocals struct {
	Addr, Opts, Conn, NewServer, Routes, Meta, Bytes, OK, Value string
}

// Import is a package of the generated code and the name it uses for it.
type Import struct {
	Path, Name string
}

// Import paths of generated code.
const rsrtPath = "github.com/rsocket-chat/rsgen/gen/rsrt"

// fixedNames returns the fixed identifiers of every generated package.
func fixedNames() *Names {
	return &Names{
		NewAcceptor: "NewAcceptor", Dial: "Dial", NewClient: "NewClient", WithHandler: "WithHandler",
		ClientConn: "conn", ConnMethod: "Conn", CloseMethod: "Close",
		PeerConn: "Conn",
		Data:     "Data",
		Locals: Locals{
			Ctx: "ctx", Req: "req", Payload: "p", Out: "out", Err: "err", In: "in",
			First: "first", Args: "args", Open: "open",
			Server: "s", Handler: "h", Client: "c", Peer: "peer",
		},
		Helpers: HelperLocals{
			Addr: "addr", Opts: "opts", Conn: "conn", NewServer: "newServer", Routes: "r",
			Meta: "m", Bytes: "b", OK: "ok", Value: "v",
		},
		Imports: []Import{
			{"context", "context"}, {"errors", "errors"}, {"fmt", "fmt"}, {"iter", "iter"},
			{rsrtPath, "rsrt"},
		},
	}
}

// sides returns the fixed names of the two sides: the server side (the
// routes the server serves and Client calls) and the client side (the
// routes the client serves and Peer calls).
func (n *Names) sides() (server, client *Side) {
	l := n.Locals
	server = &Side{Handler: "Server", Unimplemented: "UnimplementedServer", RoutesVar: "serverRoutes",
		RoutesFunc: "newServerRoutes", Recv: l.Server, funcPrefix: "serve", names: n,
		Caller: "Client", CallerRecv: l.Client, CallerMethods: []string{n.ConnMethod, n.CloseMethod}}
	client = &Side{Client: true, Handler: "ClientHandler", Unimplemented: "UnimplementedClientHandler",
		RoutesVar: "clientRoutes", RoutesFunc: "newClientRoutes", Recv: l.Handler, funcPrefix: "handle", names: n,
		Caller: "Peer", CallerRecv: l.Peer, CallerMethods: append([]string{n.PeerConn}, rsrtConnMethods...)}
	return server, client
}

// rsrtCaller is the method of rsrt.Conn and rsrt.ClientConn that the call
// methods send with.
const rsrtCaller = "Caller"

// rsrtConnMethods are the methods of rsrt.Conn, which Peer embeds: a client
// route method of the same name would shadow them.
var rsrtConnMethods = []string{"Context", "Setup", "RemoteAddr", "Declares", rsrtCaller}

// exported returns the fixed exported identifiers of a package with the
// sides server and client. Declared types and generated structs must not
// take them.
func (n *Names) exported(server, client *Side) []string {
	return []string{
		server.Handler, server.Unimplemented, client.Caller, n.NewAcceptor,
		server.Caller, n.Dial, n.NewClient,
		client.Handler, client.Unimplemented, n.WithHandler,
	}
}

// reservedLocals returns the names a metadata entry's parameter must not
// take: the locals of the functions it is a parameter of, and the names of
// the packages they refer to. It reads them from the Locals fields, so a
// local added there is reserved too.
func (n *Names) reservedLocals() map[string]bool {
	reserved := map[string]bool{}
	v := reflect.ValueOf(n.Locals)
	for i := range v.NumField() {
		reserved[v.Field(i).String()] = true
	}
	for _, imp := range n.Imports {
		reserved[imp.Name] = true
	}
	return reserved
}

// vetMethods are the method names whose signature go vet's stdmethods
// check enforces (and that encoding packages call): a route method of that
// name would fail vet, or be called by json.Marshal.
var vetMethods = []string{
	"As", "Format", "GobDecode", "GobEncode", "Is", "MarshalJSON", "MarshalXML",
	"Peek", "ReadByte", "ReadFrom", "ReadRune", "Scan", "Seek", "UnmarshalJSON",
	"UnmarshalXML", "UnreadByte", "UnreadRune", "Unwrap", "WriteByte", "WriteTo",
}

// predeclared holds Go's predeclared identifiers; generated bodies use
// several (string, append, nil...), so a parameter must not shadow them.
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
}

// words splits a schema name into the words of its Go name: any rune that
// is neither a letter nor a digit separates words ("channel.join",
// "period_seconds", "file-name"), and so does a lower-case letter followed
// by an upper-case one ("userId": "user", "Id"), as golint splits names.
func words(name string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		start, prevLower := 0, false
		for i, r := range w {
			if prevLower && unicode.IsUpper(r) {
				out = append(out, w[start:i])
				start = i
			}
			prevLower = unicode.IsLower(r)
		}
		out = append(out, w[start:])
	}
	return out
}

// initialisms are the words Go spells in one case throughout ("ID",
// "URL"): golint's list of common initialisms.
var initialisms = map[string]bool{
	"ACL": true, "API": true, "ASCII": true, "CPU": true, "CSS": true, "DNS": true,
	"EOF": true, "GUID": true, "HTML": true, "HTTP": true, "HTTPS": true, "ID": true,
	"IP": true, "JSON": true, "LHS": true, "QPS": true, "RAM": true, "RHS": true,
	"RPC": true, "SLA": true, "SMTP": true, "SQL": true, "SSH": true, "TCP": true,
	"TLS": true, "TTL": true, "UDP": true, "UI": true, "UID": true, "UUID": true,
	"URI": true, "URL": true, "UTF8": true, "VM": true, "XML": true, "XMPP": true,
	"XSRF": true, "XSS": true,
}

// goWord returns a word of an exported Go name: an initialism upper-cased
// ("id" -> "ID", "Url" -> "URL"), its plural too ("ids" -> "IDs"), any
// other word with its first rune upper-cased and the rest kept.
func goWord(w string) string {
	u := strings.ToUpper(w)
	if initialisms[u] {
		return u
	}
	if stem, ok := strings.CutSuffix(u, "S"); ok && len(w) > 2 && w[len(w)-1] == 's' && initialisms[stem] {
		return stem + "s"
	}
	r, n := utf8.DecodeRuneInString(w)
	return string(unicode.ToUpper(r)) + w[n:]
}

// pascal returns the exported Go name of a schema name: its words, each
// upper-cased as goWord does ("channel.join" -> "ChannelJoin",
// "period_seconds" -> "PeriodSeconds", "order_id" -> "OrderID", "ids" ->
// "IDs").
func pascal(name string) string {
	var b strings.Builder
	for _, w := range words(name) {
		b.WriteString(goWord(w))
	}
	return b.String()
}

// camel returns the unexported Go name of a schema name, used for
// parameters: pascal with its first word lower-cased, an initialism as a
// whole ("file_name" -> "fileName", "url_path" -> "urlPath", "trace_id" ->
// "traceID").
func camel(name string) string {
	var b strings.Builder
	for i, w := range words(name) {
		if i == 0 {
			b.WriteString(lowerInitial(goWord(w)))
		} else {
			b.WriteString(goWord(w))
		}
	}
	return b.String()
}

// lowerInitial lower-cases the leading upper-case run of a Go word, as the
// first word of an unexported name: "File" -> "file", "ID" -> "id", "IDs"
// -> "ids", "HTTPServer" -> "httpServer".
func lowerInitial(w string) string {
	rs := []rune(w)
	n := 0
	for n < len(rs) && unicode.IsUpper(rs[n]) {
		n++
	}
	// In "HTTPServer" the last capital of the run starts the next word; in
	// "IDs" and "URL2" the run is one word.
	if n > 1 && n < len(rs) && unicode.IsLower(rs[n]) && string(rs[n:]) != "s" {
		n--
	}
	for i := range n {
		rs[i] = unicode.ToLower(rs[i])
	}
	return string(rs)
}

// isIdent reports whether s is a Go identifier that is not a keyword.
func isIdent(s string) bool {
	return token.IsIdentifier(s)
}

// isExported reports whether s is an exported Go identifier.
func isExported(s string) bool {
	return token.IsIdentifier(s) && token.IsExported(s)
}

// Names of the generated constants, helpers and structs, derived from the
// schema names.

func routeConstName(route string) string { return "Route" + pascal(route) }
func mimeConstName(entry string) string  { return "MIME" + pascal(entry) }
func entryFuncName(entry string) string  { return camel(entry) + "Entry" }
func requestStructName(method string) string {
	return method + "Request"
}
func responseStructName(method string) string { return method + "Response" }
func encodeFuncName(structName string) string { return "encode" + structName }
func decodeFuncName(structName string) string { return "decode" + structName }

// upperFirst upper-cases the first letter of an ASCII name.
func upperFirst(name string) string { return strings.ToUpper(name[:1]) + name[1:] }

// namer reports the problems of the name step.
type namer struct {
	*problems
	names *Names
	// global holds the package-level exported identifiers, with what
	// claimed them.
	global map[string]claim
}

type claim struct {
	what string
	pos  Pos // zero for the fixed names
}

// name assigns every Go identifier of m and reports the invalid and
// colliding ones.
func name(m *Model, probs *problems) {
	n := &namer{problems: probs, names: fixedNames(), global: map[string]claim{}}
	m.Names = n.names
	// validate built the sides with their routes only; the routes keep
	// pointing at them.
	server, client := n.names.sides()
	server.Routes, client.Routes = m.Server.Routes, m.Client.Routes
	server.unfinished, client.unfinished = m.Server.unfinished, m.Client.unfinished
	*m.Server, *m.Client = *server, *client

	if m.Package != "" && (!isIdent(m.Package) || m.Package == "_" || m.Package == "main") {
		n.at(m.packagePos, "package: %q is not a valid Go package name", m.Package)
	}
	patterns := map[string]bool{}
	for _, o := range m.Types {
		n.object(o)
		n.patterns(o, patterns)
	}
	n.entries(m.Entries)
	for _, e := range m.Entries {
		if e.Rules.Any() {
			e.Valid = "valid" + pascal(e.Name) + "Entry"
		}
		if e.Rules.Pattern != "" {
			e.Rules.Regexp = uniqueName("pattern"+pascal(e.Name)+"Entry", patterns)
		}
	}
	for _, side := range []*Side{m.Server, m.Client} {
		for _, r := range slices.Concat(side.Routes, side.unfinished) {
			n.method(r)
		}
	}

	for _, name := range n.names.exported(m.Server, m.Client) {
		n.global[name] = claim{what: "the generated " + name}
	}
	for _, o := range m.Types {
		if isExported(o.GoName) {
			n.register(o.GoName, fmt.Sprintf("type %q", o.Name), o.pos)
		}
	}
	for _, e := range m.Entries {
		n.register(e.Const, fmt.Sprintf("metadata entry %q", e.Name), e.pos)
	}
	n.routeConsts(m)
	for _, side := range []*Side{m.Server, m.Client} {
		n.side(side)
	}
}

// register claims a package-level exported identifier, reporting a name
// already claimed.
func (n *namer) register(name, what string, pos Pos) {
	if prev, ok := n.global[name]; ok {
		if prev.pos.Line > 0 {
			n.at(pos, "%s: Go name %s is already used by %s (line %d)", what, name, prev.what, prev.pos.Line)
		} else {
			n.at(pos, "%s: Go name %s is already used by %s", what, name, prev.what)
		}
		return
	}
	n.global[name] = claim{what: what, pos: pos}
}

// object names a type and its fields; two fields must not get the same Go
// name.
func (n *namer) object(o *Object) {
	o.GoName = pascal(o.Name)
	byGo := map[string]*Field{}
	for _, fd := range o.Fields {
		fd.GoName = pascal(fd.Name)
		if !fd.validName {
			continue
		}
		if prev := byGo[fd.GoName]; prev != nil {
			n.at(fd.pos, "type %q: field %q: fields %q (line %d) and %q both map to Go field %s; rename one",
				o.Name, fd.Name, prev.Name, prev.pos.Line, fd.Name, fd.GoName)
			continue
		}
		if o.Validates && fd.GoName == validateMethod {
			n.at(fd.pos, "type %q: field %q: its Go name %s is the method that checks the type's constraints; rename the field",
				o.Name, fd.Name, fd.GoName)
			continue
		}
		byGo[fd.GoName] = fd
	}
}

// validateMethod is the method of the types with constraints.
const validateMethod = "Validate"

// patterns names the package variables of the compiled patterns of o's
// fields, patternTypeField, numbered when two fields would share one;
// taken holds the names given so far.
func (n *namer) patterns(o *Object, taken map[string]bool) {
	for _, fd := range o.Fields {
		if fd.Rules.Pattern == "" {
			continue
		}
		fd.Rules.Regexp = uniqueName("pattern"+o.GoName+pascal(fd.Name), taken)
	}
}

// uniqueName returns base, or base numbered when taken has it, and adds
// the result to taken.
func uniqueName(base string, taken map[string]bool) string {
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	taken[name] = true
	return name
}

// entries names the metadata entries: the MIME constant, the parameter,
// the struct field and the decoding helper of each.
func (n *namer) entries(entries []*Entry) {
	reserved := n.names.reservedLocals()
	byGo := map[string]*Entry{}
	for _, e := range entries {
		e.Const, e.Param, e.Field, e.Func = mimeConstName(e.Name), camel(e.Name), pascal(e.Name), entryFuncName(e.Name)
		ctx := fmt.Sprintf("metadata entry %q", e.Name)
		switch {
		case !e.validName:
		case !isIdent(e.Param):
			n.at(e.pos, "%s: its parameter name %q is a Go keyword; rename the entry", ctx, e.Param)
		case predeclared[e.Param] || reserved[e.Param]:
			n.at(e.pos, "%s: its parameter name %q would shadow a name the generated code uses; rename the entry", ctx, e.Param)
		case e.Field == n.names.Data:
			n.at(e.pos, "%s: its field name %s is taken by the payload data in generated structs; rename the entry", ctx, e.Field)
		case byGo[e.Field] != nil:
			n.at(e.pos, "%s: entries %q (line %d) and %q both map to Go name %s; rename one", ctx, byGo[e.Field].Name, byGo[e.Field].pos.Line, e.Name, e.Field)
		default:
			byGo[e.Field] = e
		}
	}
}

// method names the method of a route: go: when set, else the route name.
func (n *namer) method(r *Route) {
	ctx := r.label
	switch {
	case r.goName != nil:
		r.GoName = r.goName.Value
		if !isExported(r.GoName) {
			n.at(r.goName.Pos, "%s: go: %q is not an exported Go identifier", ctx, r.GoName)
		}
	case !r.goSet && r.Name != "":
		r.GoName = pascal(r.Name)
		if !isExported(r.GoName) {
			n.at(r.routeKey, "%s: its Go name %q is not an exported Go identifier; set go: to name its method", ctx, r.GoName)
		}
	}
}

// routeConsts names the route constants. They are shared by every route of
// the same name, on both sides; two different names must not make the same
// constant.
func (n *namer) routeConsts(m *Model) {
	consts := map[string]*RouteConst{}
	for _, side := range []*Side{m.Server, m.Client} {
		for _, r := range side.Routes {
			r.Const = routeConstName(r.Name)
			rc := consts[r.Const]
			switch {
			case pascal(r.Name) == "":
				n.at(r.pos, "%s %q: the name has no letter or digit to name its constant", sideWord(side.Client), r.Name)
				continue
			case rc == nil:
				rc = &RouteConst{Name: r.Const, Route: r.Name}
				consts[r.Const] = rc
				m.RouteConsts = append(m.RouteConsts, rc)
				n.register(rc.Name, fmt.Sprintf("%s %q", sideWord(side.Client), r.Name), r.pos)
			case rc.Route != r.Name:
				n.at(r.pos, "%s %q: routes %q (line %d) and %q both make constant %s; rename one",
					sideWord(side.Client), r.Name, rc.Route, rc.Routes[0].pos.Line, r.Name, r.Const)
				continue
			}
			rc.Routes = append(rc.Routes, r)
		}
	}
}

// side checks the method names of one side's routes and names the structs
// generated for metadata: request structs, channel items, responses.
func (n *namer) side(side *Side) {
	methods := map[string]*Route{}
	for _, r := range side.Routes {
		if !isExported(r.GoName) {
			continue // already reported
		}
		what := r.what()
		if prev := methods[r.GoName]; prev != nil {
			n.at(r.pos, "%s: method name %s is already used by %s %q (%s) at line %d; set go: on one of them",
				what, r.GoName, sideWord(side.Client), prev.Name, prev.Interaction, prev.pos.Line)
			continue
		}
		if slices.Contains(side.CallerMethods, r.GoName) {
			n.at(r.pos, "%s: method name %s is taken by the generated code; set go: to another name", what, r.GoName)
			continue
		}
		if slices.Contains(vetMethods, r.GoName) {
			n.at(r.pos, "%s: method name %s has a fixed signature for go vet and the encoding packages; set go: to another name", what, r.GoName)
			continue
		}
		methods[r.GoName] = r
		if r.Interaction != RequestChannel && len(r.RequestMeta) > 0 {
			r.Args = side.funcPrefix + r.GoName + "Args"
			r.ArgsEncode, r.ArgsDecode = encodeFuncName(upperFirst(r.Args)), decodeFuncName(upperFirst(r.Args))
		}
		if len(r.OpenMeta) > 0 {
			r.Open = side.funcPrefix + r.GoName + "Open"
			r.OpenEncode, r.OpenDecode = encodeFuncName(upperFirst(r.Open)), decodeFuncName(upperFirst(r.Open))
		}
		if r.Interaction == RequestChannel && len(r.RequestMeta) > 0 {
			r.ReqStruct = requestStructName(r.GoName)
			r.ReqEncode, r.ReqDecode = encodeFuncName(r.ReqStruct), decodeFuncName(r.ReqStruct)
			n.register(r.ReqStruct, what+" request item", r.pos)
		}
		if len(r.ResponseMeta) > 0 {
			r.RespStruct = responseStructName(r.GoName)
			r.RespEncode, r.RespDecode = encodeFuncName(r.RespStruct), decodeFuncName(r.RespStruct)
			n.register(r.RespStruct, what+" response", r.pos)
		}
	}
}
