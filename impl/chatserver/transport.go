package chatserver

// This file is the only place that knows how connections are served. It
// is an interim implementation on plain rsocket-go until the hardened
// server package (gen/rsrt/server) lands; then only this file changes.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"
)

// transports is the set of running listeners.
type transports struct {
	tcpAddr, wsAddr string
	// done is closed when a listener stopped (on close, or on its own).
	done   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // the first listener error
}

// startTransports starts a listener per non-empty address and returns
// once each is accepting connections.
func startTransports(acceptor rsocket.ServerAcceptor, tcpAddr, wsAddr string, _ *rsrt.Gate, log *slog.Logger) (*transports, error) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &transports{done: make(chan struct{}), cancel: cancel}
	var doneOnce sync.Once
	start := func(addr string, build func(addr string) transport.ServerTransporter) (string, error) {
		bound, err := reservePort(addr)
		if err != nil {
			return "", err
		}
		started := make(chan struct{})
		failed := make(chan error, 1)
		t.wg.Go(func() {
			err := rsocket.Receive().
				OnStart(func() { close(started) }).
				Acceptor(acceptor).
				Transport(build(bound)).
				Serve(ctx)
			if err != nil && ctx.Err() == nil {
				log.Error("listener stopped", "addr", bound, "err", err)
				t.mu.Lock()
				if t.err == nil {
					t.err = err
				}
				t.mu.Unlock()
			}
			failed <- err
			doneOnce.Do(func() { close(t.done) })
		})
		select {
		case <-started:
			return bound, nil
		case err := <-failed:
			return "", fmt.Errorf("listen on %s: %w", bound, err)
		case <-time.After(10 * time.Second):
			return "", fmt.Errorf("listen on %s: not started after 10s", bound)
		}
	}
	var err error
	if tcpAddr != "" {
		t.tcpAddr, err = start(tcpAddr, func(a string) transport.ServerTransporter {
			return rsocket.TCPServer().SetAddr(a).Build()
		})
	}
	if err == nil && wsAddr != "" {
		t.wsAddr, err = start(wsAddr, func(a string) transport.ServerTransporter {
			return rsocket.WebsocketServer().SetAddr(a).SetPath("/").Build()
		})
	}
	if err != nil {
		_ = t.close()
		return nil, err
	}
	return t, nil
}

// reservePort resolves a port-0 address to a free port. (The interim
// listener cannot report the port it bound, so it is chosen here.)
func reservePort(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	bound := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return bound, nil
}

// close stops every listener and closes every connection.
func (t *transports) close() error {
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if errors.Is(t.err, context.Canceled) {
		return nil
	}
	return t.err
}
