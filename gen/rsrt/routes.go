package rsrt

import (
	"context"
	"fmt"
	"maps"
	"strings"
)

func interactionString(i Interaction) string {
	switch i {
	case RequestResponse:
		return "request-response"
	case FireAndForget:
		return "fire-and-forget"
	case RequestStream:
		return "request-stream"
	case RequestChannel:
		return "request-channel"
	case MetadataPush:
		return "metadata-push"
	}
	return "unknown"
}

// ParseInteraction parses the schema spelling of an interaction, such as
// "request-stream".
func ParseInteraction(s string) (Interaction, bool) {
	for i := RequestResponse; i <= MetadataPush; i++ {
		if interactionString(i) == s {
			return i, true
		}
	}
	return 0, false
}

// handler holds the one function of a route, by interaction.
type handler[S any] struct {
	rr  func(ctx context.Context, s S, req *Payload) (Payload, error)
	fnf func(ctx context.Context, s S, req *Payload) error
	rs  func(ctx context.Context, s S, req *Payload, out Stream) error
	rc  func(ctx context.Context, s S, st Stream) error
	mp  func(ctx context.Context, s S, req *Payload) error
}

// routeKey is the dispatch key: one route name may serve several
// interactions (the chat's "statistics" is both fire-and-forget and
// request-channel).
type routeKey struct {
	i     Interaction
	route string
}

// route is one registered (interaction, route) pair.
type route[S any] struct {
	name         string
	initialEmpty bool
	inline       bool // a request-response handler run on the read loop (WithInline)
	h            handler[S]
}

func (t *Routes[S]) add(i Interaction, name string, initialEmpty bool, h handler[S]) {
	k := routeKey{i, name}
	if _, dup := t.m[k]; dup {
		// Generated code registers each pair once; a duplicate is a
		// generator bug that must not silently shadow a handler.
		panic(fmt.Sprintf("rsrt: %s route %q registered twice", i, name))
	}
	t.m[k] = &route[S]{name: name, initialEmpty: initialEmpty, h: h}
	t.names[name] = append(t.names[name], i)
	t.decls = append(t.decls, Declaration{Interaction: i, Route: name})
}

// lookup finds the route for a request. The name is a view of a library
// buffer; the map lookup does not keep it.
func (t *Routes[S]) lookup(i Interaction, name []byte) (*route[S], error) {
	if r := t.m[routeKey{i, string(name)}]; r != nil {
		return r, nil
	}
	return nil, t.missing(i, string(name))
}

// withInline returns t, or a copy of it whose request-response routes
// named run their handlers on the read loop (WithInline). It panics on a
// name that is not a request-response route of t: a mistake in the
// server's code, like registering a route twice.
func (t *Routes[S]) withInline(names []string) *Routes[S] {
	if len(names) == 0 {
		return t
	}
	c := &Routes[S]{m: maps.Clone(t.m), names: t.names, decls: t.decls}
	for _, name := range names {
		k := routeKey{RequestResponse, name}
		rt := c.m[k]
		if rt == nil {
			panic("rsrt: WithInline: " + t.missing(RequestResponse, name).Message)
		}
		inline := *rt
		inline.inline = true
		c.m[k] = &inline
	}
	return c
}

// Dispatch runs the handler of the request-response, fire-and-forget or
// metadata-push route (interaction i) of the table with s, on the calling
// goroutine, as a connection would for req, minus the connection: no
// interceptors, no deadline, no panic recovery. It returns the answer of a
// request-response (the zero Payload for the others) and the error the
// peer would get. It is for tests of generated packages and in-process
// calls; an unknown route is an *Error, as on the wire.
func (t *Routes[S]) Dispatch(ctx context.Context, s S, i Interaction, route string, req *Payload) (Payload, error) {
	rt := t.m[routeKey{i, route}]
	if rt == nil {
		return Payload{}, t.missing(i, route)
	}
	switch {
	case rt.h.rr != nil:
		return rt.h.rr(ctx, s, req)
	case rt.h.fnf != nil:
		return Payload{}, rt.h.fnf(ctx, s, req)
	case rt.h.mp != nil:
		return Payload{}, rt.h.mp(ctx, s, req)
	}
	return Payload{}, NewError("route %q: %s cannot be dispatched without a connection", route, i)
}

// missing returns the APPLICATION_ERROR for a route the table lacks, saying
// which interactions the route does support when it exists.
func (t *Routes[S]) missing(i Interaction, name string) *Error {
	if others := t.names[name]; len(others) > 0 {
		names := make([]string, len(others))
		for j, o := range others {
			names[j] = o.String()
		}
		return NewError("route %q does not support %s (it supports %s)", name, i, strings.Join(names, ", "))
	}
	return NewError("unknown route %q", name)
}

// encodeDeclarations renders the MIMEClientRoutes entry: one
// "interaction route" pair per line.
func encodeDeclarations(decls []Declaration) []byte {
	var b strings.Builder
	for _, d := range decls {
		b.WriteString(d.Interaction.String())
		b.WriteByte(' ')
		b.WriteString(d.Route)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// parseDeclarations reads a MIMEClientRoutes entry. Lines it cannot read
// are ignored: the declaration only ever enables calls, so a bad line can
// only make the server call less.
func parseDeclarations(b []byte) map[routeKey]struct{} {
	out := make(map[routeKey]struct{})
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		is, name, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		i, ok := ParseInteraction(is)
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			continue
		}
		out[routeKey{i, name}] = struct{}{}
	}
	return out
}
