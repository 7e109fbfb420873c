package kitchen

// Hand-written tests of the generated adapters and codecs, without a
// network: the routes of the dispatch table are called directly with raw
// payloads, as the runtime would call them (Routes.Dispatch), and the
// metadata structs are round-tripped.
// The end-to-end test over TCP is in gen/e2e.

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// recorder is a Server that records the arguments of the calls it gets.
type recorder struct {
	UnimplementedServer
	args []any
}

func (r *recorder) RrMeta(_ context.Context, req string, traceID string, tag *string, blob []byte, checksum []byte) (RrMetaResponse, error) {
	r.args = []any{req, traceID, tag, blob, checksum}
	sum := []byte("sum")
	return RrMetaResponse{Data: []byte(req), TraceID: traceID, Tag: tag, Checksum: sum}, nil
}

func (r *recorder) PushMeta(_ context.Context, traceID string, tag *string) error {
	r.args = []any{traceID, tag}
	return nil
}

func (r *recorder) RrObject(_ context.Context, req Item) (Item, error) {
	r.args = []any{req}
	return req, nil
}

func ptr[T any](v T) *T { return &v }

// serve runs the handler of a server route on s, as a connection would.
func serve(s Server, i rsrt.Interaction, route string, req *rsrt.Payload) (rsrt.Payload, error) {
	return serverRoutes.Dispatch(context.Background(), s, i, route, req)
}

func TestServeDecodesMetadataIntoArguments(t *testing.T) {
	s := &recorder{}
	req := &rsrt.Payload{Route: RouteRrMeta, Data: []byte("hello"), Metadata: rsrt.Metadata{
		{MIME: MIMEBlob, Data: []byte{1, 2}},
		{MIME: MIMETraceID, Data: []byte("t-1")},
		{MIME: MIMETag, Data: []byte("red")},
	}}
	resp, err := serve(s, rsrt.RequestResponse, RouteRrMeta, req)
	if err != nil {
		t.Fatal(err)
	}
	// The optional checksum is absent: nil.
	want := []any{"hello", "t-1", ptr("red"), []byte{1, 2}, []byte(nil)}
	if !reflect.DeepEqual(s.args, want) {
		t.Errorf("handler got %#v, want %#v", s.args, want)
	}
	wantResp := rsrt.Payload{Data: []byte("hello"), Metadata: rsrt.Metadata{
		{MIME: MIMETraceID, Data: []byte("t-1")},
		{MIME: MIMETag, Data: []byte("red")},
		{MIME: MIMEChecksum, Data: []byte("sum")},
	}}
	if !reflect.DeepEqual(resp, wantResp) {
		t.Errorf("response %#v, want %#v", resp, wantResp)
	}
}

func TestServeRejectsBadRequests(t *testing.T) {
	for _, c := range []struct {
		name string
		call func(s Server) error
		want string
	}{
		{"missing required entry", func(s Server) error {
			_, err := serve(s, rsrt.RequestResponse, RouteRrMeta, &rsrt.Payload{Data: []byte("x"),
				Metadata: rsrt.Metadata{{MIME: MIMEBlob, Data: []byte{1}}}})
			return err
		}, "route rr.meta: invalid request metadata: missing metadata entry kitchen/trace-id"},
		{"invalid UTF-8 data", func(s Server) error {
			_, err := serve(s, rsrt.RequestResponse, RouteRrMeta, &rsrt.Payload{Data: []byte{0xff}})
			return err
		}, "route rr.meta: invalid request data: not valid UTF-8"},
		{"invalid UTF-8 entry", func(s Server) error {
			_, err := serve(s, rsrt.MetadataPush, RoutePushMeta, &rsrt.Payload{
				Metadata: rsrt.Metadata{{MIME: MIMETraceID, Data: []byte{0xff}}}})
			return err
		}, "route push.meta: invalid request metadata: metadata entry kitchen/trace-id: not valid UTF-8"},
		{"unknown JSON key", func(s Server) error {
			_, err := serve(s, rsrt.RequestResponse, RouteRrObject, &rsrt.Payload{Data: []byte(`{"name":"a","bogus":1}`)})
			return err
		}, `route rr.object: invalid request data: bad JSON`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &recorder{}
			err := c.call(s)
			var rerr *rsrt.Error
			if !errors.As(err, &rerr) || !strings.Contains(rerr.Message, c.want) {
				t.Fatalf("error %v, want an rsrt.Error containing %q", err, c.want)
			}
			if s.args != nil {
				t.Errorf("handler called with %v despite the bad request", s.args)
			}
		})
	}
}

func TestServeUnimplemented(t *testing.T) {
	_, err := serve(UnimplementedServer{}, rsrt.RequestResponse, RouteRrString, &rsrt.Payload{Data: []byte("x")})
	var rerr *rsrt.Error
	if !errors.As(err, &rerr) || rerr.Message != "route rr.string is not implemented" {
		t.Fatalf("error %v, want the unimplemented error of rr.string", err)
	}
}

func TestPushOptionalEntry(t *testing.T) {
	s := &recorder{}
	if _, err := serve(s, rsrt.MetadataPush, RoutePushMeta, &rsrt.Payload{
		Metadata: rsrt.Metadata{{MIME: MIMETraceID, Data: []byte("t")}}}); err != nil {
		t.Fatal(err)
	}
	if want := []any{"t", (*string)(nil)}; !reflect.DeepEqual(s.args, want) {
		t.Errorf("handler got %#v, want %#v", s.args, want)
	}
}

func TestMetaStructRoundTrip(t *testing.T) {
	for _, v := range []ChannelMetaRequest{
		{Data: []byte("data"), Tag: ptr("t")},
		{Data: []byte("data")},
	} {
		p, err := encodeChannelMetaRequest(v)
		if err != nil {
			t.Fatal(err)
		}
		if v.Tag == nil && len(p.Metadata) != 0 {
			t.Errorf("absent optional entry was sent: %v", p.Metadata)
		}
		got, err := decodeChannelMetaRequest(&p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %#v gave %#v", v, got)
		}
	}
	p, err := encodeChannelMetaResponse(ChannelMetaResponse{Data: Point{X: 1, Y: 2}, Checksum: []byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Data) != `{"x":1,"y":2}` {
		t.Errorf("point encoded as %s", p.Data)
	}
	only, err := encodeRrMetaOnlyResponse(RrMetaOnlyResponse{Tag: ptr("x")})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Data) != 0 || len(only.Metadata) != 1 {
		t.Errorf("metadata-only response encoded as %#v", only)
	}
}

func TestItemJSON(t *testing.T) {
	// Required fields are always sent, optional ones only when set.
	b, err := json.Marshal(Item{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a","count":0,"weight":0,"active":false,"tags":null,"origin":{"x":0,"y":0},"path":null}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	full := Item{Name: "b", Tags: []string{"t"}, Parent: &Item{Name: "p"}, Note: ptr("n"), Limit: ptr(int64(3)),
		Score: ptr(1.5), Flag: ptr(true), Extras: []int64{1}, Corner: &Point{X: 1}, Matrix: [][]float64{{1, 2}}}
	b, err = json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rsrt.DecodeJSON[Item](&rsrt.Payload{Data: b})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, full) {
		t.Errorf("round trip gave %#v, want %#v", got, full)
	}
}
