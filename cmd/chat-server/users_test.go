package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// `chat-server users` fills the database that --auth serves: a password
// read from standard input and a bearer token printed once.
func TestUsersAndAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	noEnv := env(nil)
	var out, errOut syncbuf.Buffer
	if err := users([]string{"add", "--auth", path, "alice"}, noEnv, strings.NewReader("wonderland\n"), &out, &errOut); err != nil {
		t.Fatalf("users add: %v (%s)", err, errOut.String())
	}
	if err := users([]string{"token", "alice"}, env(map[string]string{"CHAT_AUTH": path}), strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("users token: %v", err)
	}
	token := strings.TrimSpace(out.String())
	if len(token) != 64 {
		t.Fatalf("token %q, want 64 hex digits", token)
	}
	for _, bad := range [][]string{{}, {"remove", "alice"}, {"add"}, {"add", "a", "b"}} {
		if err := users(append(bad, "--auth", path), noEnv, strings.NewReader("pw\n"), &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("users %q: %v, want a usage error", bad, err)
		}
	}
	if err := users([]string{"add", "bob"}, noEnv, strings.NewReader("pw\n"), &out, &errOut); err == nil || !strings.Contains(err.Error(), "--auth") {
		t.Errorf("users add without a database: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--tcp-addr=127.0.0.1:0", "--ws-addr=127.0.0.1:0", "--auth", path},
			env(map[string]string{"CHAT_DATA_DIR": t.TempDir()}), &stdout, &stderr)
	}()
	tcp, _ := addrs(t, &stdout)
	dctx, dcancel := context.WithTimeout(ctx, wait)
	defer dcancel()
	if c, err := chat.Dial(dctx, tcp); err == nil {
		c.Close()
		t.Error("connected without credentials")
	}
	for _, cred := range []rsrt.Credentials{rsrt.SimpleAuth("alice", "wonderland"), rsrt.BearerAuth(token)} {
		c, err := chat.Dial(dctx, tcp, rsrt.WithAuthentication(cred))
		if err != nil {
			t.Fatalf("dial with %v: %v", cred, err)
		}
		if _, err := c.Login(dctx, "alice"); err != nil {
			t.Errorf("login with %v: %v", cred, err)
		}
		c.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
