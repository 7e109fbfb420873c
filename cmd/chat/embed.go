package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// startEmbedded starts a chat server inside this process, TCP only, on a
// free 127.0.0.1 port with a temporary data directory, for "chat demo"
// without --addr. It returns the address to dial and a function that stops
// the server and removes its data. Server warnings go to logw; its
// informational logs would drown the demo's own lines.
func startEmbedded(ctx context.Context, logw io.Writer) (addr string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "chat-demo-*")
	if err != nil {
		return "", nil, err
	}
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr = "127.0.0.1:0"
	cfg.WSAddr = ""
	cfg.DataDir = dir
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := chatserver.Start(ctx, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Stop(sctx); err != nil {
			fmt.Fprintf(logw, "chat: stopping the embedded server: %v\n", err)
		}
		os.RemoveAll(dir)
	}
	return srv.TCPAddr(), stop, nil
}
