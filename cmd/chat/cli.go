package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// Exit codes, as a shell user expects them.
const (
	exitOK      = 0
	exitFailure = 1 // a request failed, the server answered an error, or I/O failed
	exitUsage   = 2 // the command line is wrong
)

// defaultAddr is the tutorial's server address.
const defaultAddr = "localhost:6565"

const topUsage = `Usage:
  chat --user NAME [--addr ADDR]          interactive session (/help inside)
  chat demo [--addr ADDR]                 run the tutorial's reference scenario and verify it
  chat send --user U (--to USER | --channel C) TEXT
  chat upload --user U PATH [--name NAME]
  chat download --user U NAME [-o PATH]
  chat channels                           list channels
  chat users CHANNEL                      list the users of a channel
  chat files                              list stored files
  chat stats [-n COUNT] [--ids users,channels] [--period SECONDS]

ADDR is host:port, tcp://host:port or ws://host:port/path; it defaults to
$CHAT_ADDR, else ` + defaultAddr + `. "chat COMMAND --help" describes a command.
A server started with --auth wants credentials: set $CHAT_PASSWORD (the
password of --user or $CHAT_USER) or $CHAT_TOKEN (a bearer token made by
"chat-server users token"; log in as its user).
Exit status: 0 success, 1 request or server error, 2 usage error.
`

// usageError is a command-line mistake: run prints it with a hint and
// exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a *usageError with the formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run is the whole program behind main, with its streams passed in so that
// tests can drive it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context whose cancellation (Ctrl-C in main)
// stops the command.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	return exitCode(err, stderr)
}

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

var commands = map[string]command{
	"demo":     demoCommand,
	"send":     sendCommand,
	"upload":   uploadCommand,
	"download": downloadCommand,
	"channels": channelsCommand,
	"users":    usersCommand,
	"files":    filesCommand,
	"stats":    statsCommand,
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing --user NAME for an interactive session, or a command")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		return interactiveCommand(ctx, args, stdin, stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

// exitCode reports err on stderr and maps it to the exit status.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "chat: %s\nRun \"chat --help\" for usage.\n", ue.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "chat: %s\n", describe(err))
		return exitFailure
	}
}

// describe returns the text to show for a failed request: for an error the
// server sent, the server's own message rather than the frame code, which
// a chat user has no use for.
func describe(err error) string {
	var re *rsrt.Error
	if errors.As(err, &re) {
		msg := strings.TrimSuffix(err.Error(), re.Error())
		return msg + "server: " + re.Message
	}
	return err.Error()
}

// options are the flags every command that talks to a server shares.
type options struct {
	addr    string
	user    string
	timeout time.Duration
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage, headed by synopsis and doc, to stderr.
func newFlagSet(name, synopsis, doc string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, doc)
		fs.PrintDefaults()
	}
	return fs
}

// addCommon registers --addr, --timeout and, when userHelp is not empty,
// --user.
func addCommon(fs *flag.FlagSet, o *options, userHelp string) {
	addr := os.Getenv("CHAT_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&o.addr, "addr", addr, "server `address` (host:port, tcp://host:port or ws://host:port/path; default from $CHAT_ADDR)")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "give up on a request after this `duration`")
	if userHelp != "" {
		fs.StringVar(&o.user, "user", os.Getenv("CHAT_USER"), userHelp)
	}
}

// parse parses args into fs and checks the number of positional arguments.
// Flags may come after positional arguments too (chat users channel1
// --addr x), as users of other CLIs expect.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			// The flag package already printed the error and the usage.
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			// "--" ends the flags: the rest is text, even "-x".
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, usagef("%s: missing arguments", fs.Name())
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usagef("%s: unexpected arguments: %s", fs.Name(), strings.Join(pos[maxArgs:], " "))
	}
	return pos, nil
}

// clock answers the server's "time" calls with the local time.
type clock struct{}

var _ chat.ClientHandler = clock{}

// Time implements chat.ClientHandler.
func (clock) Time(context.Context) (string, error) {
	return time.Now().Format(time.RFC3339), nil
}

// connect dials the server and logs in as user. It returns the session id
// with the client.
//
// A long-lived connection (the demo, an interactive session) serves the
// client routes, so the server may ask it the time. A one-shot command's
// connection lives for one request: it declares no routes, since the
// server's time call, made right after the login, would only race the
// close that follows.
func connect(ctx context.Context, o *options, user string, logw io.Writer, serve bool) (*chat.Client, string, error) {
	if user == "" {
		return nil, "", usagef("missing --user NAME")
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// Runtime warnings (a failed server call, a dropped connection) go to
	// logw; informational logs would only clutter a chat terminal.
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []rsrt.DialOption{rsrt.WithDialLogger(log)}
	// Secrets come from the environment, not flags, which other users of
	// the machine can read in the process list.
	if token := os.Getenv("CHAT_TOKEN"); token != "" {
		opts = append(opts, rsrt.WithAuthentication(rsrt.BearerAuth(token)))
	} else if password := os.Getenv("CHAT_PASSWORD"); password != "" {
		opts = append(opts, rsrt.WithAuthentication(rsrt.SimpleAuth(user, password)))
	}
	if serve {
		opts = append(opts, chat.WithHandler(clock{}))
	}
	c, err := chat.Dial(dctx, o.addr, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("cannot connect to %s: %w", o.addr, err)
	}
	session, err := c.Login(dctx, user)
	if err != nil {
		c.Close()
		return nil, "", fmt.Errorf("login as %s at %s: %w", user, o.addr, err)
	}
	return c, session, nil
}

// collect gathers the items of a finite stream.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}
