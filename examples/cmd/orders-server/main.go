// Command orders-server serves the example order service on TCP and
// WebSocket until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"

	"example.com/orders/service"
)

func main() {
	tcp := flag.String("tcp", "localhost:7878", "TCP listen `address`")
	ws := flag.String("ws", "localhost:7879", "WebSocket listen `address`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	shop := service.NewShop(log)
	err := shop.Serve(ctx, server.Config{TCPAddr: *tcp, WSAddr: *ws}, func(srv *server.Server) {
		fmt.Printf("serving on %s and ws://%s/\n", srv.TCPAddr(), srv.WSAddr())
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "orders-server:", err)
		os.Exit(1)
	}
}
