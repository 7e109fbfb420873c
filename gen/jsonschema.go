package gen

// The JSON Schema of the schema language, for editors: the YAML language
// server validates and completes a schema with it as it is typed. It is
// built from the lists decode and validate use (keys, interactions,
// built-in types, reserved MIME types, name patterns), so it follows them.
//
// It is draft-07, the newest draft the YAML language server validates
// instances with. It checks the shape of a schema (keys, kinds, names,
// enumerations, what each interaction allows) and is never stricter than
// rsgen: what it rejects, rsgen rejects. What needs the whole schema or Go
// naming is left to rsgen: references to declared types and entries,
// duplicate routes, MIME types shared by entries, Go name collisions and
// reserved method names, recursive types and the depth of list types.

import (
	"bytes"
	"encoding/json"
	"go/token"
	"slices"
)

// JSONSchemaFile is where the repository keeps the JSON Schema, from the
// module root; schemas refer to it in their yaml-language-server modeline.
const JSONSchemaFile = "schema/rsgen.schema.json"

// jsObj is a JSON object that keeps its keys in order, so that the schema
// is the same bytes every time.
type jsObj []jsKV

type jsKV struct {
	k string
	v any
}

func (o jsObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func obj(kv ...any) jsObj {
	o := make(jsObj, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, jsKV{kv[i].(string), kv[i+1]})
	}
	return o
}

func ref(def string) jsObj { return obj("$ref", "#/definitions/"+def) }

// props builds the properties of a mapping from its key list, so that a key
// decode accepts is never missing (the test compares them too).
func props(keys []string, schemas map[string]any) jsObj {
	o := jsObj{}
	for _, k := range keys {
		s, ok := schemas[k]
		if !ok {
			panic("jsonschema: no schema for key " + k)
		}
		o = append(o, jsKV{k, s})
	}
	return o
}

// goKeywords are the keywords of Go: neither a package name nor an entry
// (whose Go parameter name is the entry name when it is one word).
func goKeywords() []string {
	var kw []string
	for t := token.Token(0); t < token.Token(200); t++ {
		if t.IsKeyword() {
			kw = append(kw, t.String())
		}
	}
	slices.Sort(kw)
	return kw
}

// Patterns in the syntax both Go's regexp and JavaScript accept. A Go
// identifier may hold any Unicode letter; the patterns check ASCII only
// and let any other character through, never rejecting what rsgen takes.
const (
	identPattern    = `^(?:[A-Za-z_]|[^\x00-\x7F])(?:[A-Za-z0-9_]|[^\x00-\x7F])*$`
	exportedPattern = `^(?:[A-Z]|[^\x00-\x7F])(?:[A-Za-z0-9_]|[^\x00-\x7F])*$`
	// A MIME type: type/subtype in printable ASCII without spaces; the
	// parts hold no '/'.
	mimePattern = `^[!-.0-~]+/[!-.0-~]+$`
)

func docProp(what string) jsObj {
	return obj("type", "string", "description", what)
}

// JSONSchema returns the JSON Schema (draft-07) of the schema language.
func JSONSchema() []byte {
	interactions := slices.Clone(interactionNames[1:])
	fieldScalars := []string{"string", "integer", "number", "boolean"}
	payloadScalars := []string{"string", "bytes", "empty"}
	noResponse := obj("enum", []string{FireAndForget.String(), MetadataPush.String()})
	s := obj(
		"$schema", "http://json-schema.org/draft-07/schema#",
		"title", "rsgen route schema",
		"description", "A YAML route schema from which rsgen generates a typed RSocket service; the language is documented in gen/SCHEMA.md.",
		"type", "object",
		"required", []string{"package"},
		"additionalProperties", false,
		"properties", props(schemaKeys, map[string]any{
			"package": obj("description", "The Go package name of the generated code.",
				"type", "string", "pattern", identPattern,
				"not", obj("enum", append(goKeywords(), "_", "main"))),
			"doc": docProp("The package doc comment, verbatim."),
			"types": obj("description", "Object types, sent as JSON objects, by name.",
				"type", "object",
				"propertyNames", obj("pattern", typeNameRE.String(), "not", obj("enum", builtinTypes)),
				"additionalProperties", ref("type")),
			"metadata": obj("description", "Composite-metadata entries other than routing, by name.",
				"type", "object",
				"propertyNames", obj("pattern", entryNameRE.String(), "not", obj("enum", goKeywords())),
				"additionalProperties", ref("entry")),
			"routes": obj("description", "The routes the server serves.",
				"type", "array", "items", ref("route")),
			"client_routes": obj("description", "The routes the client serves: server-to-client calls.",
				"type", "array", "items", ref("route")),
		}),
		"definitions", obj(
			"type", obj("type", "object", "additionalProperties", false,
				"properties", props(typeKeys, map[string]any{
					"doc": docProp("What the type is."),
					"fields": obj("description", "The fields, by JSON key, in order.",
						"type", "object",
						"propertyNames", obj("pattern", fieldNameRE.String()),
						"additionalProperties", ref("field")),
				})),
			"field", obj("type", "object", "additionalProperties", false, "required", []string{"type"},
				"properties", props(fieldKeys, map[string]any{
					"type":       ref("fieldType"),
					"optional":   obj("description", "May the field be absent? Required fields are always sent.", "type", "boolean"),
					"doc":        docProp("What the field holds."),
					"min_length": obj("description", "Strings (or the strings of a list): the fewest bytes.", "type", "integer", "minimum", 0),
					"max_length": obj("description", "Strings (or the strings of a list): the most bytes.", "type", "integer", "minimum", 0),
					"min_items":  obj("description", "Lists: the fewest items.", "type", "integer", "minimum", 0),
					"max_items":  obj("description", "Lists: the most items.", "type", "integer", "minimum", 0),
					"minimum":    obj("description", "Integers and numbers (or those of a list): the least value, inclusive.", "type", "number"),
					"maximum":    obj("description", "Integers and numbers (or those of a list): the greatest value, inclusive.", "type", "number"),
					"enum": obj("description", "Strings and integers (or those of a list): the allowed values.",
						"type", "array", "minItems", 1, "uniqueItems", true, "items", obj("type", []string{"string", "integer"})),
					"pattern":    obj("description", "Strings (or the strings of a list): a Go regular expression (RE2) they must match; anchor it with ^ and $.", "type", "string", "minLength", 1),
					"no_control": obj("description", "Strings (or the strings of a list): refuse control characters (Unicode Cc).", "type", "boolean"),
				})),
			"fieldType", obj("description", "string, integer, number, boolean, a declared type, or a list [T].",
				"anyOf", []any{
					obj("enum", fieldScalars),
					obj("type", "string", "pattern", typeNameRE.String(), "not", obj("enum", []string{"bytes", "empty"})),
					obj("type", "array", "minItems", 1, "maxItems", 1, "items", ref("fieldType")),
				}),
			"payload", obj("description", "string (UTF-8 text), bytes (raw), empty (no data) or a declared type (a JSON object).",
				"anyOf", []any{
					obj("enum", payloadScalars),
					obj("type", "string", "pattern", typeNameRE.String(), "not", obj("enum", []string{"integer", "number", "boolean"})),
				}),
			"entry", obj("type", "object", "additionalProperties", false, "required", []string{"mime", "type"},
				"properties", props(entryKeys, map[string]any{
					"mime": obj("description", "The entry's MIME type: type/subtype, 1 to 127 bytes of printable ASCII.",
						"type", "string", "maxLength", 127, "pattern", mimePattern,
						"not", obj("enum", reservedMIMEs)),
					"type":       obj("description", "string (UTF-8) or bytes.", "enum", []string{"string", "bytes"}),
					"optional":   obj("description", "May the entry be absent?", "type", "boolean"),
					"doc":        docProp("What the entry carries."),
					"min_length": obj("description", "The fewest bytes of the entry's value.", "type", "integer", "minimum", 0),
					"max_length": obj("description", "The most bytes of the entry's value.", "type", "integer", "minimum", 0),
					"enum": obj("description", "String entries: the allowed values.",
						"type", "array", "minItems", 1, "uniqueItems", true, "items", obj("type", "string")),
					"pattern":    obj("description", "String entries: a Go regular expression (RE2) the value must match; anchor it with ^ and $.", "type", "string", "minLength", 1),
					"no_control": obj("description", "String entries: refuse control characters (Unicode Cc).", "type", "boolean"),
				})),
			"entryList", obj("type", "array", "uniqueItems", true,
				"items", obj("type", "string", "pattern", entryNameRE.String())),
			"route", obj("type", "object", "additionalProperties", false, "required", []string{"route", "interaction"},
				"properties", props(routeKeys, map[string]any{
					"route":             obj("description", "The routing tag, 1 to 255 bytes.", "type", "string", "minLength", 1, "maxLength", 255),
					"interaction":       obj("description", "The RSocket interaction model.", "enum", interactions),
					"request":           ref("payload"),
					"response":          ref("payload"),
					"request_metadata":  ref("entryList"),
					"response_metadata": ref("entryList"),
					"open_metadata":     obj("description", "request-channel only: entries the REQUEST_CHANNEL frame carries once, for the whole channel.", "allOf", []any{ref("entryList")}),
					"initial":           obj("description", "request-channel only: the REQUEST_CHANNEL frame carries the route only.", "enum", []string{"empty"}),
					"go":                obj("description", "The Go method name, instead of the one derived from the route.", "type", "string", "pattern", exportedPattern),
					"doc":               docProp("What the route does."),
				}),
				"allOf", []any{
					obj("if", obj("required", []string{"interaction"}, "properties", obj("interaction", noResponse)),
						"then", obj("properties", obj("response", obj("const", "empty"), "response_metadata", obj("maxItems", 0)))),
					obj("if", obj("required", []string{"interaction"}, "properties", obj("interaction", obj("const", MetadataPush.String()))),
						"then", obj("properties", obj("request", obj("const", "empty")))),
					obj("if", obj("required", []string{"interaction"}, "properties", obj("interaction", obj("not", obj("const", RequestChannel.String())))),
						"then", obj("properties", obj("initial", false, "open_metadata", false))),
				}),
		),
	)
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // only plain values above
	}
	return append(out, '\n')
}
