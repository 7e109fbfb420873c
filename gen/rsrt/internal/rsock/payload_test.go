package rsock

import (
	"testing"

	"github.com/rsocket/rsocket-go/payload"
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
