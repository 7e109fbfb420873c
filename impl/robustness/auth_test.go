package robustness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rsocket/rsocket-go/core"
	"golang.org/x/crypto/bcrypt"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatauth"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
)

// authServer starts a chat server on TCP and WebSocket that requires
// authentication: alice and bob have passwords, and alice a bearer token.
func authServer(t *testing.T) (srv *server, aliceToken string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	var content string
	for _, u := range []struct{ name, password string }{{"alice", "wonderland"}, {"bob", "builder"}} {
		// bcrypt's lowest cost: the race detector makes bcrypt slow.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		chattest.Must(t, err)
		content += fmt.Sprintf("user %s %s\n", u.name, hash)
	}
	chattest.Must(t, os.WriteFile(path, []byte(content), 0o600))
	token, err := chatauth.AddToken(path, "alice")
	chattest.Must(t, err)
	users, err := chatauth.Load(path)
	chattest.Must(t, err)
	srv = startServer(t, t.TempDir(), func(cfg *chatserver.Config) {
		cfg.WSAddr = "127.0.0.1:0"
		cfg.Chat.Auth = users
	})
	return srv, token
}

// With --auth, a connection authenticates in its SETUP (simple or bearer
// credentials of the authentication extension) and can log in only as
// itself: a second connection can no longer read bob's private messages
// by logging in as bob.
func TestAuthentication(t *testing.T) {
	srv, token := authServer(t)
	ctx := ctxT(t)
	for _, tp := range []struct{ name, addr string }{{"tcp", srv.TCPAddr()}, {"websocket", srv.WSURL()}} {
		addr := tp.addr
		t.Run(tp.name, func(t *testing.T) {
			dialAs := func(c rsrt.Credentials) (*chat.Client, error) {
				cl, err := chat.Dial(ctx, addr, rsrt.WithAuthentication(c))
				if err == nil {
					t.Cleanup(func() { _ = cl.Close() })
				}
				return cl, err
			}
			refused := func(what string, err error, text string) {
				t.Helper()
				var e *rsrt.Error
				if !errors.As(err, &e) || e.Code != core.ErrorCodeRejectedSetup || e.Message != text {
					t.Errorf("%s: Dial returned %v, want REJECTED_SETUP %q", what, err, text)
				}
			}

			cl, err := chat.Dial(ctx, addr)
			if err == nil {
				cl.Close()
			}
			refused("no credentials", err, "authentication required: send simple or bearer credentials (message/x.rsocket.authentication.v0) in the SETUP")
			_, err = dialAs(rsrt.SimpleAuth("alice", "builder"))
			refused("wrong password", err, "authentication failed")
			_, err = dialAs(rsrt.SimpleAuth("mallory", "wonderland"))
			refused("unknown user", err, "authentication failed")
			_, err = dialAs(rsrt.BearerAuth("not a token"))
			refused("unknown token", err, "authentication failed")

			alice, err := dialAs(rsrt.SimpleAuth("alice", "wonderland"))
			chattest.Must(t, err)
			_, err = alice.Login(ctx, "bob")
			chattest.WantError(t, err, "login: this connection authenticated as alice and can log in only as alice")
			_, err = alice.Login(ctx, "alice")
			chattest.Must(t, err)

			bob, err := dialAs(rsrt.SimpleAuth("bob", "builder"))
			chattest.Must(t, err)
			_, err = bob.Login(ctx, "bob")
			chattest.Must(t, err)

			// alice, by token, on a second connection.
			alice2, err := dialAs(rsrt.BearerAuth(token))
			chattest.Must(t, err)
			_, err = alice2.Login(ctx, "alice")
			chattest.Must(t, err)

			msgs := chattest.Listen(t, bob)
			chattest.Must(t, alice.Message(ctx, chat.Message{User: str("bob"), Content: str("hi bob")}))
			chattest.CheckMsg(t, msgs.Next(t, wait), "alice", "hi bob", nil)
		})
	}
}

// A flood of SETUPs with wrong passwords is refused, and a legitimate
// user gets in meanwhile (the server runs at most as many bcrypt checks
// at once as it has cores; see chatauth).
func TestAuthenticationFlood(t *testing.T) {
	srv, _ := authServer(t)
	ctx, cancel := context.WithTimeout(ctxT(t), wait)
	defer cancel()
	errs := make(chan error, 64)
	for range 64 {
		go func() {
			c, err := chat.Dial(ctx, srv.TCPAddr(), rsrt.WithAuthentication(rsrt.SimpleAuth("alice", "guess")))
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	alice, err := chat.Dial(ctx, srv.TCPAddr(), rsrt.WithAuthentication(rsrt.SimpleAuth("alice", "wonderland")))
	chattest.Must(t, err)
	defer alice.Close()
	_, err = alice.Login(ctx, "alice")
	chattest.Must(t, err)
	for range 64 {
		if err := <-errs; err == nil {
			t.Error("a wrong password was accepted")
		}
	}
}
