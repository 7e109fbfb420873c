package guard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// OriginPolicy decides which web pages may open a WebSocket connection.
//
// A browser sends the Origin of the page that opens a WebSocket and lets
// any page open one to any server, with the user's cookies and network
// position: without a check, every site a user visits could talk to the
// server in their name. Native clients (the tutorial's Python clients,
// rsocket-js on Node.js, the Go client) send no Origin and are not
// concerned. An upgrade is accepted when it has no Origin header, when its
// Origin's host is the request's Host (the server's own page), or when its
// Origin is one of the policy's allowed origins.
//
// The zero value allows same-origin pages and native clients only. Build
// one with [NewOriginPolicy]; it is a value, safe to copy and share.
type OriginPolicy struct {
	// allowed are the normalised extra origins, sorted.
	allowed []string
	// any accepts every origin ("*").
	any bool
}

// NewOriginPolicy returns the policy that also allows the given origins,
// each a scheme and host ("https://chat.example.com", "http://localhost:8080";
// a default port is dropped, case does not matter), or "*" for every
// origin, which turns the check off: only for development.
func NewOriginPolicy(origins ...string) (OriginPolicy, error) {
	var p OriginPolicy
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		n, err := normaliseOrigin(o)
		if err != nil {
			return OriginPolicy{}, err
		}
		if !slices.Contains(p.allowed, n) {
			p.allowed = append(p.allowed, n)
		}
	}
	slices.Sort(p.allowed)
	return p, nil
}

// Allowed returns the extra origins the policy allows, normalised and
// sorted, with "*" first when it allows every origin.
func (p OriginPolicy) Allowed() []string {
	out := make([]string, 0, len(p.allowed)+1)
	if p.any {
		out = append(out, "*")
	}
	return append(out, p.allowed...)
}

// OriginError is the refusal of a WebSocket upgrade by an [OriginPolicy].
type OriginError struct {
	// Origin is the refused Origin header, as sent.
	Origin string
	// Reason says why, in words a developer can act on.
	Reason string
}

// Error returns the reason with the origin.
func (e *OriginError) Error() string {
	return fmt.Sprintf("WebSocket origin %q refused: %s", e.Origin, e.Reason)
}

// Check returns nil when the policy accepts the upgrade request r, or an
// *OriginError saying why not.
func (p OriginPolicy) Check(r *http.Request) error {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return nil // not a browser
	}
	origin := values[0]
	if len(values) > 1 {
		return &OriginError{Origin: origin, Reason: "more than one Origin header"}
	}
	if p.any {
		return nil
	}
	n, err := normaliseOrigin(origin)
	if err != nil {
		// "null" (a sandboxed frame, a file: page) lands here too.
		return &OriginError{Origin: origin, Reason: "not a web origin"}
	}
	u, _ := url.Parse(n) // normalised: parses
	if strings.EqualFold(u.Host, stripDefaultPort(u.Scheme, r.Host)) {
		return nil
	}
	if _, ok := slices.BinarySearch(p.allowed, n); ok {
		return nil
	}
	return &OriginError{Origin: origin, Reason: fmt.Sprintf("neither the server's own origin (host %q) nor one its origin policy allows", r.Host)}
}

// normaliseOrigin returns scheme://host[:port] in lower case, without a
// default port, or an error for anything that is not an origin.
func normaliseOrigin(o string) (string, error) {
	if o == "" {
		return "", errors.New("empty origin")
	}
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", o, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("origin %q: the scheme must be http or https", o)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("origin %q: no host", o)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("origin %q: an origin is a scheme and a host (and port), nothing more", o)
	}
	return scheme + "://" + stripDefaultPort(scheme, strings.ToLower(u.Host)), nil
}

// stripDefaultPort drops the scheme's default port from host, as browsers
// do in the Origin header.
func stripDefaultPort(scheme, host string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}
