package guard

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go/core/transport"
)

// TestConnContextEndsAfterClose checks the order rsrt's fence relies on:
// the context a connection's acceptor gets ends only after the
// connection's closed hook ran, even when the server's own context ends
// first. rsocket-go closes a socket's send queue as soon as that context
// ends; with the server's context handed over as is, it did so before the
// transport's Close, while handlers could still be sending.
func TestConnContextEndsAfterClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hooked atomic.Bool
	s := NewTCPServer(l, Options{ConnContext: func(ctx context.Context) (context.Context, func()) {
		return ctx, func() { hooked.Store(true) }
	}})
	entered := make(chan struct{})
	order := make(chan bool, 1)
	s.Accept(func(ctx context.Context, _ *transport.Transport, _ func(*transport.Transport)) {
		close(entered)
		<-ctx.Done()
		order <- hooked.Load()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, nil) }()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not handed to the acceptor")
	}
	cancel()
	select {
	case ok := <-order:
		if !ok {
			t.Fatal("the connection's context ended before its closed hook ran")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection's context did not end after the server's")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return")
	}
}

// TestListenAlwaysNotifies checks that Listen answers the library's
// notifier even when its context is done before it starts: rsocket-go's
// Serve waits for that answer on a goroutine of its own, which otherwise
// never ends (a server stopped as it started leaked one). Twenty rounds,
// since a select between the send and the done context skipped the send
// half the time.
func TestListenAlwaysNotifies(t *testing.T) {
	// answer is what Listen sent the notifier; it fails the test when
	// nothing came.
	answer := func(notifier <-chan bool, which string) bool {
		t.Helper()
		select {
		case listening := <-notifier:
			return listening
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never answered the notifier", which)
			return false
		}
	}
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := NewTCPServer(l, Options{})
		s.Accept(func(context.Context, *transport.Transport, func(*transport.Transport)) {})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		notifier := make(chan bool)
		done := make(chan error, 1)
		go func() { done <- s.Listen(ctx, notifier) }()
		if answer(notifier, "Listen") {
			t.Error("Listen notified that it listens with its context done")
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not return")
		}
		// A second Listen of the same server answers too.
		go func() { done <- s.Listen(context.Background(), notifier) }()
		if answer(notifier, "a second Listen") {
			t.Error("a second Listen notified that it listens")
		}
		if err := <-done; err == nil {
			t.Error("a second Listen returned no error")
		}
	}
}
