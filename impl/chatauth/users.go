// Package chatauth is the chat server's user database: who may connect,
// with which password or token, for the RSocket authentication extension
// (rsrt.Credentials) that clients send in their SETUP.
//
// The database is a text file, one entry a line, '#' starting a comment:
//
//	user  alice  $2a$10$...   # a bcrypt hash of alice's password
//	token alice  9f86d0...    # the SHA-256 (hex) of a bearer token of alice's
//
// Passwords are hashed with bcrypt (golang.org/x/crypto/bcrypt): they are
// chosen by people and must be slow to guess from a stolen file. Tokens are
// 256-bit random values made by [AddToken]; a fast hash is enough for them
// and lets a token be found without trying every user's hash.
//
// A bcrypt check costs the server tens of milliseconds of CPU, which an
// unauthenticated peer could make it spend in a loop: at most
// runtime.NumCPU checks run at once (the others wait, bounded by the
// SETUP timeout of the transport), and a password already verified is
// remembered (as its SHA-256) for the life of the process, so that a
// user's reconnections cost nothing.
package chatauth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// ErrBadCredentials is the error of credentials that do not match.
var ErrBadCredentials = errors.New("invalid credentials")

// Users is a loaded user database. It is safe for concurrent use.
type Users struct {
	passwords map[string][]byte   // user -> bcrypt hash
	tokens    map[[32]byte]string // SHA-256 of a token -> user

	verified sync.Map // [32]byte of user NUL password -> struct{}
	checks   chan struct{}
}

// hashCost is the bcrypt cost of new password hashes (tests lower it: the
// race detector makes bcrypt slow).
var hashCost = bcrypt.DefaultCost

// dummyHash is compared against when the user is unknown, so that an
// unknown user takes as long to refuse as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), hashCost)
	return h
})

// Load reads the database at path. Errors name the file and the line.
func Load(path string) (*Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u := &Users{
		passwords: make(map[string][]byte),
		tokens:    make(map[[32]byte]string),
		checks:    make(chan struct{}, runtime.NumCPU()),
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
		}
		if len(f) != 3 {
			return nil, bad("want 3 fields (user NAME HASH or token NAME SHA256), got %d", len(f))
		}
		switch f[0] {
		case "user":
			if _, err := bcrypt.Cost([]byte(f[2])); err != nil {
				return nil, bad("user %s: not a bcrypt hash: %v", f[1], err)
			}
			if _, dup := u.passwords[f[1]]; dup {
				return nil, bad("user %s listed twice", f[1])
			}
			u.passwords[f[1]] = []byte(f[2])
		case "token":
			sum, err := hex.DecodeString(f[2])
			if err != nil || len(sum) != sha256.Size {
				return nil, bad("token of %s: not a hex SHA-256", f[1])
			}
			u.tokens[[32]byte(sum)] = f[1]
		default:
			return nil, bad("unknown entry %q (want user or token)", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// Len returns the number of users with a password.
func (u *Users) Len() int { return len(u.passwords) }

// Authenticate returns the user that c proves to be, or ErrBadCredentials
// (also for an auth type other than simple and bearer).
func (u *Users) Authenticate(c rsrt.Credentials) (string, error) {
	switch c.Type {
	case rsrt.AuthBearer:
		sum := sha256.Sum256([]byte(c.Token))
		if user, ok := u.tokens[sum]; ok {
			return user, nil
		}
		return "", ErrBadCredentials
	case rsrt.AuthSimple:
		key := sha256.Sum256([]byte(c.Username + "\x00" + c.Password))
		if _, ok := u.verified.Load(key); ok {
			return c.Username, nil
		}
		hash, known := u.passwords[c.Username]
		if !known {
			hash = dummyHash()
		}
		u.checks <- struct{}{}
		err := bcrypt.CompareHashAndPassword(hash, []byte(c.Password))
		<-u.checks
		if err != nil || !known {
			return "", ErrBadCredentials
		}
		u.verified.Store(key, struct{}{})
		return c.Username, nil
	}
	return "", ErrBadCredentials
}

// AddUser sets the password of name in the database at path, creating the
// file (mode 0600) if needed. The file is rewritten atomically.
func AddUser(path, name, password string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if password == "" {
		return errors.New("empty password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), hashCost)
	if err != nil {
		return err
	}
	return rewrite(path, func(lines []string) []string {
		out := lines[:0:0]
		for _, l := range lines {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "user" && f[1] == name {
				continue
			}
			out = append(out, l)
		}
		return append(out, fmt.Sprintf("user %s %s", name, hash))
	})
}

// AddToken makes a new bearer token for name, stores its hash in the
// database at path and returns the token; it is shown only this once.
func AddToken(path, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	err := rewrite(path, func(lines []string) []string {
		return append(lines, fmt.Sprintf("token %s %s", name, hex.EncodeToString(sum[:])))
	})
	return token, err
}

// checkName refuses names the file format cannot hold.
func checkName(name string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == '#' || r == 0x7f }) {
		return fmt.Errorf("user name %q: want a name without spaces, control characters or '#'", name)
	}
	return nil
}

// rewrite applies edit to the lines of the file at path (none when it does
// not exist) and replaces the file atomically: a temporary file in the
// same directory, fsync, rename.
func rewrite(path string, edit func([]string) []string) error {
	var lines []string
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		lines = strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) == 1 && lines[0] == "" {
			lines = nil
		}
	case errors.Is(err, os.ErrNotExist):
		lines = []string{"# chat-server users: see 'chat-server users -h'"}
	default:
		return err
	}
	lines = edit(lines)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".users-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
