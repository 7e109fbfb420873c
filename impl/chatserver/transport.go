package chatserver

// This file is the only place that knows how connections are served. It
// runs rsocket-go on the checking transports of gen/rsrt/guard, which keep
// malformed or hostile frames away from the library.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rsocket/rsocket-go"

	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
)

// fragmentSize is the size of the fragments the server sends, as the
// tutorial's peers use: a file response of several MiB must be split, as
// an RSocket frame holds at most 16 MiB.
const fragmentSize = 1_000_000

// metadataAllowance is what a request may carry besides a file's bytes
// (route and file name entries), so that a file of exactly the maximum
// size fits in a payload.
const metadataAllowance = 64 << 10

// transports is the set of running listeners.
type transports struct {
	tcpAddr, wsAddr string
	servers         []*guard.Server
	// done is closed when a listener stopped (on close, or on its own).
	done   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // the first listener error
}

// startTransports starts a listener per non-empty address and returns
// once each is accepting connections. maxFile is the largest file upload,
// which the payload limit must let through.
func startTransports(acceptor rsocket.ServerAcceptor, tcpAddr, wsAddr string, maxFile int64, log *slog.Logger) (*transports, error) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &transports{done: make(chan struct{}), cancel: cancel}
	opts := guard.Options{Stats: new(guard.Stats), Logger: log}
	if need := int(maxFile) + metadataAllowance; need > guard.DefaultMaxPayloadSize {
		opts.Limits.MaxPayloadSize = need
	}
	var doneOnce sync.Once
	start := func(addr string, newServer func(net.Listener) *guard.Server) (string, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		srv := newServer(l)
		t.servers = append(t.servers, srv)
		started := make(chan struct{})
		failed := make(chan error, 1)
		t.wg.Go(func() {
			err := rsocket.Receive().
				Fragment(fragmentSize).
				OnStart(func() { close(started) }).
				Acceptor(acceptor).
				Transport(srv.Transporter()).
				Serve(ctx)
			if err != nil && ctx.Err() == nil {
				log.Error("listener stopped", "addr", l.Addr().String(), "err", err)
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
			return l.Addr().String(), nil
		case err := <-failed:
			return "", fmt.Errorf("serve on %s: %w", l.Addr(), err)
		case <-time.After(10 * time.Second):
			return "", fmt.Errorf("serve on %s: not started after 10s", l.Addr())
		}
	}
	var err error
	if tcpAddr != "" {
		t.tcpAddr, err = start(tcpAddr, func(l net.Listener) *guard.Server { return guard.NewTCPServer(l, opts) })
	}
	if err == nil && wsAddr != "" {
		t.wsAddr, err = start(wsAddr, func(l net.Listener) *guard.Server { return guard.NewWebSocketServer(l, "/", opts) })
	}
	if err != nil {
		_ = t.close()
		return nil, err
	}
	return t, nil
}

// stopAccepting closes the listeners; open connections go on.
func (t *transports) stopAccepting() {
	for _, s := range t.servers {
		_ = s.StopAccepting()
	}
}

// close stops every listener and closes every connection.
func (t *transports) close() error {
	t.cancel()
	for _, s := range t.servers {
		_ = s.Close()
	}
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if errors.Is(t.err, context.Canceled) {
		return nil
	}
	return t.err
}
