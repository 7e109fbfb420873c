// Package rslog keeps what a peer sends from costing more in the logs than
// it cost the peer to send.
//
// A peer controls much of what a server logs about it: the text of a
// request that failed to decode, a name, the answer to a server-to-client
// call, how often it sends something that is refused. Two handlers wrap
// any slog.Handler:
//
//   - [NewClipHandler] shortens every long attribute value (strings,
//     errors, byte slices, Stringers, anything formatted) to a few hundred
//     bytes and says how long the original was, so that one 16 MiB request
//     cannot become a 16 MiB log line;
//   - [PerConn] wraps the logger of one connection: on top of clipping,
//     it lets a burst of lines through and then a few per second, and the
//     next line that passes says how many were suppressed, so that a peer
//     sending refused requests in a loop cannot make the log grow faster
//     than a few lines a second.
//
// Debug records are clipped but not rate-limited: they are off in
// production, and a developer who turns them on wants all of them.
package rslog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// MaxValue is how many bytes of an attribute value NewClipHandler keeps.
const MaxValue = 256

// Clip returns s if it has at most n bytes, or its first n bytes (cut at a
// UTF-8 boundary) followed by "… (N bytes)", N being len(s).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// clipHandler shortens long attribute values; see NewClipHandler.
type clipHandler struct {
	h slog.Handler
	n int
}

// NewClipHandler returns a handler that passes records to h with every
// attribute value longer than MaxValue bytes clipped (see Clip). Values
// that are not strings are formatted first, which is what h would print
// anyway. The message itself is the program's, not the peer's, and is
// left alone. Wrapping a clipping handler again adds nothing.
func NewClipHandler(h slog.Handler) slog.Handler {
	if c, ok := h.(*clipHandler); ok {
		return c
	}
	return &clipHandler{h: h, n: MaxValue}
}

func (c *clipHandler) Enabled(ctx context.Context, l slog.Level) bool { return c.h.Enabled(ctx, l) }

func (c *clipHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(c.clip(a))
		return true
	})
	return c.h.Handle(ctx, out)
}

func (c *clipHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clipped[i] = c.clip(a)
	}
	return &clipHandler{h: c.h.WithAttrs(clipped), n: c.n}
}

func (c *clipHandler) WithGroup(name string) slog.Handler {
	return &clipHandler{h: c.h.WithGroup(name), n: c.n}
}

// clip returns a with its value clipped, groups included.
func (c *clipHandler) clip(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > c.n {
			return slog.String(a.Key, Clip(s, c.n))
		}
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindGroup:
		g := v.Group()
		clipped := make([]slog.Attr, len(g))
		for i, ga := range g {
			clipped[i] = c.clip(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clipped...)}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case unclipped:
			return slog.String(a.Key, string(x))
		case error:
			s = x.Error()
		case []byte:
			s = string(x)
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprint(x)
		}
		if len(s) > c.n {
			return slog.String(a.Key, Clip(s, c.n))
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// unclipped is a value NewClipHandler passes whole; see Unclipped.
type unclipped string

// Unclipped returns an attribute that NewClipHandler does not clip: for
// the program's own long text, such as a stack trace, never for anything
// a peer sent.
func Unclipped(key, value string) slog.Attr {
	return slog.Any(key, unclipped(value))
}

// Rate limits of PerConn: a burst of lines, then a steady rate.
const (
	connBurst = 20
	connRate  = 2 // lines per second
)

// limitHandler lets records at Info and above through at a bounded rate;
// see PerConn.
type limitHandler struct {
	h slog.Handler
	l *limiter // shared by the handlers derived with WithAttrs/WithGroup
}

type limiter struct {
	lim        *rate.Limiter
	mu         sync.Mutex
	suppressed int
}

// PerConn returns a logger for one connection's lines: l's handler with
// clipping (NewClipHandler) and a rate limit (a burst of 20 lines, then 2
// a second) shared by every logger derived from the result. A line over
// the limit is dropped; the next one let through carries the count of
// those dropped as the attribute "suppressed".
func PerConn(l *slog.Logger) *slog.Logger {
	return slog.New(&limitHandler{
		h: NewClipHandler(l.Handler()),
		l: &limiter{lim: rate.NewLimiter(connRate, connBurst)},
	})
}

func (h *limitHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *limitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return h.h.Handle(ctx, r)
	}
	n, ok := h.l.allow(r.Time)
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", n))
	}
	return h.h.Handle(ctx, r)
}

// allow reports whether a line at t may pass and, if so, how many were
// suppressed since the last one that did.
func (l *limiter) allow(t time.Time) (int, bool) {
	if t.IsZero() {
		t = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lim.AllowN(t, 1) {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.suppressed = 0
	return n, true
}

func (h *limitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &limitHandler{h: h.h.WithAttrs(attrs), l: h.l}
}

func (h *limitHandler) WithGroup(name string) slog.Handler {
	return &limitHandler{h: h.h.WithGroup(name), l: h.l}
}
