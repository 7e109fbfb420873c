package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

// progressThreshold is the size above which transfers show progress: a
// smaller file moves faster than a bar could be read.
const progressThreshold = 1 << 20

// spinnerDelay is how long a request may run before a spinner appears, so
// that quick transfers print nothing at all.
const spinnerDelay = 700 * time.Millisecond

// progress draws transfer progress on a terminal, and nothing elsewhere, so
// that scripts and tests see clean output.
type progress struct {
	w   io.Writer
	tty bool
}

// newProgress returns the progress reporter that writes to w, which is
// active only when w is a terminal.
func newProgress(w io.Writer) progress {
	f, ok := w.(*os.File)
	return progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// bar returns a byte-count bar of size max (-1: a spinner of unknown
// length) for a large transfer, or nil when no bar should be drawn.
func (p progress) bar(max int64, desc string) *progressbar.ProgressBar {
	if !p.tty {
		return nil
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(65*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)
}

// readFile reads a local file, with a bar while reading a large one.
func (p progress) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	var r io.Reader = f
	if st.Size() > progressThreshold {
		if b := p.bar(st.Size(), "reading "+filepath.Base(path)); b != nil {
			defer b.Finish()
			r = io.TeeReader(f, b)
		}
	}
	var buf bytes.Buffer
	buf.Grow(int(st.Size()))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// wait runs the request f. A file transfer is a single request-response,
// so the client cannot know how far along it is: when f takes a while, a
// spinner says so, honestly, instead of a made-up percentage.
func (p progress) wait(desc string, f func() error) error {
	if !p.tty {
		return f()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(spinnerDelay):
	}
	b := p.bar(-1, desc+" (one request, no partial progress)")
	defer b.Finish()
	return <-done
}

// writeFile writes data to path through a temporary file in the same
// directory, so that a failed download never leaves a truncated file
// under the final name.
func (p progress) writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".chat-download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	var w io.Writer = tmp
	if len(data) > progressThreshold {
		if b := p.bar(int64(len(data)), "writing "+filepath.Base(path)); b != nil {
			defer b.Finish()
			w = io.MultiWriter(tmp, b)
		}
	}
	if _, err := w.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a downloaded file is an ordinary one.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// upload sends the file at path under name and returns its size.
func upload(ctx context.Context, c *chat.Client, p progress, path, name string) (int, error) {
	data, err := p.readFile(path)
	if err != nil {
		return 0, err
	}
	err = p.wait(fmt.Sprintf("uploading %s, %d bytes", name, len(data)), func() error {
		return c.FileUpload(ctx, data, name)
	})
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", name, err)
	}
	return len(data), nil
}

// download fetches the file name and writes it to dest, or to stdout when
// dest is "-". A dest that is a directory receives the file under its base
// name. It returns the file's size and where it went.
func download(ctx context.Context, c *chat.Client, p progress, name, dest string, stdout io.Writer) (int, string, error) {
	if st, err := os.Stat(dest); dest != "-" && err == nil && st.IsDir() {
		dest = filepath.Join(dest, defaultDest(name))
	}
	var resp chat.FileDownloadResponse
	err := p.wait("downloading "+name, func() error {
		var err error
		resp, err = c.FileDownload(ctx, name)
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("download %s: %w", name, err)
	}
	if resp.FileName != name {
		// The contract says the response names the file; a server that
		// answers with another file is wrong, and saying so beats saving it.
		return 0, "", fmt.Errorf("download %s: the server answered with file %q", name, resp.FileName)
	}
	if dest == "-" {
		_, err = stdout.Write(resp.Data)
	} else {
		err = p.writeFile(dest, resp.Data)
	}
	if err != nil {
		return 0, "", fmt.Errorf("download %s: %w", name, err)
	}
	return len(resp.Data), dest, nil
}

// defaultDest is where a downloaded file goes when no path is given: its
// base name in the current directory, so that a name such as "../x" from
// the server can never write outside it.
func defaultDest(name string) string {
	base := filepath.Base(filepath.Clean("/" + name))
	if base == "/" || base == "." {
		return "download"
	}
	return base
}
