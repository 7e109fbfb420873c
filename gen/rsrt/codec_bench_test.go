package rsrt

import "testing"

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
