package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	rsserver "github.com/rsocket-chat/rsgen/gen/rsrt/server"
	"github.com/rsocket-chat/rsgen/generated/kitchen"
)

// badReply is the note that makes RrOrder answer with an order that
// breaks its constraints, which the client must refuse.
const badReply = "bad reply"

func (s *server) RrOrder(_ context.Context, req kitchen.Order) (kitchen.Order, error) {
	if req.Note != nil && *req.Note == badReply {
		req.Lines[0].Gift = &kitchen.Line{Sku: ""}
	}
	return req, nil
}

func validOrder() kitchen.Order {
	note, discount, priority := "ok", 0.25, int64(2)
	return kitchen.Order{Code: "AB-12", Note: &note, Quantity: 100, Discount: &discount, State: "paid",
		Priority: &priority, Lines: []kitchen.Line{{Sku: "s1"}, {Sku: "s2", Gift: &kitchen.Line{Sku: "g"}}},
		Labels: [][]string{{"abcd", ""}, {}}}
}

// TestValidation: a request that breaks a constraint of the schema is
// refused before the handler runs, with an APPLICATION_ERROR naming the
// field's path; a response that breaks one is refused by the client; a
// valid order goes through both ways. Over TCP and WebSocket.
func TestValidation(t *testing.T) {
	forTransports(t, func(t *testing.T, f *fixture) {
		c, _ := f.dial(t)
		ctx := ctxFor(t)
		want := validOrder()
		got, err := c.RrOrder(ctx, want)
		if err != nil {
			t.Fatalf("valid order: %v", err)
		}
		if got.Code != want.Code || len(got.Lines) != 2 || got.Lines[1].Gift.Sku != "g" || *got.Discount != 0.25 {
			t.Errorf("valid order came back as %+v", got)
		}
		cases := []struct {
			name   string
			change func(o *kitchen.Order)
			want   string
		}{
			{"min_length", func(o *kitchen.Order) { o.Code = "A-" }, "code: shorter than 3 bytes"},
			{"max_length", func(o *kitchen.Order) { o.Code = "ABCDEF-12" }, "code: longer than 8 bytes"},
			{"pattern", func(o *kitchen.Order) { o.Code = "ab-12" }, `code: does not match the pattern "^[A-Z]+-[0-9]+$"`},
			{"optional max_length", func(o *kitchen.Order) { o.Note = ptr(strings.Repeat("n", 17)) }, "note: longer than 16 bytes"},
			{"no_control", func(o *kitchen.Order) { o.Note = ptr("a\nb") }, "note: contains a control character"},
			{"no_control C1", func(o *kitchen.Order) { o.Note = ptr("a\u0085b") }, "note: contains a control character"},
			{"minimum", func(o *kitchen.Order) { o.Quantity = 0 }, "quantity: less than 1"},
			{"maximum", func(o *kitchen.Order) { o.Quantity = 101 }, "quantity: greater than 100"},
			{"number minimum", func(o *kitchen.Order) { o.Discount = ptr(-0.1) }, "discount: less than 0"},
			{"number maximum", func(o *kitchen.Order) { o.Discount = ptr(0.51) }, "discount: greater than 0.5"},
			{"enum", func(o *kitchen.Order) { o.State = "lost" }, `state: not one of "open", "paid"`},
			{"integer enum", func(o *kitchen.Order) { o.Priority = ptr(int64(4)) }, "priority: not one of 1, 2, 3"},
			{"min_items", func(o *kitchen.Order) { o.Lines = nil }, "lines: fewer than 1 item"},
			{"max_items", func(o *kitchen.Order) { o.Lines = make([]kitchen.Line, 4) }, "lines: more than 3 items"},
			{"nested", func(o *kitchen.Order) { o.Lines[1].Sku = "" }, "lines[1].sku: shorter than 1 byte"},
			{"nested twice", func(o *kitchen.Order) { o.Lines[1].Gift.Sku = "" }, "lines[1].gift.sku: shorter than 1 byte"},
			{"optional list", func(o *kitchen.Order) { o.Labels = make([][]string, 3) }, "labels: more than 2 items"},
			{"list of lists", func(o *kitchen.Order) { o.Labels[0][1] = "abcde" }, "labels[0][1]: longer than 4 bytes"},
		}
		for _, tc := range cases {
			o := validOrder()
			tc.change(&o)
			_, err := c.RrOrder(ctx, o)
			wantAppError(t, tc.name, err, "route rr.order: invalid request data: "+tc.want)
		}
		// The server sends what its handler returns; the client checks it.
		bad := validOrder()
		bad.Note = ptr(badReply)
		_, err = c.RrOrder(ctx, bad)
		if err == nil || err.Error() != "route rr.order: invalid response data: lines[0].gift.sku: shorter than 1 byte" {
			t.Errorf("invalid response: %v", err)
		}
		var ve *rsrt.ValidationError
		if !errors.As(err, &ve) || ve.Path != "lines[0].gift.sku" {
			t.Errorf("invalid response: %v is not a *rsrt.ValidationError for lines[0].gift.sku", err)
		}
	})
}

// TestEntryConstraints: a metadata entry that breaks its constraints is
// refused in a request (by the server) and in a response (by the client),
// with an error naming the entry.
func TestEntryConstraints(t *testing.T) {
	forTransports(t, func(t *testing.T, f *fixture) {
		c, _ := f.dial(t)
		ctx := ctxFor(t)
		_, err := c.RrMeta(ctx, "req", "trace", ptr(strings.Repeat("t", 17)), []byte{1}, nil)
		wantAppError(t, "string entry", err, "route rr.meta: invalid request metadata: metadata entry kitchen/tag: longer than 16 bytes")
		_, err = c.RrMeta(ctx, "req", "trace", ptr("a\tb"), []byte{1}, nil)
		wantAppError(t, "no_control", err, "route rr.meta: invalid request metadata: metadata entry kitchen/tag: contains a control character")
		_, err = c.RrMeta(ctx, "req", "trace", nil, []byte{1}, make([]byte, 33))
		wantAppError(t, "bytes entry", err, "route rr.meta: invalid request metadata: metadata entry kitchen/checksum: longer than 32 bytes")
		if _, err := c.RrMeta(ctx, "req", "trace", ptr(strings.Repeat("t", 16)), []byte{1}, make([]byte, 32)); err != nil {
			t.Errorf("entries at their limits: %v", err)
		}
		// The server answers "tag of " + the trace id: 17 bytes here.
		_, err = c.RrMetaOnly(ctx, "0123456789")
		if err == nil || err.Error() != "route rr.meta.only: invalid response data: metadata entry kitchen/tag: longer than 16 bytes" {
			t.Errorf("response entry over its limit: %v", err)
		}
	})
}

// TestRequiredFields: a required field that is absent or null is refused
// with its path, at any depth, where encoding/json alone would decode its
// zero value; an optional one may be absent or null.
func TestRequiredFields(t *testing.T) {
	forTransports(t, func(t *testing.T, f *fixture) {
		c, _ := f.dial(t)
		ctx := ctxFor(t)
		raw := c.Conn().Caller()
		const lines = `"lines":[{"sku":"a"}]`
		cases := []struct{ name, data, want string }{
			{"absent", `{"code":"AB-1","quantity":1,` + lines + `}`, "state: required field missing"},
			{"null", `{"code":"AB-1","quantity":1,"state":null,` + lines + `}`, "state: required field is null"},
			{"absent list", `{"code":"AB-1","quantity":1,"state":"open"}`, "lines: required field missing"},
			// A Go peer sends an empty list it left nil as null.
			{"null list", `{"code":"AB-1","quantity":1,"state":"open","lines":null}`, "lines: fewer than 1 item"},
			{"in a list item", `{"code":"AB-1","quantity":1,"state":"open","lines":[{"sku":"a"},{}]}`, "lines[1].sku: required field missing"},
			{"in an optional object", `{"code":"AB-1","quantity":1,"state":"open","lines":[{"sku":"a","gift":{"gift":null}}]}`, "lines[0].gift.sku: required field missing"},
			{"null payload", `null`, "code: required field missing"},
			{"case-insensitive key", `{"CODE":"AB-1","quantity":1,` + lines + `}`, "state: required field missing"},
		}
		for _, tc := range cases {
			_, err := raw.RequestResponse(ctx, kitchen.RouteRrOrder, rsrt.Payload{Data: []byte(tc.data)})
			wantAppError(t, tc.name, err, "route rr.order: invalid request data: "+tc.want)
		}
		// Optional fields absent or null, a key in another case and an
		// escaped key: accepted.
		ok := `{"Code":"AB-1","quantity":1,"st\u0061te":"open","note":null,"lines":[{"sku":"a","gift":null}]}`
		p, err := raw.RequestResponse(ctx, kitchen.RouteRrOrder, rsrt.Payload{Data: []byte(ok)})
		if err != nil {
			t.Fatalf("valid order with optional fields null: %v", err)
		}
		if want := `{"code":"AB-1","quantity":1,"state":"open","lines":[{"sku":"a"}]}`; string(p.Data) != want {
			t.Errorf("echoed %s, want %s", p.Data, want)
		}
		// Echo's required text, over a channel item (both sides decode
		// with the same check).
		ch, err := raw.RequestChannel(ctx, kitchen.RouteChannelEcho, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Send(ctx, rsrt.Payload{Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		for _, err := range ch.Recv() {
			var e *rsrt.Error
			if !errors.As(err, &e) || e.Message != "route channel.echo: invalid request data: text: required field missing" {
				t.Errorf("channel item without its required field: %v", err)
			}
		}
	})
}

// serveKitchen serves the kitchen service with gen/rsrt/server on cfg's
// listeners until the end of the test; each accepted connection's server
// value arrives on the channel.
func serveKitchen(t *testing.T, cfg rsserver.Config) (*rsserver.Server, chan *server, *rsrt.Gate) {
	t.Helper()
	gate := rsrt.NewGate()
	servers := make(chan *server, 16)
	acc := kitchen.NewAcceptor(func(_ context.Context, peer *kitchen.Peer) (kitchen.Server, error) {
		s := &server{peer: peer, events: make(chan string, 1024)}
		servers <- s
		return s, nil
	}, rsrt.WithLogger(quiet()), rsrt.WithGate(gate))
	cfg.Gate = gate
	return serveAcceptor(t, acc, cfg), servers, gate
}

// serveAcceptor serves acc with gen/rsrt/server on cfg's listeners until
// the end of the test.
func serveAcceptor(t *testing.T, acc rsrt.Acceptor, cfg rsserver.Config) *rsserver.Server {
	t.Helper()
	cfg.Logger = quiet()
	srv, err := rsserver.New(acc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	select {
	case <-srv.Ready():
	case err := <-served:
		t.Fatal(err)
	}
	return srv
}

// forTransports runs test against one server with a TCP and a WebSocket
// listener, once over each.
func forTransports(t *testing.T, test func(t *testing.T, f *fixture)) {
	srv, servers, gate := serveKitchen(t, rsserver.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0"})
	t.Run("tcp", func(t *testing.T) {
		test(t, &fixture{addr: srv.TCPAddr().String(), servers: servers, gate: gate})
	})
	t.Run("ws", func(t *testing.T) {
		test(t, &fixture{addr: "ws://" + srv.WSAddr().String() + "/", servers: servers, gate: gate})
	})
}

func wantAppError(t *testing.T, name string, err error, want string) {
	t.Helper()
	var e *rsrt.Error
	if !errors.As(err, &e) || e.Code != core.ErrorCodeApplicationError || e.Message != want {
		t.Errorf("%s: %v, want APPLICATION_ERROR %q", name, err, want)
	}
}
