package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rsocket-chat/rsgen/gen"
	"github.com/rsocket-chat/rsgen/gen/tsgen"
)

var tsCmd = &command{
	name:  "ts",
	args:  "-schema FILE.yaml -out DIR [-runtime MODULE]",
	short: "generate the TypeScript client of a schema",
	long: `
Ts writes PACKAGE.ts, the typed TypeScript client of the schema (on
rsocket-js over WebSocket, through the runtime ts/rsrt.ts), into DIR
(creating it), and removes the *.ts files there that an earlier run
generated but this one no longer produces. Like go, it never overwrites a
file without the rsgen header and writes nothing on an invalid schema.`,
}

func init() {
	tsCmd.run = func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags(tsCmd, stderr)
		schema := fs.String("schema", "", "the YAML route schema to generate from (required)")
		out := fs.String("out", "", "the directory to write the TypeScript client into; created if missing (required)")
		runtime := fs.String("runtime", tsgen.DefaultRuntime, "the module specifier the generated file imports the runtime (ts/rsrt.ts) from")
		if status, ok := parseFlags(tsCmd, fs, args, stdout, stderr); !ok {
			return status
		}
		if *schema == "" || *out == "" {
			return usageError(tsCmd, stderr, "-schema and -out are required")
		}
		if fs.NArg() > 0 {
			return usageError(tsCmd, stderr, "unexpected arguments %q", fs.Args())
		}
		if err := generateTS(*schema, *out, *runtime); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
}

// generateTS renders the TypeScript client of schema and writes it to dir.
func generateTS(schema, dir, runtime string) error {
	src, err := os.ReadFile(schema)
	if err != nil {
		return err
	}
	m, err := gen.Parse(schema, src)
	if err != nil {
		return err
	}
	m.Source = sourceName(schema) // as generate does, for the same reason
	files, err := tsgen.Generate(m, tsgen.Options{Runtime: runtime})
	if err != nil {
		return err
	}
	return write(dir, ".ts", files)
}
