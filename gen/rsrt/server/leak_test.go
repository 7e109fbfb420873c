package server_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// TestServeLeavesNoGoroutines checks that once Serve returned, no
// goroutine of the server or of its connections is left, hostile ones
// included.
func TestServeLeavesNoGoroutines(t *testing.T) {
	// rsocket-go keeps process-wide worker pools; they are not the
	// server's.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*Pool).purgePeriodically"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*Pool).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*Pool).ticktock"),
	)
	r := newResponder()
	run := start(t, r, server.Config{Limits: hostileLimits})
	run.checkServes(t)
	c := dialRaw(t, run)
	c.send(setupFrame())
	c.expectOpen(1)
	h := dialRaw(t, run)
	h.write([]byte{0, 0, 0})
	h.expectClosed()
	run.shutdown(t)
	// Close the clients before checking.
	for _, f := range []func() error{c.nc.Close, h.nc.Close} {
		f()
	}
}
