// Package chatweb is the chat's browser page: the HTML of web/index.html
// and the assets that impl/chatweb/bundle builds from web/app.ts (on the
// generated TypeScript client) and web/app.css into dist/, embedded in
// the binary, so that chat-server serves the page with no Node.js at run
// time. `make generate` rebuilds dist/ and CI checks it is up to date.
//
// [Handler] serves the page on the chat server's WebSocket port (see
// chatserver.Config.Page), with a Content-Security-Policy that lets it
// load only its own script and style and connect only to its own
// server's WebSocket.
package chatweb

//go:generate go run ./bundle -root ../.. -out impl/chatweb/dist

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"
)

//go:embed web/index.html web/favicon.svg dist/app.js dist/app.css
var files embed.FS

// asset is one file the page is made of.
type asset struct {
	body        []byte
	contentType string
	etag        string
	// gzipped is body compressed once, at start-up (the script shrinks
	// from 124 KB to 31 KB); nil when compressing does not pay.
	gzipped []byte
}

// assets are the page's files by URL path.
var assets = map[string]asset{
	"/":        load("web/index.html", "text/html; charset=utf-8"),
	"/app.js":  load("dist/app.js", "text/javascript; charset=utf-8"),
	"/app.css": load("dist/app.css", "text/css; charset=utf-8"),
	// Named by the page, so that browsers do not ask for /favicon.ico.
	"/favicon.svg": load("web/favicon.svg", "image/svg+xml"),
}

func load(name, contentType string) asset {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("chatweb: embedded file missing: " + name) // the go:embed line lists them
	}
	sum := sha256.Sum256(b)
	a := asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // the level is valid
	_, _ = w.Write(b)                                     // a bytes.Buffer does not fail
	_ = w.Close()
	if z.Len() < len(b)*9/10 {
		a.gzipped = z.Bytes()
	}
	return a
}

// acceptsGzip reports whether the Accept-Encoding header of r lists gzip
// with a non-zero quality.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			if q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000" {
				return true
			}
		}
	}
	return false
}

// hostPattern is what a Host header may contain to be named in the
// Content-Security-Policy: a name or address and a port, nothing that
// could end the directive (";", ",", spaces, quotes).
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// csp is the page's Content-Security-Policy for a request to host: its
// own script and style only, no inline code, no frames, and connections
// to its own origin, whose WebSocket is named explicitly (ws: and wss:)
// for browsers that do not yet count it as 'self'.
func csp(host string) string {
	connect := "'self'"
	if hostPattern.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src " + connect +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// Handler serves the page: GET or HEAD of / (or /index.html), /app.js,
// /app.css and /favicon.svg; anything else is 404, other methods 405. Every answer
// carries the security headers; assets are revalidated by ETag, so a new
// server version is picked up at once, and sent gzipped to browsers that
// accept it.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp(r.Host))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		path := r.URL.Path
		if path == "/index.html" {
			path = "/"
		}
		a, ok := assets[path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		body, etag := a.body, a.etag
		if a.gzipped != nil {
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				// Another representation: another ETag.
				body, etag = a.gzipped, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
