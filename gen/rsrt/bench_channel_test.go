package rsrt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx/flux"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// The request-channel benchmark: the client sends benchItems JSON items on
// one channel (the first carries the route); both servers answer each with
// its value plus one and complete when the client does.

// benchChannelRoutes is the rsrt side, as generated code registers a
// request-channel whose first payload is an item.
func benchChannelRoutes() *rsrt.Routes[*benchConn] {
	r := rsrt.NewRoutes[*benchConn]()
	r.HandleRequestChannel("bench.channel", false, func(ctx context.Context, _ *benchConn, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		for {
			req, err := in.Recv(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			v, err := rsrt.DecodeJSON[kv](req)
			if err != nil {
				return rsrt.BadRequest("bench.channel", "request data", err)
			}
			v.Value++
			p, err := rsrt.EncodeJSON(v)
			if err != nil {
				return err
			}
			if err := out.Send(ctx, p); err != nil {
				return err
			}
		}
	})
	return r
}

// handWrittenChannel is the baseline: the channel as one writes it directly
// on rsocket-go, mapping the inbound flux (which subscribes to it, as the
// library requires).
func handWrittenChannel() rsocket.RSocket {
	return rsocket.NewAbstractSocket(
		rsocket.RequestChannel(func(in flux.Flux) flux.Flux {
			first := true
			return in.Map(func(p payload.Payload) (payload.Payload, error) {
				if first {
					first = false
					md, _ := p.Metadata()
					if route, _, err := rsrt.ParseComposite(md); err != nil || route != "bench.channel" {
						return nil, fmt.Errorf("unknown route %q", route)
					}
				}
				v, err := decodeKV(p.Data())
				if err != nil {
					return nil, err
				}
				v.Value++
				b, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				return payload.New(b, nil), nil
			})
		}),
	)
}

func BenchmarkRequestChannel(b *testing.B) {
	for _, side := range []struct {
		name string
		acc  rsocket.ServerAcceptor
	}{
		{"rsrt", rsrt.NewAcceptor(benchChannelRoutes(), func(context.Context, *rsrt.Conn) (*benchConn, error) {
			return &benchConn{}, nil
		}, rsrt.WithLogger(quietLogger()))},
		{"hand", func(context.Context, payload.SetupPayload, rsocket.CloseableRSocket) (rsocket.RSocket, error) {
			return handWrittenChannel(), nil
		}},
	} {
		b.Run(side.name, func(b *testing.B) {
			c := benchServer(b, side.acc)
			md, _ := rsrt.EncodeComposite("bench.channel", nil)
			items := make([]payload.Payload, benchItems)
			for i := range items {
				data := []byte(`{"key":"k","value":` + strconv.Itoa(i) + `}`)
				if i == 0 {
					items[i] = payload.New(data, md)
				} else {
					items[i] = payload.New(data, nil)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sub := &streamSub{done: make(chan error, 1)}
					c.RequestChannel(flux.Just(items...)).SubscribeWith(ctx, sub)
					if err := <-sub.done; err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
