package rsrt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// quietWindow is how long a test watches for an answer that must not come
// while an inline handler holds the read loop. It bounds an observation,
// not a speed: an answer that comes within it fails the test whatever the
// machine's load, since none may come before the handler returns.
const quietWindow = 300 * time.Millisecond

// TestInlineRunsOnTheReadLoop checks where WithInline runs a handler: on
// the connection's read loop, so that while an inline handler runs, a
// request after it on the same connection is not dispatched. The same
// sequence without the option shows the request answered meanwhile.
func TestInlineRunsOnTheReadLoop(t *testing.T) {
	pooledAndInline(t, "slow", func(t *testing.T, inline bool, c *rsrt.ClientConn, sc *conn) {
		ctx := testCtx(t)
		slow := requestAsync(ctx, c, "slow", answered("done"))
		sc.waitEvent(t, "slow started")
		// Beside a pooled handler the echo has the test's whole
		// timeout: only the inline case watches a window.
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if inline {
			wctx, cancel = context.WithTimeout(ctx, quietWindow)
		}
		_, err := c.Caller().RequestResponse(wctx, "echo", rsrt.Payload{Data: []byte("x")})
		cancel()
		switch {
		case inline && err == nil:
			t.Error("echo answered while the inline handler held the read loop")
		case inline && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("echo while the read loop was held: %v, want the caller's deadline", err)
		case !inline && err != nil:
			t.Errorf("echo beside a pooled handler: %v", err)
		}
		close(sc.release)
		if err := <-slow; err != nil {
			t.Fatalf("slow: %v", err)
		}
		resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("after")})
		if err != nil || string(resp.Data) != "after" {
			t.Fatalf("echo after the handler returned: %q, %v", resp.Data, err)
		}
	})
}

// pooledAndInline runs f twice, each time on a server and a connection
// of its own: with route's handler pooled, then inline (WithInline).
func pooledAndInline(t *testing.T, route string, f func(t *testing.T, inline bool, c *rsrt.ClientConn, sc *conn)) {
	for _, inline := range []bool{false, true} {
		name := "pooled"
		var opts []rsrt.AcceptOption
		if inline {
			name = "inline"
			opts = append(opts, rsrt.WithInline(route))
		}
		t.Run(name, func(t *testing.T) {
			s := startServer(t, opts...)
			c := s.dial(t)
			f(t, inline, c, s.nextConn(t))
		})
	}
}

// TestInlineAnswers checks that an inline route answers as a pooled one
// does: data, errors, a recovered panic, through the interceptors.
func TestInlineAnswers(t *testing.T) {
	var seen atomic.Int32
	count := rsrt.UnaryInterceptorFunc(func(next rsrt.UnaryFunc) rsrt.UnaryFunc {
		return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload) (*rsrt.Payload, error) {
			seen.Add(1)
			return next(ctx, call, req)
		}
	})
	s := startServer(t, rsrt.WithInline("echo", "fail", "panic"), rsrt.WithInterceptors(count))
	c := s.dial(t)
	ctx := testCtx(t)
	resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("hello")})
	if err != nil || string(resp.Data) != "hello" {
		t.Fatalf("echo: %q, %v", resp.Data, err)
	}
	for route, want := range map[string]string{"fail": "nope: 42", "panic": "internal error"} {
		_, err := c.Caller().RequestResponse(ctx, route, rsrt.Payload{})
		var e *rsrt.Error
		if !errors.As(err, &e) || e.Message != want {
			t.Errorf("%s: %v, want %q", route, err, want)
		}
	}
	if n := seen.Load(); n != 3 {
		t.Errorf("the interceptor saw %d calls, want 3", n)
	}
}

// TestInlineWaitsForTheBudgetOffTheReadLoop checks that an inline
// handler's large answer waits for the response budget's room off the
// read loop: while it waits, the connection's next requests are served.
func TestInlineWaitsForTheBudgetOffTheReadLoop(t *testing.T) {
	s := startServer(t, rsrt.WithResponseBudget(64<<10), rsrt.WithInline("big", "echo"))
	c := s.dial(t)
	sc := s.nextConn(t)
	ctx := testCtx(t)
	held := requestAsync(ctx, c, "hold", nil)
	sc.waitEvent(t, "hold reserved") // the whole budget is taken
	big := requestAsync(ctx, c, "big", func(p rsrt.Payload) error {
		if len(p.Data) != 64<<10 {
			return fmt.Errorf("answered %d bytes, want 64 KiB", len(p.Data))
		}
		return nil
	})
	// Every echo is read after big (one connection, in order): answered,
	// they show that big's wait does not hold the read loop.
	for i := range 3 {
		resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte{byte('a' + i)}})
		if err != nil || string(resp.Data) != string(rune('a'+i)) {
			t.Fatalf("echo %d while big waited for room: %q, %v", i, resp.Data, err)
		}
	}
	select {
	case err := <-big:
		t.Fatalf("big answered while the budget was held: %v", err)
	default:
	}
	close(sc.release)
	for name, ch := range map[string]<-chan error{"hold": held, "big": big} {
		if err := <-ch; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestInlineHandlerWakesAfterItsAnswer checks that a fed stream of the
// connection that an inline handler wakes starts its drain once the
// handler's answer is with the library, not while the handler runs (the
// answer is then not queued behind the item); beside a pooled handler
// the drain takes the item while the handler still runs. The item
// arrives either way.
func TestInlineHandlerWakesAfterItsAnswer(t *testing.T) {
	pooledAndInline(t, "feedone", func(t *testing.T, inline bool, c *rsrt.ClientConn, sc *conn) {
		mode, want := "wait", "feedone: taken during the handler"
		if inline {
			mode, want = "watch", "feedone: not taken during the handler"
		}
		ctx := testCtx(t)
		items := openStream(ctx, c, "fed")
		sc.nextFeed(t)
		resp, err := c.Caller().RequestResponse(ctx, "feedone", rsrt.Payload{Data: []byte(mode)})
		if err != nil || string(resp.Data) != "pushed" {
			t.Fatalf("feedone: %q, %v", resp.Data, err)
		}
		if e := sc.waitEvent(t, "feedone:"); e != want {
			t.Errorf("%s, want %s", e, want)
		}
		if it := nextItem(t, items); it.end || it.data != "0" {
			t.Errorf("stream: %+v, want item 0", it)
		}
	})
}

// TestWithInlineNamesRequestResponseRoutes checks that WithInline refuses,
// when the acceptor is built, a name that is not a request-response route.
func TestWithInlineNamesRequestResponseRoutes(t *testing.T) {
	for name, want := range map[string]string{
		"nosuch": `rsrt: WithInline: unknown route "nosuch"`,
		"count":  `rsrt: WithInline: route "count" does not support request-response (it supports request-stream)`,
	} {
		func() {
			defer func() {
				p := recover()
				if msg, _ := p.(string); !strings.HasPrefix(msg, want) {
					t.Errorf("WithInline(%q): panic %v, want %q", name, p, want)
				}
			}()
			rsrt.NewAcceptor(serverRoutes(), func(context.Context, *rsrt.Conn) (*conn, error) { return nil, nil }, rsrt.WithInline(name))
		}()
	}
}
