// Package chattest holds the helpers that the chat service's end-to-end
// test suites share (impl/chatserver, impl/robustness): starting an
// embedded server, dialing the generated client, bounding a test's
// requests, checking error answers, draining string streams, and reading a
// messages.incoming stream in the background and checking what arrives.
// It is imported by tests only.
//
// Each suite keeps its own bound on blocking steps (a guard against a hang,
// never an assertion on speed) and passes it to the helpers that block.
package chattest

import (
	"context"
	"errors"
	"iter"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// Context returns a context that ends after wait, or when the test ends.
func Context(t testing.TB, wait time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// Must fails the test if err is not nil.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Dial connects the generated client to addr within wait, failing the test
// if it cannot; the connection closes at the end of the test.
func Dial(t testing.TB, addr string, wait time.Duration, opts ...rsrt.DialOption) *chat.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := chat.Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Start starts an embedded chat server with cfg, failing the test if it
// cannot, and stops it at the end of the test, within wait. stopped, when
// not nil, is given what that Stop returned.
func Start(t testing.TB, cfg chatserver.Config, wait time.Duration, stopped func(error)) *chatserver.Running {
	t.Helper()
	r, err := chatserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		err := r.Stop(ctx)
		if stopped != nil {
			stopped(err)
		}
	})
	return r
}

// Collect drains a stream of strings, failing the test on an error.
func Collect(t testing.TB, seq iter.Seq2[string, error]) []string {
	t.Helper()
	var out []string
	for s, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// WantError checks that err is an error frame whose code is one of codes
// (APPLICATION_ERROR when none is given) and whose text contains want.
func WantError(t testing.TB, err error, want string, codes ...rsrt.ErrorCode) {
	t.Helper()
	if len(codes) == 0 {
		codes = []rsrt.ErrorCode{rsrt.ErrorCodeApplicationError}
	}
	var e *rsrt.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an error frame saying %q", err, want)
	}
	if !slices.Contains(codes, e.Code) || !strings.Contains(e.Message, want) {
		t.Fatalf("got %s %q, want %v saying %q", e.Code, e.Message, codes, want)
	}
}

// Inbox is an open messages.incoming stream read on its own goroutine, so
// that a test can wait for one message at a time with a deadline.
type Inbox struct {
	msgs   chan chat.Message
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the stream's end: nil for COMPLETE; set before done closes
}

// Listen opens c's messages.incoming stream. The stream is cancelled when
// the test ends, or by Stop.
func Listen(t testing.TB, c *chat.Client) *Inbox {
	ctx, cancel := context.WithCancel(context.Background())
	in := &Inbox{msgs: make(chan chat.Message, 1024), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		for m, err := range c.MessagesIncoming(ctx) {
			if err != nil {
				in.err = err
				return
			}
			select {
			case in.msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(in.Stop)
	return in
}

// Stop cancels the stream and waits until its reader has returned.
func (in *Inbox) Stop() {
	in.cancel()
	<-in.done
}

// Done is closed once the stream has ended (completed, failed or
// cancelled) and its reader has returned.
func (in *Inbox) Done() <-chan struct{} { return in.done }

// Err returns how the stream ended (nil for COMPLETE or a cancel); call it
// after Stop.
func (in *Inbox) Err() error {
	<-in.done
	return in.err
}

// Next returns the next message, failing the test when none arrives within
// wait.
func (in *Inbox) Next(t testing.TB, wait time.Duration) chat.Message {
	t.Helper()
	select {
	case m := <-in.msgs:
		return m
	case <-time.After(wait):
		t.Fatal("no message arrived")
		return chat.Message{}
	}
}

// CheckMsg fails the test unless got has the user, content and channel
// given (a nil channel means a private message).
func CheckMsg(t testing.TB, got chat.Message, user, content string, channel *string) {
	t.Helper()
	if Deref(got.User) != user || Deref(got.Content) != content || Deref(got.Channel) != Deref(channel) {
		t.Fatalf("got {user:%s content:%s channel:%s}, want {user:%s content:%s channel:%s}",
			Deref(got.User), Deref(got.Content), Deref(got.Channel), user, content, Deref(channel))
	}
}

// Deref returns *p, or "<nil>" for a nil p, for comparisons and messages.
func Deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a server that must be told its port in advance (an embedded NATS
// server's cluster routes).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
