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

// startChat starts the generated chat server (impl/chatserver, TCP only,
// files in a temporary directory, logging errors only) on addr and returns
// its address, a function that stops it and a function that returns how many
// messages it dropped from full session queues.
func startChat(ctx context.Context, addr string) (_ string, _ func() error, _ func() uint64, err error) {
	defer func() {
		// The runtime's compile-only stubs panic until it lands.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errChatUnavailable, p)
		}
	}()
	dir, err := os.MkdirTemp("", "chat-load-files-")
	if err != nil {
		return "", nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	r, err := chatserver.Start(ctx, chatserver.Config{TCPAddr: addr, DataDir: dir, Logger: log})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	stop := func() error {
		err := r.Stop(context.Background())
		os.RemoveAll(dir)
		return err
	}
	dropped := func() uint64 { return r.Service().Stats().Dropped }
	return r.TCPAddr(), stop, dropped, nil
}
