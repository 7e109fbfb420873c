package rsrt

// Validation of decoded JSON values: the required fields (present and not
// null, which encoding/json cannot tell from a zero value) and the
// schema's constraints, which the generated Validate methods check. Both
// run inside DecodeJSON, so every decoder of an object payload (requests
// on the server, responses and stream items on the client, channel items
// on both sides) hands on valid values only, and a bad value is refused
// with the same error as any other undecodable payload.

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// ValidationError is a decoded value that lacks a required field or
// breaks a constraint of its schema. Its text is "path: problem", the path
// in JSON terms from the payload's top level: "content: longer than 65536
// bytes", "items[2].sku: required field missing".
type ValidationError struct {
	Path    string
	Problem string
}

// Error returns "path: problem".
func (e *ValidationError) Error() string { return e.Path + ": " + e.Problem }

// Invalid returns the error of a value at path that breaks a constraint;
// generated Validate methods call it.
func Invalid(path, problem string) error { return &ValidationError{Path: path, Problem: problem} }

// InvalidIn returns err, the error of a nested value's Validate, with
// path (the field or item that holds the value) prefixed to its path.
func InvalidIn(path string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &ValidationError{Path: path + "." + ve.Path, Problem: ve.Problem}
	}
	return &ValidationError{Path: path, Problem: err.Error()}
}

// Index returns the path of item i of the list at path: "ids[3]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// HasControl reports whether s contains a control character (Unicode Cc:
// U+0000 to U+001F, U+007F to U+009F).
func HasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// validator is what generated types with constraints implement.
type validator interface{ Validate() error }

// validate checks the required fields of T in data, the JSON v was decoded
// from, then calls v's Validate method if it has one.
func validate[T any](data []byte, v *T) error {
	if s := requiredOf[T](); s != nil {
		i := skipSpace(data, 0)
		if i < len(data) && data[i] == 'n' {
			data, i = []byte("{}"), 0 // a null object lacks every field
		}
		if _, err := s.check(data, i, ""); err != nil {
			return err
		}
	}
	if val, ok := any(v).(validator); ok {
		return val.Validate()
	}
	return nil
}

// shape is what the required-field check knows of a Go type: for a
// struct, its JSON fields; for a slice or an array, its items. A nil
// *shape has nothing to check.
type shape struct {
	fields []shapeField // struct
	elem   *shape       // slice or array
}

// shapeField is a JSON field of a struct.
type shapeField struct {
	name     string
	required bool // tagged rsgen:"required"
	// nullOK is set on lists: encoding/json writes a nil slice as null,
	// so a required list that a Go peer left empty arrives as null, and
	// null reads as the empty list; only an absent list is refused.
	nullOK bool
	sub    *shape // the field's own type, nil when it has nothing to check
}

// shapeCache maps a reflect.Type to its *shape.
var shapeCache sync.Map

// requiredOf returns the shape of T, or nil when no required field is
// reachable from it. Computed once per type.
func requiredOf[T any]() *shape {
	t := reflect.TypeFor[T]()
	if s, ok := shapeCache.Load(t); ok {
		return s.(*shape)
	}
	b := &shapeBuilder{structs: map[reflect.Type]*shape{}}
	s := b.prune(b.shapeOf(t))
	shapeCache.Store(t, s)
	return s
}

// shapeBuilder computes the shapes of a type and of every type below it.
// A struct has one shape, so a recursive type (through an optional
// pointer or a list) is a cycle of shapes, walked as deep as the JSON
// goes.
type shapeBuilder struct {
	structs map[reflect.Type]*shape
	all     []*shape
}

func (b *shapeBuilder) shapeOf(t reflect.Type) *shape {
	switch t.Kind() {
	case reflect.Pointer:
		return b.shapeOf(t.Elem())
	case reflect.Slice, reflect.Array:
		if e := b.shapeOf(t.Elem()); e != nil {
			s := &shape{elem: e}
			b.all = append(b.all, s)
			return s
		}
		return nil
	case reflect.Struct:
	default:
		return nil
	}
	if s := b.structs[t]; s != nil {
		return s
	}
	if customUnmarshal(t) {
		return nil
	}
	s := &shape{}
	b.structs[t] = s
	b.all = append(b.all, s)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields = append(s.fields, shapeField{name: name, required: f.Tag.Get("rsgen") == "required",
			nullOK: f.Type.Kind() == reflect.Slice, sub: b.shapeOf(f.Type)})
	}
	return s
}

// prune drops the shapes from which no required field can be reached, so
// that the check skips what it need not walk, and returns top, or nil when
// it is one of them.
func (b *shapeBuilder) prune(top *shape) *shape {
	matters := map[*shape]bool{}
	for changed := true; changed; {
		changed = false
		for _, s := range b.all {
			if matters[s] {
				continue
			}
			m := s.elem != nil && matters[s.elem]
			for _, f := range s.fields {
				m = m || f.required || f.sub != nil && matters[f.sub]
			}
			if m {
				matters[s], changed = true, true
			}
		}
	}
	for _, s := range b.all {
		for i := range s.fields {
			if !matters[s.fields[i].sub] {
				s.fields[i].sub = nil
			}
		}
	}
	if !matters[top] {
		return nil
	}
	return top
}

// check walks the JSON value at data[i], which encoding/json accepted for
// the shape's type, and returns the index just past it, or the first
// required field that is absent or null, by its path under prefix.
func (s *shape) check(data []byte, i int, prefix string) (int, error) {
	if i < len(data) && data[i] == 'n' { // null: the field's own check decides
		return skipValue(data, i), nil
	}
	if s.elem != nil {
		return s.checkList(data, i, prefix)
	}
	if i >= len(data) || data[i] != '{' {
		return skipValue(data, i), nil
	}
	// The fields seen: a bitmask for up to 64 fields, so that the
	// common case allocates nothing.
	var mask uint64
	var many []bool
	if len(s.fields) > 64 {
		many = make([]bool, len(s.fields))
	}
	see := func(f int) {
		if many != nil {
			many[f] = true
		} else {
			mask |= 1 << f
		}
	}
	seen := func(f int) bool {
		if many != nil {
			return many[f]
		}
		return mask&(1<<f) != 0
	}
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] == '"' {
		end := skipString(data, i)
		if end < 0 {
			return -1, nil
		}
		f := s.field(data[i:end])
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		if f < 0 {
			i = skipValue(data, i)
		} else {
			sf := &s.fields[f]
			path := joinPath(prefix, sf.name)
			if i < len(data) && data[i] == 'n' && sf.required && !sf.nullOK {
				return -1, &ValidationError{Path: path, Problem: "required field is null"}
			}
			see(f)
			if sf.sub != nil {
				var err error
				if i, err = sf.sub.check(data, i, path); err != nil {
					return -1, err
				}
			} else {
				i = skipValue(data, i)
			}
		}
		if i < 0 {
			return -1, nil
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	for f, sf := range s.fields {
		if sf.required && !seen(f) {
			return -1, &ValidationError{Path: joinPath(prefix, sf.name), Problem: "required field missing"}
		}
	}
	return i + 1, nil // past '}'
}

// checkList checks each item of the JSON list at data[i].
func (s *shape) checkList(data []byte, i int, prefix string) (int, error) {
	if i >= len(data) || data[i] != '[' {
		return skipValue(data, i), nil
	}
	i = skipSpace(data, i+1)
	for n := 0; i < len(data) && data[i] != ']'; n++ {
		var err error
		if i, err = s.elem.check(data, i, Index(prefix, n)); err != nil || i < 0 {
			return -1, err
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return i + 1, nil
}

// field returns the index of the field that the quoted JSON key names, as
// encoding/json matches it: exactly, or else ignoring case; -1 if none.
// An unescaped key is compared in place, without a copy.
func (s *shape) field(quoted []byte) int {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var key string
		if json.Unmarshal(quoted, &key) != nil {
			return -1
		}
		raw = []byte(key)
	}
	for f := range s.fields {
		if s.fields[f].name == string(raw) {
			return f
		}
	}
	for f := range s.fields {
		if bytes.EqualFold([]byte(s.fields[f].name), raw) {
			return f
		}
	}
	return -1
}

// joinPath appends a field name to a path.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
