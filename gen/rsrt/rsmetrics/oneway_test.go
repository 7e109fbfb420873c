package rsmetrics_test

import (
	"context"
	"testing"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rsmetrics/metricstest"
)

// A connection runs at most 256 one-way handlers at once; the requests
// over that are dropped, and counted.
func TestOneWayDropsCounted(t *testing.T) {
	const running, sent = 256, 260
	r, serve := start(t, guard.Limits{}, false)
	serve()
	defer close(r.svc.release)
	c, err := dial(t, r.srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range sent {
		if err := c.Caller().FireAndForget(ctx, "hold", rsrt.Payload{}); err != nil {
			t.Fatal(err)
		}
	}
	ms := r.eventually(t, "the drops", is(sent-running, "rsgen_oneway_dropped_total", "reason", "limit"))
	ms.Want(t, 0, "rsgen_oneway_dropped_total", "reason", "shutting_down")
	// The admitted ones are all running (and held): none was dropped
	// while there was room.
	r.eventually(t, "the admitted handlers", func(metricstest.Samples) bool { return r.gate.InFlight() == running })
}
