// Command orders-client runs the example scenario against an order
// server: orders-client [-addr localhost:7878 | -addr ws://localhost:7879/].
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"example.com/orders/client"
)

func main() {
	addr := flag.String("addr", "localhost:7878", "server `address`: host:port (TCP) or a ws:// URL")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Run(ctx, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "orders-client:", err)
		os.Exit(1)
	}
}
