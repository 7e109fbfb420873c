package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rsocket-chat/rsgen/gen"
)

var docCmd = &command{
	name:  "doc",
	args:  "-schema FILE.yaml [-out FILE.md]",
	short: "write the API reference of a schema in Markdown",
	long: `
Doc writes the API reference of the schema in Markdown: the server routes
and the client routes (server to client), grouped by interaction model,
with their payloads and metadata; every type with its fields, their types
and whether they are required; every metadata entry with its MIME type and
encoding. The output is deterministic. Without -out it goes to stdout.

make generate writes generated/NAME/API.md for every schema, and make
check-generate fails when it is stale.`,
}

func init() {
	docCmd.run = func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags(docCmd, stderr)
		schema := fs.String("schema", "", "the YAML route schema to document (required)")
		out := fs.String("out", "", "the file to write; stdout when absent")
		if status, ok := parseFlags(docCmd, fs, args, stdout, stderr); !ok {
			return status
		}
		if *schema == "" {
			return usageError(docCmd, stderr, "-schema is required")
		}
		if fs.NArg() > 0 {
			return usageError(docCmd, stderr, "unexpected arguments %q", fs.Args())
		}
		m, err := parseSchema(*schema)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		doc := gen.Reference(m)
		if *out == "" {
			stdout.Write(doc)
			return 0
		}
		if err := writeIfChanged(*out, doc); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
}

// parseSchema reads and parses a schema file, naming it in the model as
// the generated header does.
func parseSchema(path string) (*gen.Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := gen.Parse(path, src)
	if err != nil {
		return nil, err
	}
	m.Source = sourceName(path)
	return m, nil
}

// writeIfChanged writes data to path unless it already holds it, so that
// an unchanged file keeps its timestamp.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
