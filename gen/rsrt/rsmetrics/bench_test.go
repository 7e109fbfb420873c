package rsmetrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// What recording one call costs: a request-response that succeeds, and a
// stream of 10 items that fails.
func BenchmarkRecorder(b *testing.B) {
	m, err := New(prometheus.NewRegistry(), Config{Routes: []string{"login", "feed"}})
	if err != nil {
		b.Fatal(err)
	}
	failed := errors.New("failed")
	b.Run("request-response", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.begin("login", rsrt.RequestResponse).end(nil)
		}
	})
	b.Run("stream-10-items", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := m.begin("feed", rsrt.RequestStream)
			for range 10 {
				c.itemSent()
			}
			c.end(failed)
		}
	})
}
