package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The gen package's TestDiff holds the table of changes and verdicts;
// these tests check the command: arguments, output and exit status.

func TestDiffCommandStatus(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.yaml")
	writeFile(t, old, schemaSrc)
	compatible := filepath.Join(dir, "compatible.yaml")
	writeFile(t, compatible, schemaSrc+"  - route: pong\n    interaction: fire-and-forget\n")
	breaking := filepath.Join(dir, "breaking.yaml")
	writeFile(t, breaking, "package: demo\n")
	invalid := filepath.Join(dir, "invalid.yaml")
	writeFile(t, invalid, "package: demo\nroutes: 1\n")
	for _, c := range []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"same", []string{old, old}, 0, ": 0 breaking, 0 compatible\n"},
		{"compatible", []string{old, compatible}, 0, "compatible: route \"pong\" (fire-and-forget): added\n"},
		{"breaking", []string{old, breaking}, 1, "breaks clients: route \"ping\" (request-response): removed"},
		{"invalid", []string{old, invalid}, 2, ""},
		{"missing", []string{old, filepath.Join(dir, "nosuch.yaml")}, 2, ""},
		{"one file", []string{old}, 2, ""},
	} {
		var stdout, stderr strings.Builder
		status := run(append([]string{"diff"}, c.args...), &stdout, &stderr)
		if status != c.status {
			t.Errorf("%s: exit %d, want %d (stderr: %s)", c.name, status, c.status, stderr.String())
		}
		if !strings.Contains(stdout.String(), c.out) {
			t.Errorf("%s: stdout lacks %q:\n%s", c.name, c.out, stdout.String())
		}
	}
}

func TestDiffCommandGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	writeFile(t, filepath.Join(dir, "sub", "s.yaml"), schemaSrc)
	git("add", ".")
	git("commit", "-q", "-m", "schema")
	// Now the route is gone: a breaking change against HEAD.
	writeFile(t, filepath.Join(dir, "sub", "s.yaml"), "package: demo\n")
	t.Chdir(filepath.Join(dir, "sub"))
	var stdout, stderr strings.Builder
	if status := run([]string{"diff", "--git", "HEAD", "s.yaml"}, &stdout, &stderr); status != 1 {
		t.Fatalf("exit %d, want 1 (stderr: %s)", status, stderr.String())
	}
	if !strings.Contains(stdout.String(), `breaks clients: route "ping" (request-response): removed`) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	stderr.Reset()
	if status := run([]string{"diff", "-git", "nosuchrev", "s.yaml"}, io.Discard, &stderr); status != 2 || !strings.Contains(stderr.String(), "git show") {
		t.Errorf("unknown revision: exit %d, stderr %q", status, stderr.String())
	}
}
