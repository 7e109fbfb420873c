package rsrt_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// The bytes rsocket-py's AuthenticationContent writes (a well-known type
// id with the top bit set; simple: a 16-bit username length), and a
// custom type.
func TestCredentialsEncoding(t *testing.T) {
	for _, tc := range []struct {
		c    rsrt.Credentials
		wire []byte
	}{
		{rsrt.SimpleAuth("alice", "s3cret"), append([]byte{0x80, 0, 5}, "alices3cret"...)},
		{rsrt.SimpleAuth("", ""), []byte{0x80, 0, 0}},
		{rsrt.BearerAuth("tok.en"), append([]byte{0x81}, "tok.en"...)},
		{rsrt.Credentials{Type: "x-custom", Data: []byte{1, 2}}, append(append([]byte{8}, "x-custom"...), 1, 2)},
	} {
		got, err := tc.c.Encode()
		if err != nil || !bytes.Equal(got, tc.wire) {
			t.Errorf("Encode(%v) = %x, %v; want %x", tc.c, got, err, tc.wire)
		}
		back, err := rsrt.ParseCredentials(tc.wire)
		if err != nil {
			t.Errorf("ParseCredentials(%x): %v", tc.wire, err)
			continue
		}
		if !reflect.DeepEqual(back, tc.c) {
			t.Errorf("ParseCredentials(%x) = %+v, want %+v", tc.wire, back, tc.c)
		}
	}
}

func TestCredentialsMalformed(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x80},            // simple without a username length
		{0x80, 0, 9, 'a'}, // username length past the end
		{0x85, 'x'},       // unknown well-known id
		{0},               // custom type of no length
		{5, 'a', 'b'},     // custom type name past the end
	} {
		if c, err := rsrt.ParseCredentials(b); err == nil {
			t.Errorf("ParseCredentials(%x) = %+v, want an error", b, c)
		}
	}
	if _, err := (rsrt.Credentials{Type: ""}).Encode(); err == nil {
		t.Error("a custom type without a name encoded")
	}
}

// The secret never shows in the text of credentials.
func TestCredentialsString(t *testing.T) {
	for _, c := range []rsrt.Credentials{rsrt.SimpleAuth("alice", "s3cret"), rsrt.BearerAuth("s3cret")} {
		if s := c.String(); bytes.Contains([]byte(s), []byte("s3cret")) {
			t.Errorf("String() = %q shows the secret", s)
		}
	}
}
