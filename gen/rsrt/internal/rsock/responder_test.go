package rsock

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/jjeffcaii/reactor-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
)

// recordingSub is the library's side of an answer: it records the signals
// and, like rsocket-go's request-response subscriber, takes the
// subscription in OnSubscribe and ends itself there when ctx is done.
type recordingSub struct {
	mu      sync.Mutex
	su      rx.Subscription
	signals []string
	data    []string
}

func (s *recordingSub) OnSubscribe(ctx context.Context, su rx.Subscription) {
	s.mu.Lock()
	s.su = su
	s.mu.Unlock()
	if ctx.Err() != nil {
		s.OnError(reactor.ErrSubscribeCancelled)
	}
}

func (s *recordingSub) OnNext(p payload.Payload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, "next")
	s.data = append(s.data, p.DataUTF8())
}

func (s *recordingSub) OnComplete() { s.record("complete") }

func (s *recordingSub) OnError(err error) {
	if errors.Is(err, reactor.ErrSubscribeCancelled) {
		s.record("cancelled")
		return
	}
	s.record("error: " + err.Error())
}

func (s *recordingSub) record(sig string) {
	s.mu.Lock()
	s.signals = append(s.signals, sig)
	s.mu.Unlock()
}

func (s *recordingSub) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.signals...)
}

func sameSignals(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("signals %q, want %q", got, want)
	}
}

// work is a Work whose Run and Cancel are functions.
type work struct {
	reply  Reply
	run    func(Answer)
	cancel func()
}

func (w *work) Run(a Answer) { w.run(a) }

func (w *work) Cancel() {
	if w.cancel != nil {
		w.cancel()
	}
}

func (w *work) Reply() *Reply { return &w.reply }

// subscribed returns the Reply the library is given for w.
func subscribed(w *work) *Reply { return prepare(w, new(Fence)) }

// TestAnswerSignals: the answer a responder returns reaches the library's
// subscriber as exactly one terminal: a value and COMPLETE, or an error,
// or the end a CANCEL gives it; whatever comes after is dropped, and a
// held payload that never reached the library is settled all the same.
func TestAnswerSignals(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		sub := &recordingSub{}
		var late Answer
		m := subscribed(&work{run: func(a Answer) {
			a.Success(Payload{Data: []byte("hi")})
			late = a
		}})
		m.SubscribeWith(context.Background(), sub)
		late.Error(errors.New("too late"))
		sub.su.Cancel() // a CANCEL after the answer went out
		sameSignals(t, sub.got(), "next", "complete")
		if sub.data[0] != "hi" {
			t.Fatalf("data %q", sub.data[0])
		}
	})
	t.Run("error", func(t *testing.T) {
		sub := &recordingSub{}
		m := subscribed(&work{run: func(a Answer) {
			a.Error(errors.New("refused"))
			a.Success(Payload{Data: []byte("late")})
		}})
		m.SubscribeWith(context.Background(), sub)
		sameSignals(t, sub.got(), "error: refused")
	})
	t.Run("cancel", func(t *testing.T) {
		sub := &recordingSub{}
		cancels := 0
		started := make(chan Answer)
		m := subscribed(&work{cancel: func() { cancels++ },
			run: func(a Answer) { started <- a }})
		go m.SubscribeWith(context.Background(), sub)
		a := <-started
		sub.su.Cancel()
		sub.su.Cancel()
		done := 0
		a.Success(Payload{Data: []byte("unwanted"), Done: func() { done++ }})
		if cancels != 1 || done != 1 {
			t.Fatalf("cancel called %d times, Done %d times; want 1 and 1", cancels, done)
		}
		sameSignals(t, sub.got(), "cancelled")
	})
	t.Run("connection done", func(t *testing.T) {
		sub := &recordingSub{}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		m := subscribed(&work{run: func(Answer) { ran = true }})
		m.SubscribeWith(ctx, sub)
		if ran {
			t.Fatal("the work ran on a closed connection")
		}
		sameSignals(t, sub.got(), "cancelled") // the subscriber's own end only
	})
	t.Run("panic", func(t *testing.T) {
		sub := &recordingSub{}
		m := subscribed(&work{run: func(Answer) { panic("boom") }})
		m.SubscribeWith(context.Background(), sub)
		sameSignals(t, sub.got(), "error: rsock: request-response work panicked: boom")
	})
}
