package chatweb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
	"github.com/rsocket-chat/rsgen/impl/chatauth"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chattest"
	"github.com/rsocket-chat/rsgen/internal/syncbuf"
)

// wait bounds every wait of the browser tests: a browser on two shared
// cores under the race detector is slow to start.
const wait = 60 * time.Second

// chromium returns the path of the Chromium to drive. Without one the
// test is skipped, unless it runs in CI (CI=true), where .ci/run installs
// Debian's chromium and a missing one is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium found, and CI=true: .ci/run should have installed it (apt-get install chromium)")
	}
	t.Skip("no chromium found: install Debian's chromium (apt-get install chromium) to run the browser tests")
	return ""
}

// screenshots is the folder the tests of this run leave their
// screenshots in: a new temporary folder, kept after the tests.
var screenshots = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "chatweb-screenshots-*") })

// screenshotDir returns the screenshot folder and logs its path.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := screenshots()
	chattest.Must(t, err)
	t.Logf("screenshots in %s", dir)
	return dir
}

// newBrowser starts a headless Chromium for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox (CI runs as
		// root); the pages it loads are the test's own.
		opts = append(opts, chromedp.NoSandbox)
	}
	// On a loaded machine Chromium has been seen to crash while starting
	// (once in a run of six test packages at once: "chrome failed to
	// start", a crashpad dump); a start is tried three times. Only the
	// start: what the pages do is never retried.
	for attempt := 1; ; attempt++ {
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelTab := chromedp.NewContext(actx)
		err := chromedp.Do(ctx)
		if err == nil {
			t.Cleanup(cancel)
			t.Cleanup(cancelTab)
			return ctx
		}
		cancelTab()
		cancel()
		if attempt == 3 || !strings.Contains(err.Error(), "failed to start") {
			t.Fatalf("start chromium (attempt %d): %v", attempt, err)
		}
		t.Logf("chromium did not start (attempt %d), trying again: %v", attempt, err)
	}
}

// newTab opens a tab in the browser of parent (a new browser when parent
// is an allocator's context). The tab lives until the test ends: the
// first run on a chromedp context must not be on one with a timeout,
// which would close the tab when it ends.
func newTab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page is one browser tab with the chat page.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
	// problems are the console errors and uncaught exceptions of the page
	// (a CSP violation is one): the test fails on any.
	mu       sync.Mutex
	problems []string
}

// openPage opens a tab on url with a viewport of the given size.
func openPage(t *testing.T, parent context.Context, name, url string, width, height int64) *page {
	t.Helper()
	ctx := newTab(t, parent)
	p := &page{t: t, name: name, ctx: ctx}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				p.mu.Lock()
				p.problems = append(p.problems, m.String())
				p.mu.Unlock()
			}
		}
	}()
	p.do(chromedp.EmulateViewport(width, height), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#login-user")))
	return p
}

// do runs actions within wait, failing the test on an error.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// until waits until the JavaScript expression is truthy.
func (p *page) until(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(wait))); err != nil {
		p.t.Fatalf("%s: waiting for %s: %v", p.name, what, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return v
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return strconv.Quote(s) }

// login logs the page in as user, with a password when it is not empty.
func (p *page) login(user, password string) {
	p.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#login-user"), user)}
	if password != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS("#login-password"), password))
	}
	p.do(append(steps, chromedp.Click(chromedp.CSS("#login-submit")))...)
}

// join joins a channel through the join form.
func (p *page) join(channel string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#join-name"), channel), chromedp.Click(chromedp.CSS("#join-submit")))
	p.until("the Leave button of "+channel, `document.querySelector('#channel-list button[aria-label='+`+js(js("Leave "+channel))+`+']') !== null`)
}

// send sends a message through the send form: kind is "channel" or "user".
func (p *page) send(kind, to, text string) {
	p.t.Helper()
	p.do(
		chromedp.SetValue(chromedp.CSS("#send-kind"), kind),
		chromedp.SetValue(chromedp.CSS("#send-to"), to),
		chromedp.SendKeys(chromedp.CSS("#send-text"), text),
		chromedp.Click(chromedp.CSS("#send-submit")),
	)
	p.until("the send form to clear", `document.querySelector('#send-text').value === '' && !document.querySelector('#send-submit').disabled`)
	if e := eval[string](p, `document.querySelector('#send-error').textContent`); e != "" {
		p.t.Fatalf("%s: sending %q: %s", p.name, text, e)
	}
}

// seeMessage waits until the conversation shows a line with the tag,
// sender and content.
func (p *page) seeMessage(tag, from, content string) {
	p.t.Helper()
	p.until(fmt.Sprintf("message [%s] %s: %s", tag, from, content), fmt.Sprintf(
		`[...document.querySelectorAll('#messages li')].some(li => li.querySelector('.tag').textContent === %s && li.querySelector('.from').textContent === %s && li.querySelector('.content').textContent === %s)`,
		js(tag), js(from), js(content)))
}

// click clicks the button with the accessible label.
func (p *page) click(label string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(`button[aria-label=` + js(label) + `]`)))
}

// texts returns the text of each element matching the CSS selector.
func (p *page) texts(sel string) []string {
	p.t.Helper()
	return eval[[]string](p, `[...document.querySelectorAll(`+js(sel)+`)].map(e => e.textContent)`)
}

// screenshot saves a full-page PNG of the tab.
func (p *page) screenshot(dir, name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	chattest.Must(p.t, err)
	chattest.Must(p.t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// checkClean fails the test if the page logged an error or threw.
func (p *page) checkClean() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.problems {
		p.t.Errorf("%s: console: %s", p.name, m)
	}
}

// startServer starts a chat server on 127.0.0.1 (TCP and WebSocket, the
// page on the latter) and returns it with its log.
func startServer(t *testing.T, edit func(*chatserver.Config)) (*chatserver.Running, *syncbuf.Buffer) {
	t.Helper()
	var logs syncbuf.Buffer
	cfg := chatserver.DefaultConfig()
	cfg.TCPAddr, cfg.WSAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if edit != nil {
		edit(&cfg)
	}
	return chattest.Start(t, cfg, wait, nil), &logs
}

// Two browser pages (one at phone width) and a Go client of the generated
// package use the chat together through a real chat-server: channel and
// private messages both ways, members, a file uploaded by one page and
// downloaded by the other, the statistics panel, the time call.
func TestMain(m *testing.M) {
	// rsocket-go's own lines (a WebSocket closed before its SETUP, in the
	// origin test) would go to the standard logger.
	rsrt.RouteLibraryLogs(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestBrowserChat(t *testing.T) {
	bctx := newBrowser(t)
	shots := screenshotDir(t)
	srv, logs := startServer(t, nil)
	ctx := chattest.Context(t, 5*wait)

	// The Go client is in the channel first.
	gopher := chattest.Dial(t, srv.TCPAddr(), wait)
	_, err := gopher.Login(ctx, "gopher")
	chattest.Must(t, err)
	goInbox := chattest.Listen(t, gopher)
	chattest.Must(t, gopher.ChannelJoin(ctx, "lobby"))

	alice := openPage(t, bctx, "alice", srv.PageURL(), 390, 844) // a phone
	bob := openPage(t, bctx, "bob", srv.PageURL(), 1280, 900)
	for _, p := range []*page{alice, bob} {
		p.login(p.name, "")
		p.until("the chat", `!document.querySelector('#chat').hidden`)
		p.join("lobby")
	}

	// Members: the page lists the three of them.
	alice.click("Members of lobby")
	alice.until("three members", `document.querySelectorAll('#member-list li').length === 3`)
	if got := alice.texts("#member-list li > span"); !slices.Equal(got, []string{"alice", "bob", "gopher"}) {
		t.Errorf("members shown: %q", got)
	}

	// Channel messages: browser to everyone, Go client to the browsers.
	lobby := "lobby"
	alice.send("channel", "lobby", "hello from alice")
	for _, p := range []*page{alice, bob} {
		p.seeMessage("#lobby", "alice", "hello from alice")
	}
	chattest.CheckMsg(t, goInbox.Next(t, wait), "alice", "hello from alice", &lobby)
	chattest.Must(t, gopher.Message(ctx, chat.Message{Channel: &lobby, Content: ptr("hello from go")}))
	chattest.CheckMsg(t, goInbox.Next(t, wait), "gopher", "hello from go", &lobby) // members get their own
	for _, p := range []*page{alice, bob} {
		p.seeMessage("#lobby", "gopher", "hello from go")
	}

	// Private messages: page to page, page to Go, Go to page.
	bob.send("user", "alice", "psst, alice")
	alice.seeMessage("private", "bob", "psst, alice")
	bob.seeMessage("to alice", "bob", "psst, alice")
	alice.send("user", "gopher", "hi gopher")
	chattest.CheckMsg(t, goInbox.Next(t, wait), "alice", "hi gopher", nil)
	chattest.Must(t, gopher.Message(ctx, chat.Message{User: ptr("bob"), Content: ptr("hi bob, from go")}))
	bob.seeMessage("private", "gopher", "hi bob, from go")
	if n := eval[int](alice, `document.querySelectorAll('#messages li').length`); n != 4 {
		t.Errorf("alice's page shows %d messages, want 4 (2 channel, 1 received, 1 sent)", n)
	}

	// A file over the 1,000,000-byte fragment size, uploaded by alice's page.
	content := make([]byte, 2_500_000)
	_, _ = rand.Read(content)
	upload := filepath.Join(t.TempDir(), "report.bin")
	chattest.Must(t, os.WriteFile(upload, content, 0o644))
	alice.do(chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{upload}), chromedp.Click(chromedp.CSS("#upload-submit")))
	alice.until("the upload to finish", `document.querySelector('#upload-status').textContent.startsWith('Uploaded report.bin')`)
	if v := eval[float64](alice, `document.querySelector('#upload-progress').value`); v != 1 {
		t.Errorf("progress bar at %v after the upload, want 1", v)
	}
	got, err := gopher.FileDownload(ctx, "report.bin")
	chattest.Must(t, err)
	if !bytes.Equal(got.Data, content) {
		t.Fatalf("the server stored %d bytes, not the %d uploaded", len(got.Data), len(content))
	}

	// Bob's page downloads it through the browser's own download.
	bob.do(chromedp.Click(chromedp.CSS("#files-refresh")))
	bob.until("report.bin in the file list", `document.querySelector('#file-list li[data-file="report.bin"]') !== null`)
	downloaded := bob.download(t, "report.bin")
	if !bytes.Equal(downloaded, content) {
		t.Fatalf("bob's browser downloaded %d bytes, not the %d uploaded", len(downloaded), len(content))
	}

	// The statistics panel: three users, one channel.
	for _, p := range []*page{alice, bob} {
		p.until("the statistics", `document.querySelector('#stat-users').textContent === '3' && document.querySelector('#stat-channels').textContent === '1'`)
	}

	// A channel made elsewhere shows up with no click: the page refreshes
	// its lists when the statistics change.
	chattest.Must(t, gopher.ChannelJoin(ctx, "garden"))
	alice.until("the new channel listed", `document.querySelector('#channel-list li[data-channel="garden"]') !== null`)

	// The server called time on each page after login, and each answered.
	for _, user := range []string{"alice", "bob"} {
		if !regexp.MustCompile(`msg="client time" [^\n]*user=` + user + ` `).MatchString(logs.String()) {
			t.Errorf("no answer to the time call from %s's page in the server log:\n%s", user, logs.String())
		}
	}

	// Leaving: the Go client sees alice gone.
	alice.click("Leave lobby")
	alice.until("the Join button", `document.querySelector('#channel-list button[aria-label="Join lobby"]') !== null`)
	members := chattest.Collect(t, gopher.ChannelUsers(ctx, "lobby"))
	if !slices.Equal(members, []string{"bob", "gopher"}) {
		t.Errorf("lobby members after alice left: %q", members)
	}

	alice.screenshot(shots, "alice-phone.png")
	bob.screenshot(shots, "bob-desktop.png")
	alice.checkClean()
	bob.checkClean()
}

// download refreshes the file list, clicks the file's Download button and
// returns the bytes the browser saved.
func (p *page) download(t *testing.T, name string) []byte {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior:      browser.SetDownloadBehaviorBehaviorAllowAndName,
			DownloadPath:  dir,
			EventsEnabled: ptr(true),
		})
		return err
	}))
	p.click("Download " + name)
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("%s: download of %s: %v", p.name, name, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			chattest.Must(t, err)
			return b
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("%s: download of %s cancelled", p.name, name)
		}
	}
	t.Fatalf("%s: download of %s did not finish", p.name, name)
	return nil
}

func ptr[T any](v T) *T { return &v }

// With --auth, the page sends the user name and password in its SETUP
// (simple authentication): a wrong password is refused with the server's
// reason on the login form, the right one logs in.
func TestBrowserAuthentication(t *testing.T) {
	bctx := newBrowser(t)
	path := filepath.Join(t.TempDir(), "users")
	// bcrypt's lowest cost: the race detector makes bcrypt slow.
	hash, err := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	chattest.Must(t, err)
	chattest.Must(t, os.WriteFile(path, []byte("user alice "+string(hash)+"\n"), 0o600))
	users, err := chatauth.Load(path)
	chattest.Must(t, err)
	srv, _ := startServer(t, func(cfg *chatserver.Config) { cfg.Chat.Auth = users })

	p := openPage(t, bctx, "alice", srv.PageURL(), 390, 844)
	p.login("alice", "guess")
	p.until("the refusal", `document.querySelector('#login-error').textContent !== ''`)
	refusal := eval[string](p, `document.querySelector('#login-error').textContent`)
	if refusal != "The server refused the connection: authentication failed" {
		t.Errorf("wrong password: the page says %q", refusal)
	}
	if hidden := eval[bool](p, `document.querySelector('#chat').hidden`); !hidden {
		t.Error("wrong password: the chat is shown")
	}
	eval[chromedp.Void](p, `for (const id of ['login-user', 'login-password']) document.getElementById(id).value = ''`)
	p.login("alice", "wonderland")
	p.until("the chat", `!document.querySelector('#chat').hidden`)
	if me := eval[string](p, `document.querySelector('#me').textContent`); me != "alice" {
		t.Errorf("logged in as %q", me)
	}
	p.screenshot(screenshotDir(t), "alice-authenticated.png")
}

// A page from another origin cannot open a chat connection in its user's
// name, unless the server allows that origin: the browser's own
// WebSocket, refused with 403 by the origin policy.
func TestBrowserOriginPolicy(t *testing.T) {
	bctx := newBrowser(t)
	// The other site: a page that tries the chat server's WebSocket
	// given in its query string and shows the outcome in its title.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>trying</title><script>
const ws = new WebSocket(new URLSearchParams(location.search).get("ws"));
ws.onopen = () => { document.title = "open"; ws.close(); };
ws.onerror = () => { document.title = "refused"; };
</script>`)
	}))
	t.Cleanup(other.Close)

	for _, c := range []struct {
		name    string
		allowed []string
		want    string
	}{
		{"foreign origin refused", nil, "refused"},
		{"allowed origin accepted", []string{other.URL}, "open"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := startServer(t, func(cfg *chatserver.Config) { cfg.AllowedOrigins = c.allowed })
			p := &page{t: t, name: "other site", ctx: newTab(t, bctx)}
			p.do(chromedp.Navigate(other.URL + "/?ws=" + url.QueryEscape(srv.WSURL())))
			p.until("the outcome", `document.title !== 'trying'`)
			if got := eval[string](p, `document.title`); got != c.want {
				t.Errorf("WebSocket from %s: %s, want %s", other.URL, got, c.want)
			}
		})
	}
}
