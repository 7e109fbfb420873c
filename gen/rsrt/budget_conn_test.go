package rsrt_test

import (
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// A stream item waiting for the peer's demand holds none of the response
// budget: with a budget of one item, a stream whose consumer stopped
// asking must not starve a request-response on the same connection (the
// consumer may be waiting for that answer before it asks for more).
func TestBudgetNotHeldByItemsWaitingForDemand(t *testing.T) {
	s := startServer(t, rsrt.WithResponseBudget(64<<10))
	c := s.dial(t, rsrt.WithPrefetch(1))
	sc := s.nextConn(t)
	ctx := testCtx(t)
	next, stop := iterPull(c.Caller().RequestStream(ctx, "blobs", rsrt.Payload{}))
	defer stop()
	if p, err, ok := next(); !ok || err != nil || len(p.Data) != 64<<10 {
		t.Fatalf("first item: %v", err)
	}
	// The handler sends what the client asks for (its inbound asks ahead
	// while its buffer has room), then waits for more demand with its next
	// item built: once no item went out for a while.
	sc.waitEvent(t, "blob 1 sent")
	for quiet := false; !quiet; {
		select {
		case <-sc.events:
		case <-time.After(200 * time.Millisecond):
			quiet = true
		}
	}
	resp, err := c.Caller().RequestResponse(ctx, "blob", rsrt.Payload{})
	if err != nil || len(resp.Data) != 64<<10 {
		t.Fatalf("request-response beside a stream waiting for demand: %d bytes, %v", len(resp.Data), err)
	}
}
