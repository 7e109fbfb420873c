package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

var versionCmd = &command{
	name:  "version",
	args:  "",
	short: "print the version of rsgen",
	long: `
Version prints the version of the module rsgen was built from: a tagged or
pseudo-version when rsgen was built as a dependency (go install, go tool,
go run with a version), "(devel)" when built inside its own checkout.
"rsgen -version" is the same.`,
}

func init() {
	versionCmd.run = func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags(versionCmd, stderr)
		if status, ok := parseFlags(versionCmd, fs, args, stdout, stderr); !ok {
			return status
		}
		if fs.NArg() > 0 {
			return usageError(versionCmd, stderr, "unexpected arguments %q", fs.Args())
		}
		info, _ := debug.ReadBuildInfo() // nil without build information
		fmt.Fprintln(stdout, "rsgen", version(info))
		return 0
	}
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
