// Package metricstest scrapes a /metrics endpoint over HTTP and checks
// its samples, for the tests of rsgen services (gen/rsrt/rsmetrics, the
// chat server). It is imported by tests only.
package metricstest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// client bounds every request: a guard against a hang, not an assertion
// on speed.
var client = &http.Client{Timeout: 30 * time.Second}

// Get returns the status code and body of a GET of url, failing the test
// if there is no answer.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// Samples are the metric families of one scrape, by name.
type Samples map[string]*dto.MetricFamily

// Scrape reads url (a /metrics endpoint) and parses the Prometheus text
// format, failing the test on any error.
func Scrape(t testing.TB, url string) Samples {
	t.Helper()
	code, body := Get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", url, err, body)
	}
	return fams
}

// Value returns the value of the first sample of name whose labels
// include labels (name, value, name, value...), and whether there is
// one: a counter's or a gauge's value, a histogram's sample count.
func (s Samples) Value(name string, labels ...string) (float64, bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := make(map[string]string)
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// Want fails the test unless the sample of name with labels is want.
func (s Samples) Want(t testing.TB, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok {
		t.Errorf("%s%q: no such sample", name, labels)
	} else if got != want {
		t.Errorf("%s%q = %v, want %v", name, labels, got, want)
	}
}

// Series returns the samples of name.
func (s Samples) Series(name string) []*dto.Metric { return s[name].GetMetric() }

// LabelValues returns the values label takes in the samples of name.
func (s Samples) LabelValues(name, label string) []string {
	var out []string
	for _, m := range s[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// Is returns a condition for Eventually: the sample is want.
func Is(want float64, name string, labels ...string) func(Samples) bool {
	return func(s Samples) bool {
		v, ok := s.Value(name, labels...)
		return ok && v == want
	}
}

// Eventually scrapes url until cond holds and returns that scrape, failing
// the test after wait: for counts a server updates on its own goroutines
// (a connection closed).
func Eventually(t testing.TB, url, what string, wait time.Duration, cond func(Samples) bool) Samples {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := Scrape(t, url)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after %v", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
