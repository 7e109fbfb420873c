// Command rsgen generates a typed RSocket API package from a YAML route
// schema (see gen/SCHEMA.md).
//
// Usage:
//
//	rsgen -schema schema/chat.yaml -out generated/chat
//
// It writes types.go, server.go and client.go into the output directory,
// only after all of them rendered, and removes the *.go files there that
// an earlier run generated but this one no longer produces (files without
// the rsgen header, such as tests, are never touched). On an invalid schema
// it prints every problem, as file:line:col: message, and exits with
// status 1. The generated header names the schema by its path from the
// module root, whatever the current directory, so a go:generate directive
// in the output directory produces the same files as `make generate`:
//
//	//go:generate go run github.com/rsocket-chat/rsgen/cmd/rsgen -schema ../../schema/chat.yaml -out .
//
// A schema in no module is named by its file name alone: never by an
// absolute path, which would differ between machines.
//
// rsgen -version prints the version of the module rsgen was built from.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/rsocket-chat/rsgen/gen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rsgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := fs.String("schema", "", "the YAML route schema to generate from (required)")
	out := fs.String("out", "", "the directory to write the generated package into; created if missing (required)")
	showVersion := fs.Bool("version", false, "print the version of rsgen and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rsgen -schema FILE.yaml -out DIR\n       rsgen -version\n\n"+
			"rsgen writes types.go, server.go and client.go of the typed RSocket API\n"+
			"described by the schema into DIR, and removes the files an earlier run\n"+
			"generated there that are no longer produced.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		info, _ := debug.ReadBuildInfo() // nil without build information
		fmt.Fprintln(stdout, "rsgen", version(info))
		return 0
	}
	if *schema == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := generate(*schema, *out); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// generate renders the package of schema and writes it to dir.
func generate(schema, dir string) error {
	src, err := os.ReadFile(schema)
	if err != nil {
		return err
	}
	m, err := gen.Parse(schema, src)
	if err != nil {
		return err
	}
	// Errors name the schema as given, so editors find it from the current
	// directory; the header names it from the module root, so that
	// `make generate` and a go:generate directive in the output directory
	// produce identical files.
	m.Source = sourceName(schema)
	files, err := gen.Generate(m)
	if err != nil {
		return err
	}
	return write(dir, files)
}

// version returns the version of the module that holds this command, as
// the build recorded it: a tagged or pseudo-version when rsgen was built as
// a dependency (go install, go tool), "(devel)" when built inside its own
// checkout or without build information.
func version(info *debug.BuildInfo) string {
	if info == nil {
		return "(devel)"
	}
	// Built as a tool of another module, rsgen's module is a dependency,
	// not the main module.
	mod := &info.Main
	for _, d := range info.Deps {
		if strings.HasPrefix(info.Path, d.Path+"/") {
			mod = d
			if d.Replace != nil && d.Replace.Version != "" {
				mod = d.Replace
			}
			break
		}
	}
	if mod.Version == "" {
		return "(devel)"
	}
	return mod.Version
}

// sourceName returns the schema path relative to the root of the module
// that contains it, with forward slashes. A schema in no module is named by
// its base name: the path as given would depend on the current directory
// (go:generate runs in the package directory, make in the root) and may be
// absolute, and the header must be the same on every machine.
func sourceName(schema string) string {
	abs, err := filepath.Abs(schema)
	if err != nil {
		return filepath.Base(schema)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil {
				return filepath.ToSlash(rel)
			}
			break
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return filepath.Base(abs)
}

// write writes files into dir, leaving files whose content is unchanged
// alone (so their timestamps do not change), then removes the generated
// files that are not in files. It never overwrites a file that rsgen did
// not generate.
func write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	// Check every target before writing any, so a refusal leaves the
	// directory as it was.
	unchanged := map[string]bool{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		old, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case !gen.IsGenerated(old):
			return fmt.Errorf("%s exists and was not generated by rsgen; refusing to overwrite it", path)
		case bytes.Equal(old, files[name]):
			unchanged[name] = true
		}
	}
	for _, name := range names {
		if unchanged[name] {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || files[name] != nil {
			continue
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if gen.IsGenerated(src) {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	return nil
}
