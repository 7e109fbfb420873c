package rsrt_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// A handler panic is logged at error level with its text, and the peer
// reads only "internal error"; connections are logged without contents.
func TestPanicsAreLoggedNotSent(t *testing.T) {
	sink := &logSink{}
	log := slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := startServer(t, rsrt.WithLogger(log))
	c := s.dial(t)
	sc := s.nextConn(t)
	ctx := testCtx(t)

	_, err := c.Caller().RequestResponse(ctx, "panic", rsrt.Payload{Data: []byte("request body")})
	var e *rsrt.Error
	if !errors.As(err, &e) || e.Message != "internal error" {
		t.Fatalf("panic answered with %v", err)
	}
	if err := c.Caller().FireAndForget(ctx, "fnfpanic", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "fnf panic")
	// The connection still serves.
	if err := c.Caller().FireAndForget(ctx, "note", rsrt.Payload{Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	sc.waitEvent(t, "note after")
	for _, want := range []string{
		"level=ERROR msg=\"rsrt: handler panicked\" interaction=request-response route=panic panic=\"secret panic detail\"",
		"level=ERROR msg=\"rsrt: handler panicked\" interaction=fire-and-forget route=fnfpanic panic=\"fnf panic\"",
		"level=INFO msg=\"rsrt: connection opened\" remote=127.0.0.1:",
	} {
		if !sink.contains(want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if sink.contains("request body") {
		t.Error("request contents were logged")
	}
	if strings.Contains(e.Message, "secret") {
		t.Error("panic text sent to the peer")
	}
}
