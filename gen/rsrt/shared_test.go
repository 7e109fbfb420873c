package rsrt

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// recordStream is a Stream that keeps what is sent on it.
type recordStream struct {
	mu   sync.Mutex
	sent []Payload
}

func (s *recordStream) Send(_ context.Context, p Payload) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, p)
	return nil
}

func (s *recordStream) Recv(context.Context) (*Payload, error) { return nil, nil }

// TestSharedEncodedOnce sends one Shared value on many streams at once:
// it is encoded once, and every stream sends the same bytes.
func TestSharedEncodedOnce(t *testing.T) {
	var encoded atomic.Int32
	enc := func(m benchMessage) (Payload, error) {
		encoded.Add(1)
		return EncodeJSON(m)
	}
	content := "hello"
	v := NewShared(benchMessage{Content: &content})
	streams := make([]*recordStream, 50)
	var wg sync.WaitGroup
	for i := range streams {
		streams[i] = &recordStream{}
		s := NewSender(context.Background(), streams[i], enc)
		wg.Go(func() {
			if err := s.SendShared(v); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := encoded.Load(); n != 1 {
		t.Fatalf("encoded %d times, want once", n)
	}
	for i, s := range streams {
		if len(s.sent) != 1 || !bytes.Equal(s.sent[0].Data, []byte(`{"content":"hello"}`)) {
			t.Fatalf("stream %d sent %q", i, s.sent)
		}
	}
	if got := v.Value(); got.Content != &content {
		t.Fatalf("Value() = %+v", got)
	}
}
