package rsrt

// Payload codecs used by generated code: one encoder and one decoder per
// payload kind (string, bytes, JSON object, empty). Inbound payloads are
// already owned by the receiver, so decoders do not copy.

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

// DecodeUTF8 checks that b is UTF-8 and returns it as a string.
func DecodeUTF8(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errors.New("not valid UTF-8")
	}
	return string(b), nil
}

// DecodeString decodes a string payload: UTF-8 text, no quotes.
func DecodeString(p *Payload) (string, error) { return DecodeUTF8(p.Data) }

// EncodeString encodes a string payload.
func EncodeString(s string) (Payload, error) { return Payload{Data: []byte(s)}, nil }

// DecodeBytes decodes a bytes payload.
func DecodeBytes(p *Payload) ([]byte, error) { return p.Data, nil }

// EncodeBytes encodes a bytes payload.
func EncodeBytes(b []byte) (Payload, error) { return Payload{Data: b}, nil }

// DecodeEmpty decodes an empty payload. Data sent anyway is ignored, as
// the tutorial's peers do.
func DecodeEmpty(*Payload) (struct{}, error) { return struct{}{}, nil }

// EncodeEmpty encodes an empty payload: no data, no metadata.
func EncodeEmpty(struct{}) (Payload, error) { return Payload{}, nil }

// DecodeJSON decodes a JSON object payload into T. Unknown keys, trailing
// data, invalid UTF-8 and values of the wrong type are errors whose text
// names the field and the expected schema type. A decoded value is then
// validated (validate.go): a field tagged rsgen:"required" that is absent
// or null, and, when *T has a Validate method (generated for types with
// constraints), what it refuses, are *ValidationError errors naming the
// field's path.
//
// For struct types of scalar fields it first tries the flat decoder
// (jsonflat.go); for other flat object types (see jsonKeysOf),
// json.Unmarshal and a scan of the top-level keys. Both accept only what
// the strict decoder accepts, with the same result, for far fewer
// allocations. Any failure or doubt (an error, a key that is not a
// field's exact name, an escaped key) falls back to the strict decoder,
// so errors and edge cases keep its texts.
func DecodeJSON[T any](p *Payload) (T, error) {
	if !utf8.Valid(p.Data) {
		return *new(T), errors.New("not valid UTF-8")
	}
	// One value on the heap, which the decoders fill and the validator
	// reads: a local would escape twice.
	v := new(T)
	if err := decodeJSON(p.Data, v); err != nil {
		return *v, err
	}
	if err := validate(p.Data, v); err != nil {
		return *new(T), err
	}
	return *v, nil
}

// decodeJSON is DecodeJSON without the validation: a fast path, or the
// strict decoder. *v must be T's zero value.
func decodeJSON[T any](data []byte, v *T) error {
	if d := flatCodecOf[T](); d != nil {
		if d.decode(data, reflect.ValueOf(v).Elem()) {
			return nil
		}
		*v = *new(T) // the flat decoder may have set some fields
		return decodeJSONStrict(data, v)
	}
	if keys := jsonKeysOf[T](); keys != nil {
		if json.Unmarshal(data, v) == nil && keys.knownTopLevel(data) {
			return nil
		}
		*v = *new(T) // Unmarshal may have set some fields
	}
	return decodeJSONStrict(data, v)
}

// decodeJSONStrict is the reference decoder: a json.Decoder that rejects
// unknown keys, then a check for trailing data. *v must be T's zero value.
func decodeJSONStrict[T any](data []byte, v *T) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %s", jsonErrorText(err))
	}
	if d.More() {
		return errors.New("bad JSON: trailing data after the object")
	}
	return nil
}

// jsonKeys is the set of JSON keys a flat struct type accepts, by their
// exact names.
type jsonKeys map[string]struct{}

// noKeys marks a type that has no fast path.
var noKeys = jsonKeys(nil)

// keysCache maps a reflect.Type to its jsonKeys (nil: no fast path).
var keysCache sync.Map

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonKeysOf returns the exact JSON names of T's fields when T is a flat
// struct: no embedded fields, no custom unmarshalers, no duplicate or
// unusual names, and fields that hold only scalars (or pointers, slices
// and arrays of scalars), so no JSON object can sit below the top level
// of a value json.Unmarshal accepts for T. Otherwise it returns nil.
// The result is computed once per type.
func jsonKeysOf[T any]() jsonKeys {
	t := reflect.TypeFor[T]()
	if k, ok := keysCache.Load(t); ok {
		return k.(jsonKeys)
	}
	k := flatStructKeys(t)
	keysCache.Store(t, k)
	return k
}

// flatStructKeys computes jsonKeysOf for t.
func flatStructKeys(t reflect.Type) jsonKeys {
	if t.Kind() != reflect.Struct || customUnmarshal(t) {
		return noKeys
	}
	keys := jsonKeys{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return noKeys
		}
		name, _, ok := jsonField(f)
		if !ok {
			continue
		}
		if !plainJSONName(name) || !scalarJSONType(f.Type) {
			return noKeys
		}
		if _, dup := keys[name]; dup {
			return noKeys
		}
		keys[name] = struct{}{}
	}
	return keys
}

// jsonField returns the JSON name of a struct field and the options of
// its json tag, and false for a field encoding/json leaves out
// (unexported, or tagged "-").
func jsonField(f reflect.StructField) (name, opts string, ok bool) {
	tag := f.Tag.Get("json")
	if !f.IsExported() || tag == "-" {
		return "", "", false
	}
	name, opts, _ = strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, opts, true
}

// plainJSONName reports whether name is made only of ASCII letters, digits,
// '_' and '-', so encoding/json uses it as is.
func plainJSONName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return name != ""
}

// customUnmarshal reports whether t or *t has its own JSON or text
// unmarshaling.
func customUnmarshal(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) ||
		pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// scalarJSONType reports whether t decodes only from JSON scalars (or
// arrays of them): strings, numbers and booleans, through pointers, slices
// and arrays, without custom unmarshaling.
func scalarJSONType(t reflect.Type) bool {
	if customUnmarshal(t) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return scalarJSONType(t.Elem())
	}
	return false
}

// knownTopLevel reports whether every key of the top-level object of data
// is, byte for byte, one of keys. data must be valid JSON that
// json.Unmarshal accepted for the struct type keys belongs to: an object
// or null, surrounded by whitespace only. Escaped keys and anything
// unexpected count as unknown.
func (keys jsonKeys) knownTopLevel(data []byte) bool {
	i := skipSpace(data, 0)
	if i < len(data) && data[i] == 'n' {
		return true // null: Unmarshal leaves the value as is
	}
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) && data[i] == '"' {
		end := i + 1
		for end < len(data) && data[end] != '"' && data[end] != '\\' {
			end++
		}
		if end >= len(data) || data[end] != '"' {
			return false // escaped key (or malformed)
		}
		if _, ok := keys[string(data[i+1:end])]; !ok {
			return false
		}
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipValue(data, skipSpace(data, i+1))
		if i < 0 {
			return false
		}
		var closed bool
		if i, closed = separator(data, i, '}'); closed {
			return true
		}
		if i < 0 {
			return false
		}
	}
	return false
}

// separator reads what follows a member of an object or an item of a
// list that ends at data[i]: whitespace, then close (it returns the index
// past it, and end) or a comma (it returns the index of what comes next);
// anything else returns -1.
func separator(data []byte, i int, close byte) (next int, end bool) {
	i = skipSpace(data, i)
	switch {
	case i >= len(data):
		return -1, false
	case data[i] == close:
		return i + 1, true
	case data[i] == ',':
		return skipSpace(data, i+1), false
	}
	return -1, false
}

// skipSpace returns the index of the first non-whitespace byte of data at
// or after i.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value that starts at
// data[i], or -1 when data ends first. data is known to be valid JSON.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				if i = skipString(data, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false or null
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the index just past the JSON string that starts at
// data[i], or -1 when data ends first.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// EncodeJSON encodes a JSON object payload, as json.Marshal does; for
// struct types of scalar fields without encoding/json (jsonflat.go).
func EncodeJSON[T any](v T) (Payload, error) {
	if c := flatCodecOf[T](); c != nil {
		rv := reflect.ValueOf(&v).Elem()
		if b, ok := c.encode(make([]byte, 0, c.size(rv)), rv); ok {
			return Payload{Data: b}, nil
		}
	}
	b, err := json.Marshal(v)
	return Payload{Data: b}, err
}

// jsonErrorText strips encoding/json's Go type names from an error so the
// peer reads schema terms, not our internals. encoding/json quotes what it
// read (an unknown key, a number's literal), so the text is clipped to
// rslog.MaxValue: a request of 16 MiB must not come back, or go to the
// log, as an error of 16 MiB.
func jsonErrorText(err error) string {
	return rslog.Clip(jsonErrorTerms(err), rslog.MaxValue)
}

func jsonErrorTerms(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q: %s is not a valid %s", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
		}
		return fmt.Sprintf("%s where an object was expected", te.Value)
	}
	if errors.Is(err, io.EOF) {
		return "empty data where an object was expected"
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	default:
		return "object"
	}
}
