package gen

import (
	"strings"
	"testing"
)

// diffBase is the old schema of every case of TestDiff. Req is only ever
// sent by clients (the request of send), Resp only by servers (the
// response of feed), Ask only by servers (the request of the client route
// ping), so that each direction of each kind of change is seen.
const diffBase = `package: demo
types:
  Req:
    fields:
      text: {type: string}
      tag: {type: string, optional: true}
      count: {type: integer}
      ratio: {type: number}
      tags: {type: [string]}
      point: {type: Point, optional: true}
  Point:
    fields:
      x: {type: integer}
  Resp:
    fields:
      id: {type: string}
  Ask:
    fields:
      q: {type: string}
metadata:
  trace: {mime: demo/trace, type: string, optional: true}
  name: {mime: demo/name, type: string}
routes:
  - route: send
    interaction: request-response
    request: Req
  - route: feed
    interaction: request-stream
    response: Resp
  - route: get
    interaction: request-response
    go: Fetch
    request_metadata: [name]
    response: bytes
  - route: push
    interaction: fire-and-forget
    request: string
    request_metadata: [trace]
  - route: chat
    interaction: request-channel
    request: string
    response: string
client_routes:
  - route: ping
    interaction: request-response
    request: Ask
    response: string
`

// TestDiff is the table of schema changes and their verdicts: each case
// edits diffBase (every occurrence of from becomes to) and lists the
// lines rsgen diff prints, breaking changes first.
func TestDiff(t *testing.T) {
	for _, c := range []struct {
		name, from, to string
		want           []string
	}{
		{"unchanged", "", "", nil},
		{"doc only", "  Point:\n", "  Point:\n    doc: A point.\n", nil},
		{"package renamed", "package: demo", "package: demo2", []string{
			`compatible: package: renamed from demo to demo2 (Go API only)`}},

		// Routes.
		{"route removed", "  - route: send\n    interaction: request-response\n    request: Req\n", "", []string{
			`breaks clients: route "send" (request-response): removed: existing clients calling it get an error`}},
		{"route added", "\nroutes:\n", "\nroutes:\n  - route: extra\n    interaction: request-response\n", []string{
			`compatible: route "extra" (request-response): added`}},
		{"interaction changed", "interaction: fire-and-forget", "interaction: request-response", []string{
			`breaks clients and servers: route "push" (fire-and-forget): interaction changed from fire-and-forget to request-response: each side's peers call and serve the other`}},
		{"route renamed, method kept", "route: get\n", "route: fetch\n", []string{
			`breaks clients and servers: route "get" (request-response): renamed to "fetch" (method Fetch kept): each side's peers call and serve the other name`}},
		{"route renamed", "route: push\n", "route: shove\n", []string{
			`breaks clients: route "push" (fire-and-forget): removed: existing clients calling it get an error`,
			`compatible: route "shove" (fire-and-forget): added`}},
		{"method renamed", "    go: Fetch\n", "    go: Obtain\n", []string{
			`compatible: route "get" (request-response): method renamed from Fetch to Obtain (Go API only)`}},
		{"initial empty added", "interaction: request-channel\n", "interaction: request-channel\n    initial: empty\n", []string{
			`breaks clients and servers: route "chat" (request-channel): initial: empty added: the first request item moves between the REQUEST_CHANNEL frame and the next payload`}},

		// Payload kinds: a request flows from client to server, a response
		// back.
		{"request string to bytes", "    request: string\n    response: string\n", "    request: bytes\n    response: string\n", []string{
			`breaks servers: route "chat" (request-channel): request: changed from string to bytes: existing receivers reject data that is not UTF-8`}},
		{"response bytes to string", "response: bytes", "response: string", []string{
			`breaks servers: route "get" (request-response): response: changed from bytes to string: new receivers reject data that is not UTF-8`}},
		{"request empty to string", "    interaction: request-stream\n", "    interaction: request-stream\n    request: string\n", []string{
			`breaks clients: route "feed" (request-stream): request: changed from empty to string: existing senders send no data`}},
		{"response string to empty", "    request: string\n    response: string\n", "    request: string\n", []string{
			`breaks clients: route "chat" (request-channel): response: changed from string to empty: existing receivers get no data`}},
		{"request object to string", "    request: Req\n", "    request: string\n", []string{
			`breaks clients and servers: route "send" (request-response): request: changed from Req to string`}},
		{"request type renamed", "Req", "Request", []string{
			`compatible: route "send" (request-response): request: type Req is now Request (Go API only; the fields are compared)`}},

		// Fields of a type only clients send.
		{"request: optional field added", "      tag: {type: string, optional: true}\n", "      tag: {type: string, optional: true}\n      extra: {type: string, optional: true}\n", []string{
			`breaks servers: type "Req": field "extra": optional field added: existing receivers reject the key when a new sender sets it (via route "send" (request-response) request)`}},
		{"request: required field added", "      tag: {type: string, optional: true}\n", "      tag: {type: string, optional: true}\n      extra: {type: string}\n", []string{
			`breaks clients and servers: type "Req": field "extra": required field added: existing senders leave it out, existing receivers reject the key (via route "send" (request-response) request)`}},
		{"request: optional field removed", "      tag: {type: string, optional: true}\n", "", []string{
			`breaks clients: type "Req": field "tag": optional field removed: new receivers reject the key that existing senders set (via route "send" (request-response) request)`}},
		{"request: required field removed", "      text: {type: string}\n", "", []string{
			`breaks clients and servers: type "Req": field "text": required field removed: new receivers reject the key that existing senders send, existing receivers refuse values without it (via route "send" (request-response) request)`}},
		{"request: optional to required", "tag: {type: string, optional: true}", "tag: {type: string}", []string{
			`breaks clients: type "Req": field "tag": optional to required: existing senders leave it out, new receivers refuse values without it (via route "send" (request-response) request)`}},
		{"request: required to optional", "text: {type: string}", "text: {type: string, optional: true}", []string{
			`breaks servers: type "Req": field "text": required to optional: new senders leave it out, existing receivers refuse values without it (via route "send" (request-response) request)`}},
		{"request: integer to number", "count: {type: integer}", "count: {type: number}", []string{
			`breaks servers: type "Req": field "count": integer to number: existing receivers reject a fraction (via route "send" (request-response) request)`}},
		{"request: number to integer", "ratio: {type: number}", "ratio: {type: integer}", []string{
			`breaks clients: type "Req": field "ratio": number to integer: new receivers reject a fraction (via route "send" (request-response) request)`}},
		{"request: type changed", "text: {type: string}", "text: {type: boolean}", []string{
			`breaks clients and servers: type "Req": field "text": type changed from string to boolean (via route "send" (request-response) request)`}},
		{"request: list item type changed", "tags: {type: [string]}", "tags: {type: [integer]}", []string{
			`breaks clients and servers: type "Req": field "tags": type changed from string to integer (via route "send" (request-response) request)`}},
		{"request: nested type's field removed", "    fields:\n      x: {type: integer}\n", "    fields: {}\n", []string{
			`breaks clients and servers: type "Point": field "x": required field removed: new receivers reject the key that existing senders send, existing receivers refuse values without it (via route "send" (request-response) request)`}},

		// Fields of a type only servers send: the same changes break the
		// other party.
		{"response: optional field added", "      id: {type: string}\n", "      id: {type: string}\n      extra: {type: string, optional: true}\n", []string{
			`breaks clients: type "Resp": field "extra": optional field added: existing receivers reject the key when a new sender sets it (via route "feed" (request-stream) response)`}},
		{"response: optional to required", "id: {type: string}", "id: {type: string, optional: true}", []string{
			`breaks clients: type "Resp": field "id": required to optional: new senders leave it out, existing receivers refuse values without it (via route "feed" (request-stream) response)`}},

		// Client routes: the server calls, the client serves.
		{"client route: request optional field added", "      q: {type: string}\n", "      q: {type: string}\n      extra: {type: string, optional: true}\n", []string{
			`breaks clients: type "Ask": field "extra": optional field added: existing receivers reject the key when a new sender sets it (via client route "ping" (request-response) request)`}},
		{"client route removed", "client_routes:\n  - route: ping\n    interaction: request-response\n    request: Ask\n    response: string\n", "", []string{
			`breaks servers: client route "ping" (request-response): removed: existing servers calling it get an UndeclaredRouteError, since new clients do not declare it`}},
		{"client route added", "client_routes:\n", "client_routes:\n  - route: time\n    interaction: request-response\n", []string{
			`compatible: client route "time" (request-response): added`}},
		{"client route response changed", "    request: Ask\n    response: string\n", "    request: Ask\n    response: bytes\n", []string{
			`breaks servers: client route "ping" (request-response): response: changed from string to bytes: existing receivers reject data that is not UTF-8`}},

		// Metadata entries.
		{"optional entry added", "request_metadata: [name]", "request_metadata: [name, trace]", []string{
			`compatible: route "get" (request-response): request metadata: entry demo/trace: optional entry added: existing receivers ignore it`}},
		{"required entry added", "request_metadata: [trace]", "request_metadata: [trace, name]", []string{
			`breaks clients: route "push" (fire-and-forget): request metadata: entry demo/name: required entry added: existing senders leave it out`}},
		{"required entry removed", "    request_metadata: [name]\n", "", []string{
			`breaks servers: route "get" (request-response): request metadata: entry demo/name: required entry removed: existing receivers reject a payload without it`}},
		{"entry required to optional", "name: {mime: demo/name, type: string}", "name: {mime: demo/name, type: string, optional: true}", []string{
			`breaks servers: route "get" (request-response): request metadata: entry demo/name: required to optional: existing receivers reject a payload without it`}},
		{"optional entries added", "request_metadata: [name]", "request_metadata: [name, trace]\n    response_metadata: [trace]", []string{
			`compatible: route "get" (request-response): request metadata: entry demo/trace: optional entry added: existing receivers ignore it`,
			`compatible: route "get" (request-response): response metadata: entry demo/trace: optional entry added: existing receivers ignore it`}},
		{"response entry added, required", "  trace: {mime: demo/trace, type: string, optional: true}\n  name: {mime: demo/name, type: string}\nroutes:\n  - route: send\n    interaction: request-response\n    request: Req\n  - route: feed\n    interaction: request-stream\n    response: Resp\n  - route: get\n    interaction: request-response\n    go: Fetch\n    request_metadata: [name]",
			"  trace: {mime: demo/trace, type: string}\n  name: {mime: demo/name, type: string}\nroutes:\n  - route: send\n    interaction: request-response\n    request: Req\n  - route: feed\n    interaction: request-stream\n    response: Resp\n  - route: get\n    interaction: request-response\n    go: Fetch\n    request_metadata: [name]\n    response_metadata: [trace]", []string{
				`breaks servers: route "get" (request-response): response metadata: entry demo/trace: required entry added: existing senders leave it out`,
				`breaks clients: route "push" (fire-and-forget): request metadata: entry demo/trace: optional to required: existing senders may leave it out`}},
		{"optional entry removed", "    request_metadata: [trace]\n", "", []string{
			`compatible: route "push" (fire-and-forget): request metadata: entry demo/trace: optional entry removed`}},
		{"entry optional to required", "trace: {mime: demo/trace, type: string, optional: true}", "trace: {mime: demo/trace, type: string}", []string{
			`breaks clients: route "push" (fire-and-forget): request metadata: entry demo/trace: optional to required: existing senders may leave it out`}},
		{"entry MIME type changed", "mime: demo/name", "mime: demo/name2", []string{
			`breaks clients and servers: route "get" (request-response): request metadata: entry name: MIME type changed from demo/name to demo/name2: each side's peers look for the other`}},
		{"entry string to bytes", "name: {mime: demo/name, type: string}", "name: {mime: demo/name, type: bytes}", []string{
			`breaks servers: route "get" (request-response): request metadata: entry demo/name: string to bytes: existing receivers reject a value that is not UTF-8`}},
		{"entry renamed", "  name: {mime: demo/name, type: string}\nroutes:\n  - route: send\n    interaction: request-response\n    request: Req\n  - route: feed\n    interaction: request-stream\n    response: Resp\n  - route: get\n    interaction: request-response\n    go: Fetch\n    request_metadata: [name]",
			"  label: {mime: demo/name, type: string}\nroutes:\n  - route: send\n    interaction: request-response\n    request: Req\n  - route: feed\n    interaction: request-stream\n    response: Resp\n  - route: get\n    interaction: request-response\n    go: Fetch\n    request_metadata: [label]", []string{
				`compatible: route "get" (request-response): request metadata: entry demo/name: renamed from name to label (Go API only)`}},
		{"response entry added, required", "    response: bytes\n", "    response: bytes\n    response_metadata: [name]\n", []string{
			`breaks servers: route "get" (request-response): response metadata: entry demo/name: required entry added: existing senders leave it out`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			newSrc := diffBase
			if c.from != "" {
				if !strings.Contains(diffBase, c.from) {
					t.Fatalf("the base schema lacks %q", c.from)
				}
				newSrc = strings.ReplaceAll(diffBase, c.from, c.to)
			}
			old, err := Parse("old.yaml", []byte(diffBase))
			if err != nil {
				t.Fatal(err)
			}
			new, err := Parse("new.yaml", []byte(newSrc))
			if err != nil {
				t.Fatalf("the edited schema is invalid: %v\n%s", err, newSrc)
			}
			var got []string
			for _, ch := range Diff(old, new) {
				got = append(got, ch.String())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}
