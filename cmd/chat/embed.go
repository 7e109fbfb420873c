package main

import (
	"context"
	"io"
)

// startEmbedded starts a chat server inside this process, on a free
// 127.0.0.1 port with a temporary data directory, for "chat demo" without
// --addr. It returns the address to dial and a function that stops the
// server and removes its data.
//
// The server package is not available yet; until it is, the demo needs
// --addr.
func startEmbedded(ctx context.Context, logw io.Writer) (addr string, stop func(), err error) {
	return "", nil, errNoEmbedded
}
