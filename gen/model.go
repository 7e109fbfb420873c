package gen

import "fmt"

// Model is a validated schema in which every Go identifier is resolved. It
// is what the emitters read; they make no decision about names.
type Model struct {
	// Source is the schema path as given, with forward slashes (an
	// absolute path only by its base name); it goes in the generated
	// header.
	Source string
	// Package is the Go package name.
	Package string
	// Doc is the package documentation, if any.
	Doc string
	// Types are the declared object types, in document order.
	Types []*Object
	// Entries are the declared metadata entries, in document order.
	Entries []*Entry
	// Server holds the routes the server serves; Client those the client
	// serves (client_routes).
	Server, Client *Side
	// RouteConsts are the distinct route names of both sides, in order of
	// first appearance (server routes first).
	RouteConsts []*RouteConst
	// Names are the fixed identifiers of the generated code.
	Names *Names

	packagePos Pos
}

// Object is a declared object type, sent as a JSON object.
type Object struct {
	Name   string // schema name
	GoName string
	Doc    string
	Fields []*Field
	// Validates is set when the type has a Validate method: a field of
	// it, or of a type it holds, has a constraint.
	Validates bool
	pos       Pos
}

// Field is one field of an object type.
type Field struct {
	Name   string // schema name, also the JSON key
	GoName string
	Doc    string
	// Type is nil only in a model with errors, when the schema's type
	// could not be resolved.
	Type     *FieldType
	Optional bool
	// Rules are the field's constraints; the zero value has none.
	Rules Rules
	pos   Pos
	// validName is unset when the name is outside the schema's alphabet
	// (reported): its Go name is not checked for collisions.
	validName bool
}

// Rules are the declarative constraints of a field, checked by the
// generated Validate methods on every value a peer receives. Length and
// item counts apply to the field itself; the others to its value, or to
// every item of a list (at any depth). Unset bounds are nil.
type Rules struct {
	// MinLength and MaxLength bound a string's length in bytes.
	MinLength, MaxLength *int64
	// MinItems and MaxItems bound a list's length.
	MinItems, MaxItems *int64
	// Minimum and Maximum bound a number or an integer, inclusive.
	Minimum, Maximum *Bound
	// Enum lists the allowed values of a string or an integer, as
	// written (integers in decimal).
	Enum []string
	// Pattern is a Go regular expression (RE2 syntax) a string must
	// match somewhere; anchor it with ^ and $ to match the whole. Regexp
	// names the package variable that holds it compiled.
	Pattern, Regexp string
	// NoControl refuses strings with a control character (Unicode Cc:
	// U+0000 to U+001F and U+007F to U+009F).
	NoControl bool
}

// Bound is a numeric bound: Int for an integer field, Float for a number.
type Bound struct {
	Int   int64
	Float float64
	Text  string // as written, for messages and docs
}

// Any reports whether the field has a constraint.
func (r Rules) Any() bool {
	return r.MinLength != nil || r.MaxLength != nil || r.MinItems != nil || r.MaxItems != nil ||
		r.Minimum != nil || r.Maximum != nil || r.Enum != nil || r.Pattern != "" || r.NoControl
}

// FieldKind is the kind of a field type.
type FieldKind int

// The field kinds of the schema language.
const (
	FieldString FieldKind = iota + 1
	FieldInteger
	FieldNumber
	FieldBoolean
	FieldList
	FieldObject
)

// FieldType is the type of a field.
type FieldType struct {
	Kind   FieldKind
	Elem   *FieldType // FieldList
	Object *Object    // FieldObject
}

// Entry is a declared composite-metadata entry.
type Entry struct {
	Name     string // schema name
	MIME     string
	Bytes    bool // type bytes; otherwise string
	Optional bool
	Doc      string
	// Const is the MIME constant (MIMEFileName), Param the parameter
	// name (fileName), Field the struct field name (FileName) and Func
	// the decoding helper (fileNameEntry).
	Const, Param, Field, Func string
	// Rules are the entry's constraints (lengths only for bytes), checked
	// by its decoding helper through the function Valid names.
	Rules Rules
	Valid string
	// Used is set when a route refers to the entry; only those get a
	// decoding helper.
	Used      bool
	pos       Pos
	validName bool // as in Field
}

// PayloadKind is the kind of a request or response payload.
type PayloadKind int

// The payload kinds of the schema language.
const (
	PayloadEmpty PayloadKind = iota
	PayloadString
	PayloadBytes
	PayloadObject
)

// Payload is the data type of a request or response.
type Payload struct {
	Kind   PayloadKind
	Object *Object // PayloadObject
}

// Interaction is an RSocket interaction model, numbered as rsrt numbers
// them.
type Interaction int

// The interaction models.
const (
	RequestResponse Interaction = iota + 1
	FireAndForget
	RequestStream
	RequestChannel
	MetadataPush
)

var interactionNames = []string{
	RequestResponse: "request-response",
	FireAndForget:   "fire-and-forget",
	RequestStream:   "request-stream",
	RequestChannel:  "request-channel",
	MetadataPush:    "metadata-push",
}

// String returns the schema spelling of the interaction.
func (i Interaction) String() string {
	if i > 0 && int(i) < len(interactionNames) {
		return interactionNames[i]
	}
	return "unknown"
}

// serveFunc is the rsrt entry point that registers a route of the
// interaction on its serving side.
func (i Interaction) serveFunc() string {
	return [...]string{
		RequestResponse: "ServeRequestResponse",
		FireAndForget:   "ServeFireAndForget",
		RequestStream:   "ServeRequestStream",
		RequestChannel:  "ServeRequestChannel",
		MetadataPush:    "ServeMetadataPush",
	}[i]
}

// hasResponse reports whether the interaction answers: its entry points
// take a response encoder.
func (i Interaction) hasResponse() bool {
	return i == RequestResponse || i == RequestStream || i == RequestChannel
}

// Side is one direction of calls: the routes one peer serves and the other
// calls.
type Side struct {
	// Client is true for client_routes (served by the client, called by
	// the server through Peer).
	Client bool
	Routes []*Route
	// Handler is the interface that serves the routes (Server,
	// ClientHandler); Unimplemented its stub; RoutesVar and RoutesFunc
	// the dispatch table and its constructor; Recv the handler parameter
	// of the adapters in the table.
	Handler, Unimplemented, RoutesVar, RoutesFunc, Recv string
	// Caller is the type whose methods call the routes (Client, Peer)
	// and CallerRecv their receiver; CallerMethods are the other methods
	// and fields of Caller, which a route method must not shadow.
	Caller, CallerRecv string
	CallerMethods      []string
	// funcPrefix starts the names of the side's request structs (serve,
	// handle), so that the two sides' never collide.
	funcPrefix string
	names      *Names
	// unfinished are the routes left out of Routes, after reporting why
	// (see validator.routes).
	unfinished []*Route
}

// Route is one (interaction, route) pair of a side.
type Route struct {
	Name         string // the route, as sent in routing metadata
	Interaction  Interaction
	Request      Payload
	Response     Payload
	RequestMeta  []*Entry
	ResponseMeta []*Entry
	// OpenMeta are the entries of a request-channel's REQUEST_CHANNEL
	// frame that are the whole channel's (open_metadata), not an item's.
	OpenMeta []*Entry
	// InitialEmpty is set on a request-channel whose REQUEST_CHANNEL
	// frame carries the route only.
	InitialEmpty bool
	Doc          string
	// GoName is the method name; Const the route constant.
	GoName, Const string
	// Args names the struct of the request of a route other than a
	// request-channel whose request carries metadata entries (its data
	// and its entries), and ArgsEncode and ArgsDecode its codec
	// functions. Empty when not generated.
	Args, ArgsEncode, ArgsDecode string
	// Open names the struct of a request-channel's open_metadata entries,
	// and OpenEncode and OpenDecode its codec functions. Empty when not
	// generated.
	Open, OpenEncode, OpenDecode string
	// ReqStruct names the generated item struct of a request-channel
	// with request metadata, and ReqEncode and ReqDecode its codec
	// functions; RespStruct, RespEncode and RespDecode do the same for a
	// response with metadata. Empty when not generated.
	ReqStruct, ReqEncode, ReqDecode    string
	RespStruct, RespEncode, RespDecode string
	Side                               *Side
	pos                                Pos
	// label names the route in messages (see routeSyntax); goName is
	// the go: key, goSet whether the route has one (it may not have
	// decoded), routeKey the position of the route: key.
	label    string
	goName   *scalar
	goSet    bool
	routeKey Pos
}

// what names the route in messages: route "x" (request-response).
func (r *Route) what() string {
	return fmt.Sprintf("%s %q (%s)", sideWord(r.Side.Client), r.Name, r.Interaction)
}

// RouteConst is one route-name constant, shared by every route of that
// name on both sides.
type RouteConst struct {
	Name   string // Go name
	Route  string
	Routes []*Route
}
