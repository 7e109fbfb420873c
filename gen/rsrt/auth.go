package rsrt

// The RSocket authentication extension
// (Extensions/Security/Authentication.md and WellKnownAuthTypes.md in the
// RSocket specification), as rsocket-py and rsocket-js encode it: one
// composite-metadata entry whose first byte is a well-known auth type id
// with the top bit set (0x80 simple, 0x81 bearer), or the length of a
// custom type name followed by the name; then the type's payload. Simple
// is a 16-bit big-endian username length, the username and the password
// (the rest); bearer is the token (the rest).

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MIMEAuthentication is the composite-metadata entry of the
// authentication extension (well-known id 0x7C).
const MIMEAuthentication = "message/x.rsocket.authentication.v0"

// The well-known authentication types.
const (
	// AuthSimple is a username and a password.
	AuthSimple = "simple"
	// AuthBearer is a token.
	AuthBearer = "bearer"
)

// Well-known auth type ids, as the first byte of the entry carries them.
const (
	authSimpleID = 0x00
	authBearerID = 0x01
)

// Credentials are what a client presents in the authentication entry.
type Credentials struct {
	// Type is AuthSimple, AuthBearer or a custom type name (1 to 127
	// bytes).
	Type string
	// Username and Password are those of AuthSimple.
	Username, Password string
	// Token is that of AuthBearer.
	Token string
	// Data is the payload of a custom type, as sent.
	Data []byte
}

// SimpleAuth returns simple credentials.
func SimpleAuth(username, password string) Credentials {
	return Credentials{Type: AuthSimple, Username: username, Password: password}
}

// BearerAuth returns bearer credentials.
func BearerAuth(token string) Credentials {
	return Credentials{Type: AuthBearer, Token: token}
}

// String names the type and the user, never the secret.
func (c Credentials) String() string {
	if c.Type == AuthSimple {
		return fmt.Sprintf("simple(%s)", c.Username)
	}
	return c.Type
}

// Encode returns the content of the authentication entry.
func (c Credentials) Encode() ([]byte, error) {
	switch c.Type {
	case AuthSimple:
		if len(c.Username) > 0xffff {
			return nil, fmt.Errorf("rsrt: username of %d bytes is longer than the 65,535 the format allows", len(c.Username))
		}
		b := make([]byte, 0, 3+len(c.Username)+len(c.Password))
		b = append(b, 0x80|authSimpleID)
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.Username)))
		b = append(b, c.Username...)
		return append(b, c.Password...), nil
	case AuthBearer:
		return append([]byte{0x80 | authBearerID}, c.Token...), nil
	}
	if len(c.Type) == 0 || len(c.Type) > 0x7f {
		return nil, fmt.Errorf("rsrt: auth type name of %d bytes, want 1 to 127", len(c.Type))
	}
	b := append([]byte{byte(len(c.Type))}, c.Type...)
	return append(b, c.Data...), nil
}

var errAuthTruncated = errors.New("truncated authentication entry")

// ParseCredentials parses the content of an authentication entry. Every
// length is checked against b; the result owns its bytes.
func ParseCredentials(b []byte) (Credentials, error) {
	if len(b) == 0 {
		return Credentials{}, errAuthTruncated
	}
	first, rest := b[0], b[1:]
	if first&0x80 != 0 {
		switch first &^ 0x80 {
		case authSimpleID:
			if len(rest) < 2 {
				return Credentials{}, errAuthTruncated
			}
			n := int(binary.BigEndian.Uint16(rest))
			if n > len(rest)-2 {
				return Credentials{}, errors.New("authentication username length points past the end of the entry")
			}
			return SimpleAuth(string(rest[2:2+n]), string(rest[2+n:])), nil
		case authBearerID:
			return BearerAuth(string(rest)), nil
		}
		return Credentials{}, fmt.Errorf("unknown well-known auth type id %#x", first&^0x80)
	}
	n := int(first)
	if n == 0 || n > len(rest) {
		return Credentials{}, errors.New("authentication type name length out of the entry")
	}
	return Credentials{Type: string(rest[:n]), Data: append([]byte(nil), rest[n:]...)}, nil
}

// Credentials returns the credentials of the client's SETUP: ok is false
// when it sent none, and err is set when the entry is malformed.
func (s Setup) Credentials() (c Credentials, ok bool, err error) {
	b, ok := s.Metadata.Get(MIMEAuthentication)
	if !ok {
		return Credentials{}, false, nil
	}
	c, err = ParseCredentials(b)
	return c, true, err
}
