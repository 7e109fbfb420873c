package rsrt

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// codecInner is a nested object for the DecodeJSON tests.
type codecInner struct {
	A int64 `json:"a"`
}

// codecNested has a nested object, so it takes the strict decoder only.
type codecNested struct {
	User  string     `json:"user"`
	Inner codecInner `json:"inner"`
	List  []codecInner
}

// codecFlat has scalar fields only, so it takes the fast path.
type codecFlat struct {
	User    string   `json:"user"`
	Count   *int64   `json:"count,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	Skip    string   `json:"-"`
	NoTag   bool
	private int
}

// codecLabel is a named string type, as generated enums are.
type codecLabel string

// codecScalars has a field of every kind the flat decoder reads.
type codecScalars struct {
	S   string      `json:"s"`
	L   codecLabel  `json:"l"`
	PS  *string     `json:"ps"`
	PL  *codecLabel `json:"pl"`
	B   bool        `json:"b"`
	PB  *bool       `json:"pb"`
	I8  int8        `json:"i8"`
	I   int         `json:"i"`
	PI  *int64      `json:"pi"`
	U8  uint8       `json:"u8"`
	U   uint64      `json:"u"`
	F32 float32     `json:"f32"`
	PF  *float64    `json:"pf"`
	LS  []string    `json:"ls"`
	LI  []int32     `json:"li"`
	LF  []float64   `json:"lf"`
	LB  []bool      `json:"lb"`
}

// codecKeysOnly is flat, but not for the flat decoder: it takes the
// json.Unmarshal and key scan path.
type codecKeysOnly struct {
	Raw []byte    `json:"raw"`
	Arr [2]int    `json:"arr"`
	PL  []*string `json:"pl"`
	S   string    `json:"s"`
}

// scalarCases are inputs for codecScalars and codecKeysOnly, run through
// FuzzDecodeJSON's check.
var scalarCases = []string{
	`{"s":"a\"b\\c\/d\b\f\n\r\t","l":"x","ps":"\u00e9\u20AC","pl":null}`,
	`{"s":"\ud83d\ude00","ps":"\ud83d","l":"\ude00\ud83d","pl":"\ud83dx"}`,
	`{"s":"\ud83d\u0041","ps":"tab\u0009","pl":"a"}`,
	`{"s":"bad \x escape"}`, `{"s":"bad \u12g4"}`, `{"s":"raw` + "\t" + `control"}`,
	`{"b":true,"pb":false,"i8":-128,"i":9007199254740993,"pi":-0,"u8":255,"u":18446744073709551615}`,
	`{"i8":128}`, `{"u8":-1}`, `{"i":1.0}`, `{"i":1e2}`, `{"u":18446744073709551616}`,
	`{"f32":3.4028235e38,"pf":-1.5E-3}`, `{"f32":1e39}`, `{"pf":1e400}`, `{"pf":01}`,
	`{"pf":.5}`, `{"pf":1.}`, `{"pf":-}`, `{"pf":+1}`, `{"pf":1e}`, `{"pf":0x10}`,
	`{"ls":["a","\n"],"li":[1,-2],"lf":[0.5],"lb":[true,false]}`,
	`{"ls":[],"li":null,"lf":[ ]}`, `{"lb":[null]}`, `{"ls":["a",null]}`, `{"ls":["a",]}`,
	`{"ls":["a"],"ls":["b"]}`, `{"ls":["a"],"ls":[null]}`, `{"b":true,"b":null}`,
	`{"s":null,"b":null,"i":null,"ls":null}`, `{"S":"case"}`, `{"ps":"x","ps":null}`,
	`{"b":tru}`, `{"b":nul}`, `{"s":"x"`, `{"s":"x",}`, `{,}`, `{"s" : "x" }` + "\n",
	`{"raw":"aGk=","arr":[1,2],"pl":["x",null],"s":"y"}`, `{"raw":"!"}`, `{"arr":[1,2,3]}`,
}

// decodeCases are inputs whose DecodeJSON outcome the tests pin.
var decodeCases = []struct {
	name, data, err string
}{
	{"ok", `{"user":"bob","count":3,"tags":["a"]}`, ""},
	{"ok spaces", " \n{ \"user\" : \"bob\" , \"count\" : 3 }\t", ""},
	{"null", `null`, ""},
	{"empty object", `{}`, ""},
	{"case folded key", `{"USER":"bob","notag":true}`, ""},
	{"escaped key", `{"\u0075ser":"bob"}`, ""},
	{"escapes in value", `{"user":"b\"o}b\\"}`, ""},
	{"duplicate key", `{"user":"a","user":"b"}`, ""},
	{"trailing brace accepted by More", `{}}`, ""},
	{"invalid UTF-8", "{\"user\":\"\xff\"}", "not valid UTF-8"},
	{"unknown key", `{"user":"bob","x":1}`, `bad JSON: json: unknown field "x"`},
	{"skipped field is unknown", `{"Skip":"s"}`, `bad JSON: json: unknown field "Skip"`},
	{"private field is unknown", `{"private":1}`, `bad JSON: json: unknown field "private"`},
	{"trailing data", `{"user":"bob"} {}`, "bad JSON: trailing data after the object"},
	{"trailing garbage", `{"user":"bob"}x`, "bad JSON: trailing data after the object"},
	{"empty", ``, "bad JSON: empty data where an object was expected"},
	{"blank", "  \n", "bad JSON: empty data where an object was expected"},
	{"wrong type", `{"user":5}`, `bad JSON: field "user": number is not a valid string`},
	{"wrong type in list", `{"tags":[{"x":1}]}`, `bad JSON: field "tags": object is not a valid string`},
	{"type error before unknown key", `{"user":5,"x":1}`, `bad JSON: field "user": number is not a valid string`},
	{"unknown key before type error", `{"x":1,"user":5}`, `bad JSON: json: unknown field "x"`},
	{"not an object", `[1]`, "bad JSON: array where an object was expected"},
	{"truncated", `{"user":`, "bad JSON: unexpected EOF"},
	{"syntax", `{"user" "bob"}`, "bad JSON: invalid character '\"' after object key"},
}

// TestDecodeJSONErrors pins DecodeJSON's results and error texts on a flat
// type (fast path) and checks they match the strict decoder's.
func TestDecodeJSONErrors(t *testing.T) {
	if jsonKeysOf[codecFlat]() == nil {
		t.Fatal("codecFlat has no fast path")
	}
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeJSON[codecFlat](&Payload{Data: []byte(c.data)})
			if errText(err) != c.err {
				t.Fatalf("DecodeJSON(%q) error = %q, want %q", c.data, errText(err), c.err)
			}
			checkSameAsStrict(t, []byte(c.data), got, err)
		})
	}
}

// TestFlatDecoder checks which types the flat decoder takes, and that on
// scalarCases it agrees with the strict decoder.
func TestFlatDecoder(t *testing.T) {
	if flatCodecOf[codecFlat]() == nil || flatCodecOf[codecScalars]() == nil {
		t.Fatal("codecFlat or codecScalars has no flat decoder")
	}
	if flatCodecOf[codecKeysOnly]() != nil || jsonKeysOf[codecKeysOnly]() == nil {
		t.Fatal("codecKeysOnly does not take the key scan path")
	}
	if flatCodecOf[codecNested]() != nil {
		t.Fatal("codecNested has a flat decoder")
	}
	type withOpt struct {
		N int64 `json:"n,string"`
	}
	if flatCodecOf[withOpt]() != nil {
		t.Fatal("a field tagged ,string takes the flat decoder")
	}
	d := flatCodecOf[codecScalars]()
	for _, c := range scalarCases {
		data := []byte(c)
		got, err := DecodeJSON[codecScalars](&Payload{Data: data})
		checkSameAsStrict(t, data, got, err)
		gotK, errK := DecodeJSON[codecKeysOnly](&Payload{Data: data})
		checkSameAsStrict(t, data, gotK, errK)
	}
	// The flat decoder itself, not a fallback, decodes the common cases.
	for _, c := range []string{scalarCases[0], scalarCases[1], scalarCases[6], scalarCases[12], scalarCases[22], scalarCases[23]} {
		var v codecScalars
		if !d.decode([]byte(c), reflect.ValueOf(&v).Elem()) {
			t.Errorf("flat decoder gave up on %s", c)
		}
	}
}

// TestDecodeJSONNested checks that nested objects reject unknown keys too.
func TestDecodeJSONNested(t *testing.T) {
	if jsonKeysOf[codecNested]() != nil {
		t.Fatal("codecNested takes the fast path")
	}
	for _, c := range []struct{ data, err string }{
		{`{"user":"u","inner":{"a":1},"List":[{"a":2}]}`, ""},
		{`{"inner":{"a":1,"b":2}}`, `bad JSON: json: unknown field "b"`},
		{`{"List":[{"a":1},{"c":2}]}`, `bad JSON: json: unknown field "c"`},
		{`{"inner":{"a":"x"}}`, `bad JSON: field "inner.a": string is not a valid integer`},
	} {
		got, err := DecodeJSON[codecNested](&Payload{Data: []byte(c.data)})
		if errText(err) != c.err {
			t.Errorf("DecodeJSON(%q) error = %q, want %q", c.data, errText(err), c.err)
		}
		checkSameAsStrict(t, []byte(c.data), got, err)
	}
}

// TestJSONKeysOf checks which types get the fast path.
func TestJSONKeysOf(t *testing.T) {
	type embedded struct{ codecInner }
	type odd struct {
		A string `json:"a.b"`
	}
	type anyField struct{ A any }
	type mapField struct{ A map[string]int }
	type raw struct{ A []byte }
	for name, k := range map[string]jsonKeys{
		"embedded":   jsonKeysOf[embedded](),
		"odd":        jsonKeysOf[odd](),
		"any":        jsonKeysOf[anyField](),
		"map":        jsonKeysOf[mapField](),
		"pointer":    jsonKeysOf[*codecFlat](),
		"non-struct": jsonKeysOf[string](),
	} {
		if k != nil {
			t.Errorf("%s: fast path %v, want none", name, k)
		}
	}
	want := jsonKeys{"user": {}, "count": {}, "tags": {}, "NoTag": {}}
	if k := jsonKeysOf[codecFlat](); !reflect.DeepEqual(k, want) {
		t.Errorf("codecFlat keys = %v, want %v", k, want)
	}
	if k := jsonKeysOf[raw](); !reflect.DeepEqual(k, jsonKeys{"A": {}}) {
		t.Errorf("raw keys = %v", k)
	}
}

// FuzzDecodeJSON checks that DecodeJSON agrees with the strict decoder.
func FuzzDecodeJSON(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.data))
	}
	f.Add([]byte(`{"user":"u","inner":{"a":1},"List":[{"a":2}]}`))
	for _, c := range scalarCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeJSON[codecFlat](&Payload{Data: data})
		checkSameAsStrict(t, data, got, err)
		gotN, errN := DecodeJSON[codecNested](&Payload{Data: data})
		checkSameAsStrict(t, data, gotN, errN)
		gotS, errS := DecodeJSON[codecScalars](&Payload{Data: data})
		checkSameAsStrict(t, data, gotS, errS)
		gotK, errK := DecodeJSON[codecKeysOnly](&Payload{Data: data})
		checkSameAsStrict(t, data, gotK, errK)
	})
}

// checkSameAsStrict fails t unless got and err are what the strict decoder
// returns for data.
func checkSameAsStrict[T any](t *testing.T, data []byte, got T, err error) {
	t.Helper()
	var want T
	var wantErr error
	if _, uerr := DecodeUTF8(data); uerr != nil {
		wantErr = uerr
	} else {
		wantErr = decodeJSONStrict(data, &want)
	}
	if errText(err) != errText(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeJSON(%q) = %+v, %q; strict decoder: %+v, %q", data, got, errText(err), want, errText(wantErr))
	}
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// codecOmit has omitempty on every kind the flat encoder writes.
type codecOmit struct {
	S  string     `json:"s,omitempty"`
	L  codecLabel `json:"l,omitempty"`
	B  bool       `json:"b,omitempty"`
	I  int16      `json:"i,omitempty"`
	U  uint32     `json:"u,omitempty"`
	F  float64    `json:"f,omitempty"`
	PS *string    `json:"ps,omitempty"`
	PF *float32   `json:"pf,omitempty"`
	LS []string   `json:"ls,omitempty"`
	LF []float32  `json:"lf,omitempty"`
}

// encodeCases are values whose EncodeJSON output must be json.Marshal's.
func encodeCases(s string, f float64, n int64) []any {
	f32 := float32(f)
	return []any{
		codecScalars{S: s, L: codecLabel(s), PS: &s, B: n%2 == 0, I8: int8(n), I: int(n), PI: &n, U8: uint8(n), U: uint64(n),
			F32: f32, PF: &f, LS: []string{s, "", s + s}, LI: []int32{int32(n), -1}, LF: []float64{f, -f, 0}, LB: []bool{}},
		codecScalars{},
		codecOmit{S: s, L: codecLabel(s), I: int16(n), U: uint32(n), F: f, PS: &s, PF: &f32, LS: []string{s}, LF: []float32{f32}},
		codecOmit{LS: []string{}},
		benchMessage{User: &s, Content: &s},
		codecFlat{User: s, Count: &n, Tags: []string{s}, private: 1},
	}
}

// FuzzEncodeJSON checks that EncodeJSON writes what json.Marshal writes,
// and fails where it fails.
func FuzzEncodeJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "<a href='x'>&amp;</a>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"\u2028\u2029é€😀", "bad\xff\xfeutf8\xed\xa0\x80", "\u00e9\u0301"} {
		f.Add(s, 1.5, int64(7))
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1e-6, 9.99e-7, 1e21, 1e20, 123456789.125, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 3.4e38, 1e39, math.NaN(), math.Inf(1), math.Inf(-1)} {
		f.Add("x", x, int64(-1<<63))
	}
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		for _, v := range encodeCases(s, x, n) {
			want, wantErr := json.Marshal(v)
			var got Payload
			var err error
			switch v := v.(type) {
			case codecScalars:
				got, err = EncodeJSON(v)
			case codecOmit:
				got, err = EncodeJSON(v)
			case benchMessage:
				got, err = EncodeJSON(v)
			case codecFlat:
				got, err = EncodeJSON(v)
			}
			if (err == nil) != (wantErr == nil) || string(got.Data) != string(want) {
				t.Fatalf("EncodeJSON(%#v) = %s, %v; json.Marshal: %s, %v", v, got.Data, err, want, wantErr)
			}
		}
	})
}

// TestEncodeJSONFlat runs FuzzEncodeJSON's seeds and checks that the
// flat encoder, not json.Marshal, wrote them.
func TestEncodeJSONFlat(t *testing.T) {
	for _, c := range []any{codecScalars{}, codecOmit{}, benchMessage{}, codecFlat{}} {
		if newFlatCodec(reflect.TypeOf(c)) == nil {
			t.Fatalf("%T has no flat codec", c)
		}
	}
	s := "<q\"\u2028\xff>"
	f := 1e-7
	v := encodeCases(s, f, 3)[0].(codecScalars)
	rv := reflect.ValueOf(&v).Elem()
	got, ok := flatCodecOf[codecScalars]().encode(nil, rv)
	want, _ := json.Marshal(v)
	if !ok || string(got) != string(want) {
		t.Fatalf("flat encoder: %s, %v; json.Marshal: %s", got, ok, want)
	}
	if _, ok := flatCodecOf[codecScalars]().encode(nil, reflect.ValueOf(&codecScalars{F32: float32(math.Inf(1))}).Elem()); ok {
		t.Fatal("flat encoder wrote an infinite number")
	}
}
