package chatserver

// This file is the only place that knows how connections are served: by
// the hardened server of gen/rsrt/server (checking transports, graceful
// drain through the runtime's gate, the origin policy), with the chat page
// on the WebSocket listener.

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/impl/chatweb"
)

// metadataAllowance is what a request may carry besides a file's bytes
// (route and file name entries), so that a file of exactly the maximum
// size fits in a payload.
const metadataAllowance = 64 << 10

// transports is the running RSocket server.
type transports struct {
	srv             *server.Server
	tcpAddr, wsAddr string
	tls             bool // the listeners are secured
	cancel          context.CancelFunc
	// done is closed when Serve returned (on close, or a listener failed).
	done chan struct{}
	err  error // Serve's result, set before done is closed
}

// transportConfig is what startTransports needs.
type transportConfig struct {
	tcpAddr, wsAddr string
	maxFile         int64 // largest file upload: the payload limit lets it through
	reassembly      int64 // server-wide bound on unfinished fragment chains (0: default)
	shutdown        time.Duration
	busyPoll        time.Duration // 0: never
	origins         guard.OriginPolicy
	log             *slog.Logger
	tls             *tls.Config
}

// startTransports starts serving acceptor and returns once the listeners
// are bound.
func startTransports(acceptor rsrt.Acceptor, c transportConfig) (*transports, error) {
	var limits guard.Limits
	if need := int(c.maxFile) + metadataAllowance; need > guard.DefaultMaxPayloadSize {
		limits.MaxPayloadSize = need
	}
	limits.MaxServerPendingBytes = int(c.reassembly)
	srv, err := server.New(acceptor, server.Config{
		TCPAddr:         c.tcpAddr,
		WSAddr:          c.wsAddr,
		Limits:          limits,
		Logger:          c.log,
		Gate:            rsrt.NewGate(), // graceful shutdown
		ShutdownTimeout: c.shutdown,
		Origins:         c.origins,
		HTTPHandler:     chatweb.Handler(),
		TLS:             c.tls,
		BusyPoll:        c.busyPoll,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &transports{srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() {
		t.err = srv.Serve(ctx)
		close(t.done)
	}()
	select {
	case <-srv.Ready():
	case <-t.done:
		cancel()
		if t.err == nil {
			t.err = fmt.Errorf("server stopped before serving")
		}
		return nil, t.err
	}
	if a := srv.TCPAddr(); a != nil {
		t.tcpAddr = a.String()
	}
	if a := srv.WSAddr(); a != nil {
		t.wsAddr = a.String()
	}
	t.tls = c.tls != nil
	return t, nil
}

// close shuts the server down gracefully (stop accepting, close the gate,
// drain up to the shutdown timeout, close the connections) and returns
// Serve's result.
func (t *transports) close() error {
	t.cancel()
	<-t.done
	return t.err
}
