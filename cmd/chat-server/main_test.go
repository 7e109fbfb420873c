package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/rsocket-chat/rsgen/impl/chatserver"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestHelpDocumentsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := parse([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, s := range settings(defaults()) {
		for _, want := range []string{"-" + s.flag, s.env} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help does not mention %s", want)
			}
		}
	}
	for _, want := range []string{`"localhost:6565"`, `"localhost:6566"`, `"data"`, "16MiB", "1GiB", "1024", "(default info)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not show the default %s", want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	o, err := parse(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.tcpAddr != "localhost:6565" || o.wsAddr != "localhost:6566" || o.dataDir != "data" || o.maxFile != 16<<20 {
		t.Fatalf("defaults: %+v", o)
	}
	e := env(map[string]string{
		"CHAT_TCP_ADDR": "127.0.0.1:7000", "CHAT_DATA_DIR": "/tmp/x", "CHAT_MAX_FILE_SIZE": "2MiB",
		"CHAT_WS_ADDR": "", "CHAT_LOG_LEVEL": "DEBUG", "CHAT_QUEUE_LEN": "10",
	})
	o, err = parse([]string{"--data-dir", "/srv/chat", "--max-store-size=3G"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.tcpAddr != "127.0.0.1:7000" || o.wsAddr != "" || o.dataDir != "/srv/chat" ||
		o.maxFile != 2<<20 || o.maxTotal != 3<<30 || o.logLevel != "debug" || o.queueLen != 10 {
		t.Fatalf("env then flags: %+v", o)
	}
	cfg := o.config(nil)
	if cfg.Files.MaxFileBytes != 2<<20 || cfg.Chat.QueueLen != 10 || cfg.WSAddr != "" || cfg.BusyPoll != chatserver.DefaultBusyPoll {
		t.Fatalf("config: %+v", cfg)
	}
	// --busy-poll 0 never polls: the package's "never" is negative.
	o, err = parse([]string{"--busy-poll", "0"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.config(nil).BusyPoll; got >= 0 {
		t.Fatalf("--busy-poll 0: BusyPoll %v, want negative (never)", got)
	}
}

func TestInvalidSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--max-file-size", "lots"}, want: "usage"},
		{args: []string{"--log-level", "loud"}, want: "usage"},
		{args: []string{"--log-format", "xml"}, want: "usage"},
		{args: []string{"extra"}, want: "usage"},
		{args: []string{"--tcp-addr", "", "--ws-addr", ""}, want: "nothing to serve"},
		{args: []string{"--queue-len", "0"}, want: "must be positive"},
		{args: []string{"--max-file-size", "2G", "--max-store-size", "1G"}, want: "larger than"},
		{env: map[string]string{"CHAT_SHUTDOWN_TIMEOUT": "soon"}, want: "CHAT_SHUTDOWN_TIMEOUT"},
		{args: []string{"--busy-poll", "1s"}, want: "--busy-poll must be between 0 and 10ms"},
		{args: []string{"--busy-poll", "-1us"}, want: "--busy-poll must be between"},
		{args: []string{"--tls-cert", "cert.pem"}, want: "go together"},
		{args: []string{"--max-message-size", "65537"}, want: "largest content schema/chat.yaml allows"},
	} {
		var out bytes.Buffer
		_, err := parse(tc.args, env(tc.env), &out)
		if err == nil {
			t.Errorf("%q %v: accepted", tc.args, tc.env)
			continue
		}
		if tc.want == "usage" {
			if !errors.Is(err, errUsage) || !strings.Contains(out.String(), "Usage:") {
				t.Errorf("%q: %v, usage not printed", tc.args, err)
			}
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: error %q does not say %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestSizeValues(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64KiB": 64 << 10, "16MiB": 16 << 20, "1G": 1 << 30, "10B": 10} {
		var s size
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "MiB", "99999999999GiB"} {
		var s size
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	for v, want := range map[size]string{512: "512", 64 << 10: "64KiB", 1 << 20: "1MiB", 3 << 30: "3GiB", 1536: "1536"} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(v), got, want)
		}
	}
}

// TestStoreSettings: the file-count limit and the upload memory budget
// reach the configuration, and an upload budget smaller than the largest
// file is refused.
func TestStoreSettings(t *testing.T) {
	o, err := parse(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.maxFiles != 10_000 || o.uploadMemory != 256<<20 {
		t.Fatalf("defaults: %d files, %d bytes of uploads", o.maxFiles, o.uploadMemory)
	}
	o, err = parse([]string{"--upload-memory", "64MiB"}, env(map[string]string{"CHAT_MAX_FILES": "50", "CHAT_UPLOAD_MEMORY": "1GiB"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.config(nil)
	if cfg.Files.MaxFiles != 50 || cfg.Chat.UploadMemoryBytes != 64<<20 {
		t.Fatalf("config: %+v", cfg)
	}
	for _, args := range [][]string{{"--max-files", "0"}, {"--upload-memory", "0"}, {"--upload-memory", "8MiB"}} {
		if _, err := parse(args, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestAllowOrigin(t *testing.T) {
	e := env(map[string]string{"CHAT_ALLOW_ORIGIN": "https://a.example, https://b.example"})
	o, err := parse(nil, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.config(nil).AllowedOrigins; strings.Join(got, " ") != "https://a.example https://b.example" {
		t.Errorf("from the environment: %q", got)
	}
	// The flags replace the environment's list; each may be a list.
	o, err = parse([]string{"--allow-origin", "https://c.example,http://localhost:8080", "--allow-origin=https://d.example"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.config(nil).AllowedOrigins; strings.Join(got, " ") != "https://c.example http://localhost:8080 https://d.example" {
		t.Errorf("flags over the environment: %q", got)
	}
	for _, bad := range []string{"chat.example.com", "ftp://x.example", "https://x.example/path", "null"} {
		if _, err := parse([]string{"--allow-origin", bad}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--allow-origin") {
			t.Errorf("--allow-origin %q: %v", bad, err)
		}
	}
}
