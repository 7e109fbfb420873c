package guard

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestNewOriginPolicy(t *testing.T) {
	p, err := NewOriginPolicy("https://Chat.Example.com:443", "http://localhost:8080/", "*", "https://chat.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Allowed(), []string{"*", "http://localhost:8080", "https://chat.example.com"}; !slices.Equal(got, want) {
		t.Errorf("Allowed() = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "chat.example.com", "ftp://chat.example.com", "https://", "https://chat.example.com/path",
		"https://u:p@chat.example.com", "https://chat.example.com?q", "null", "https://:443"} {
		if _, err := NewOriginPolicy(bad); err == nil {
			t.Errorf("NewOriginPolicy(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "origin") {
			t.Errorf("NewOriginPolicy(%q): %v does not say it is about the origin", bad, err)
		}
	}
}

func TestOriginPolicyCheck(t *testing.T) {
	allow, err := NewOriginPolicy("https://chat.example.com", "http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	anyOrigin, err := NewOriginPolicy("*")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		policy  OriginPolicy
		host    string
		origins []string
		ok      bool
	}{
		{"no origin: a native client", OriginPolicy{}, "127.0.0.1:6566", nil, true},
		{"the server's own page", OriginPolicy{}, "127.0.0.1:6566", []string{"http://127.0.0.1:6566"}, true},
		{"own page, case differs", OriginPolicy{}, "Chat.Example.com", []string{"https://chat.example.COM"}, true},
		{"own page behind https, default port in Host", OriginPolicy{}, "chat.example.com:443", []string{"https://chat.example.com"}, true},
		{"same host, other port", OriginPolicy{}, "127.0.0.1:6566", []string{"http://127.0.0.1:6567"}, false},
		{"foreign", OriginPolicy{}, "127.0.0.1:6566", []string{"https://evil.example"}, false},
		{"null origin", OriginPolicy{}, "127.0.0.1:6566", []string{"null"}, false},
		{"not a web origin", OriginPolicy{}, "127.0.0.1:6566", []string{"chrome-extension://abc"}, false},
		{"two Origin headers", OriginPolicy{}, "127.0.0.1:6566", []string{"http://127.0.0.1:6566", "https://evil.example"}, false},
		{"allowed", allow, "127.0.0.1:6566", []string{"https://chat.example.com"}, true},
		{"allowed, default port", allow, "127.0.0.1:6566", []string{"https://chat.example.com:443"}, true},
		{"allowed with port", allow, "127.0.0.1:6566", []string{"http://localhost:8080"}, true},
		{"allowed host, other scheme", allow, "127.0.0.1:6566", []string{"http://chat.example.com"}, false},
		{"not in the list", allow, "127.0.0.1:6566", []string{"https://evil.example"}, false},
		{"any", anyOrigin, "127.0.0.1:6566", []string{"https://evil.example"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://"+c.host+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range c.origins {
				r.Header.Add("Origin", o)
			}
			err = c.policy.Check(r)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var oe *OriginError
			if !errors.As(err, &oe) {
				t.Fatalf("accepted (err %v)", err)
			}
			if oe.Origin != c.origins[0] || oe.Reason == "" || !strings.Contains(err.Error(), c.origins[0]) {
				t.Errorf("error %+v does not name the origin and a reason", oe)
			}
		})
	}
}
