package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/extension"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
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
		return dialRaw(ctx, addr, o)
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

// rawClient drives the server with plain rsocket-go calls, encoding the
// same wire format by hand.
type rawClient struct {
	c        rsocket.Client
	prefetch int
}

func dialRaw(ctx context.Context, addr string, o dialOpts) (loadClient, error) {
	ka := o.keepalive
	if ka <= 0 {
		ka = 500 * time.Millisecond
	}
	c, err := rsocket.Connect().
		MetadataMimeType(extension.MessageCompositeMetadata.String()).
		DataMimeType(extension.ApplicationJSON.String()).
		KeepAlive(ka, 10*time.Minute, 1).
		Transport(rsocket.TCPClient().SetAddr(addr).Build()).
		Start(ctx)
	if err != nil {
		return nil, err
	}
	pf := o.prefetch
	if pf <= 0 {
		pf = 64
	}
	return &rawClient{c: c, prefetch: pf}, nil
}

var routeMD = map[string][]byte{}

func init() {
	for _, r := range []string{"login", "channel.join", "message", "messages.incoming"} {
		tags, _ := extension.EncodeRouting(r)
		md, _ := extension.NewCompositeMetadataBuilder().PushWellKnown(extension.MessageRouting, tags).Build()
		routeMD[r] = md
	}
}

func (r *rawClient) rr(ctx context.Context, route string, data []byte) error {
	_, err := r.c.RequestResponse(payload.New(data, routeMD[route])).Block(ctx)
	return err
}

func (r *rawClient) Login(ctx context.Context, user string) error {
	return r.rr(ctx, "login", []byte(user))
}

func (r *rawClient) Join(ctx context.Context, ch string) error {
	return r.rr(ctx, "channel.join", []byte(ch))
}

func (r *rawClient) Send(ctx context.Context, user, ch, content string) error {
	m := chat.Message{Content: &content}
	if ch != "" {
		m.Channel = &ch
	} else {
		m.User = &user
	}
	p, err := rsrt.EncodeJSON(m)
	if err != nil {
		return err
	}
	return r.rr(ctx, "message", p.Data)
}

func (r *rawClient) Incoming(ctx context.Context, fn func(string)) error {
	done := make(chan error, 1)
	var sub atomic.Pointer[rx.Subscription]
	got := 0
	r.c.RequestStream(payload.New(nil, routeMD["messages.incoming"])).Subscribe(ctx,
		rx.OnSubscribe(func(_ context.Context, s rx.Subscription) {
			sub.Store(&s)
			s.Request(r.prefetch)
		}),
		rx.OnNext(func(p payload.Payload) error {
			m, err := rsrt.DecodeJSON[chat.Message](&rsrt.Payload{Data: p.Data()})
			if err != nil {
				return err
			}
			c := ""
			if m.Content != nil {
				c = *m.Content
			}
			fn(c)
			// Request the next window from inside OnNext (see the notes).
			got++
			if got == r.prefetch {
				got = 0
				if s := sub.Load(); s != nil {
					(*s).Request(r.prefetch)
				}
			}
			return nil
		}),
		rx.OnComplete(func() { done <- nil }),
		rx.OnError(func(e error) { done <- e }),
	)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if s := sub.Load(); s != nil {
			(*s).Cancel()
		}
		return nil
	}
}

func (r *rawClient) Close() error {
	err := r.c.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
