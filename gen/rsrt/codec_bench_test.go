package rsrt

import (
	"encoding/json"
	"testing"
)

// benchMessage mirrors the generated chat Message type.
type benchMessage struct {
	User    *string `json:"user,omitempty"`
	Content *string `json:"content,omitempty"`
	Channel *string `json:"channel,omitempty"`
}

// BenchmarkDecodeJSON measures DecodeJSON on a chat-like message, the
// request-response hot path of the chat server.
func BenchmarkDecodeJSON(b *testing.B) {
	p := &Payload{Data: []byte(`{"user":"alice","content":"hello, world","channel":"general"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON[benchMessage](p); err != nil {
			b.Fatal(err)
		}
	}
}

// benchValidated is benchMessage with the Validate method rsgen
// generates from schema/chat.yaml's constraints.
type benchValidated benchMessage

func (v *benchValidated) Validate() error {
	for _, f := range []struct {
		name string
		s    *string
		max  int
		ctl  bool
	}{{"user", v.User, 64, true}, {"content", v.Content, 65536, false}, {"channel", v.Channel, 64, true}} {
		if f.s == nil {
			continue
		}
		if len(*f.s) > f.max {
			return Invalid(f.name, "longer than the limit")
		}
		if f.ctl && HasControl(*f.s) {
			return Invalid(f.name, "contains a control character")
		}
	}
	return nil
}

// benchRequired has the same keys, required: DecodeJSON scans for them.
type benchRequired struct {
	User    string `json:"user" rsgen:"required"`
	Content string `json:"content" rsgen:"required"`
	Channel string `json:"channel" rsgen:"required"`
}

// BenchmarkDecodeJSONValidated is BenchmarkDecodeJSON plus the
// constraints of the chat's Message; the ratio of the two is the cost of
// validation on the hot path.
func BenchmarkDecodeJSONValidated(b *testing.B) {
	p := &Payload{Data: []byte(`{"user":"alice","content":"hello, world","channel":"general"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON[benchValidated](p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONRequired is BenchmarkDecodeJSON with every field
// required: the cost of the required-field scan.
func BenchmarkDecodeJSONRequired(b *testing.B) {
	p := &Payload{Data: []byte(`{"user":"alice","content":"hello, world","channel":"general"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON[benchRequired](p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeJSON measures EncodeJSON on a chat-like message, what a
// stream sends for every message delivered, against json.Marshal.
func BenchmarkEncodeJSON(b *testing.B) {
	user, content, channel := "alice", "hello, world", "general"
	m := benchMessage{User: &user, Content: &content, Channel: &channel}
	b.Run("EncodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeJSON(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
