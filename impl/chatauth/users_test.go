package chatauth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

func TestMain(m *testing.M) {
	hashCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// writeUsers writes a database with bcrypt's lowest cost, so that tests
// under the race detector stay fast.
func writeUsers(t *testing.T, users map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test users\n\n")
	for name, password := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("user " + name + " " + string(hash) + "  # " + name + "\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuthenticate(t *testing.T) {
	u, err := Load(writeUsers(t, map[string]string{"alice": "wonderland", "bob": "builder"}))
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 2 {
		t.Errorf("Len() = %d, want 2", u.Len())
	}
	for _, tc := range []struct {
		c    rsrt.Credentials
		want string // "" for refused
	}{
		{rsrt.SimpleAuth("alice", "wonderland"), "alice"},
		{rsrt.SimpleAuth("alice", "wonderland"), "alice"}, // from the cache
		{rsrt.SimpleAuth("bob", "builder"), "bob"},
		{rsrt.SimpleAuth("alice", "builder"), ""},
		{rsrt.SimpleAuth("alice", ""), ""},
		{rsrt.SimpleAuth("mallory", "wonderland"), ""},
		{rsrt.SimpleAuth("", ""), ""},
		{rsrt.BearerAuth("wonderland"), ""},
		{rsrt.Credentials{Type: "x-custom", Data: []byte("alice")}, ""},
	} {
		user, err := u.Authenticate(tc.c)
		if tc.want == "" {
			if !errors.Is(err, ErrBadCredentials) {
				t.Errorf("Authenticate(%v) = %q, %v; want ErrBadCredentials", tc.c, user, err)
			}
			continue
		}
		if err != nil || user != tc.want {
			t.Errorf("Authenticate(%v) = %q, %v; want %q", tc.c, user, err, tc.want)
		}
	}
}

func TestAddUserAndToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	if err := AddUser(path, "alice", "first"); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(path, "alice", "second"); err != nil { // replaces
		t.Fatal(err)
	}
	token, err := AddToken(path, "alice")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), token) || strings.Contains(string(data), "second") {
		t.Errorf("a secret is stored in clear:\n%s", data)
	}
	if n := strings.Count(string(data), "user alice "); n != 1 {
		t.Errorf("alice listed %d times:\n%s", n, data)
	}
	u, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if user, err := u.Authenticate(rsrt.SimpleAuth("alice", "second")); err != nil || user != "alice" {
		t.Errorf("new password: %q, %v", user, err)
	}
	if _, err := u.Authenticate(rsrt.SimpleAuth("alice", "first")); err == nil {
		t.Error("the replaced password still works")
	}
	if user, err := u.Authenticate(rsrt.BearerAuth(token)); err != nil || user != "alice" {
		t.Errorf("token: %q, %v", user, err)
	}
	for _, bad := range []string{"", "two words", "tab\there", "hash#tag"} {
		if err := AddUser(path, bad, "pw"); err == nil {
			t.Errorf("AddUser accepted the name %q", bad)
		}
	}
	if err := AddUser(path, "carol", ""); err == nil {
		t.Error("AddUser accepted an empty password")
	}
}

func TestLoadErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"user alice\n", ":1: want 3 fields"},
		{"# ok\nuser alice not-a-hash\n", ":2: user alice: not a bcrypt hash"},
		{"token alice 1234\n", ":1: token of alice: not a hex SHA-256"},
		{"admin alice x\n", `:1: unknown entry "admin"`},
	} {
		path := filepath.Join(t.TempDir(), "users")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("Load(%q): %v, want %q", tc.content, err, path+tc.want)
		}
	}
}
