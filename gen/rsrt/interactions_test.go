package rsrt_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/rsocket/rsocket-go/core"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

func TestRequestResponse(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	ctx := testCtx(t)

	resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{
		Data:     []byte("hello"),
		Metadata: rsrt.Metadata{{MIME: "chat/file-name", Data: []byte("a.txt")}, {MIME: "application/json", Data: []byte("{}")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Data) != "hello" {
		t.Errorf("data = %q", resp.Data)
	}
	if v, ok := resp.Metadata.Get("chat/file-name"); !ok || string(v) != "a.txt" {
		t.Errorf("file-name entry = %q, %v", v, ok)
	}
	if v, ok := resp.Metadata.Get("application/json"); !ok || string(v) != "{}" {
		t.Errorf("json entry = %q, %v", v, ok)
	}

	resp, err = c.Caller().RequestResponse(ctx, "json", rsrt.Payload{Data: []byte(`{"key":"k","value":41}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Data); got != `{"key":"k","value":42}` {
		t.Errorf("json = %s", got)
	}

	// An empty response has no data and no metadata.
	resp, err = c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 0 || len(resp.Metadata) != 0 {
		t.Errorf("empty echo = %+v", resp)
	}
}

func TestRequestResponseErrors(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	ctx := testCtx(t)
	cases := []struct {
		route string
		data  string
		want  string
	}{
		{"nosuch", "", `unknown route "nosuch"`},
		{"count", "1", `route "count" does not support request-response (it supports request-stream)`},
		{"fail", "", "nope: 42"},
		{"plainfail", "", "plain failure"},
		{"panic", "", "internal error"},
		{"string", "\xff\xfe", "route string: invalid request data: not valid UTF-8"},
		{"json", `{"key":1}`, `route json: invalid request data: bad JSON: field "key": number is not a valid string`},
		{"json", `{"key":"a","extra":1}`, `route json: invalid request data: bad JSON: json: unknown field "extra"`},
		{"json", `not json`, `route json: invalid request data: bad JSON: invalid character 'o' in literal null (expecting 'u')`},
	}
	for _, tc := range cases {
		_, err := c.Caller().RequestResponse(ctx, tc.route, rsrt.Payload{Data: []byte(tc.data)})
		var e *rsrt.Error
		if !errors.As(err, &e) {
			t.Errorf("%s %q: error %v (%T), want *rsrt.Error", tc.route, tc.data, err, err)
			continue
		}
		if e.Code != core.ErrorCodeApplicationError || e.Message != tc.want {
			t.Errorf("%s %q: got %s %q, want APPLICATION_ERROR %q", tc.route, tc.data, e.Code, e.Message, tc.want)
		}
	}
	// The connection still serves after all of the above.
	if resp, err := c.Caller().RequestResponse(ctx, "string", rsrt.Payload{Data: []byte("ok")}); err != nil || string(resp.Data) != "OK" {
		t.Fatalf("after errors: %v %q", err, resp)
	}
}

func TestFireAndForgetAndMetadataPush(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	sc := s.nextConn(t)
	ctx := testCtx(t)

	if err := c.Caller().FireAndForget(ctx, "fnfpanic", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Caller().FireAndForget(ctx, "note", rsrt.Payload{Data: []byte("n1")}); err != nil {
		t.Fatal(err)
	}
	if e := sc.waitEvent(t, "note"); e != "note n1" {
		t.Errorf("event %q", e)
	}
	if err := c.Caller().MetadataPush(ctx, "push", rsrt.Metadata{{MIME: "app/x", Data: []byte("v1")}}); err != nil {
		t.Fatal(err)
	}
	if e := sc.waitEvent(t, "push"); e != "push v1" {
		t.Errorf("event %q", e)
	}
	// One route name, two interactions: dispatch is on the pair.
	if err := c.Caller().FireAndForget(ctx, "shared", rsrt.Payload{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if e := sc.waitEvent(t, "shared"); e != "shared fnf x" {
		t.Errorf("event %q", e)
	}
	var got []string
	for p, err := range c.Caller().RequestStream(ctx, "shared", rsrt.Payload{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Data))
	}
	if len(got) != 1 || got[0] != "shared stream" {
		t.Errorf("shared stream = %q", got)
	}
}

func TestRequestStream(t *testing.T) {
	s := startServer(t)
	// A prefetch smaller than the stream makes the client renew demand
	// many times.
	c := s.dial(t, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	ctx := testCtx(t)
	const n = 1000
	i := 0
	for p, err := range c.Caller().RequestStream(ctx, "count", rsrt.Payload{Data: []byte(strconv.Itoa(n))}) {
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Data) != strconv.Itoa(i) {
			t.Fatalf("item %d = %q", i, p.Data)
		}
		i++
	}
	if i != n {
		t.Fatalf("got %d items, want %d", i, n)
	}
	if e := sc.waitEvent(t, "count"); e != "count done 1000" {
		t.Errorf("event %q", e)
	}

	// An error after an item.
	var items []string
	var last error
	for p, err := range c.Caller().RequestStream(ctx, "streamfail", rsrt.Payload{}) {
		if err != nil {
			last = err
			break
		}
		items = append(items, string(p.Data))
	}
	var e *rsrt.Error
	if len(items) != 1 || !errors.As(last, &e) || e.Message != "stream broke" {
		t.Errorf("streamfail: items %q, err %v", items, last)
	}
	for _, err := range c.Caller().RequestStream(ctx, "streampanic", rsrt.Payload{}) {
		if !errors.As(err, &e) || e.Message != "internal error" {
			t.Errorf("streampanic: %v", err)
		}
	}
	for _, err := range c.Caller().RequestStream(ctx, "echo", rsrt.Payload{}) {
		if !errors.As(err, &e) || e.Message != `route "echo" does not support request-stream (it supports request-response)` {
			t.Errorf("wrong interaction: %v", err)
		}
	}
}

func TestRequestStreamCancel(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(8))
	sc := s.nextConn(t)
	ctx := testCtx(t)
	got := 0
	for _, err := range c.Caller().RequestStream(ctx, "forever", rsrt.Payload{}) {
		if err != nil {
			t.Fatal(err)
		}
		got++
		if got == 100 {
			break
		}
	}
	// The handler learns of the cancel through Send.
	e := sc.waitEvent(t, "forever stopped")
	if e != "forever stopped: "+rsrt.ErrCancelled.Error() {
		t.Errorf("event %q", e)
	}
	// And the connection carries on.
	if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
}

func TestRequestChannel(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	ctx := testCtx(t)

	ch, err := c.Caller().RequestChannel(ctx, "upper", &rsrt.Payload{Data: []byte("first")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	go func() {
		for i := range n {
			if err := ch.Send(ctx, rsrt.Payload{Data: []byte("item" + strconv.Itoa(i))}); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
		_ = ch.CloseSend()
	}()
	var got []string
	for p, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Data))
	}
	if len(got) != n+1 || got[0] != "FIRST" || got[n] != "ITEM"+strconv.Itoa(n-1) {
		t.Fatalf("got %d items: first %q", len(got), got[:min(3, len(got))])
	}
	if e := sc.waitEvent(t, "upper"); e != "upper inbound complete" {
		t.Errorf("event %q", e)
	}

	// Empty first payload: the handler sees only later items.
	ch, err = c.Caller().RequestChannel(ctx, "sum", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := ch.Send(ctx, rsrt.Payload{Data: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	_ = ch.CloseSend()
	got = got[:0]
	for p, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Data))
	}
	if len(got) != 1 || got[0] != "5050" {
		t.Errorf("sum = %q", got)
	}
}

func TestRequestChannelHandlerReturnsEarly(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	ctx := testCtx(t)
	ch, err := c.Caller().RequestChannel(ctx, "first", &rsrt.Payload{Data: []byte("only")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for p, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Data))
	}
	if len(got) != 1 || got[0] != "only" {
		t.Errorf("got %q", got)
	}
	// The server ended the channel: once the credit it had granted is
	// used up, sends fail instead of blocking forever.
	var sendErr error
	for range 1000 {
		if sendErr = ch.Send(ctx, rsrt.Payload{Data: []byte("late")}); sendErr != nil {
			break
		}
	}
	if !errors.Is(sendErr, rsrt.ErrCancelled) {
		t.Errorf("send after the server ended: %v", sendErr)
	}
	_ = ch.Close()
	if resp, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{Data: []byte("x")}); err != nil || string(resp.Data) != "x" {
		t.Fatalf("connection after channel: %v", err)
	}
}

func TestRequestChannelCancel(t *testing.T) {
	s := startServer(t)
	c := s.dial(t, rsrt.WithPrefetch(4))
	sc := s.nextConn(t)
	ctx := testCtx(t)
	ch, err := c.Caller().RequestChannel(ctx, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(ctx, rsrt.Payload{Data: []byte("setting")}); err != nil {
		t.Fatal(err)
	}
	if e := sc.waitEvent(t, "ticks got"); e != "ticks got setting" {
		t.Errorf("event %q", e)
	}
	n := 0
	for _, err := range ch.Recv() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 50 {
			break // cancels the channel
		}
	}
	// The server handler sees the cancel.
	if e := sc.waitEvent(t, "ticks stopped"); e != "ticks stopped: "+rsrt.ErrCancelled.Error() {
		t.Errorf("event %q", e)
	}
	if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
}

func TestRequestChannelErrors(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	ctx := testCtx(t)
	for _, tc := range []struct{ route, want string }{
		{"nosuch", `unknown route "nosuch"`},
		{"echo", `route "echo" does not support request-channel (it supports request-response)`},
		{"chanpanic", "internal error"},
	} {
		ch, err := c.Caller().RequestChannel(ctx, tc.route, nil)
		if err != nil {
			t.Fatal(err)
		}
		var e *rsrt.Error
		n := 0
		for _, err := range ch.Recv() {
			n++
			if !errors.As(err, &e) || e.Message != tc.want {
				t.Errorf("%s: %v, want %q", tc.route, err, tc.want)
			}
		}
		if n != 1 {
			t.Errorf("%s: %d results", tc.route, n)
		}
	}
	if _, err := c.Caller().RequestResponse(ctx, "echo", rsrt.Payload{}); err != nil {
		t.Fatal(err)
	}
}

func TestServerToClient(t *testing.T) {
	s := startServer(t)
	ctx := testCtx(t)

	// A client that declares "time" is called.
	c := s.dial(t, rsrt.WithRoutes(clientRoutes(), &clientHandler{now: "2026-01-01"}))
	sc := s.nextConn(t)
	if !sc.c.Declares(rsrt.RequestResponse, "time") || sc.c.Declares(rsrt.RequestStream, "time") {
		t.Error("declarations not as sent")
	}
	resp, err := sc.c.Caller().RequestResponse(ctx, "time", rsrt.Payload{})
	if err != nil || string(resp.Data) != "2026-01-01" {
		t.Fatalf("time: %q %v", resp, err)
	}
	// Through a server handler, too.
	resp, err = c.Caller().RequestResponse(ctx, "calltime", rsrt.Payload{})
	if err != nil || string(resp.Data) != "2026-01-01" {
		t.Fatalf("calltime: %q %v", resp, err)
	}

	// A client that declares nothing is not called: nothing is sent.
	plain := s.dial(t)
	pc := s.nextConn(t)
	_, err = pc.c.Caller().RequestResponse(ctx, "time", rsrt.Payload{})
	var u *rsrt.UndeclaredRouteError
	if !errors.As(err, &u) || u.Route != "time" || u.Interaction != rsrt.RequestResponse {
		t.Fatalf("undeclared: %v", err)
	}
	for _, err := range pc.c.Caller().RequestStream(ctx, "time", rsrt.Payload{}) {
		if !errors.As(err, &u) {
			t.Fatalf("undeclared stream: %v", err)
		}
	}
	resp, err = plain.Caller().RequestResponse(ctx, "calltime", rsrt.Payload{})
	if err != nil || string(resp.Data) != "undeclared" {
		t.Fatalf("calltime undeclared: %q %v", resp, err)
	}
	if pc.c.RemoteAddr() == "" || pc.c.Setup().MetadataMIME != rsrt.MIMECompositeMetadata || pc.c.Setup().DataMIME != rsrt.MIMEJSON {
		t.Errorf("conn info: %q %+v", pc.c.RemoteAddr(), pc.c.Setup())
	}
}
