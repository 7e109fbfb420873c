package rsrt

// The flat-object codec: DecodeJSON's and EncodeJSON's fast path for
// struct types whose fields are JSON scalars, pointers to scalars or lists
// of scalars, which is what most payloads are (the chat's Message is
// three optional strings). The encoder writes what json.Marshal writes,
// byte for byte (FuzzEncodeJSON checks it); the decoder is described
// here.
//
// The decoder It reads the object in one pass, without encoding/json's
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
	"math"
	"reflect"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// flatCodec decodes JSON objects into one struct type, and encodes its
// values.
type flatCodec struct {
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
	omitEmpty  bool
}

var stringType = reflect.TypeFor[string]()

// flatCache maps a reflect.Type to its *flatCodec (nil: not flat).
var flatCache sync.Map

// flatCodecOf returns T's flat decoder, or nil when T is not a struct
// that one can decode. The result is computed once per type.
func flatCodecOf[T any]() *flatCodec {
	t := reflect.TypeFor[T]()
	if d, ok := flatCache.Load(t); ok {
		return d.(*flatCodec)
	}
	d := newFlatCodec(t)
	flatCache.Store(t, d)
	return d
}

// newFlatCodec builds the decoder of t, or returns nil. It takes the
// types jsonKeysOf takes, less arrays, []byte (base64 in JSON) and lists
// of pointers, and less fields with tag options other than omitempty.
func newFlatCodec(t reflect.Type) *flatCodec {
	if flatStructKeys(t) == nil {
		return nil
	}
	d := &flatCodec{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, ok := jsonField(f)
		if !ok {
			continue
		}
		if opts != "" && opts != "omitempty" {
			return nil
		}
		ff := flatField{name: name, index: i, elem: f.Type, kind: f.Type.Kind(), omitEmpty: opts == "omitempty"}
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
func (d *flatCodec) decode(data []byte, v reflect.Value) bool {
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
		var end bool
		if i, end = separator(data, i, '}'); end {
			return skipSpace(data, i) == len(data)
		}
		if i < 0 {
			return false
		}
	}
}

// field returns the index of the field named key, or -1.
func (d *flatCodec) field(key []byte) int {
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
		var end bool
		if i, end = separator(data, i, ']'); end {
			v.Set(out)
			return i
		}
		if i < 0 {
			return -1
		}
	}
}

// encode appends the JSON object of v, a value of the codec's struct
// type, to b as json.Marshal writes it. It reports false for what
// json.Marshal refuses (a NaN or infinite number), leaving the error to
// it.
func (d *flatCodec) encode(b []byte, v reflect.Value) ([]byte, bool) {
	b = append(b, '{')
	first := true
	for k := range d.fields {
		f := &d.fields[k]
		fv := v.Field(f.index)
		if f.omitEmpty && flatEmpty(fv, f) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		var ok bool
		switch {
		case f.ptr:
			if fv.IsNil() {
				b = append(b, "null"...)
				continue
			}
			b, ok = appendScalar(b, fv.Elem(), f.kind)
		case f.slice:
			if fv.IsNil() {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for i := range fv.Len() {
				if i > 0 {
					b = append(b, ',')
				}
				if b, ok = appendScalar(b, fv.Index(i), f.kind); !ok {
					return b, false
				}
			}
			b, ok = append(b, ']'), true
		default:
			b, ok = appendScalar(b, fv, f.kind)
		}
		if !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// size estimates the length of v's JSON: its strings and some room.
func (d *flatCodec) size(v reflect.Value) int {
	n := 2
	for k := range d.fields {
		f := &d.fields[k]
		n += len(f.name) + 8
		if f.kind != reflect.String {
			continue
		}
		switch fv := v.Field(f.index); {
		case f.ptr && !fv.IsNil():
			n += fv.Elem().Len()
		case !f.ptr && !f.slice:
			n += fv.Len()
		}
	}
	return n + n/8
}

// flatEmpty reports whether omitempty leaves the field out: false, 0, a
// nil pointer, an empty string or list.
func flatEmpty(v reflect.Value, f *flatField) bool {
	switch {
	case f.ptr:
		return v.IsNil()
	case f.slice:
		return v.Len() == 0
	}
	switch f.kind {
	case reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return false
}

// appendScalar appends the JSON of v, of kind k, as json.Marshal writes it.
func appendScalar(b []byte, v reflect.Value, k reflect.Kind) ([]byte, bool) {
	switch k {
	case reflect.String:
		return appendJSONString(b, v.String()), true
	case reflect.Bool:
		if v.Bool() {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		return appendJSONFloat(b, v.Float(), v.Type().Bits())
	}
	return b, false
}

// appendJSONFloat is encoding/json's float encoding.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString is encoding/json's string encoding, HTML-safe as
// json.Marshal makes it: <, > and & escaped, U+2028 and U+2029 too, and
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
