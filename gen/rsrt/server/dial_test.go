package server_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// Dial returns the error of the connection itself, not a nil error and a
// client whose every call fails later.
func TestDialReturnsConnectionError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for _, addr := range []string{"127.0.0.1:1", "ws://127.0.0.1:1/"} {
		c, err := rsrt.Dial(ctx, addr)
		if err == nil {
			c.Close()
			t.Errorf("Dial %s: no error", addr)
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Dial %s: %v, want connection refused", addr, err)
		}
	}
}

// A SETUP the server refuses fails Dial with the server's code and text,
// and rsocket-go prints nothing about it.
func TestDialSetupRefused(t *testing.T) {
	var libLog syncbuf.Buffer
	rsrt.RouteLibraryLogs(slog.New(slog.NewTextHandler(&libLog, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(routeLibraryLogs)

	refuse := rsrt.NewAcceptor(testRoutes, func(context.Context, *rsrt.Conn) (*responder, error) {
		return nil, rsrt.NewError("bad login")
	}, rsrt.WithLogger(testLogger()))
	srv, err := server.New(refuse, server.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.Ready()

	for _, addr := range []string{srv.TCPAddr().String(), "ws://" + srv.WSAddr().String() + "/"} {
		c, err := rsrt.Dial(ctx, addr)
		if err == nil {
			c.Close()
			t.Fatalf("Dial %s: the refused SETUP was not reported", addr)
		}
		var e *rsrt.Error
		if !errors.As(err, &e) || e.Code != core.ErrorCodeRejectedSetup || e.Message != "bad login" {
			t.Errorf("Dial %s: %v, want REJECTED_SETUP \"bad login\"", addr, err)
		}
	}
	if got := libLog.String(); strings.Contains(got, "bad login") || strings.Contains(got, "REJECTED_SETUP") {
		t.Errorf("rsocket-go logged the refusal:\n%s", got)
	}
}
