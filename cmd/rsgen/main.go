// Command rsgen turns a YAML route schema (see gen/SCHEMA.md) into a typed
// RSocket API package, and documents, compares and describes schemas.
//
// Usage:
//
//	rsgen <command> [flags] [arguments]
//
// The commands are:
//
//	go          generate the Go package of a schema
//	doc         write the API reference of a schema in Markdown
//	diff        classify the changes between two versions of a schema
//	jsonschema  print the JSON Schema of the schema language, for editors
//	version     print the version of rsgen
//	help        print the usage of rsgen or of one command
//
// `rsgen help CMD` or `rsgen CMD -h` describes a command. The form without
// a command, `rsgen -schema F -out DIR`, is `rsgen go`, and `rsgen
// -version` is `rsgen version`: Makefiles and go:generate directives
// written for earlier versions keep working.
//
// Exit status: 0 on success, 1 when the command failed (an invalid
// schema, a file that cannot be written; for diff, a breaking change),
// 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand of rsgen. Each lives in its own file.
type command struct {
	name string
	// args is the synopsis after the command name; short the one-line
	// summary in the command list; long the text of `rsgen help name`,
	// printed before the flags.
	args, short, long string
	// run executes the command with the arguments after its name and
	// returns the exit status. It parses its flags with newFlags.
	run func(args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table, in the order `rsgen help` lists them.
// A command defined in its own file is wired here by one line.
var commands []*command

func init() {
	// In init, because help refers to commands.
	commands = []*command{
		goCmd,
		docCmd,
		diffCmd,
		jsonschemaCmd,
		tsCmd,
		versionCmd,
		helpCmd,
	}
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch a := args[0]; {
	case a == "-h" || a == "-help" || a == "--help":
		usage(stdout)
		return 0
	case a == "-version" || a == "--version":
		return versionCmd.run(args[1:], stdout, stderr)
	case strings.HasPrefix(a, "-"):
		// rsgen -schema F -out DIR, from before there were commands.
		return goCmd.run(args, stdout, stderr)
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "rsgen: unknown command %q\nRun 'rsgen help' for usage.\n", args[0])
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "rsgen generates typed RSocket services from a YAML route schema (see gen/SCHEMA.md).\n\n"+
		"Usage:\n\n\trsgen <command> [flags] [arguments]\n\nThe commands are:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-11s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nUse \"rsgen help <command>\" for more information about a command.\n"+
		"\"rsgen -schema F -out DIR\" is \"rsgen go -schema F -out DIR\".\n")
}

// printHelp prints the usage of c, with its flags when fs is not nil.
func printHelp(w io.Writer, c *command, fs interface{ PrintDefaults() }) {
	fmt.Fprintf(w, "usage: rsgen %s %s\n\n%s\n", c.name, c.args, strings.TrimSpace(c.long))
	if fs != nil {
		fmt.Fprint(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
}

var helpCmd = &command{
	name:  "help",
	args:  "[command]",
	short: "print the usage of rsgen or of one command",
	long:  "Help prints the list of commands, or the usage and flags of one command.",
}

func init() {
	helpCmd.run = func(args []string, stdout, stderr io.Writer) int {
		switch len(args) {
		case 0:
			usage(stdout)
			return 0
		case 1:
			if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
				printHelp(stdout, helpCmd, nil)
				return 0
			}
			c := lookup(args[0])
			if c == nil {
				fmt.Fprintf(stderr, "rsgen help: unknown command %q\nRun 'rsgen help' for usage.\n", args[0])
				return 2
			}
			// Each command prints its usage and flags on -h.
			return c.run([]string{"-h"}, stdout, stderr)
		}
		fmt.Fprintln(stderr, "usage: rsgen help [command]")
		return 2
	}
}

// newFlags returns the flag set of c. Parse it with parseFlags.
func newFlags(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rsgen "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parseFlags prints the usage where it belongs
	return fs
}

// parseFlags parses args with fs. When the command should not go on, it
// returns false and the exit status: 0 after -h (the usage on stdout), 2
// on a bad flag (the problem and the usage on stderr).
func parseFlags(c *command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		printHelp(stdout, c, fs)
		return 0, false
	case err != nil:
		// The flag package printed the problem; the usage follows, short,
		// as the go command does.
		fmt.Fprintf(stderr, "usage: rsgen %s %s\nRun 'rsgen help %s' for details.\n", c.name, c.args, c.name)
		return 2, false
	}
	return 0, true
}

// usageError reports a misuse of c on stderr and returns status 2.
func usageError(c *command, stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "rsgen %s: %s\nusage: rsgen %s %s\nRun 'rsgen help %s' for details.\n",
		c.name, fmt.Sprintf(format, args...), c.name, c.args, c.name)
	return 2
}
