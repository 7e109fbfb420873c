package chatsvc

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

func msg(content string) *delivery {
	return newDelivery("u", &content, "")
}

func TestQueueDropsOldest(t *testing.T) {
	var dropped int
	q := newQueue(4, 1<<20, noBudget(), func(n int) { dropped += n })
	for i := range 10 {
		if !q.push(msg(strconv.Itoa(i))) {
			t.Fatal("push refused on an open queue")
		}
	}
	n, _, d := q.stats()
	if n != 4 || d != 6 || dropped != 6 {
		t.Fatalf("len %d, dropped %d (callback %d); want 4, 6", n, d, dropped)
	}
	for want := 6; want < 10; want++ {
		got, ok := q.pop()
		if !ok {
			t.Fatal("pop found no message")
		}
		if *got.message().Content != strconv.Itoa(want) {
			t.Fatalf("popped %s, want %d: the newest must be kept", *got.message().Content, want)
		}
	}
}

// TestQueueReusesSmallArray: a queue emptied one message at a time keeps
// its small array (no allocation a message for a reader that keeps up),
// lets a large one go, and stays in order through both.
func TestQueueReusesSmallArray(t *testing.T) {
	q := newQueue(1000, 1<<20, noBudget(), nil)
	pop := func(want string) {
		t.Helper()
		got, ok := q.pop()
		if !ok || *got.message().Content != want {
			t.Fatalf("pop = %v, %v; want %s", got, ok, want)
		}
	}
	q.push(msg("a"))
	pop("a")
	q.push(msg("b"))
	pop("b")
	if cap(q.items) == 0 {
		t.Fatal("an emptied small queue let its array go")
	}
	c := msg("c")
	if allocs := testing.AllocsPerRun(100, func() {
		q.push(c)
		pop("c")
	}); allocs != 0 {
		t.Fatalf("%v allocations a message queued and popped, want 0", allocs)
	}
	for i := range 100 {
		q.push(msg(strconv.Itoa(i)))
	}
	for i := range 100 {
		pop(strconv.Itoa(i))
	}
	if q.items != nil {
		t.Fatalf("an emptied queue kept an array of %d", cap(q.items))
	}
}

func TestQueueByteBound(t *testing.T) {
	q := newQueue(1000, 100, noBudget(), nil)
	for range 10 {
		q.push(msg(strings.Repeat("x", 29))) // 30 bytes with the user
	}
	n, b, d := q.stats()
	if n != 3 || b != 90 || d != 7 {
		t.Fatalf("len %d, bytes %d, dropped %d; want 3, 90, 7", n, b, d)
	}
	// A single message over the byte bound is still kept: it is the newest.
	q.push(msg(strings.Repeat("y", 200)))
	if n, _, _ := q.stats(); n != 1 {
		t.Fatalf("len %d after an oversized message, want 1", n)
	}
}

func TestQueueUnpopAndClose(t *testing.T) {
	q := newQueue(2, 1<<20, noBudget(), nil)
	pushes := 0
	q.onPush = func() { pushes++ }
	q.push(msg("a"))
	q.push(msg("b"))
	a, _ := q.pop()
	q.unpop(a)
	if pushes != 3 {
		t.Fatalf("onPush called %d times for two pushes and an unpop, want 3", pushes)
	}
	if got, _ := q.pop(); *got.message().Content != "a" {
		t.Fatalf("unpopped message not at the head: %s", *got.message().Content)
	}
	if got, _ := q.pop(); *got.message().Content != "b" {
		t.Fatalf("second pop: %s, want b", *got.message().Content)
	}
	if got, ok := q.pop(); ok {
		t.Fatalf("pop on an empty queue returned %s", *got.message().Content)
	}
	q.push(msg("c"))
	q.close()
	if _, ok := q.pop(); ok {
		t.Fatal("pop returned a message after close")
	}
	if q.push(msg("late")) {
		t.Fatal("push accepted on a closed queue")
	}
}

// TestSlowConsumer floods a channel in which one member never reads: the
// others receive every message in order, the laggard's queue stays at its
// bound, the drop counter grows and the heap stays bounded.
func TestSlowConsumer(t *testing.T) {
	const (
		queueLen = 256
		batches  = 40
		batch    = 100 // < queueLen, so readers that keep up never drop
		content  = 512
	)
	ctx := context.Background()
	svc := newService(t, Config{QueueLen: queueLen})
	sender, reader, laggard := login(t, svc, "sender"), login(t, svc, "reader"), login(t, svc, "laggard")
	for _, c := range []*conn{sender, reader, laggard} {
		if err := c.ChannelJoin(ctx, "flood"); err != nil {
			t.Fatal(err)
		}
	}
	// The laggard never opens messages.incoming.
	inS, inR := sender.listen(t), reader.listen(t)

	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var peak uint64
	pad := strings.Repeat("p", content)
	n := 0
	for range batches {
		for range batch {
			if err := sender.Message(ctx, chat.Message{Channel: str("flood"), Content: str(fmt.Sprintf("%06d%s", n, pad))}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		for i := n - batch; i < n; i++ {
			for _, in := range []*inbox{inS, inR} {
				got := in.next(t)
				if !strings.HasPrefix(*got.Content, fmt.Sprintf("%06d", i)) {
					t.Fatalf("got message %.6s, want %06d: a reader missed a message", *got.Content, i)
				}
			}
		}
		if st := svc.Stats(); st.LongestQueue > queueLen {
			t.Fatalf("a queue grew to %d, over its bound %d", st.LongestQueue, queueLen)
		}
		var ms runtime.MemStats
		runtime.GC() // measure what is live, not garbage
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	st := svc.Stats()
	if st.LongestQueue != queueLen {
		t.Fatalf("laggard's queue at %d, want its bound %d", st.LongestQueue, queueLen)
	}
	if want := uint64(n - queueLen); st.Dropped != want {
		t.Fatalf("dropped %d, want %d", st.Dropped, want)
	}
	// The flood is n*content = 2 MB; a laggard keeping it all would hold
	// that much live. Bounded, it holds queueLen messages (about 150 KB).
	// Half the flood leaves ample slack and still catches unbounded growth.
	sent := uint64(n * content)
	if peak > base.HeapAlloc && peak-base.HeapAlloc > sent/2 {
		t.Fatalf("heap grew by %d bytes while %d bytes were sent: not bounded", peak-base.HeapAlloc, sent)
	}
	t.Logf("sent %d messages, dropped %d, heap growth peak %d bytes", n, st.Dropped, int64(peak)-int64(base.HeapAlloc))
}

func TestParseStatsRequest(t *testing.T) {
	p := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		req  chat.ServerStatisticsRequest
		want statsSettings
	}{
		{req: chat.ServerStatisticsRequest{}, want: statsSettings{true, true, 1}},
		{req: chat.ServerStatisticsRequest{IDs: []string{"users"}}, want: statsSettings{true, false, 1}},
		{req: chat.ServerStatisticsRequest{IDs: []string{"channels"}, PeriodSeconds: p(5)}, want: statsSettings{false, true, 5}},
		{req: chat.ServerStatisticsRequest{IDs: []string{"channels", "users"}, PeriodSeconds: p(3600)}, want: statsSettings{true, true, 3600}},
	} {
		if got := parseStatsRequest(tc.req); got != tc.want {
			t.Fatalf("parse(%+v) = %+v; want %+v", tc.req, got, tc.want)
		}
	}
}

// TestStatsRequestConstraints: the updates parseStatsRequest need not
// check are refused by the generated decoder, from schema/chat.yaml.
func TestStatsRequestConstraints(t *testing.T) {
	for data, want := range map[string]string{
		`{"ids":["bogus"]}`:             `ids[0]: not one of "users", "channels"`,
		`{"ids":["users","Users"]}`:     `ids[1]: not one of "users", "channels"`,
		`{"period_seconds":0}`:          "period_seconds: less than 1",
		`{"period_seconds":3601}`:       "period_seconds: greater than 3600",
		`{"ids":[],"period_seconds":1}`: "",
	} {
		_, err := rsrt.DecodeJSON[chat.ServerStatisticsRequest](&rsrt.Payload{Data: []byte(data)})
		if got := fmt.Sprint(err); want == "" && err != nil || want != "" && got != want {
			t.Errorf("decode %s: %v, want %q", data, err, want)
		}
	}
}

// statsChannel runs serveStatistics with in-memory inbound and outbound.
type statsChannel struct {
	in   chan chat.ServerStatisticsRequest
	out  chan chat.ServerStatistics
	done chan error
}

func (c *conn) openStats(t *testing.T, ctx context.Context) *statsChannel {
	sc := &statsChannel{in: make(chan chat.ServerStatisticsRequest), out: make(chan chat.ServerStatistics), done: make(chan error, 1)}
	// Each update goes through the generated decoder, as on the wire.
	recv := func() (chat.ServerStatisticsRequest, error) {
		select {
		case r, ok := <-sc.in:
			if !ok {
				return r, io.EOF
			}
			p, err := rsrt.EncodeJSON(r)
			if err != nil {
				return r, err
			}
			if r, err = rsrt.DecodeJSON[chat.ServerStatisticsRequest](&p); err != nil {
				return r, rsrt.BadRequest(chat.RouteStatistics, "request data", err)
			}
			return r, nil
		case <-ctx.Done():
			return chat.ServerStatisticsRequest{}, ctx.Err()
		}
	}
	send := func(s chat.ServerStatistics) error {
		select {
		case sc.out <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() { sc.done <- c.serveStatistics(ctx, recv, send) }()
	return sc
}

func (sc *statsChannel) next(t *testing.T) chat.ServerStatistics {
	t.Helper()
	select {
	case s := <-sc.out:
		return s
	case <-time.After(wait):
		t.Fatal("no statistics report")
		return chat.ServerStatistics{}
	}
}

func count(p *int64) string {
	if p == nil {
		return "absent"
	}
	return strconv.FormatInt(*p, 10)
}

func TestStatisticsChannel(t *testing.T) {
	svc := newService(t, Config{})
	u1, u2 := login(t, svc, "user1"), login(t, svc, "user2")
	for _, c := range []*conn{u1, u2} {
		if err := c.ChannelJoin(context.Background(), "channel1"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := u1.openStats(t, ctx)
	for range 3 { // the first at once, then every period
		if r := sc.next(t); count(r.UserCount) != "2" || count(r.ChannelCount) != "1" {
			t.Fatalf("report users %s channels %s, want 2 and 1", count(r.UserCount), count(r.ChannelCount))
		}
	}
	sc.in <- chat.ServerStatisticsRequest{IDs: []string{"users"}}
	// Reports already on their way may still carry both counts; the update
	// applies to the next one at the latest.
	var r chat.ServerStatistics
	for i := 0; ; i++ {
		if r = sc.next(t); r.ChannelCount == nil {
			break
		}
		if i > 2 {
			t.Fatal("the update did not apply")
		}
	}
	if count(r.UserCount) != "2" {
		t.Fatalf("user count %s, want 2", count(r.UserCount))
	}
	// The client completing its side does not stop the reports.
	close(sc.in)
	for range 2 {
		if r := sc.next(t); r.ChannelCount != nil || r.UserCount == nil {
			t.Fatalf("report after the client completed: users %s channels %s", count(r.UserCount), count(r.ChannelCount))
		}
	}
	cancel()
	select {
	case err := <-sc.done:
		if err != nil {
			t.Fatalf("statistics ended with %v after cancel", err)
		}
	case <-time.After(wait):
		t.Fatal("statistics did not end on cancel")
	}
}

func TestStatisticsInvalidUpdate(t *testing.T) {
	svc := newService(t, Config{})
	u := login(t, svc, "u")
	sc := u.openStats(t, context.Background())
	sc.next(t)
	sc.in <- chat.ServerStatisticsRequest{IDs: []string{"nope"}}
	for {
		select {
		case <-sc.out: // a report raced with the update
		case err := <-sc.done:
			appErr(t, err, `route statistics: invalid request data: ids[0]: not one of "users", "channels"`)
			return
		case <-time.After(wait):
			t.Fatal("invalid update did not end the channel")
		}
	}
}

// noBudget is a service-wide queue budget that is never reached.
func noBudget() *queueBudget { return &queueBudget{limit: 1 << 62} }

// Over the service's budget, the queues that receive a message while
// holding more than their share drop their oldest; a queue under its share
// loses nothing; every byte popped or dropped is given back.
func TestQueueBudgetFairShare(t *testing.T) {
	budget := &queueBudget{limit: 1000}
	var slowDrops, fastDrops int
	slow := newQueue(1000, 1<<20, budget, func(n int) { slowDrops += n })
	fast := newQueue(1000, 1<<20, budget, func(n int) { fastDrops += n })
	_ = newQueue(1000, 1<<20, budget, nil) // two more sessions: a share of 250
	idle := newQueue(1000, 1<<20, budget, nil)
	hundred := strings.Repeat("x", 99) // 100 bytes with the user
	for range 10 {
		slow.push(msg(hundred))
	}
	if n, b, _ := slow.stats(); n != 10 || b != 1000 || slowDrops != 0 {
		t.Fatalf("under the budget: %d messages, %d bytes, %d dropped; want 10, 1000, 0", n, b, slowDrops)
	}
	for range 50 {
		slow.push(msg(hundred)) // over the budget and over its share: pays
		fast.push(msg(hundred)) // under its share: keeps it
		if _, ok := fast.pop(); !ok {
			t.Fatal("the reading session's message is missing")
		}
	}
	if fastDrops != 0 {
		t.Errorf("the reading session lost %d messages", fastDrops)
	}
	if slowDrops != 50 {
		t.Errorf("the session that does not read dropped %d, want 50", slowDrops)
	}
	if used := budget.used.Load(); used > 2*budget.limit {
		t.Errorf("%d bytes queued in all, over twice the budget of %d", used, budget.limit)
	}
	slow.close()
	idle.close()
	if used, queues := budget.used.Load(), budget.queues.Load(); used != 0 || queues != 2 {
		t.Errorf("after closing: %d bytes, %d queues counted; want 0 and 2", used, queues)
	}
}
