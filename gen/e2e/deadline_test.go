package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

// seen is what a probe handler observed of its context.
type seen struct {
	route    string
	started  bool      // the handler started (else: its context ended)
	deadline time.Time // its context's deadline, when hasDL
	hasDL    bool
	ended    time.Time // when its context ended
	err      error     // the context's error
	md       rsrt.Metadata
}

// probe serves a few kitchen routes with handlers that report their
// context: a request "wait" makes the handler wait for its context to
// end; "md" reports the request's metadata.
type probe struct {
	server
	seen chan seen
}

func newProbe(peer *kitchen.Peer) kitchen.Server {
	return &probe{server: server{peer: peer, events: make(chan string, 1024)}, seen: make(chan seen, 64)}
}

func (p *probe) wait(ctx context.Context, route string) error {
	d, ok := ctx.Deadline()
	p.seen <- seen{route: route, started: true, deadline: d, hasDL: ok}
	<-ctx.Done()
	p.seen <- seen{route: route, ended: time.Now(), err: ctx.Err()}
	return ctx.Err()
}

func (p *probe) RrString(ctx context.Context, req string) (string, error) {
	switch req {
	case "wait":
		return "", p.wait(ctx, kitchen.RouteRrString)
	case "md":
		p.seen <- seen{route: kitchen.RouteRrString, md: rsrt.RequestMetadata(ctx)}
	}
	return req, nil
}

func (p *probe) RrMeta(ctx context.Context, req, traceID string, tag *string, blob, checksum []byte) (kitchen.RrMetaResponse, error) {
	p.seen <- seen{route: kitchen.RouteRrMeta, md: rsrt.RequestMetadata(ctx)}
	return p.server.RrMeta(ctx, req, traceID, tag, blob, checksum)
}

func (p *probe) FnfEmpty(ctx context.Context) error { return p.wait(ctx, kitchen.RouteFnfEmpty) }

func (p *probe) StreamStrings(ctx context.Context, req string, out *rsrt.Sender[string]) error {
	switch req {
	case "wait":
		return p.wait(ctx, kitchen.RouteStreamStrings)
	case "md":
		p.seen <- seen{route: kitchen.RouteStreamStrings, md: rsrt.RequestMetadata(ctx)}
	}
	return out.Send(req)
}

func (p *probe) ChannelStrings(ctx context.Context, in *rsrt.Inbound[string], out *rsrt.Sender[string]) error {
	first, err := in.Recv()
	if err != nil {
		return err
	}
	switch first {
	case "wait":
		return p.wait(ctx, kitchen.RouteChannelStrings)
	case "md":
		p.seen <- seen{route: kitchen.RouteChannelStrings, md: rsrt.RequestMetadata(ctx)}
	}
	return out.Send(first)
}

func (p *probe) next(t *testing.T) seen {
	t.Helper()
	select {
	case s := <-p.seen:
		return s
	case <-time.After(testTimeout):
		t.Fatal("the handler reported nothing")
		return seen{}
	}
}

// deadlineSlack is how far after the client's deadline the server
// handler's deadline may be: what issue 12 asks for. It is the time the
// request took to arrive.
const deadlineSlack = 50 * time.Millisecond

// wakeSlack bounds how long after the client's deadline the handler sees
// its context end: deadlineSlack, plus the time a woken goroutine waits
// for a CPU, which the race detector and a loaded machine stretch (see
// raceDetector).
var wakeSlack = deadlineSlack * map[bool]time.Duration{false: 1, true: 4}[raceDetector]

// TestDeadlineOnTheWire checks that a client's context deadline reaches
// the server's handler, for every interaction model that has one: the
// handler's context carries it (within deadlineSlack, the time the request
// took to arrive) and ends with it. Fire-and-forget shows the deadline
// alone at work: nothing else could end that handler's context.
func TestDeadlineOnTheWire(t *testing.T) {
	s := serveBoth(t, newProbe)
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			c, sv := s.dial(t, addr)
			p := sv.(*probe)
			calls := map[string]func(ctx context.Context) error{
				kitchen.RouteRrString: func(ctx context.Context) error {
					_, err := c.RrString(ctx, "wait")
					return err
				},
				kitchen.RouteFnfEmpty: func(ctx context.Context) error {
					if err := c.FnfEmpty(ctx); err != nil {
						return err
					}
					<-ctx.Done()
					return ctx.Err()
				},
				kitchen.RouteStreamStrings: func(ctx context.Context) error {
					for _, err := range c.StreamStrings(ctx, "wait") {
						return err
					}
					return nil
				},
				kitchen.RouteChannelStrings: func(ctx context.Context) error {
					ch, err := c.ChannelStrings(ctx, "wait")
					if err != nil {
						return err
					}
					for _, err := range ch.Recv() {
						return err
					}
					return nil
				},
			}
			for route, call := range calls {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				clientDL, _ := ctx.Deadline()
				done := make(chan error, 1)
				go func() { done <- call(ctx) }()
				start := p.next(t)
				if !start.started || start.route != route {
					t.Fatalf("%s: first report %+v", route, start)
				}
				if !start.hasDL {
					t.Fatalf("%s: the handler's context has no deadline", route)
				}
				if gap := start.deadline.Sub(clientDL); gap < -time.Millisecond || gap > deadlineSlack {
					t.Errorf("%s: the handler's deadline is %v after the client's, want within [-1ms, %v]", route, gap, deadlineSlack)
				}
				end := p.next(t)
				gap := end.ended.Sub(clientDL)
				t.Logf("%s over %s: the handler's deadline was %v after the client's; its context ended %v after the client's deadline (%v)",
					route, addr, start.deadline.Sub(clientDL), gap, end.err)
				if gap > wakeSlack {
					t.Errorf("%s: the handler's context ended %v after the client's deadline, want at most %v", route, gap, wakeSlack)
				}
				if route == kitchen.RouteFnfEmpty && !errors.Is(end.err, context.DeadlineExceeded) {
					t.Errorf("%s: the handler's context ended with %v, want the deadline", route, end.err)
				}
				if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s: the client's call returned %v, want its deadline", route, err)
				}
				cancel()
			}
		})
	}
}

// TestRequestResponseConnectionClosed checks that a request-response
// handler's context ends when its connection closes. (A CANCEL frame ends
// it too: see gen/rsrt/server's TestRequestResponseCancel; the generated
// Go client's deadline ends it through the deadline entry.)
func TestRequestResponseConnectionClosed(t *testing.T) {
	s := serveBoth(t, newProbe)
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			c, sv := s.dial(t, addr)
			p := sv.(*probe)
			done := make(chan error, 1)
			go func() {
				_, err := c.RrString(context.Background(), "wait")
				done <- err
			}()
			if st := p.next(t); !st.started || st.hasDL {
				t.Fatalf("first report %+v, want a start without deadline", st)
			}
			_ = c.Close()
			if end := p.next(t); !errors.Is(end.err, context.Canceled) {
				t.Errorf("the handler's context ended with %v, want context.Canceled", end.err)
			}
			if err := <-done; !errors.Is(err, rsrt.ErrClosed) {
				t.Errorf("the call returned %v, want rsrt.ErrClosed", err)
			}
		})
	}
}

// TestMetadataBeyondTheSchema checks that entries a caller adds with
// AppendMetadata reach the handler, after the declared ones, through
// RequestMetadata, for request-response, streams and channels; the
// deadline entry is the runtime's and is not among them.
func TestMetadataBeyondTheSchema(t *testing.T) {
	s := serveBoth(t, newProbe)
	extra := rsrt.Entry{MIME: "application/x.test.extra", Data: []byte("extra")}
	other := rsrt.Entry{MIME: "text/plain", Data: []byte("well-known")}
	for _, addr := range s.addrs {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			c, sv := s.dial(t, addr)
			p := sv.(*probe)
			ctx := rsrt.AppendMetadata(rsrt.AppendMetadata(ctxFor(t), extra), other)
			want := func(route string, md ...rsrt.Entry) {
				t.Helper()
				got := p.next(t)
				if got.route != route || len(got.md) != len(md) {
					t.Fatalf("%s: handler saw %+v, want %v", route, got, md)
				}
				for i := range md {
					if got.md[i].MIME != md[i].MIME || string(got.md[i].Data) != string(md[i].Data) {
						t.Errorf("%s: entry %d is %s=%q, want %s=%q", route, i, got.md[i].MIME, got.md[i].Data, md[i].MIME, md[i].Data)
					}
				}
			}
			if _, err := c.RrString(ctx, "md"); err != nil {
				t.Fatal(err)
			}
			want(kitchen.RouteRrString, extra, other)
			if _, err := c.RrMeta(ctx, "x", "trace", nil, []byte("b"), nil); err != nil {
				t.Fatal(err)
			}
			want(kitchen.RouteRrMeta, rsrt.Entry{MIME: kitchen.MIMETraceID, Data: []byte("trace")},
				rsrt.Entry{MIME: kitchen.MIMEBlob, Data: []byte("b")}, extra, other)
			if got := collect(t, c.StreamStrings(ctx, "md")); len(got) != 1 {
				t.Fatalf("stream: %v", got)
			}
			want(kitchen.RouteStreamStrings, extra, other)
			ch, err := c.ChannelStrings(ctx, "md")
			if err != nil {
				t.Fatal(err)
			}
			_ = ch.CloseSend()
			if got := collect(t, ch.Recv()); len(got) != 1 {
				t.Fatalf("channel: %v", got)
			}
			want(kitchen.RouteChannelStrings, extra, other)
			// A context without AppendMetadata adds nothing.
			if _, err := c.RrString(ctxFor(t), "md"); err != nil {
				t.Fatal(err)
			}
			want(kitchen.RouteRrString)
		})
	}
}
