package rslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"golang.org/x/time/rate"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456789… (13 bytes)"},
		// The cut never splits a rune: "é" is 2 bytes at offsets 9-10.
		{"012345678éxyz", 10, "012345678… (14 bytes)"},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestClipHandlerClipsEveryKindOfValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewClipHandler(slog.NewTextHandler(&buf, nil)))
	big := strings.Repeat("x", 1<<20)
	log.With("with", big).WithGroup("g").Warn("refused",
		"string", big,
		"error", errors.New(big),
		"bytes", []byte(big),
		"stringer", stringer(big),
		"any", struct{ S string }{big},
		slog.Group("nested", "deep", big),
		"small", "kept as is",
		Unclipped("stack", big),
	)
	line := buf.String()
	if len(line) > 4<<10+1<<20+len("stack=") {
		t.Fatalf("a line with seven 1 MiB values to clip and one to keep is %d bytes long", len(line))
	}
	if !strings.Contains(line, "g.stack="+big) {
		t.Error("the unclipped value was clipped")
	}
	for _, want := range []string{"with=", "g.string=", "g.error=", "g.bytes=", "g.stringer=", "g.any=", "g.nested.deep=", "g.small=\"kept as is\""} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %s: %s", want, line)
		}
	}
	if got := strings.Count(line, "(1048576 bytes)"); got != 6 {
		t.Errorf("%d values say their original length, want 6 (the struct is formatted with its braces): %s", got, line)
	}
}

func TestPerConnRateLimits(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log := PerConn(base).With("remote", "peer")
	for range 10_000 {
		log.Warn("request refused", "error", strings.Repeat("y", 10_000))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// The burst, and what the rate lets through while the loop runs.
	if len(lines) < connBurst || len(lines) > connBurst+10 {
		t.Fatalf("%d lines for 10,000 warnings, want about %d", len(lines), connBurst)
	}
	if len(buf.String()) > 40<<10 {
		t.Errorf("%d bytes of log for 10,000 warnings of 10,000 bytes", buf.Len())
	}
	// Debug lines are never dropped.
	buf.Reset()
	for range 100 {
		log.Debug("detail")
	}
	if got := strings.Count(buf.String(), "\n"); got != 100 {
		t.Errorf("%d debug lines of 100", got)
	}
}

func TestPerConnReportsSuppressed(t *testing.T) {
	var buf bytes.Buffer
	// A rate of zero with a burst of one: one line, then none until the
	// test gives the limiter a new token.
	l := &limiter{lim: rate.NewLimiter(0, 1)}
	log := slog.New(&limitHandler{h: slog.NewTextHandler(&buf, nil), l: l})
	log.Info("first")
	for range 5 {
		log.Info("dropped")
	}
	l.lim = rate.NewLimiter(0, 1)
	log.Info("after")
	out := buf.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "msg=after suppressed=5") {
		t.Errorf("log:\n%s", out)
	}
}

// TestClipHandlerConforms runs the standard library's handler conformance
// suite on a clipping handler over a JSON handler: clipping must not
// change where attributes appear, through WithAttrs and WithGroup.
func TestClipHandlerConforms(t *testing.T) {
	var buf bytes.Buffer
	h := NewClipHandler(slog.NewJSONHandler(&buf, nil))
	results := func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Fatal(err)
	}
}
