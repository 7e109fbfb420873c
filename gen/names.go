package gen

// Every Go identifier of the generated code is derived here, and only here,
// before anything is emitted: the validator checks the results for
// collisions and invalid identifiers, and the emitters read them from the
// model.

import (
	"go/token"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fixed exported names of a generated package. Declared types and generated
// structs must not take them.
var fixedNames = []string{
	"Server", "UnimplementedServer", "Peer", "NewAcceptor",
	"Client", "Dial", "NewClient",
	"ClientHandler", "UnimplementedClientHandler", "WithHandler",
}

// Methods that the generated Client has besides its route methods.
var clientMethods = []string{"Conn", "Close"}

// Methods and fields of Peer besides its route methods: the embedded
// *rsrt.Conn field and the methods it promotes. A route method of the same
// name would shadow them, and generated code calls Caller.
var peerMethods = []string{"Conn", "Context", "Setup", "RemoteAddr", "Declares", "Caller"}

// vetMethods are the method names whose signature go vet's stdmethods
// check enforces (and that encoding packages call): a route method of that
// name would fail vet, or be called by json.Marshal.
var vetMethods = []string{
	"As", "Format", "GobDecode", "GobEncode", "Is", "MarshalJSON", "MarshalXML",
	"Peek", "ReadByte", "ReadFrom", "ReadRune", "Scan", "Seek", "UnmarshalJSON",
	"UnmarshalXML", "UnreadByte", "UnreadRune", "Unwrap", "WriteByte", "WriteTo",
}

// Names that generated function bodies use for their parameters and locals,
// and package names they refer to; a metadata entry's parameter must not
// shadow any of them.
var reservedLocals = map[string]bool{
	"ctx": true, "req": true, "resp": true, "p": true, "out": true, "err": true,
	"in": true, "s": true, "h": true, "c": true, "peer": true, "raw": true,
	"first": true, "md": true,
	"rsrt": true, "rsocket": true, "context": true, "iter": true, "errors": true, "fmt": true,
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
	ws := words(name)
	if len(ws) == 0 {
		return ""
	}
	return lowerInitial(goWord(ws[0])) + pascal(strings.Join(ws[1:], "_"))
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

// newServerSide returns the names of the server side: the routes the
// server serves.
func newServerSide() *Side {
	return &Side{Handler: "Server", Unimplemented: "UnimplementedServer", RoutesVar: "serverRoutes",
		RoutesFunc: "newServerRoutes", Recv: "s", funcPrefix: "serve"}
}

// newClientSide returns the names of the client side: the routes the
// client serves and the server calls through Peer.
func newClientSide() *Side {
	return &Side{Client: true, Handler: "ClientHandler", Unimplemented: "UnimplementedClientHandler",
		RoutesVar: "clientRoutes", RoutesFunc: "newClientRoutes", Recv: "h", funcPrefix: "handle"}
}

// Names of the generated constants, helpers and structs.

func routeConstName(route string) string { return "Route" + pascal(route) }
func mimeConstName(entry string) string  { return "MIME" + pascal(entry) }
func entryFuncName(entry string) string  { return camel(entry) + "Entry" }
func requestStructName(method string) string {
	return method + "Request"
}
func responseStructName(method string) string { return method + "Response" }
func encodeFuncName(structName string) string { return "encode" + structName }
func decodeFuncName(structName string) string { return "decode" + structName }

// serveFuncName names the function that adapts a raw request to a handler
// method: "serve" on the server side, "handle" on the client side, so the
// two sides never collide.
func serveFuncName(side *Side, method string) string { return side.funcPrefix + method }
