package rsrt_test

// Benchmarks of rsrt dispatch against a hand-written rsocket-go responder
// doing the same work (route check, copy, JSON decode and encode of a small
// struct), both over TCP on 127.0.0.1, driven by the same plain rsocket-go
// client:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./gen/rsrt/

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
	"github.com/rsocket/rsocket-go/rx/mono"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// benchItems is the length of the benchmarked streams.
const benchItems = 100

type benchConn struct{}

// benchRoutes is the rsrt side: a hand-built table, as generated code
// builds it.
func benchRoutes() *rsrt.Routes[*benchConn] {
	r := rsrt.NewRoutes[*benchConn]()
	r.HandleRequestResponse("bench.rr", func(_ context.Context, _ *benchConn, req *rsrt.Payload) (rsrt.Payload, error) {
		v, err := rsrt.DecodeJSON[kv](req)
		if err != nil {
			return rsrt.Payload{}, rsrt.BadRequest("bench.rr", "request data", err)
		}
		v.Value++
		return rsrt.EncodeJSON(v)
	})
	r.HandleRequestStream("bench.stream", func(ctx context.Context, _ *benchConn, req *rsrt.Payload, out rsrt.Stream) error {
		v, err := rsrt.DecodeJSON[kv](req)
		if err != nil {
			return rsrt.BadRequest("bench.stream", "request data", err)
		}
		for i := range v.Value {
			p, err := rsrt.EncodeJSON(kv{Key: v.Key, Value: i})
			if err != nil {
				return err
			}
			if err := out.Send(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	return r
}

// handWritten is the baseline: what one writes directly on rsocket-go.
func handWritten() rsocket.RSocket {
	return rsocket.NewAbstractSocket(
		rsocket.RequestResponse(func(req payload.Payload) mono.Mono {
			md, _ := req.Metadata()
			route, _, err := rsrt.ParseComposite(md)
			if err != nil || route != "bench.rr" {
				return mono.Error(fmt.Errorf("unknown route %q", route))
			}
			data := append([]byte(nil), req.Data()...)
			return mono.Create(func(_ context.Context, sink mono.Sink) {
				v, err := decodeKV(data)
				if err != nil {
					sink.Error(err)
					return
				}
				v.Value++
				b, err := json.Marshal(v)
				if err != nil {
					sink.Error(err)
					return
				}
				sink.Success(payload.New(b, nil))
			})
		}),
		rsocket.RequestStream(func(req payload.Payload) flux.Flux {
			md, _ := req.Metadata()
			route, _, err := rsrt.ParseComposite(md)
			if err != nil || route != "bench.stream" {
				return flux.Error(fmt.Errorf("unknown route %q", route))
			}
			data := append([]byte(nil), req.Data()...)
			return flux.Create(func(_ context.Context, sink flux.Sink) {
				v, err := decodeKV(data)
				if err != nil {
					sink.Error(err)
					return
				}
				for i := range v.Value {
					b, err := json.Marshal(kv{Key: v.Key, Value: i})
					if err != nil {
						sink.Error(err)
						return
					}
					sink.Next(payload.New(b, nil))
				}
				sink.Complete()
			})
		}),
	)
}

// decodeKV validates and decodes as strictly as the contract requires (and
// rsrt.DecodeJSON does): UTF-8, no unknown keys, no trailing data.
func decodeKV(data []byte) (kv, error) {
	var v kv
	if !utf8.Valid(data) {
		return v, errors.New("not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return v, err
	}
	if d.More() {
		return v, errors.New("trailing data")
	}
	return v, nil
}

func benchServer(b *testing.B, acc rsocket.ServerAcceptor) rsocket.Client {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serveRSocket(b, ln, acc)
	c, err := rsocket.Connect().
		MetadataMimeType(rsrt.MIMECompositeMetadata).
		DataMimeType(rsrt.MIMEJSON).
		Transport(rsocket.TCPClient().SetAddr(ln.Addr().String()).Build()).
		Start(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func rsrtAcceptor() rsocket.ServerAcceptor {
	return rsrt.NewAcceptor(benchRoutes(), func(context.Context, *rsrt.Conn) (*benchConn, error) {
		return &benchConn{}, nil
	}, rsrt.WithLogger(quietLogger()))
}

func handAcceptor() rsocket.ServerAcceptor {
	return func(context.Context, payload.SetupPayload, rsocket.CloseableRSocket) (rsocket.RSocket, error) {
		return handWritten(), nil
	}
}

func BenchmarkRequestResponse(b *testing.B) {
	for _, side := range []struct {
		name string
		acc  func() rsocket.ServerAcceptor
	}{{"rsrt", rsrtAcceptor}, {"hand", handAcceptor}} {
		b.Run(side.name, func(b *testing.B) {
			c := benchServer(b, side.acc())
			md, _ := rsrt.EncodeComposite("bench.rr", nil)
			data := []byte(`{"key":"k","value":41}`)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.RequestResponse(payload.New(data, md)).Block(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					if len(resp.Data()) != len(`{"key":"k","value":42}`) {
						b.Errorf("response %q", resp.Data())
						return
					}
				}
			})
		})
	}
}

// streamSub counts the items of one stream, requesting them all at once.
type streamSub struct {
	n    int
	done chan error
}

func (s *streamSub) OnSubscribe(_ context.Context, su rx.Subscription) { su.Request(benchItems) }
func (s *streamSub) OnNext(payload.Payload)                            { s.n++ }
func (s *streamSub) OnComplete() {
	if s.n != benchItems {
		s.done <- errors.New("got " + strconv.Itoa(s.n) + " items")
		return
	}
	s.done <- nil
}
func (s *streamSub) OnError(err error) { s.done <- err }

func BenchmarkRequestStream(b *testing.B) {
	for _, side := range []struct {
		name string
		acc  func() rsocket.ServerAcceptor
	}{{"rsrt", rsrtAcceptor}, {"hand", handAcceptor}} {
		b.Run(side.name, func(b *testing.B) {
			c := benchServer(b, side.acc())
			md, _ := rsrt.EncodeComposite("bench.stream", nil)
			data := []byte(`{"key":"k","value":` + strconv.Itoa(benchItems) + `}`)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sub := &streamSub{done: make(chan error, 1)}
					c.RequestStream(payload.New(data, md)).SubscribeWith(ctx, sub)
					if err := <-sub.done; err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
