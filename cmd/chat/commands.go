package main

// The one-shot subcommands for shell scripts: each opens one connection,
// logs in, does one thing, prints plain lines on stdout and exits.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// readOnlyUserHelp documents --user for commands that only read: the
// server wants a login before any request, so they log in too.
const readOnlyUserHelp = "log in as this `name` (the server needs a login for every request; default $CHAT_USER, else \"chat-cli\")"

// readOnlyUser returns the user name a reading command logs in with.
func readOnlyUser(o *options) string {
	if o.user == "" {
		return "chat-cli"
	}
	return o.user
}

// withClient connects as user, runs f with a context bounded by the
// request timeout, and closes the connection.
func withClient(ctx context.Context, o *options, user string, stderr io.Writer, f func(ctx context.Context, c *chat.Client) error) error {
	c, _, err := connect(ctx, o, user, stderr, false)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return f(ctx, c)
}

func sendCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o options
	var to, channel string
	fs := newFlagSet("send", "chat send --user U (--to USER | --channel C) TEXT...",
		"Sends TEXT (the arguments joined by spaces) as a private message to USER, or to\n"+
			"channel C. Sending to a channel joins it first, since only members may send;\n"+
			"the channel must already exist.", stderr)
	addCommon(fs, &o, "send as this `name` (default $CHAT_USER)")
	fs.StringVar(&to, "to", "", "send a private message to this `user`")
	fs.StringVar(&channel, "channel", "", "send to this `channel`")
	pos, err := parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	if (to == "") == (channel == "") {
		return usagef("send: give exactly one of --to USER and --channel C")
	}
	text := strings.Join(pos, " ")
	return withClient(ctx, &o, o.user, stderr, func(ctx context.Context, c *chat.Client) error {
		m := chat.Message{Content: &text}
		if to != "" {
			m.User = &to
			if err := c.Message(ctx, m); err != nil {
				return fmt.Errorf("send to user %s: %w", to, err)
			}
			return nil
		}
		// Joining creates a missing channel, which a mistyped name should
		// not do: check that it exists first.
		channels, err := collect(c.Channels(ctx))
		if err != nil {
			return fmt.Errorf("list channels: %w", err)
		}
		if !slices.Contains(channels, channel) {
			return fmt.Errorf("send to channel %s: no such channel", channel)
		}
		if err := c.ChannelJoin(ctx, channel); err != nil {
			return fmt.Errorf("join %s: %w", channel, err)
		}
		m.Channel = &channel
		if err := c.Message(ctx, m); err != nil {
			return fmt.Errorf("send to channel %s: %w", channel, err)
		}
		return nil
	})
}

func uploadCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o options
	var name string
	fs := newFlagSet("upload", "chat upload --user U PATH [--name NAME]",
		"Uploads the local file PATH, stored on the server as NAME (default: the base\n"+
			"name of PATH). Prints the stored name and size.", stderr)
	addCommon(fs, &o, "upload as this `name` (default $CHAT_USER)")
	fs.StringVar(&name, "name", "", "store the file under this `name`")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if name == "" {
		name = defaultDest(pos[0])
	}
	return withClient(ctx, &o, o.user, stderr, func(ctx context.Context, c *chat.Client) error {
		n, err := upload(ctx, c, newProgress(stderr), pos[0], name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "uploaded %s (%d bytes)\n", name, n)
		return nil
	})
}

func downloadCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o options
	var dest string
	fs := newFlagSet("download", "chat download --user U NAME [-o PATH]",
		"Downloads the stored file NAME into PATH (default: NAME's base name in the\n"+
			"current directory; into a directory PATH under that name; \"-\" writes the\n"+
			"bytes to stdout).", stderr)
	addCommon(fs, &o, "download as this `name` (default $CHAT_USER)")
	fs.StringVar(&dest, "o", "", "write the file to this `path` (\"-\" for stdout)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if dest == "" {
		dest = defaultDest(name)
	}
	return withClient(ctx, &o, o.user, stderr, func(ctx context.Context, c *chat.Client) error {
		n, where, err := download(ctx, c, newProgress(stderr), name, dest, stdout)
		if err != nil {
			return err
		}
		if where != "-" {
			fmt.Fprintf(stdout, "downloaded %s to %s (%d bytes)\n", name, where, n)
		}
		return nil
	})
}

// listCommand implements the commands that print one name per line. list
// says what it lists (for errors) and returns the stream to print.
func listCommand(name, synopsis, doc string, nargs int, list func(ctx context.Context, c *chat.Client, args []string) (string, iter.Seq2[string, error])) command {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		var o options
		fs := newFlagSet(name, synopsis, doc, stderr)
		addCommon(fs, &o, readOnlyUserHelp)
		pos, err := parse(fs, args, nargs, nargs)
		if err != nil {
			return err
		}
		return withClient(ctx, &o, readOnlyUser(&o), stderr, func(ctx context.Context, c *chat.Client) error {
			what, seq := list(ctx, c, pos)
			// Names are printed as they arrive, and only a complete list
			// exits 0.
			for n, err := range seq {
				if err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
				fmt.Fprintln(stdout, n)
			}
			return nil
		})
	}
}

var channelsCommand = listCommand("channels", "chat channels", "Prints the name of every channel, one per line.", 0,
	func(ctx context.Context, c *chat.Client, _ []string) (string, iter.Seq2[string, error]) {
		return "list channels", c.Channels(ctx)
	})

var usersCommand = listCommand("users", "chat users CHANNEL",
	"Prints the users of CHANNEL, one per line (nothing for an unknown channel).", 1,
	func(ctx context.Context, c *chat.Client, args []string) (string, iter.Seq2[string, error]) {
		return "list users of " + args[0], c.ChannelUsers(ctx, args[0])
	})

var filesCommand = listCommand("files", "chat files", "Prints the name of every stored file, one per line.", 0,
	func(ctx context.Context, c *chat.Client, _ []string) (string, iter.Seq2[string, error]) {
		return "list files", c.Files(ctx)
	})

func statsCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o options
	var count int
	var ids string
	var period int64
	fs := newFlagSet("stats", "chat stats [-n COUNT] [--ids users,channels] [--period SECONDS]",
		"Opens the server's statistics channel and prints COUNT reports, one per line\n"+
			"(user_count=N channel_count=N), then cancels it. -n 0 prints until interrupted.", stderr)
	addCommon(fs, &o, readOnlyUserHelp)
	fs.IntVar(&count, "n", 1, "print this many reports (0: until interrupted)")
	fs.StringVar(&ids, "ids", "", "comma-separated `counts` to report, among users and channels (default both)")
	fs.Int64Var(&period, "period", 0, "ask for a report every this many `seconds` (default the server's, 1)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if count < 0 || period < 0 {
		return usagef("stats: -n and --period must not be negative")
	}
	var req chat.ServerStatisticsRequest
	if ids != "" {
		for id := range strings.SplitSeq(ids, ",") {
			if id != "users" && id != "channels" {
				return usagef("stats: unknown count %q in --ids (want users, channels)", id)
			}
			req.IDs = append(req.IDs, id)
		}
	}
	if period > 0 {
		req.PeriodSeconds = &period
	}
	c, _, err := connect(ctx, &o, readOnlyUser(&o), stderr, false)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := openStats(ctx, c)
	if err != nil {
		return err
	}
	defer st.close(o.timeout)
	if req.IDs != nil || req.PeriodSeconds != nil {
		if err := st.ch.Send(req); err != nil {
			return fmt.Errorf("statistics settings: %w", err)
		}
	}
	for printed := 0; count == 0 || printed < count; {
		// Reports are periodic, so the request timeout bounds the wait
		// for each report rather than the whole command.
		r, err := st.next(ctx, o.timeout+time.Duration(period)*time.Second)
		if err != nil && count == 0 && ctx.Err() != nil {
			return nil // interrupted: the normal end of "until interrupted"
		}
		if err != nil {
			return err
		}
		// Reports sent before the server applied our settings may carry
		// other counts; skip them so the output matches what was asked.
		if !matches(r, req.IDs) {
			continue
		}
		fmt.Fprintln(stdout, formatStats(r))
		printed++
	}
	return nil
}

// statsChannel is an open statistics channel whose reports are read on
// their own goroutine, so that the caller can wait for the next one with a
// timeout and send new settings meanwhile.
type statsChannel struct {
	ch      *rsrt.Channel[chat.ServerStatisticsRequest, chat.ServerStatistics]
	cancel  context.CancelFunc
	reports <-chan item[chat.ServerStatistics]
}

// openStats opens the statistics channel on c.
func openStats(ctx context.Context, c *chat.Client) (*statsChannel, error) {
	sctx, cancel := context.WithCancel(ctx)
	ch, err := c.Statistics(sctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open statistics: %w", err)
	}
	return &statsChannel{ch: ch, cancel: cancel, reports: receive(sctx, ch.Recv())}, nil
}

// next waits up to timeout for the next report.
func (s *statsChannel) next(ctx context.Context, timeout time.Duration) (chat.ServerStatistics, error) {
	r, err := next(ctx, s.reports, timeout)
	if err != nil {
		return r, fmt.Errorf("statistics: %w", err)
	}
	return r, nil
}

// close ends the channel and waits up to timeout for its responses to
// end. It completes our side before it cancels the responses: the server
// then has no inbound left to cancel, and a CANCEL from the server for a
// channel that the rsocket-go v0.8.16 requester still has registered
// panics the client's process. Waiting for the end keeps the connection
// from closing while the server still winds the channel down.
func (s *statsChannel) close(timeout time.Duration) error {
	s.ch.CloseSend()
	s.ch.Close()
	s.cancel()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-s.reports:
			if !ok {
				return nil
			}
			// A report that crossed the cancellation.
		case <-deadline.C:
			return fmt.Errorf("the statistics channel did not end within %s of its cancellation", timeout)
		}
	}
}

// matches reports whether st carries exactly the counts in ids (both when
// ids is empty).
func matches(st chat.ServerStatistics, ids []string) bool {
	if len(ids) == 0 {
		return st.UserCount != nil && st.ChannelCount != nil
	}
	return (st.UserCount != nil) == slices.Contains(ids, "users") &&
		(st.ChannelCount != nil) == slices.Contains(ids, "channels")
}

// formatStats renders a report as key=value pairs of the counts it has.
func formatStats(st chat.ServerStatistics) string {
	var parts []string
	if st.UserCount != nil {
		parts = append(parts, fmt.Sprintf("user_count=%d", *st.UserCount))
	}
	if st.ChannelCount != nil {
		parts = append(parts, fmt.Sprintf("channel_count=%d", *st.ChannelCount))
	}
	if parts == nil {
		return "(empty report)"
	}
	return strings.Join(parts, " ")
}

// item is one element of a stream handed from its reading goroutine.
type item[T any] struct {
	v   T
	err error
}

// receive iterates seq on its own goroutine and hands the items over a
// channel, so that the caller can wait for the next one with a timeout and
// send on the same request-channel meanwhile. The channel is closed after
// the stream ends; cancelling ctx stops the goroutine.
func receive[T any](ctx context.Context, seq iter.Seq2[T, error]) <-chan item[T] {
	out := make(chan item[T])
	go func() {
		defer close(out)
		for v, err := range seq {
			select {
			case out <- item[T]{v, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// errEnded is returned by next when the stream completed.
var errEnded = errors.New("the stream ended")

// next waits up to timeout for the next item of in.
func next[T any](ctx context.Context, in <-chan item[T], timeout time.Duration) (T, error) {
	var zero T
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case it, ok := <-in:
		if !ok {
			return zero, errEnded
		}
		return it.v, it.err
	case <-t.C:
		return zero, fmt.Errorf("nothing received within %s", timeout)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
