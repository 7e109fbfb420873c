package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/rsocket-chat/rsgen/impl/chatauth"
)

// users runs `chat-server users add|token [--auth FILE] NAME`: it sets a
// user's password, or makes a bearer token, in the user database that
// --auth names.
func users(args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat-server users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path, _ := lookupEnv("CHAT_AUTH")
	fs.StringVar(&path, "auth", path, "user database `file`, created if needed (env CHAT_AUTH)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: chat-server users add [--auth FILE] NAME
       chat-server users token [--auth FILE] NAME

add sets the password of NAME: it reads it from the terminal (twice, not
echoed) or, when standard input is not a terminal, from its first line.
token makes a new bearer token for NAME and prints it; only its hash is
stored, so it is shown this once.

Flags:
`)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fs.Usage()
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 || verb != "add" && verb != "token" {
		fs.Usage()
		return errUsage
	}
	if path == "" {
		return errors.New("users: no user database: pass --auth FILE or set CHAT_AUTH")
	}
	name := fs.Arg(0)
	if verb == "token" {
		token, err := chatauth.AddToken(path, name)
		if err != nil {
			return fmt.Errorf("users token: %w", err)
		}
		fmt.Fprintln(stdout, token)
		return nil
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	if err := chatauth.AddUser(path, name, password); err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	fmt.Fprintf(stderr, "chat-server: password of %s set in %s\n", name, path)
	return nil
}

// readPassword reads a password: from the terminal without echo, typed
// twice, when stdin is one; else the first line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
