package main

// chat demo: the reference scenario of the wire contract, replayed with two
// users on two connections, printed the way the tutorial's client logs it,
// and verified at every step.

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

// The scenario's fixed values, as in the tutorial.
const (
	demoChannel        = "channel1"
	demoPrivateText    = "private message from user1"
	demoChannelText    = "channel message from user1"
	demoFileName       = "file_name_1.txt"
	demoFileContents   = "abcdefg1234567"
	demoStaleStatsSkip = 3 // reports in flight when the settings change
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func demoCommand(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o options
	fs := newFlagSet("demo", "chat demo [--addr ADDR] [--timeout D]",
		"Replays the reference scenario of the chat contract with two users on two\n"+
			"connections (login, messages, channels, statistics, files), prints every step\n"+
			"and verifies every result; it exits 1 at the first unexpected one. Without\n"+
			"--addr it starts an embedded server on a free 127.0.0.1 port. Against a\n"+
			"server of your own, it expects no other sessions and no channel but channel1.", stderr)
	fs.StringVar(&o.addr, "addr", "", "run against the server at this `address` instead of an embedded one")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "fail a step that waits longer than this `duration`")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return usagef("demo: --timeout must be positive")
	}
	if o.addr == "" {
		addr, stop, err := startEmbedded(ctx, stderr)
		if err != nil {
			return fmt.Errorf("start the embedded server: %w", err)
		}
		defer stop()
		o.addr = addr
		fmt.Fprintf(stdout, "Started an embedded chat server on %s\n", addr)
		// The embedded server ends with the demo; a standing one serves
		// the browser page on its WebSocket port.
		fmt.Fprintf(stdout, "The chat in a browser: run 'go run ./cmd/chat-server' and open %s\n", chatserver.DefaultPageURL)
	}
	d := &demo{out: stdout, log: stderr, o: &o}
	defer d.close()
	if err := d.run(ctx); err != nil {
		return fmt.Errorf("demo failed: %w", err)
	}
	fmt.Fprintln(stdout, "\nDemo OK: all 10 steps verified.")
	return nil
}

// demo is one run of the scenario.
type demo struct {
	out   io.Writer
	log   io.Writer
	o     *options
	user1 *demoUser
	user2 *demoUser
}

// demoUser is one of the two users, on its own connection.
type demoUser struct {
	name     string
	c        *chat.Client
	inbox    <-chan item[chat.Message] // messages.incoming, while listening
	unlisten context.CancelFunc
}

// say prints one line of the scenario.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// call runs one request bounded by the step timeout.
func (d *demo) call(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	return f(ctx)
}

func (d *demo) close() {
	for _, u := range []*demoUser{d.user1, d.user2} {
		if u == nil {
			continue
		}
		if u.unlisten != nil {
			u.unlisten()
		}
		u.c.Close()
	}
}

func (d *demo) run(ctx context.Context) error {
	fmt.Fprintf(d.out, "Connecting to %s\n", d.o.addr)
	steps := []struct {
		title string
		f     func(context.Context) error
	}{
		{"two connections log in", d.login},
		{"both listen on messages.incoming", d.listen},
		{"both join " + demoChannel, d.join},
		{"list channels and channel users", d.list},
		{"private message", d.privateMessage},
		{"channel message", d.channelMessage},
		{"user1 leaves " + demoChannel, d.leave},
		{"both stop listening", d.stopListening},
		{"statistics", d.statistics},
		{"files", d.files},
	}
	for i, s := range steps {
		fmt.Fprintf(d.out, "\n== Step %d: %s ==\n", i+1, s.title)
		if err := s.f(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	return nil
}

func (d *demo) login(ctx context.Context) error {
	for _, name := range []string{"user1", "user2"} {
		c, session, err := connect(ctx, d.o, name, d.log, true)
		if err != nil {
			return err
		}
		u := &demoUser{name: name, c: c}
		if name == "user1" {
			d.user1 = u
		} else {
			d.user2 = u
		}
		if !uuidPattern.MatchString(session) {
			return fmt.Errorf("%s: login returned %q, not a session UUID", name, session)
		}
		d.say("%s: login -> session %s", name, session)
	}
	return nil
}

func (d *demo) listen(ctx context.Context) error {
	for _, u := range []*demoUser{d.user1, d.user2} {
		lctx, cancel := context.WithCancel(ctx)
		u.unlisten = cancel
		u.inbox = receive(lctx, u.c.MessagesIncoming(lctx))
		d.say("%s: listening on messages.incoming", u.name)
	}
	return nil
}

func (d *demo) join(ctx context.Context) error {
	for _, u := range []*demoUser{d.user1, d.user2} {
		if err := d.call(ctx, func(ctx context.Context) error { return u.c.ChannelJoin(ctx, demoChannel) }); err != nil {
			return fmt.Errorf("%s: join %s: %w", u.name, demoChannel, err)
		}
		d.say("%s: joined %s", u.name, demoChannel)
	}
	return nil
}

func (d *demo) list(ctx context.Context) error {
	var channels []string
	err := d.call(ctx, func(ctx context.Context) (err error) {
		channels, err = collect(d.user1.c.Channels(ctx))
		return err
	})
	if err != nil {
		return fmt.Errorf("channels: %w", err)
	}
	d.say("Channels: %s", pyList(channels))
	if !slices.Equal(channels, []string{demoChannel}) {
		return fmt.Errorf("channels: got %s, want ['%s'] (the demo needs a server with no other channels)", pyList(channels), demoChannel)
	}
	return d.checkUsers(ctx, "user1", "user2")
}

// checkUsers lists the users of the demo channel and compares them, in any
// order, with want.
func (d *demo) checkUsers(ctx context.Context, want ...string) error {
	var users []string
	err := d.call(ctx, func(ctx context.Context) (err error) {
		users, err = collect(d.user1.c.ChannelUsers(ctx, demoChannel))
		return err
	})
	if err != nil {
		return fmt.Errorf("channel.users %s: %w", demoChannel, err)
	}
	// The server's order is a set's order; sort for a stable line.
	slices.Sort(users)
	d.say("Channel %s users: %s", demoChannel, pyList(users))
	if !slices.Equal(users, want) {
		return fmt.Errorf("channel.users %s: got %s, want %s", demoChannel, pyList(users), pyList(want))
	}
	return nil
}

func (d *demo) privateMessage(ctx context.Context) error {
	to, text := "user2", demoPrivateText
	d.say("user1: sending '%s' to user %s", text, to)
	err := d.call(ctx, func(ctx context.Context) error {
		return d.user1.c.Message(ctx, chat.Message{User: &to, Content: &text})
	})
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	return d.expect(ctx, d.user2, text, nil)
}

func (d *demo) channelMessage(ctx context.Context) error {
	channel, text := demoChannel, demoChannelText
	d.say("user1: sending '%s' to channel %s", text, channel)
	err := d.call(ctx, func(ctx context.Context) error {
		return d.user1.c.Message(ctx, chat.Message{Channel: &channel, Content: &text})
	})
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	// Both deliveries happen concurrently; waiting for them in a fixed order
	// keeps the output stable.
	if err := d.expect(ctx, d.user1, text, &channel); err != nil {
		return err
	}
	return d.expect(ctx, d.user2, text, &channel)
}

// expect waits for u's next incoming message and checks that it is from
// user1 with the given content and channel.
func (d *demo) expect(ctx context.Context, u *demoUser, content string, channel *string) error {
	m, err := next(ctx, u.inbox, d.o.timeout)
	if err != nil {
		return fmt.Errorf("%s: waiting for a message: %w", u.name, err)
	}
	d.say("%s received: %s", u.name, pyMessage(m))
	want := chat.Message{User: ptr("user1"), Content: &content, Channel: channel}
	if pyMessage(m) != pyMessage(want) {
		return fmt.Errorf("%s: got %s, want %s", u.name, pyMessage(m), pyMessage(want))
	}
	return nil
}

func (d *demo) leave(ctx context.Context) error {
	if err := d.call(ctx, func(ctx context.Context) error { return d.user1.c.ChannelLeave(ctx, demoChannel) }); err != nil {
		return fmt.Errorf("user1: leave %s: %w", demoChannel, err)
	}
	d.say("user1: left %s", demoChannel)
	return d.checkUsers(ctx, "user2")
}

func (d *demo) stopListening(ctx context.Context) error {
	for _, u := range []*demoUser{d.user1, d.user2} {
		u.unlisten()
		// The reading goroutine closes the inbox once the stream is over;
		// a message still arriving here was never meant for this user.
		deadline := time.After(d.o.timeout)
	drain:
		for {
			select {
			case it, ok := <-u.inbox:
				if !ok {
					break drain
				}
				if it.err == nil {
					return fmt.Errorf("%s: unexpected message %s", u.name, pyMessage(it.v))
				}
			case <-deadline:
				return fmt.Errorf("%s: messages.incoming did not end within %s of its cancellation", u.name, d.o.timeout)
			}
		}
		d.say("%s: stopped listening", u.name)
	}
	return nil
}

func (d *demo) statistics(ctx context.Context) error {
	// The tutorial reports its peak resident size; the memory the Go
	// runtime obtained from the system is the closest portable figure.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	usage := float64(ms.Sys)
	err := d.call(ctx, func(ctx context.Context) error {
		return d.user1.c.SendStatistics(ctx, chat.ClientStatistics{MemoryUsage: &usage})
	})
	if err != nil {
		return fmt.Errorf("send statistics: %w", err)
	}
	d.say("user1: sent ClientStatistics(memory_usage=%d) (fire-and-forget)", ms.Sys)

	ch, err := openStats(ctx, d.user1.c)
	if err != nil {
		return err
	}
	defer ch.close(d.o.timeout) // a no-op after the close below
	d.say("user1: statistics channel opened")

	two, one := int64(2), int64(1)
	// Two reports show the period at work (about one a second).
	for range 2 {
		if err := d.expectStats(ctx, ch, chat.ServerStatistics{UserCount: &two, ChannelCount: &one}, 0); err != nil {
			return err
		}
	}

	d.say("user1: sending ServerStatisticsRequest(ids=['users'])")
	if err := ch.ch.Send(chat.ServerStatisticsRequest{IDs: []string{"users"}}); err != nil {
		return fmt.Errorf("statistics settings: %w", err)
	}
	if err := d.expectStats(ctx, ch, chat.ServerStatistics{UserCount: &two}, demoStaleStatsSkip); err != nil {
		return err
	}

	if err := ch.close(d.o.timeout); err != nil {
		return err
	}
	d.say("user1: statistics channel cancelled")
	return nil
}

// expectStats waits for a report equal to want. Up to skip reports with
// other counts are passed over first: they were sent before the server
// applied new settings.
func (d *demo) expectStats(ctx context.Context, ch *statsChannel, want chat.ServerStatistics, skip int) error {
	for {
		// A report comes every period_seconds (1 by default) on top of the
		// usual delay.
		st, err := ch.next(ctx, d.o.timeout+time.Second)
		if err != nil {
			return err
		}
		if pyStats(st) == pyStats(want) {
			d.say("user1 received: %s", pyStats(st))
			return nil
		}
		if skip == 0 {
			return fmt.Errorf("statistics: got %s, want %s", pyStats(st), pyStats(want))
		}
		skip--
	}
}

func (d *demo) files(ctx context.Context) error {
	contents := []byte(demoFileContents)
	err := d.call(ctx, func(ctx context.Context) error { return d.user1.c.FileUpload(ctx, contents, demoFileName) })
	if err != nil {
		return fmt.Errorf("user1: upload %s: %w", demoFileName, err)
	}
	d.say("user1: uploaded %s (%d bytes)", demoFileName, len(contents))

	var files []string
	err = d.call(ctx, func(ctx context.Context) (err error) {
		files, err = collect(d.user1.c.Files(ctx))
		return err
	})
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	d.say("Files: %s", pyList(files))
	// A server keeps its files, so earlier runs may have left others.
	if !slices.Contains(files, demoFileName) {
		return fmt.Errorf("files: %s does not list %s", pyList(files), demoFileName)
	}

	var resp chat.FileDownloadResponse
	err = d.call(ctx, func(ctx context.Context) (err error) {
		resp, err = d.user2.c.FileDownload(ctx, demoFileName)
		return err
	})
	if err != nil {
		return fmt.Errorf("user2: download %s: %w", demoFileName, err)
	}
	d.say("user2: downloaded %d bytes, response metadata %s = '%s'", len(resp.Data), chat.MIMEFileName, resp.FileName)
	if string(resp.Data) != demoFileContents {
		return fmt.Errorf("user2: downloaded %q, want %q", resp.Data, demoFileContents)
	}
	if resp.FileName != demoFileName {
		return fmt.Errorf("user2: response metadata names %q, want %q", resp.FileName, demoFileName)
	}
	d.say("user2: downloaded bytes match the uploaded ones")
	return nil
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// The py* helpers print values the way the tutorial's Python client shows
// them (dataclass reprs, list reprs), so both outputs read alike.

func pyStr(s *string) string {
	if s == nil {
		return "None"
	}
	return pyQuote(*s)
}

func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

func pyInt(n *int64) string {
	if n == nil {
		return "None"
	}
	return fmt.Sprint(*n)
}

func pyList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = pyQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func pyMessage(m chat.Message) string {
	return fmt.Sprintf("Message(user=%s, content=%s, channel=%s)", pyStr(m.User), pyStr(m.Content), pyStr(m.Channel))
}

func pyStats(st chat.ServerStatistics) string {
	return fmt.Sprintf("ServerStatistics(user_count=%s, channel_count=%s)", pyInt(st.UserCount), pyInt(st.ChannelCount))
}
