package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rsocket-chat/rsgen/cmd/chat-load/internal/loadbase"
	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// loadClient is what the scenarios need from a chat connection. The
// default implementation is the generated typed client (chat.Dial); a raw
// rsocket-go implementation exists to cross-check client overhead.
type loadClient interface {
	Login(ctx context.Context, user string) error
	Join(ctx context.Context, channel string) error
	// Send sends a message to a channel (channel != "") or to a user.
	Send(ctx context.Context, user, channel, content string) error
	// Incoming opens messages.incoming and calls fn with the content of
	// each message, in order, from one goroutine at a time. It returns when
	// the stream ends or ctx is done.
	Incoming(ctx context.Context, fn func(content string)) error
	Close() error
}

// streamContext returns the context to open a session's messages.incoming
// with: it ends when ctx does, or with cancel, but carries no deadline.
// A chat client keeps that stream open for as long as it runs and sends
// none (the tutorial's clients, the chat command's interactive session);
// the tool's --timeout is a safety stop of its own, which the typed
// client would otherwise send with each stream as its deadline, and the
// server keep a timer for.
func streamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	return sctx, func() { stop(); cancel() }
}

// dialOpts configures a load connection.
type dialOpts struct {
	kind      string // "typed" or "raw"
	prefetch  int
	keepalive time.Duration
}

func dial(ctx context.Context, addr string, o dialOpts) (loadClient, error) {
	switch o.kind {
	case "", "typed":
		opts := []rsrt.DialOption{rsrt.WithPrefetch(o.prefetch)}
		if o.keepalive > 0 {
			opts = append(opts, rsrt.WithKeepalive(o.keepalive, 10*time.Minute))
		}
		c, err := chat.Dial(ctx, addr, opts...)
		if err != nil {
			return nil, err
		}
		return typedClient{c}, nil
	case "raw":
		return loadbase.DialRaw(ctx, addr, o.keepalive, o.prefetch)
	}
	return nil, fmt.Errorf("unknown client kind %q", o.kind)
}

// typedClient drives the server through the generated chat client.
type typedClient struct{ c *chat.Client }

func (t typedClient) Login(ctx context.Context, user string) error {
	_, err := t.c.Login(ctx, user)
	return err
}

func (t typedClient) Join(ctx context.Context, ch string) error { return t.c.ChannelJoin(ctx, ch) }

func (t typedClient) Send(ctx context.Context, user, ch, content string) error {
	m := chat.Message{Content: &content}
	if ch != "" {
		m.Channel = &ch
	} else {
		m.User = &user
	}
	return t.c.Message(ctx, m)
}

func (t typedClient) Incoming(ctx context.Context, fn func(string)) error {
	for m, err := range t.c.MessagesIncoming(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if m.Content != nil {
			fn(*m.Content)
		} else {
			fn("")
		}
	}
	return nil
}

func (t typedClient) Close() error { return t.c.Close() }
