package main

import (
	"fmt"
	"io"

	"github.com/rsocket-chat/rsgen/gen"
)

var jsonschemaCmd = &command{
	name:  "jsonschema",
	args:  "[-out FILE.json]",
	short: "print the JSON Schema of the schema language, for editors",
	long: `
Jsonschema prints the JSON Schema (draft-07) of the rsgen schema language,
with which the YAML language server (VS Code's YAML extension, and other
editors through it) completes and checks a schema as it is typed. Without
-out it goes to stdout. make generate writes it to schema/rsgen.schema.json;
a schema refers to it with a first line such as

	# yaml-language-server: $schema=rsgen.schema.json

(the path is relative to the schema file). It checks the shape of a
schema; what needs the whole schema (references to types and entries,
duplicates, Go names) only rsgen checks.`,
}

func init() {
	jsonschemaCmd.run = func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags(jsonschemaCmd, stderr)
		out := fs.String("out", "", "the file to write; stdout when absent")
		if status, ok := parseFlags(jsonschemaCmd, fs, args, stdout, stderr); !ok {
			return status
		}
		if fs.NArg() > 0 {
			return usageError(jsonschemaCmd, stderr, "unexpected arguments %q", fs.Args())
		}
		schema := gen.JSONSchema()
		if *out == "" {
			stdout.Write(schema)
			return 0
		}
		if err := writeIfChanged(*out, schema); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
}
