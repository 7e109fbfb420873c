package rsrt

// The flat-object decoder: DecodeJSON's fast path for struct types whose
// fields are JSON scalars, pointers to scalars or lists of scalars, which
// is what most request payloads are (the chat's Message is three optional
// strings). It reads the object in one pass, without encoding/json's
// reflection-driven state machine, and allocates the value, one string
// that every unescaped string of the object is a slice of, and one array
// for the strings that fields point to.
//
// It accepts only input it is sure of: an object, surrounded by
// whitespace, whose keys are byte for byte the names of distinct fields
// and whose values have the fields' JSON types. Anything else (a key in
// another case, a duplicate, an escaped key, a null in a list, a number
// that does not fit, a syntax error) makes it give up, and DecodeJSON
// runs the strict decoder, so errors and edge cases keep its texts and
// its results. FuzzDecodeJSON checks that the two agree.

import (
	"reflect"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// flatDecoder decodes JSON objects into one struct type.
type flatDecoder struct {
	fields []flatField
	// ptrStrings is the number of *string fields: their strings share
	// one array.
	ptrStrings int
}

// flatField is one JSON field of a struct decoded by a flatDecoder.
type flatField struct {
	name  string
	index int
	// shape of the Go field: a scalar, a pointer to one, or a slice of
	// them; kind is the scalar's kind, elem the pointed or listed type.
	ptr, slice bool
	kind       reflect.Kind
	elem       reflect.Type
}

var stringType = reflect.TypeFor[string]()

// flatCache maps a reflect.Type to its *flatDecoder (nil: not flat).
var flatCache sync.Map

// flatDecoderOf returns T's flat decoder, or nil when T is not a struct
// that one can decode. The result is computed once per type.
func flatDecoderOf[T any]() *flatDecoder {
	t := reflect.TypeFor[T]()
	if d, ok := flatCache.Load(t); ok {
		return d.(*flatDecoder)
	}
	d := newFlatDecoder(t)
	flatCache.Store(t, d)
	return d
}

// newFlatDecoder builds the decoder of t, or returns nil. It takes the
// types jsonKeysOf takes, less arrays, []byte (base64 in JSON) and lists
// of pointers, and less fields with tag options other than omitempty.
func newFlatDecoder(t reflect.Type) *flatDecoder {
	if flatStructKeys(t) == nil {
		return nil
	}
	d := &flatDecoder{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts := tag, ""
		for j := 0; j < len(tag); j++ {
			if tag[j] == ',' {
				name, opts = tag[:j], tag[j+1:]
				break
			}
		}
		if opts != "" && opts != "omitempty" {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		ff := flatField{name: name, index: i, elem: f.Type, kind: f.Type.Kind()}
		switch f.Type.Kind() {
		case reflect.Pointer:
			ff.ptr, ff.elem, ff.kind = true, f.Type.Elem(), f.Type.Elem().Kind()
			if ff.elem == stringType {
				d.ptrStrings++
			}
		case reflect.Slice:
			ff.slice, ff.elem, ff.kind = true, f.Type.Elem(), f.Type.Elem().Kind()
			if ff.kind == reflect.Uint8 {
				return nil
			}
		case reflect.Array:
			return nil
		}
		if !flatScalar(ff.kind) {
			return nil
		}
		d.fields = append(d.fields, ff)
	}
	if len(d.fields) > 64 {
		return nil // duplicates are tracked in a uint64
	}
	return d
}

// flatScalar reports whether k is a kind of JSON scalar.
func flatScalar(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// decode decodes data into v, an addressable value of the decoder's
// struct type, holding its zero value. It reports false when it gave up;
// v may then be partly set.
func (d *flatDecoder) decode(data []byte, v reflect.Value) bool {
	s := flatScan{data: data}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	var strs []string
	if d.ptrStrings > 0 {
		strs = make([]string, 0, d.ptrStrings)
	}
	var seen uint64
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, j, ok := s.plainString(i)
		if !ok {
			return false
		}
		k := d.field(key)
		if k < 0 || seen&(1<<k) != 0 {
			return false
		}
		seen |= 1 << k
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		f := &d.fields[k]
		fv := v.Field(f.index)
		i = skipSpace(data, i+1)
		switch {
		case f.slice:
			i = s.list(i, fv, f)
		case f.ptr && f.elem == stringType:
			if i < len(data) && data[i] == 'n' {
				i = s.null(i) // the field is nil already
				break
			}
			var str string
			if str, i = s.str(i); i >= 0 {
				strs = append(strs, str)
				fv.Set(reflect.ValueOf(&strs[len(strs)-1]))
			}
		case f.ptr:
			if i < len(data) && data[i] == 'n' {
				i = s.null(i)
				break
			}
			p := reflect.New(f.elem)
			if i = s.scalar(i, p.Elem(), f.kind); i >= 0 {
				fv.Set(p)
			}
		default:
			if i < len(data) && data[i] == 'n' {
				i = s.null(i) // encoding/json leaves a scalar as it is
				break
			}
			i = s.scalar(i, fv, f.kind)
		}
		if i < 0 {
			return false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return skipSpace(data, i+1) == len(data)
		case ',':
			i = skipSpace(data, i+1)
		default:
			return false
		}
	}
}

// field returns the index of the field named key, or -1.
func (d *flatDecoder) field(key []byte) int {
	for k := range d.fields {
		if d.fields[k].name == string(key) {
			return k
		}
	}
	return -1
}

// flatScan reads JSON values from data. Its methods take the index of a
// value's first byte and return the index just past it, or -1 when they
// give up. data is valid UTF-8 (DecodeJSON checks that first).
type flatScan struct {
	data []byte
	// all is data as one string, made on the first string that needs
	// no unescaping: such strings are slices of it.
	all string
}

// null reads the literal null.
func (s *flatScan) null(i int) int {
	if len(s.data)-i >= 4 && string(s.data[i:i+4]) == "null" {
		return i + 4
	}
	return -1
}

// plainString reads a string without escapes and returns its bytes, a
// view of data: how keys are read, since an escaped key is never a
// field's exact name.
func (s *flatScan) plainString(i int) ([]byte, int, bool) {
	if i >= len(s.data) || s.data[i] != '"' {
		return nil, -1, false
	}
	for j := i + 1; j < len(s.data); j++ {
		switch c := s.data[j]; {
		case c == '"':
			return s.data[i+1 : j], j + 1, true
		case c == '\\' || c < ' ':
			return nil, -1, false
		}
	}
	return nil, -1, false
}

// str reads a string value.
func (s *flatScan) str(i int) (string, int) {
	if i >= len(s.data) || s.data[i] != '"' {
		return "", -1
	}
	for j := i + 1; j < len(s.data); j++ {
		switch c := s.data[j]; {
		case c == '"':
			if s.all == "" {
				s.all = string(s.data)
			}
			return s.all[i+1 : j], j + 1
		case c == '\\':
			return s.unescape(i, j)
		case c < ' ':
			return "", -1
		}
	}
	return "", -1
}

// unescape reads the string that starts at data[i] and whose first
// backslash is at data[j], as encoding/json unquotes it: a lone or
// reversed UTF-16 surrogate becomes U+FFFD.
func (s *flatScan) unescape(i, j int) (string, int) {
	data := s.data
	b := make([]byte, 0, j-i+16)
	b = append(b, data[i+1:j]...)
	for j < len(data) {
		c := data[j]
		switch {
		case c == '"':
			return string(b), j + 1
		case c < ' ':
			return "", -1
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(data) {
			return "", -1
		}
		switch data[j+1] {
		case '"', '\\', '/':
			b = append(b, data[j+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(data[j+2:])
			if r < 0 {
				return "", -1
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2 := hex4After(data[j:]); r2 >= 0 {
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						b = utf8.AppendRune(b, dec)
						j += 6
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", -1
		}
		j += 2
	}
	return "", -1
}

// hex4 returns the rune of the four hex digits that start b, or -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// hex4After returns the rune of a \uXXXX escape that starts b, or -1.
func hex4After(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	return hex4(b[2:])
}

// number reads a number literal as JSON's grammar has it and returns it.
func (s *flatScan) number(i int) (string, int) {
	data, start := s.data, i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(data, i)
	default:
		return "", -1
	}
	if i < len(data) && data[i] == '.' {
		if j := digits(data, i+1); j > i+1 {
			i = j
		} else {
			return "", -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return "", -1
		}
		i = j
	}
	return string(data[start:i]), i
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// scalar reads a value of kind k into v, as encoding/json would, and
// gives up where encoding/json would fail.
func (s *flatScan) scalar(i int, v reflect.Value, k reflect.Kind) int {
	data := s.data
	switch k {
	case reflect.String:
		str, j := s.str(i)
		if j >= 0 {
			v.SetString(str)
		}
		return j
	case reflect.Bool:
		switch {
		case len(data)-i >= 4 && string(data[i:i+4]) == "true":
			v.SetBool(true)
			return i + 4
		case len(data)-i >= 5 && string(data[i:i+5]) == "false":
			return i + 5 // v holds false already
		}
		return -1
	}
	lit, j := s.number(i)
	if j < 0 {
		return -1
	}
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return -1
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(lit, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return -1
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(lit, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			return -1
		}
		v.SetFloat(n)
	default:
		return -1
	}
	return j
}

// list reads null (v becomes nil) or a list of scalars into v, a slice
// field holding nil. A null item gives up: encoding/json leaves such an
// item as it was.
func (s *flatScan) list(i int, v reflect.Value, f *flatField) int {
	data := s.data
	if i < len(data) && data[i] == 'n' {
		return s.null(i)
	}
	if i >= len(data) || data[i] != '[' {
		return -1
	}
	out := reflect.MakeSlice(v.Type(), 0, 4)
	item := reflect.New(f.elem).Elem()
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		v.Set(out)
		return i + 1
	}
	for {
		if i < len(data) && data[i] == 'n' {
			return -1
		}
		item.SetZero()
		if i = s.scalar(i, item, f.kind); i < 0 {
			return -1
		}
		out = reflect.Append(out, item)
		i = skipSpace(data, i)
		if i >= len(data) {
			return -1
		}
		switch data[i] {
		case ']':
			v.Set(out)
			return i + 1
		case ',':
			i = skipSpace(data, i+1)
		default:
			return -1
		}
	}
}
