package main

// The interactive session: chat --user NAME. Lines typed go to the current
// channel; commands start with a slash. Incoming messages are printed as
// they arrive; on a terminal, readline keeps the line being typed intact
// around them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

const interactiveHelp = `Commands:
  TEXT                   send TEXT to the current channel
  /msg USER TEXT         send a private message
  /join CHANNEL          join (or create) a channel; it becomes the current one
  /leave [CHANNEL]       leave a channel (default: the current one)
  /channels              list channels
  /users [CHANNEL]       list the users of a channel (default: the current one)
  /files                 list stored files
  /upload PATH [NAME]    upload a local file
  /download NAME [PATH]  download a stored file
  /stats                 show the server's user and channel counts
  /help                  show this help
  /quit                  leave the chat (also Ctrl-D)
Start a line with // to send text that begins with a slash.`

// shutdownWait bounds how long the session waits for its message printer
// to stop once the incoming stream has been cancelled.
const shutdownWait = 2 * time.Second

func interactiveCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o options
	fs := newFlagSet("chat", "chat --user NAME [--addr ADDR]",
		"Starts an interactive chat session as NAME. Type /help in the session for the\n"+
			"commands. Works on a terminal (line editing) and on plain streams (one\n"+
			"command per input line), so it can be scripted.", stderr)
	addCommon(fs, &o, "log in as this `name` (default $CHAT_USER)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if o.user == "" {
		return usagef("missing --user NAME")
	}
	con, err := newConsole(stdin, stdout, stderr)
	if err != nil {
		return err
	}
	defer con.Close()
	out := con.Out()

	c, sessionID, err := connect(ctx, &o, o.user, out, true)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "Logged in to %s as %s (session %s). Type /help for commands.\n", o.addr, o.user, sessionID)

	s := &session{c: c, o: &o, out: out, con: con, progress: newProgress(stderr)}
	s.setPrompt()
	lctx, unlisten := context.WithCancel(ctx)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		s.printIncoming(lctx)
	}()
	defer func() {
		unlisten()
		select {
		case <-printed:
		case <-time.After(shutdownWait):
		}
	}()

	return s.loop(ctx)
}

// session is the state of one interactive session.
type session struct {
	c        *chat.Client
	o        *options
	out      io.Writer
	con      console
	progress progress
	joined   []string // channels joined in this session, in join order
	current  string   // the channel plain text goes to; "" for none
}

// line is one input line, or the error that ended the input.
type line struct {
	text string
	err  error
}

// loop reads and runs commands until /quit, the end of input, the
// cancellation of ctx or the loss of the connection.
func (s *session) loop(ctx context.Context) error {
	input := make(chan line)
	more := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	// Reading blocks, so it has its own goroutine; it reads the next line
	// only once the previous one is handled, so that the prompt shows the
	// channel a /join just selected.
	go func() {
		for {
			text, err := s.con.ReadLine()
			select {
			case input <- line{text, err}:
			case <-stop:
				return
			}
			if err != nil && !errors.Is(err, errInterrupt) {
				return
			}
			select {
			case <-more:
			case <-stop:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.c.Conn().Done():
			return errors.New("the connection to the server closed")
		case l := <-input:
			switch {
			case errors.Is(l.err, io.EOF):
				return nil
			case errors.Is(l.err, errInterrupt):
				// Ctrl-C on an empty line quits; on a typed line it
				// discards the line, as shells do.
				if strings.TrimSpace(l.text) == "" {
					return nil
				}
			case l.err != nil:
				return l.err
			default:
				if s.handle(ctx, l.text) {
					return nil
				}
			}
			more <- struct{}{}
		}
	}
}

// printIncoming prints the messages of this session until ctx is
// cancelled.
func (s *session) printIncoming(ctx context.Context) {
	for m, err := range s.c.MessagesIncoming(ctx) {
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(s.out, "error: incoming messages: %s\n", describe(err))
			}
			return
		}
		fmt.Fprintln(s.out, formatIncoming(m))
	}
}

// formatIncoming renders a received message: "[channel] user: text" or
// "[private] user: text".
func formatIncoming(m chat.Message) string {
	where := "private"
	if m.Channel != nil {
		where = *m.Channel
	}
	return fmt.Sprintf("[%s] %s: %s", where, deref(m.User), deref(m.Content))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *session) setPrompt() {
	p := s.o.user
	if s.current != "" {
		p += "@" + s.current
	}
	s.con.SetPrompt(p + "> ")
}

func (s *session) say(format string, args ...any) {
	fmt.Fprintf(s.out, format+"\n", args...)
}

// handle runs one input line and reports whether the session should end.
// A failed command is reported and the session goes on.
func (s *session) handle(ctx context.Context, text string) (quit bool) {
	text = strings.TrimSpace(text)
	if text == "" {
		return false
	}
	if !strings.HasPrefix(text, "/") || strings.HasPrefix(text, "//") {
		if strings.HasPrefix(text, "//") {
			text = text[1:]
		}
		s.report(s.sendChannel(ctx, text))
		return false
	}
	name, rest, _ := strings.Cut(text[1:], " ")
	rest = strings.TrimSpace(rest)
	args := strings.Fields(rest)
	var err error
	switch name {
	case "quit", "exit", "q":
		s.say("Bye.")
		return true
	case "help", "?":
		s.say("%s", interactiveHelp)
	case "msg":
		to, body, _ := strings.Cut(rest, " ")
		err = s.sendPrivate(ctx, to, strings.TrimSpace(body))
	case "join":
		err = s.join(ctx, args)
	case "leave":
		err = s.leave(ctx, args)
	case "channels":
		err = s.list(ctx, "Channels", args, 0, func(ctx context.Context) iter.Seq2[string, error] { return s.c.Channels(ctx) })
	case "users":
		err = s.users(ctx, args)
	case "files":
		err = s.list(ctx, "Files", args, 0, func(ctx context.Context) iter.Seq2[string, error] { return s.c.Files(ctx) })
	case "upload":
		err = s.upload(ctx, args)
	case "download":
		err = s.download(ctx, args)
	case "stats":
		err = s.stats(ctx, args)
	default:
		err = fmt.Errorf("unknown command /%s; /help lists the commands", name)
	}
	s.report(err)
	return false
}

// report prints a failed command's error.
func (s *session) report(err error) {
	if err != nil {
		s.say("error: %s", describe(err))
	}
}

// withTimeout runs f bounded by the request timeout.
func (s *session) withTimeout(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.timeout)
	defer cancel()
	return f(ctx)
}

func (s *session) sendChannel(ctx context.Context, text string) error {
	if s.current == "" {
		return errors.New("no current channel: /join CHANNEL first, or /msg USER TEXT")
	}
	channel := s.current
	// No local echo: the server delivers a channel message to its sender
	// too, and that copy shows that it went through.
	return s.withTimeout(ctx, func(ctx context.Context) error {
		return s.c.Message(ctx, chat.Message{Channel: &channel, Content: &text})
	})
}

func (s *session) sendPrivate(ctx context.Context, to, text string) error {
	if to == "" || text == "" {
		return errors.New("usage: /msg USER TEXT")
	}
	err := s.withTimeout(ctx, func(ctx context.Context) error {
		return s.c.Message(ctx, chat.Message{User: &to, Content: &text})
	})
	if err != nil {
		return err
	}
	// A private message is not delivered back to its sender: echo it.
	s.say("[to %s] %s", to, text)
	return nil
}

func (s *session) join(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: /join CHANNEL")
	}
	ch := args[0]
	if err := s.withTimeout(ctx, func(ctx context.Context) error { return s.c.ChannelJoin(ctx, ch) }); err != nil {
		return err
	}
	if !slices.Contains(s.joined, ch) {
		s.joined = append(s.joined, ch)
	}
	s.current = ch
	s.setPrompt()
	s.say("Joined %s; plain text now goes there.", ch)
	return nil
}

func (s *session) leave(ctx context.Context, args []string) error {
	ch := s.current
	switch {
	case len(args) == 1:
		ch = args[0]
	case len(args) > 1:
		return errors.New("usage: /leave [CHANNEL]")
	case ch == "":
		return errors.New("no current channel: /leave CHANNEL")
	}
	if err := s.withTimeout(ctx, func(ctx context.Context) error { return s.c.ChannelLeave(ctx, ch) }); err != nil {
		return err
	}
	s.joined = slices.DeleteFunc(s.joined, func(j string) bool { return j == ch })
	s.say("Left %s.", ch)
	if ch == s.current {
		// Fall back to the channel joined most recently, if any.
		s.current = ""
		if n := len(s.joined); n > 0 {
			s.current = s.joined[n-1]
			s.say("Plain text now goes to %s.", s.current)
		}
		s.setPrompt()
	}
	return nil
}

// list prints the names of a finite stream on one line.
func (s *session) list(ctx context.Context, title string, args []string, nargs int, open func(ctx context.Context) iter.Seq2[string, error]) error {
	if len(args) != nargs {
		return fmt.Errorf("/%s takes no arguments", strings.ToLower(title))
	}
	var names []string
	err := s.withTimeout(ctx, func(ctx context.Context) (err error) {
		names, err = collect(open(ctx))
		return err
	})
	if err != nil {
		return err
	}
	if len(names) == 0 {
		s.say("%s: (none)", title)
		return nil
	}
	s.say("%s: %s", title, strings.Join(names, ", "))
	return nil
}

func (s *session) users(ctx context.Context, args []string) error {
	ch := s.current
	switch {
	case len(args) == 1:
		ch = args[0]
	case len(args) > 1:
		return errors.New("usage: /users [CHANNEL]")
	case ch == "":
		return errors.New("no current channel: /users CHANNEL")
	}
	return s.list(ctx, "Users in "+ch, nil, 0, func(ctx context.Context) iter.Seq2[string, error] { return s.c.ChannelUsers(ctx, ch) })
}

func (s *session) upload(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: /upload PATH [NAME]")
	}
	name := defaultDest(args[0])
	if len(args) == 2 {
		name = args[1]
	}
	var n int
	err := s.withTimeout(ctx, func(ctx context.Context) (err error) {
		n, err = upload(ctx, s.c, s.progress, args[0], name)
		return err
	})
	if err != nil {
		return err
	}
	s.say("Uploaded %s (%d bytes).", name, n)
	return nil
}

func (s *session) download(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: /download NAME [PATH]")
	}
	name, dest := args[0], defaultDest(args[0])
	if len(args) == 2 {
		dest = args[1]
	}
	if dest == "-" {
		return errors.New("/download writes to a file; give a PATH other than -")
	}
	var n int
	err := s.withTimeout(ctx, func(ctx context.Context) (err error) {
		n, dest, err = download(ctx, s.c, s.progress, name, dest, nil)
		return err
	})
	if err != nil {
		return err
	}
	s.say("Downloaded %s to %s (%d bytes).", name, dest, n)
	return nil
}

func (s *session) stats(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errors.New("/stats takes no arguments")
	}
	ch, err := openStats(ctx, s.c)
	if err != nil {
		return err
	}
	defer ch.close(s.o.timeout)
	st, err := ch.next(ctx, s.o.timeout)
	if err != nil {
		return err
	}
	s.say("Server: %s", formatStats(st))
	return nil
}

// console is where the session reads commands and writes output.
type console interface {
	// ReadLine returns the next input line without its newline; io.EOF at
	// the end of input, errInterrupt for Ctrl-C.
	ReadLine() (string, error)
	// Out returns the writer for all session output. It is safe for
	// concurrent use and does not garble the line being typed.
	Out() io.Writer
	// SetPrompt sets the prompt shown while reading (terminals only).
	SetPrompt(p string)
	// Close releases the console; later output is dropped.
	Close() error
}

// errInterrupt is returned by ReadLine when the user pressed Ctrl-C.
var errInterrupt = errors.New("interrupted")

// syncWriter serialises the writes of the session and of the message
// printer, and drops them once closed, so that nothing is written after
// the session returned.
type syncWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

// Write implements io.Writer.
func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *syncWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
