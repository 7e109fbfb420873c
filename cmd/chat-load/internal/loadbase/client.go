package loadbase

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/extension"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// RawClient drives the server with plain rsocket-go calls, encoding the
// same wire format by hand: the load tool's cross-check of the generated
// client's overhead.
type RawClient struct {
	c        rsocket.Client
	prefetch int
}

// DialRaw connects to addr, over WebSocket when it is a ws:// or wss:// URL and over
// TCP otherwise (host:port), with the keepalive interval ka (default
// 500ms) and the stream demand window prefetch (default 64).
func DialRaw(ctx context.Context, addr string, ka time.Duration, prefetch int) (*RawClient, error) {
	if ka <= 0 {
		ka = 500 * time.Millisecond
	}
	tp := rsocket.TCPClient().SetAddr(addr).Build()
	if strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://") {
		tp = rsocket.WebsocketClient().SetURL(addr).Build()
	}
	c, err := rsocket.Connect().
		MetadataMimeType(extension.MessageCompositeMetadata.String()).
		DataMimeType(extension.ApplicationJSON.String()).
		KeepAlive(ka, 10*time.Minute, 1).
		Transport(tp).
		Start(ctx)
	if err != nil {
		return nil, err
	}
	pf := prefetch
	if pf <= 0 {
		pf = 64
	}
	return &RawClient{c: c, prefetch: pf}, nil
}

var routeMD = map[string][]byte{}

func init() {
	for _, r := range []string{"login", "channel.join", "message", "messages.incoming"} {
		tags, _ := extension.EncodeRouting(r)
		md, _ := extension.NewCompositeMetadataBuilder().PushWellKnown(extension.MessageRouting, tags).Build()
		routeMD[r] = md
	}
}

func (r *RawClient) rr(ctx context.Context, route string, data []byte) error {
	_, err := r.c.RequestResponse(payload.New(data, routeMD[route])).Block(ctx)
	return err
}

// Login logs the connection in as user.
func (r *RawClient) Login(ctx context.Context, user string) error {
	return r.rr(ctx, "login", []byte(user))
}

// Join joins (and creates) a channel.
func (r *RawClient) Join(ctx context.Context, ch string) error {
	return r.rr(ctx, "channel.join", []byte(ch))
}

// Send sends content to channel ch, or to user when ch is empty.
func (r *RawClient) Send(ctx context.Context, user, ch, content string) error {
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

// Incoming opens messages.incoming and calls fn with the content of each
// message until the stream ends or ctx is done.
func (r *RawClient) Incoming(ctx context.Context, fn func(string)) error {
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

// Close closes the connection.
func (r *RawClient) Close() error {
	err := r.c.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
