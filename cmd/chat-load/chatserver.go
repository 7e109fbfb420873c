package main

import (
	"context"
	"errors"
)

// errChatUnavailable is returned while the embeddable chat server
// (impl/chatserver) has not landed.
var errChatUnavailable = errors.New("the embedded chat server is not available in this build")

// startChat starts the generated chat server on addr and returns its
// address and a function that stops it.
func startChat(ctx context.Context, addr string) (string, func() error, error) {
	return "", nil, errChatUnavailable
}
