package server_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rsocket/rsocket-go"

	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// dialWSOrigin connects an rsocket-go client over WebSocket, sending
// origin in the Origin header when it is not empty.
func dialWSOrigin(t *testing.T, url, origin string) rsocket.Client {
	t.Helper()
	b := rsocket.WebsocketClient().SetURL(url)
	if origin != "" {
		b = b.SetHeader(http.Header{"Origin": {origin}})
	}
	return dialStarter(t, client().Transport(b.Build()))
}

// refusedUpgrade tries a WebSocket upgrade with origin and returns the
// HTTP status and body of the refusal; it fails the test if the upgrade
// succeeds.
func refusedUpgrade(t *testing.T, url, origin string) (int, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(url, http.Header{"Origin": {origin}})
	if err == nil {
		ws.Close()
		t.Fatalf("upgrade with Origin %q accepted", origin)
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("upgrade with Origin %q: %v, not an HTTP refusal", origin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestOriginPolicyOverWebSocket(t *testing.T) {
	allowed, err := guard.NewOriginPolicy("https://chat.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		policy  guard.OriginPolicy
		allowed string // an extra origin the policy accepts, if any
	}{
		{"default policy", guard.OriginPolicy{}, ""},
		{"with an allowed origin", allowed, "https://chat.example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := start(t, newResponder(), server.Config{Origins: c.policy})
			url := run.wsURL()
			host := run.srv.WSAddr().String()
			accepted := map[string]string{
				"no Origin (a native client)": "",
				"the server's own origin":     "http://" + host,
			}
			if c.allowed != "" {
				accepted["the allowed origin"] = c.allowed
			}
			for what, origin := range accepted {
				got, err := requestResponse(dialWSOrigin(t, url, origin), "ping")
				if err != nil || got != "echo:ping" {
					t.Errorf("%s: %q, %v", what, got, err)
				}
			}
			foreign := []string{"https://evil.example", "null", "http://" + strings.Replace(host, "127.0.0.1", "localhost", 1)}
			if c.allowed == "" {
				foreign = append(foreign, "https://chat.example.com")
			}
			for _, origin := range foreign {
				code, body := refusedUpgrade(t, url, origin)
				if code != http.StatusForbidden || !strings.Contains(body, "refused") || !strings.Contains(body, origin) {
					t.Errorf("Origin %q: HTTP %d %q, want 403 with the reason", origin, code, body)
				}
			}
			if got := run.srv.Stats().RefusedOrigins; got != int64(len(foreign)) {
				t.Errorf("RefusedOrigins = %d, want %d", got, len(foreign))
			}
			// A refused page does not disturb anyone.
			run.checkServes(t)
		})
	}
}

func TestHTTPHandlerServesPlainRequests(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "page at "+r.URL.Path)
	})
	run := start(t, newResponder(), server.Config{HTTPHandler: page})
	base := "http://" + run.srv.WSAddr().String()
	for _, path := range []string{"/", "/chat", "/assets/app.js"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "page at "+path {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	// Upgrades still work, on any path: the tutorial's step 8 client
	// dials ws://host:port/chat.
	for _, path := range []string{"/", "/chat"} {
		url := "ws://" + run.srv.WSAddr().String() + path
		got, err := requestResponse(dialWS(t, url), "ping")
		if err != nil || got != "echo:ping" {
			t.Errorf("WebSocket on %s: %q, %v", path, got, err)
		}
	}
}

func TestNoHTTPHandler(t *testing.T) {
	run := start(t, newResponder(), server.Config{})
	resp, err := http.Get("http://" + run.srv.WSAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET without a handler: %d, want 400 (not a WebSocket handshake)", resp.StatusCode)
	}
}
