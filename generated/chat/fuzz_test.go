package chat

// Fuzz tests of the payload decoders a chat server runs on untrusted bytes:
// the JSON objects of the contract, string payloads, the chat/file-name
// metadata entry (after rsrt.ParseComposite) and the generated serve*
// adapters that chain them to a Server. This file is hand-written; the
// generator never touches *_test.go files.
//
// Each fuzz target checks that nothing panics, that every rejected input
// gives a non-empty error (an APPLICATION_ERROR naming the route when it
// comes from an adapter), and that every accepted value re-encodes with
// only the keys the contract allows and decodes back to itself, and that
// an accepted value keeps the constraints of schema/chat.yaml. The seed
// corpora are in testdata/fuzz/<FuzzName>/; plain `go test` runs them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rsocket/rsocket-go/core"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
)

// The keys the contract allows in each JSON object.
var (
	messageKeys           = []string{"user", "content", "channel"}
	clientStatisticsKeys  = []string{"memory_usage"}
	statisticsRequestKeys = []string{"ids", "period_seconds"}
)

// recorder is a Server that records what the adapters hand it.
type recorder struct {
	UnimplementedServer
	calls    int
	str      string
	msg      Message
	data     []byte
	fileName string
	stats    ClientStatistics
}

func (r *recorder) Login(_ context.Context, req string) (string, error) {
	r.calls++
	r.str = req
	return "id", nil
}

func (r *recorder) ChannelJoin(_ context.Context, req string) error {
	r.calls++
	r.str = req
	return nil
}

func (r *recorder) Message(_ context.Context, req Message) error {
	r.calls++
	r.msg = req
	return nil
}

func (r *recorder) FileUpload(_ context.Context, req []byte, fileName string) error {
	r.calls++
	r.data, r.fileName = req, fileName
	return nil
}

func (r *recorder) FileDownload(_ context.Context, fileName string) (FileDownloadResponse, error) {
	r.calls++
	r.fileName = fileName
	return FileDownloadResponse{Data: []byte("content"), FileName: fileName}, nil
}

func (r *recorder) SendStatistics(_ context.Context, req ClientStatistics) error {
	r.calls++
	r.stats = req
	return nil
}

// checkRejected fails unless err is a non-empty error.
func checkRejected(t *testing.T, err error) {
	t.Helper()
	if err.Error() == "" {
		t.Fatalf("rejected with an empty error (%T)", err)
	}
}

// checkBadRequest fails unless err is the APPLICATION_ERROR an adapter
// returns for a request it cannot decode.
// serve runs the handler of a server route on s, as a connection would.
func serve(s Server, i rsrt.Interaction, route string, req *rsrt.Payload) (rsrt.Payload, error) {
	return serverRoutes.Dispatch(context.Background(), s, i, route, req)
}

func checkBadRequest(t *testing.T, err error, route, what string) {
	t.Helper()
	var e *rsrt.Error
	if !errors.As(err, &e) {
		t.Fatalf("adapter error %T %v, want *rsrt.Error", err, err)
	}
	if e.Code != core.ErrorCodeApplicationError {
		t.Fatalf("adapter error code %v, want APPLICATION_ERROR", e.Code)
	}
	prefix := "route " + route + ": invalid " + what + ": "
	if !strings.HasPrefix(e.Message, prefix) || len(e.Message) == len(prefix) {
		t.Fatalf("adapter error %q, want %q followed by the reason", e.Message, prefix)
	}
}

// checkKeys re-encodes v and fails if the JSON has a key outside allowed,
// or if it does not decode back to the same value.
func checkKeys[T any](t *testing.T, v T, allowed []string) {
	t.Helper()
	p, err := rsrt.EncodeJSON(v)
	if err != nil {
		t.Fatalf("accepted value %+v does not re-encode: %v", v, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p.Data, &obj); err != nil {
		t.Fatalf("re-encoding %s is not a JSON object: %v", p.Data, err)
	}
	for k := range obj {
		if !slices.Contains(allowed, k) {
			t.Fatalf("re-encoding %s has key %q, the contract allows only %v", p.Data, k, allowed)
		}
	}
	back, err := rsrt.DecodeJSON[T](&p)
	if err != nil {
		t.Fatalf("re-encoding %s is refused by the decoder: %v", p.Data, err)
	}
	// Compared as JSON: an empty list and an absent one both encode as
	// an absent key, and mean the same to the contract.
	again, err := rsrt.EncodeJSON(back)
	if err != nil || !bytes.Equal(again.Data, p.Data) {
		t.Fatalf("re-encoding %s decodes and re-encodes to %s (%v)", p.Data, again.Data, err)
	}
}

// checkStrings fails if a string field of an accepted value is not UTF-8.
func checkStrings(t *testing.T, ss ...*string) {
	t.Helper()
	for _, s := range ss {
		if s != nil && !utf8.ValidString(*s) {
			t.Fatalf("accepted string %q is not valid UTF-8", *s)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := rsrt.DecodeJSON[Message](&rsrt.Payload{Data: data})
		r := &recorder{}
		_, aerr := serve(r, rsrt.RequestResponse, RouteMessage, &rsrt.Payload{Route: RouteMessage, Data: bytes.Clone(data)})
		if err != nil {
			checkRejected(t, err)
			checkBadRequest(t, aerr, RouteMessage, "request data")
			if r.calls != 0 {
				t.Fatal("the adapter called the server with a rejected message")
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted data that is not UTF-8: %q", data)
		}
		checkStrings(t, m.User, m.Content, m.Channel)
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted a message that breaks the schema's constraints: %v", err)
		}
		checkKeys(t, m, messageKeys)
		if aerr != nil || r.calls != 1 || !reflect.DeepEqual(r.msg, m) {
			t.Fatalf("adapter: err %v, %d calls, message %+v; want the decoded %+v", aerr, r.calls, r.msg, m)
		}
	})
}

func FuzzDecodeStatisticsRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := rsrt.DecodeJSON[ServerStatisticsRequest](&rsrt.Payload{Data: data})
		if err != nil {
			checkRejected(t, err)
			// The statistics channel reports an undecodable update as
			// a BadRequest of the route, as Inbound.Recv does.
			checkBadRequest(t, rsrt.BadRequest(RouteStatistics, "request data", err), RouteStatistics, "request data")
			return
		}
		for i := range v.IDs {
			checkStrings(t, &v.IDs[i])
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("accepted a request that breaks the schema's constraints: %v", err)
		}
		checkKeys(t, v, statisticsRequestKeys)
	})
}

func FuzzDecodeClientStatistics(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := rsrt.DecodeJSON[ClientStatistics](&rsrt.Payload{Data: data})
		r := &recorder{}
		_, aerr := serve(r, rsrt.FireAndForget, RouteStatistics, &rsrt.Payload{Route: RouteStatistics, Data: bytes.Clone(data)})
		if err != nil {
			checkRejected(t, err)
			checkBadRequest(t, aerr, RouteStatistics, "request data")
			if r.calls != 0 {
				t.Fatal("the adapter called the server with rejected statistics")
			}
			return
		}
		checkKeys(t, v, clientStatisticsKeys)
		if aerr != nil || r.calls != 1 || !reflect.DeepEqual(r.stats, v) {
			t.Fatalf("adapter: err %v, %d calls, %+v; want the decoded %+v", aerr, r.calls, r.stats, v)
		}
	})
}

func FuzzDecodeString(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := rsrt.DecodeString(&rsrt.Payload{Data: data})
		login := &recorder{}
		_, lerr := serve(login, rsrt.RequestResponse, RouteLogin, &rsrt.Payload{Route: RouteLogin, Data: bytes.Clone(data)})
		join := &recorder{}
		_, jerr := serve(join, rsrt.RequestResponse, RouteChannelJoin, &rsrt.Payload{Route: RouteChannelJoin, Data: bytes.Clone(data)})
		if utf8.Valid(data) != (err == nil) {
			t.Fatalf("DecodeString(%q): err %v, but utf8.Valid is %v", data, err, utf8.Valid(data))
		}
		if err != nil {
			checkRejected(t, err)
			checkBadRequest(t, lerr, RouteLogin, "request data")
			checkBadRequest(t, jerr, RouteChannelJoin, "request data")
			if login.calls+join.calls != 0 {
				t.Fatal("an adapter called the server with a rejected string")
			}
			return
		}
		if s != string(data) {
			t.Fatalf("DecodeString(%q) = %q: the text must come through unchanged", data, s)
		}
		if lerr != nil || jerr != nil || login.str != s || join.str != s {
			t.Fatalf("adapters: %v, %v, got %q and %q, want %q", lerr, jerr, login.str, join.str, s)
		}
	})
}

// FuzzFileNameMetadata parses untrusted composite metadata as the runtime
// does, then runs the file-name entry decoder and the file adapters on the
// entries.
func FuzzFileNameMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, metadata, data []byte) {
		route, entries, err := rsrt.ParseComposite(metadata)
		if err != nil {
			checkRejected(t, err)
			return
		}
		var want []byte
		found := false
		for _, e := range entries {
			if e.MIME == MIMEFileName {
				want, found = e.Data, true
				break
			}
		}
		name, err := fileNameEntry(entries)
		up := &recorder{}
		_, uerr := serve(up, rsrt.RequestResponse, RouteFileUpload, &rsrt.Payload{Route: route, Data: data, Metadata: entries})
		down := &recorder{}
		resp, derr := serve(down, rsrt.RequestResponse, RouteFileDownload, &rsrt.Payload{Route: route, Metadata: entries})
		if err != nil {
			checkRejected(t, err)
			if found && utf8.Valid(want) && validFileNameEntry(string(want)) == nil {
				t.Fatalf("file name entry %q refused: %v", want, err)
			}
			checkBadRequest(t, uerr, RouteFileUpload, "request metadata")
			checkBadRequest(t, derr, RouteFileDownload, "request metadata")
			if up.calls+down.calls != 0 {
				t.Fatal("an adapter called the server without a valid file name")
			}
			return
		}
		if !found || name != string(want) || !utf8.ValidString(name) {
			t.Fatalf("file name %q accepted; the entry is %q (present: %v)", name, want, found)
		}
		if err := validFileNameEntry(name); err != nil {
			t.Fatalf("file name %q accepted; it breaks the schema's constraints: %v", name, err)
		}
		if uerr != nil || up.fileName != name || !bytes.Equal(up.data, data) {
			t.Fatalf("upload adapter: %v, name %q, %d bytes; want %q and %d bytes", uerr, up.fileName, len(up.data), name, len(data))
		}
		if derr != nil || down.fileName != name {
			t.Fatalf("download adapter: %v, name %q; want %q", derr, down.fileName, name)
		}
		// The response metadata must carry the same name, and decode back.
		back, err := decodeFileDownloadResponse(&resp)
		if err != nil || back.FileName != name || string(back.Data) != "content" {
			t.Fatalf("download response %+v decodes to %+v, %v", resp, back, err)
		}
		enc, err := rsrt.EncodeComposite("", resp.Metadata)
		if err != nil {
			t.Fatalf("download response metadata does not encode: %v", err)
		}
		if _, again, err := rsrt.ParseComposite(enc); err != nil || !reflect.DeepEqual(again, resp.Metadata) {
			t.Fatalf("download response metadata %x parses back to %+v, %v", enc, again, err)
		}
	})
}
