// Package chattest holds the helpers that the chat service's end-to-end
// test suites share (impl/chatserver, impl/robustness): reading a
// messages.incoming stream in the background and checking what arrives.
// It is imported by tests only.
package chattest

import (
	"context"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

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
