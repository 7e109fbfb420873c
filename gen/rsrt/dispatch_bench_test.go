package rsrt_test

import (
	"context"
	"testing"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// BenchmarkDispatch measures the responders without the network: the cost
// rsrt adds per request-response, against the hand-written responder.
func BenchmarkDispatch(b *testing.B) {
	for _, side := range []struct {
		name string
		rs   rsocket.RSocket
	}{
		{"rsrt", benchRoutes().Responder(context.Background(), &benchConn{}, quietLogger())},
		{"hand", handWritten()},
	} {
		b.Run(side.name, func(b *testing.B) {
			md, _ := rsrt.EncodeComposite("bench.rr", nil)
			data := []byte(`{"key":"k","value":41}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := side.rs.RequestResponse(payload.New(data, md)).Block(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDispatchStream is BenchmarkDispatch for a 100-item stream.
func BenchmarkDispatchStream(b *testing.B) {
	for _, side := range []struct {
		name string
		rs   rsocket.RSocket
	}{
		{"rsrt", benchRoutes().Responder(context.Background(), &benchConn{}, quietLogger())},
		{"hand", handWritten()},
	} {
		b.Run(side.name, func(b *testing.B) {
			md, _ := rsrt.EncodeComposite("bench.stream", nil)
			data := []byte(`{"key":"k","value":100}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				sub := &streamSub{done: make(chan error, 1)}
				side.rs.RequestStream(payload.New(data, md)).SubscribeWith(ctx, sub)
				if err := <-sub.done; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
