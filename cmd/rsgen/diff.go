package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rsocket-chat/rsgen/gen"
)

var diffCmd = &command{
	name:  "diff",
	args:  "OLD.yaml NEW.yaml | -git REV FILE.yaml",
	short: "classify the changes between two versions of a schema",
	long: `
Diff compares two versions of a schema and prints each change on a line,
breaking changes first, each classified as

	breaks clients      a client built on OLD fails against a server built on NEW
	breaks servers      a server built on OLD fails against a client built on NEW
	breaks clients and servers
	compatible          neither (additions, renames of Go identifiers only)

in an interaction OLD defined; the line ends with the routes through which
a changed type reaches the wire. rsgen peers reject JSON keys their type
does not have, so even an added optional field breaks the party that
receives it (clients, for a response field). With -git REV, OLD is FILE as
of the git revision REV (git show REV:./FILE) and NEW is FILE as it is now:

	rsgen diff -git main schema/chat.yaml

Exit status, as diff(1): 0 when no change breaks anything (compatible
changes are printed), 1 when a change is breaking, 2 on a usage error or a
schema that cannot be read or is invalid.`,
}

func init() {
	diffCmd.run = func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags(diffCmd, stderr)
		rev := fs.String("git", "", "read OLD from this git revision of FILE")
		if status, ok := parseFlags(diffCmd, fs, args, stdout, stderr); !ok {
			return status
		}
		var oldName, newName string
		var oldSrc []byte
		var err error
		switch {
		case *rev != "" && fs.NArg() == 1:
			newName = fs.Arg(0)
			oldName = *rev + ":" + newName
			oldSrc, err = gitShow(*rev, newName)
		case *rev == "" && fs.NArg() == 2:
			oldName, newName = fs.Arg(0), fs.Arg(1)
			oldSrc, err = os.ReadFile(oldName)
		default:
			return usageError(diffCmd, stderr, "want OLD and NEW, or -git REV and FILE")
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		old, err := gen.Parse(oldName, oldSrc)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		newSrc, err := os.ReadFile(newName)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		new, err := gen.Parse(newName, newSrc)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		changes := gen.Diff(old, new)
		breaking := 0
		for _, c := range changes {
			fmt.Fprintln(stdout, c)
			if c.Verdict != gen.Compatible {
				breaking++
			}
		}
		fmt.Fprintf(stdout, "%s: %d breaking, %d compatible\n", newName, breaking, len(changes)-breaking)
		if breaking > 0 {
			return 1
		}
		return 0
	}
}

// gitShow returns file as of the git revision rev. The path is given as
// ./file, which git reads relative to the current directory, as the file
// argument itself is.
func gitShow(rev, file string) ([]byte, error) {
	if strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("git revision %q starts with '-'", rev)
	}
	if filepath.IsAbs(file) {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if file, err = filepath.Rel(wd, file); err != nil {
			return nil, err
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command("git", "show", rev+":./"+filepath.ToSlash(filepath.Clean(file)))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git show %s:%s: %v: %s", rev, file, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
