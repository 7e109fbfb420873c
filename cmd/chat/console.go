package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/chzyer/readline"
	"golang.org/x/term"
)

// newConsole returns a readline console when stdin and stdout are both
// terminals, and a plain line console otherwise (pipes, files, tests).
func newConsole(stdin io.Reader, stdout, stderr io.Writer) (console, error) {
	in, inOK := stdin.(*os.File)
	out, outOK := stdout.(*os.File)
	if inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		return newTerminalConsole(in, out, stderr)
	}
	return &lineConsole{in: bufio.NewReader(stdin), out: &syncWriter{w: stdout}}, nil
}

// lineConsole reads commands line by line and writes plain lines, with no
// prompt: its reader is a program, not a person.
type lineConsole struct {
	in  *bufio.Reader
	out *syncWriter
}

func (c *lineConsole) ReadLine() (string, error) {
	s, err := c.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		return "", err
	}
	// A last line without a newline still counts.
	return strings.TrimRight(s, "\r\n"), nil
}

func (c *lineConsole) Out() io.Writer   { return c.out }
func (c *lineConsole) SetPrompt(string) {}
func (c *lineConsole) Close() error     { c.out.close(); return nil }

// terminalConsole edits lines with readline. Output written while the user
// types goes through readline's writer, which clears the prompt line,
// prints, and redraws the prompt with what was typed so far.
type terminalConsole struct {
	rl  *readline.Instance
	out *syncWriter
}

func newTerminalConsole(in, out *os.File, stderr io.Writer) (*terminalConsole, error) {
	inFd, outFd := int(in.Fd()), int(out.Fd())
	var saved *readline.State
	cfg := &readline.Config{
		// readline's defaults use the process's own stdin and stdout;
		// these make it work on the files it was given (as in a test on
		// a pseudo-terminal).
		Stdin:          readline.NewCancelableStdin(in),
		AutoComplete:   commandCompleter,
		Stdout:         out,
		Stderr:         stderr,
		FuncIsTerminal: func() bool { return true },
		// readline's raw mode, unlike x/term's, keeps output processing
		// (OPOST), so that a message's "\n" still returns the carriage.
		FuncMakeRaw: func() error {
			st, err := readline.MakeRaw(inFd)
			if err == nil {
				saved = st
			}
			return err
		},
		FuncExitRaw: func() error {
			if saved == nil {
				return nil
			}
			return readline.Restore(inFd, saved)
		},
		FuncGetWidth: func() int {
			if w, _, err := term.GetSize(outFd); err == nil && w > 0 {
				return w
			}
			return 80
		},
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return nil, err
	}
	return &terminalConsole{rl: rl, out: &syncWriter{w: rl.Stdout()}}, nil
}

// commandCompleter completes the session's commands on Tab.
var commandCompleter = readline.NewPrefixCompleter(
	readline.PcItem("/msg"), readline.PcItem("/join"), readline.PcItem("/leave"),
	readline.PcItem("/channels"), readline.PcItem("/users"), readline.PcItem("/files"),
	readline.PcItem("/upload"), readline.PcItem("/download"), readline.PcItem("/stats"),
	readline.PcItem("/help"), readline.PcItem("/quit"),
)

func (c *terminalConsole) ReadLine() (string, error) {
	s, err := c.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return s, errInterrupt
	}
	return s, err
}

func (c *terminalConsole) Out() io.Writer     { return c.out }
func (c *terminalConsole) SetPrompt(p string) { c.rl.SetPrompt(p) }

func (c *terminalConsole) Close() error {
	c.out.close()
	return c.rl.Close()
}
