package rsmetrics_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// A request-response over TCP loopback, served without and with the
// metrics (their counters and interceptor, and the server's collector):
// compare the two in the same run (go test -bench RequestResponse
// -count 5), as a ratio.
func BenchmarkRequestResponse(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "plain"
		if withMetrics {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			routes := rsrt.NewRoutes[struct{}]()
			routes.HandleRequestResponse("echo", func(_ context.Context, _ struct{}, req *rsrt.Payload) (rsrt.Payload, error) {
				return rsrt.Payload{Data: req.Data}, nil
			})
			opts := []rsrt.AcceptOption{rsrt.WithLogger(slog.New(slog.DiscardHandler))}
			var m *rsmetrics.Metrics
			if withMetrics {
				var err error
				if m, err = rsmetrics.New(prometheus.NewRegistry(), rsmetrics.Config{Routes: []string{"echo"}}); err != nil {
					b.Fatal(err)
				}
				opts = append(opts, m.AcceptOptions()...)
			}
			acc := rsrt.NewAcceptor(routes, func(context.Context, *rsrt.Conn) (struct{}, error) { return struct{}{}, nil }, opts...)
			srv, err := server.New(acc, server.Config{TCPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if m != nil {
				if err := m.RegisterServer(srv); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			defer func() { cancel(); <-done }()
			<-srv.Ready()
			c, err := rsrt.Dial(ctx, srv.TCPAddr().String(), rsrt.WithDialLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := rsrt.Payload{Data: []byte(`{"user":"alice","content":"hello"}`)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Caller().RequestResponse(ctx, "echo", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
