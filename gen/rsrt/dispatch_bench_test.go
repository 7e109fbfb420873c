package rsrt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"

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
			sub := &rrSub{done: make(chan error, 1)}
			for b.Loop() {
				// Subscribed to as the library does (a Routes responder's
				// answers support nothing else).
				side.rs.RequestResponse(payload.New(data, md)).SubscribeWith(ctx, sub)
				if err := <-sub.done; err != nil {
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

// rrSub receives request-response answers, one at a time, as the
// library's subscriber does.
type rrSub struct {
	got  bool
	done chan error
}

func (s *rrSub) OnSubscribe(_ context.Context, su rx.Subscription) { s.got = false; su.Request(1) }
func (s *rrSub) OnNext(payload.Payload)                            { s.got = true }
func (s *rrSub) OnError(err error)                                 { s.done <- err }
func (s *rrSub) OnComplete() {
	if !s.got {
		s.done <- errors.New("completed without a value")
		return
	}
	s.done <- nil
}
