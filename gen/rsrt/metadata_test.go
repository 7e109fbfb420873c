package rsrt_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/rsocket/rsocket-go/extension"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Our encoding is byte for byte the one of rsocket-go's builder, which the
// notes measured to match rsocket-py's.
func TestEncodeCompositeMatchesLibrary(t *testing.T) {
	cases := []struct {
		route   string
		entries rsrt.Metadata
	}{
		{"login", nil},
		{"file.upload", rsrt.Metadata{{MIME: "chat/file-name", Data: []byte("file_name_1.txt")}}},
		{"x", rsrt.Metadata{{MIME: "application/json", Data: []byte(`{"a":1}`)}, {MIME: "text/plain", Data: nil}}},
		{strings.Repeat("r", 255), rsrt.Metadata{{MIME: strings.Repeat("m", 127), Data: bytes.Repeat([]byte{7}, 70000)}}},
	}
	for _, tc := range cases {
		got, err := rsrt.EncodeComposite(tc.route, tc.entries)
		if err != nil {
			t.Fatal(err)
		}
		routing, err := extension.EncodeRouting(tc.route)
		if err != nil {
			t.Fatal(err)
		}
		b := extension.NewCompositeMetadataBuilder().PushWellKnown(extension.MessageRouting, routing)
		for _, e := range tc.entries {
			if id, ok := extension.ParseMIME(e.MIME); ok {
				b.PushWellKnown(id, e.Data)
			} else {
				b.Push(e.MIME, e.Data)
			}
		}
		want, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("route %q: encoding differs from rsocket-go's:\n got %x\nwant %x", tc.route[:min(len(tc.route), 10)], got[:min(len(got), 40)], []byte(want)[:min(len(want), 40)])
		}
		route, entries, err := rsrt.ParseComposite(got)
		if err != nil || route != tc.route || !equalEntries(entries, tc.entries) {
			t.Errorf("round trip of %q: %q %v %v", tc.route[:min(len(tc.route), 10)], route[:min(len(route), 10)], len(entries), err)
		}
	}
}

func equalEntries(a, b rsrt.Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].MIME != b[i].MIME || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestParseComposite(t *testing.T) {
	routing := []byte{0xfe, 0, 0, 6, 5, 'l', 'o', 'g', 'i', 'n'}
	cases := []struct {
		name    string
		in      []byte
		route   string
		entries rsrt.Metadata
		err     string
	}{
		{name: "empty", in: nil},
		{name: "routing only", in: routing, route: "login"},
		{name: "route is the first tag", in: []byte{0xfe, 0, 0, 5, 1, 'a', 2, 'b', 'c'}, route: "a"},
		{name: "custom routing MIME string", in: append([]byte{27}, append([]byte(rsrt.MIMERouting), 0, 0, 2, 1, 'z')...), route: "z"},
		{name: "first routing entry wins", in: append(append([]byte{}, routing...), 0xfe, 0, 0, 2, 1, 'x'), route: "login"},
		{name: "custom entry", in: append(append([]byte{}, routing...), 1, 'a', '/', 0, 0, 1, 'v'), route: "login", entries: rsrt.Metadata{{MIME: "a/", Data: []byte("v")}}},
		{name: "well-known entry", in: []byte{0x80 | 5, 0, 0, 0}, entries: rsrt.Metadata{{MIME: "application/json"}}},
		{name: "unknown well-known id skipped", in: []byte{0x80 | 0x60, 0, 0, 1, 9}},
		{name: "truncated header", in: []byte{0xfe, 0, 0}, err: "truncated composite metadata entry"},
		{name: "length past end", in: []byte{0xfe, 0, 0, 9, 1}, err: "entry length points past the end of the metadata"},
		{name: "custom MIME past end", in: []byte{5, 'a'}, err: "custom MIME type longer than the entry"},
		{name: "tag past end", in: []byte{0xfe, 0, 0, 2, 5, 'a'}, err: "routing tag length points past the end of the entry"},
		{name: "empty routing entry", in: []byte{0xfe, 0, 0, 0}, err: "routing metadata entry has no route tag"},
	}
	for _, tc := range cases {
		route, entries, err := rsrt.ParseComposite(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || route != tc.route || !reflect.DeepEqual(entries, tc.entries) {
			t.Errorf("%s: got %q %+v %v, want %q %+v", tc.name, route, entries, err, tc.route, tc.entries)
		}
	}
}

// Parsed entries are copies: changing the input afterwards changes nothing.
func TestParseCompositeCopies(t *testing.T) {
	in, err := rsrt.EncodeComposite("r", rsrt.Metadata{{MIME: "x/y", Data: []byte("data")}})
	if err != nil {
		t.Fatal(err)
	}
	route, entries, err := rsrt.ParseComposite(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	if route != "r" || entries[0].MIME != "x/y" || string(entries[0].Data) != "data" {
		t.Errorf("parse result changed with its input: %q %+v", route, entries)
	}
}

func TestEncodeCompositeErrors(t *testing.T) {
	for _, tc := range []struct {
		route   string
		entries rsrt.Metadata
	}{
		{strings.Repeat("r", 256), nil},
		{"r", rsrt.Metadata{{MIME: ""}}},
		{"r", rsrt.Metadata{{MIME: strings.Repeat("m", 129)}}},
		{"r", rsrt.Metadata{{MIME: "é/x"}}},
	} {
		if _, err := rsrt.EncodeComposite(tc.route, tc.entries); err == nil {
			t.Errorf("EncodeComposite(%d-byte route, %+v) succeeded", len(tc.route), tc.entries)
		}
	}
}

// FuzzParseComposite checks that no input makes the parser panic, and that
// what it parses encodes back to something that parses the same.
func FuzzParseComposite(f *testing.F) {
	f.Add([]byte{0xfe, 0, 0, 6, 5, 'l', 'o', 'g', 'i', 'n'})
	f.Fuzz(func(t *testing.T, b []byte) {
		route, entries, err := rsrt.ParseComposite(b)
		if err != nil {
			return
		}
		enc, err := rsrt.EncodeComposite(route, entries)
		if err != nil {
			// Parsing is lenient where encoding is strict: a custom
			// MIME type that is not printable ASCII, a route absent
			// from a routing entry that has one empty tag.
			return
		}
		route2, entries2, err := rsrt.ParseComposite(enc)
		if err != nil || route2 != route || !equalEntries(entries, entries2) {
			t.Fatalf("round trip: %q %+v -> %x -> %q %+v %v", route, entries, enc, route2, entries2, err)
		}
	})
}
