package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// errChatUnavailable is returned when the embedded chat server cannot be
// started in this build.
var errChatUnavailable = errors.New("the embedded chat server is not available in this build")

// startChat starts the generated chat server (impl/chatserver, files in a
// temporary directory, logging errors only) on addr, serving one
// transport ("tcp" or "ws", see transports), and returns the address a
// client dials (host:port, or ws://host:port/), a function that stops it and
// a function that returns how many messages it dropped from full session
// queues.
func startChat(ctx context.Context, addr, transport string) (_ string, _ func() error, _ func() uint64, err error) {
	defer func() {
		// The runtime's compile-only stubs panic until it lands.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errChatUnavailable, p)
		}
	}()
	cfg := chatserver.Config{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	switch transport {
	case "tcp":
		cfg.TCPAddr = addr
	case "ws":
		cfg.WSAddr = addr
	default:
		return "", nil, nil, fmt.Errorf("unknown transport %q", transport)
	}
	cfg.DataDir, err = os.MkdirTemp("", "chat-load-files-")
	if err != nil {
		return "", nil, nil, err
	}
	r, err := chatserver.Start(ctx, cfg)
	if err != nil {
		os.RemoveAll(cfg.DataDir)
		return "", nil, nil, err
	}
	stop := func() error {
		err := r.Stop(context.Background())
		os.RemoveAll(cfg.DataDir)
		return err
	}
	dropped := func() uint64 { return r.Service().Stats().Dropped }
	if transport == "ws" {
		return r.WSURL(), stop, dropped, nil
	}
	return r.TCPAddr(), stop, dropped, nil
}
