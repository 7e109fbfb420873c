package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelp checks that every command is listed and documents itself
// through both spellings of help.
func TestHelp(t *testing.T) {
	var list strings.Builder
	if code := run([]string{"help"}, &list, io.Discard); code != 0 {
		t.Fatalf("rsgen help: exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(list.String(), "\t"+c.name+" ") {
			t.Errorf("rsgen help does not list %s:\n%s", c.name, list.String())
		}
		var viaHelp, viaFlag strings.Builder
		if code := run([]string{"help", c.name}, &viaHelp, io.Discard); code != 0 {
			t.Errorf("rsgen help %s: exit %d", c.name, code)
		}
		if !strings.HasPrefix(viaHelp.String(), "usage: rsgen "+c.name) {
			t.Errorf("rsgen help %s printed:\n%s", c.name, viaHelp.String())
		}
		if c == helpCmd {
			continue
		}
		if code := run([]string{c.name, "-h"}, &viaFlag, io.Discard); code != 0 {
			t.Errorf("rsgen %s -h: exit %d", c.name, code)
		}
		if viaFlag.String() != viaHelp.String() {
			t.Errorf("rsgen %s -h and rsgen help %s differ:\n%s\n---\n%s", c.name, c.name, viaFlag.String(), viaHelp.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"help", "nosuch"},
		{"go", "-nosuch"},
		{"go", "-schema", "x.yaml"},
		{"version", "extra"},
	} {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("rsgen %q: exit %d, want 2 (stderr: %s)", args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "rsgen help") {
			t.Errorf("rsgen %q: stderr does not point at help:\n%s", args, stderr.String())
		}
	}
}

// TestGoCommandSameAsLegacy checks that `rsgen go` and the form without a
// command write the same files.
func TestGoCommandSameAsLegacy(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "demo.yaml")
	writeFile(t, schema, schemaSrc)
	outs := map[string][]string{
		"legacy": {"-schema", schema, "-out", filepath.Join(dir, "legacy")},
		"go":     {"go", "-schema", schema, "-out", filepath.Join(dir, "go")},
	}
	for name, args := range outs {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr.String())
		}
	}
	for _, f := range []string{"types.go", "server.go", "client.go"} {
		a, err := os.ReadFile(filepath.Join(dir, "legacy", f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "go", f))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s differs between rsgen go and rsgen -schema", f)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var a, b strings.Builder
	if code := run([]string{"version"}, &a, io.Discard); code != 0 {
		t.Fatalf("rsgen version: exit %d", code)
	}
	if code := run([]string{"-version"}, &b, io.Discard); code != 0 {
		t.Fatalf("rsgen -version: exit %d", code)
	}
	if a.String() != b.String() || !strings.HasPrefix(a.String(), "rsgen ") {
		t.Errorf("rsgen version printed %q, rsgen -version %q", a.String(), b.String())
	}
}
