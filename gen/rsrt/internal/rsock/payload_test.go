package rsock

import (
	"bytes"
	"context"
	"testing"

	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
)

// libReleasable is the interface rsocket-go v0.8.16 (internal/common)
// checks a payload for before it queues it: a heldPayload must satisfy it,
// or its Done would never be called.
type libReleasable interface {
	IncRef() int32
	RefCnt() int32
	Release()
}

var _ libReleasable = (*heldPayload)(nil)

// TestHeldPayloadCycle follows a charged payload through the library's
// cycle (IncRef when queued, Release once written): Done comes once, after
// the last Release, and settle gives back a payload the library never took.
func TestHeldPayloadCycle(t *testing.T) {
	done := 0
	lp := Payload{Data: make([]byte, 300), Done: func() { done++ }}.lib()
	hp, ok := lp.(*heldPayload)
	if !ok {
		t.Fatalf("a payload with Done became %T", lp)
	}
	hp.IncRef()
	settle(lp) // a reference is held: nothing comes back yet
	if done != 0 {
		t.Fatalf("Done called %d times before the write", done)
	}
	hp.Release()
	hp.Release() // extra releases (a drop hook) give nothing back twice
	settle(lp)
	if done != 1 {
		t.Fatalf("Done called %d times after the write, want 1", done)
	}

	done = 0
	never := Payload{Data: []byte("x"), Done: func() { done++ }}.lib()
	settle(never) // never taken by the library
	if done != 1 {
		t.Fatalf("Done called %d times for a payload never taken, want 1", done)
	}
	if _, ok := (Payload{Data: []byte("x")}).lib().(*heldPayload); ok {
		t.Fatal("a payload without Done is held")
	}
	var _ payload.Payload = hp
}

// TestCopyIn checks what the runtime receives of an inbound payload:
// copies, empty data and absent metadata as nil, and data that cannot
// grow into the metadata it shares a buffer with.
func TestCopyIn(t *testing.T) {
	data, md := []byte("data"), []byte("meta")
	got, ok := copyIn(payload.New(data, md))
	if !ok || string(got.Data) != "data" || string(got.Metadata) != "meta" {
		t.Fatalf("copyIn = %q, %q, %v", got.Data, got.Metadata, ok)
	}
	data[0], md[0] = 'X', 'X'
	if string(got.Data) != "data" || string(got.Metadata) != "meta" {
		t.Fatalf("the copy follows the library's buffer: %q, %q", got.Data, got.Metadata)
	}
	_ = append(got.Data, "!!!!"...)
	if string(got.Metadata) != "meta" {
		t.Fatalf("appending to the data overwrote the metadata: %q", got.Metadata)
	}
	if got, _ := copyIn(payload.New(nil, nil)); got.Data != nil || got.Metadata != nil {
		t.Fatalf("empty payload: %q, %q, want nil, nil", got.Data, got.Metadata)
	}
}

// itemSub is a library subscriber that checks each item it is given
// against the next one expected, and keeps the last payload value.
type itemSub struct {
	t    *testing.T
	want func() (data, md []byte)
	last payload.Payload
	n    int
}

func (s *itemSub) OnNext(p payload.Payload) {
	data, md := s.want()
	got, _ := p.Metadata()
	if !bytes.Equal(p.Data(), data) || !bytes.Equal(got, md) {
		s.t.Errorf("item %d: data %q metadata %q, want %q and %q", s.n, p.Data(), got, data, md)
	}
	s.last = p
	s.n++
}
func (*itemSub) OnComplete()                                  {}
func (*itemSub) OnError(error)                                {}
func (*itemSub) OnSubscribe(context.Context, rx.Subscription) {}

// Every item reaches the library with its own bytes, in a payload value
// that holds them no longer than OnNext (entry "Stream items in pooled
// payload values"), and that allocates nothing.
func TestStreamItemsInPooledValues(t *testing.T) {
	items := [][2][]byte{{[]byte("a"), nil}, {[]byte("bb"), []byte("meta")}, {nil, []byte("m")}, {[]byte("dddd"), nil}}
	i := 0
	sub := &itemSub{t: t, want: func() ([]byte, []byte) { return items[i%len(items)][0], items[i%len(items)][1] }}
	d := &Downstream{sub: sub, fence: new(Fence)}
	next := func() {
		it := items[i%len(items)]
		if err := d.Next(Payload{Data: it[0], Metadata: it[1]}); err != nil {
			t.Fatal(err)
		}
		if len(sub.last.Data()) != 0 {
			t.Fatalf("item %d: the payload value still holds %q after Next", i, sub.last.Data())
		}
		i++
	}
	for range 2 * len(items) {
		next()
	}
	allocs := testing.AllocsPerRun(100, next)
	if sub.n != i {
		t.Fatalf("%d items reached the subscriber, want %d", sub.n, i)
	}
	if !raceEnabled && allocs != 0 {
		t.Errorf("%.1f allocations per item, want 0", allocs)
	}
}
