package rsrt

import (
	"errors"
	"testing"
)

// reqLeaf, reqNode and reqFlat are shaped like generated types: required
// fields tagged rsgen:"required", optional ones pointers or lists.
type reqLeaf struct {
	Name string   `json:"name" rsgen:"required"`
	Next *reqLeaf `json:"next,omitempty"`
}

type reqNode struct {
	ID     int64       `json:"id" rsgen:"required"`
	Leaf   reqLeaf     `json:"leaf" rsgen:"required"`
	Leaves []reqLeaf   `json:"leaves" rsgen:"required"`
	Grid   [][]reqLeaf `json:"grid,omitempty"`
	Note   *string     `json:"note,omitempty"`
}

type reqFlat struct {
	Text string   `json:"text" rsgen:"required"`
	Tags []string `json:"tags" rsgen:"required"`
}

// Validate refuses a text "bad", so the test sees DecodeJSON call it.
func (f *reqFlat) Validate() error {
	if f.Text == "bad" {
		return Invalid("text", "is bad")
	}
	return nil
}

func TestDecodeJSONRequired(t *testing.T) {
	const ok = `"id":1,"leaf":{"name":"a"},"leaves":[]`
	for _, tc := range []struct{ data, want string }{
		{`{` + ok + `}`, ""},
		{`{` + ok + `,"note":null,"grid":null}`, ""},
		{`{"ID":1,"Leaf":{"NAME":"a"},"le\u0061ves":null}`, ""}, // as encoding/json matches keys
		{`{"leaf":{"name":"a"},"leaves":[]}`, "id: required field missing"},
		{`{"id":null,"leaf":{"name":"a"},"leaves":[]}`, "id: required field is null"},
		{`{"id":1,"leaf":null,"leaves":[]}`, "leaf: required field is null"},
		{`{"id":1,"leaf":{},"leaves":[]}`, "leaf.name: required field missing"},
		{`{"id":1,"leaf":{"name":"a","next":{"next":{}}},"leaves":[]}`, "leaf.next.next.name: required field missing"},
		{`{"id":1,"leaf":{"name":"a"}}`, "leaves: required field missing"},
		{`{` + ok[:len(ok)-2] + `[{"name":"x"},{"name":null}]}`, "leaves[1].name: required field is null"},
		{`{` + ok + `,"grid":[[],[{"name":"x"},{}]]}`, "grid[1][1].name: required field missing"},
		{`null`, "id: required field missing"},
		{` {"id" : 1 , "leaf" : { "name" : "a" } , "leaves" : [ { "name" : "b" } ] } `, ""},
	} {
		_, err := DecodeJSON[reqNode](&Payload{Data: []byte(tc.data)})
		var ve *ValidationError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.data, err)
		case tc.want != "" && (!errors.As(err, &ve) || err.Error() != tc.want):
			t.Errorf("%s: %v, want ValidationError %q", tc.data, err, tc.want)
		}
	}
}

// TestDecodeJSONValidate: the fast path (a flat type) validates too, and a
// refused value is not returned.
func TestDecodeJSONValidate(t *testing.T) {
	if jsonKeysOf[reqFlat]() == nil {
		t.Fatal("reqFlat should take the fast path")
	}
	v, err := DecodeJSON[reqFlat](&Payload{Data: []byte(`{"text":"bad","tags":["x"]}`)})
	if err == nil || err.Error() != "text: is bad" || v.Text != "" {
		t.Errorf("got %+v, %v; want the zero value and the Validate error", v, err)
	}
	if _, err := DecodeJSON[reqFlat](&Payload{Data: []byte(`{"tags":[]}`)}); err == nil || err.Error() != "text: required field missing" {
		t.Errorf("missing text: %v", err)
	}
	if v, err := DecodeJSON[reqFlat](&Payload{Data: []byte(`{"text":"ok","tags":null}`)}); err != nil || v.Text != "ok" {
		t.Errorf("valid: %+v, %v", v, err)
	}
	// A type without tags or Validate has nothing to check.
	if requiredOf[codecNested]() != nil {
		t.Error("codecNested has no required fields")
	}
}

func TestValidationHelpers(t *testing.T) {
	err := InvalidIn(Index("items", 2), Invalid("sku", "too short"))
	if err.Error() != "items[2].sku: too short" {
		t.Errorf("InvalidIn: %v", err)
	}
	if err := InvalidIn("x", errors.New("plain")); err.Error() != "x: plain" {
		t.Errorf("InvalidIn of a plain error: %v", err)
	}
	for s, want := range map[string]bool{"ok": false, "a\tb": true, "\x7f": true, "\u0085": true, "é\u200b": false} {
		if HasControl(s) != want {
			t.Errorf("HasControl(%q) = %v", s, !want)
		}
	}
}
