package rsrt

// Fed streams: a stream whose items a producer pushes into a source of its
// own (a session's queue) instead of a handler's loop sending them. When
// no interceptor of the connection sees the stream's end, the stream
// outlives its handler and holds no goroutine while it waits for items or
// for the peer's demand: a drain runs on the library's pool only while
// there is both. An idle subscriber then costs a few hundred bytes of heap
// instead of a parked goroutine and its stack.

import (
	"context"
	"sync"
)

// Source is where a fed stream takes its items from (see [Sender.Feed]).
// Next and Unsent are called by one goroutine at a time, and Ended after
// the last of them returned.
type Source[T any] interface {
	// Next returns the next item to send, or false when there is none
	// for now; the producer calls the Feeder's Wake once there is. It
	// is called only when the peer has demand for an item, so an item
	// it returns is sent at once unless the stream ends meanwhile.
	Next() (*Shared[T], bool)
	// Unsent takes back the item Next returned last: the stream ended
	// before it could be sent.
	Unsent(*Shared[T])
	// Ended is called once, when the stream is over, with what ended
	// it: the error given to End (nil when End completed it), the error
	// a send or an encoding failed with, or the error of the handler's
	// context (the peer cancelled, the connection closed, the request's
	// deadline passed).
	Ended(err error)
}

// Feeder is a stream fed from a [Source]; see [Sender.Feed].
type Feeder struct {
	src    feedSource
	stream Stream // the handler's: items go through its interceptors
	// ctx bounds the sends: the handler's context on a stream that
	// outlives it, else one that End cancels (cancel).
	ctx    context.Context
	cancel context.CancelFunc
	// out is the runtime's sender when the stream outlives its handler;
	// nil when Serve sends the items on the handler's goroutine.
	out *RawSender
	// wake carries Wake to Serve's loop when out is nil.
	wake chan struct{}
	// stopAfter unregisters the end of the stream from ctx.
	stopAfter func() bool
	drainFn   func() // drain, bound once rather than at every Wake

	mu      sync.Mutex
	running bool // a drain is sending
	again   bool // Wake was called during the drain
	ended   bool
	err     error
	// fin is the runtime's end of the stream (its terminal frame and
	// bookkeeping), set when the handler returned.
	fin  func(error)
	done bool // Ended and fin were called
}

// Feed hands the rest of the stream to src: an item is taken from src
// whenever the peer has demand and src has one, and the producer calls
// the returned Feeder's Wake when it adds items. The handler registers the
// Feeder where its producer finds it and returns what Serve returns:
//
//	f := out.Feed(src)
//	register(f)
//	return f.Serve()
//
// When no interceptor of the connection reads the end of a stream from
// its handler's return (each is a [BeforeCall], a [UnaryInterceptorFunc]
// or a [StreamEndHooker]), Serve returns nil at once
// and the stream outlives its handler: no goroutine waits for its items or
// its demand, and one sends only while there are both. Otherwise, and on a
// channel, Serve sends the items on the handler's goroutine and returns
// when the stream ends, as a handler's loop would. Either way the stream
// ends when End is called, a send fails, the peer cancels, the connection
// closes or the handler's context ends; src.Ended is then called once.
func (s *Sender[T]) Feed(src Source[T]) *Feeder {
	f := &Feeder{src: &typedSource[T]{src: src, enc: s.enc}, stream: s.raw}
	if out := s.outbound(); out != nil && out.feed(f) {
		// The drain sends only when the peer has demand, so a send
		// waits for nothing End would need to stop: the handler's
		// context is enough, and a context of the feed's own would
		// cost every idle stream its record.
		f.out = out
		f.drainFn = f.drain
		f.ctx, f.cancel = s.ctx, func() {}
		f.stopAfter = context.AfterFunc(f.ctx, func() { f.end(f.ctx.Err()) })
	} else {
		f.ctx, f.cancel = context.WithCancel(s.ctx)
		f.wake = make(chan struct{}, 1)
	}
	return f
}

// outbound returns the runtime's sender under s: its own stream's, or,
// when interceptors wrapped that stream, the one of the handler its
// context belongs to; nil when s is not a served stream's.
func (s *Sender[T]) outbound() *RawSender {
	if so, ok := s.raw.(streamOnly); ok {
		return so.out
	}
	if h := handlerOf(s.ctx); h != nil {
		return h.sender
	}
	return nil
}

// Wake tells the stream that its source may have items. It never blocks:
// the items are sent by the stream's own drain, as the peer's demand
// allows. Woken by a handler running on the connection's read loop
// (WithInline), a stream that outlives its handler starts its drain once
// that handler's answer is with the library.
func (f *Feeder) Wake() {
	if f.out == nil {
		select {
		case f.wake <- struct{}{}:
		default:
		}
		return
	}
	f.mu.Lock()
	if f.ended {
		f.mu.Unlock()
		return
	}
	if f.running {
		f.again = true
		f.mu.Unlock()
		return
	}
	if !f.out.canSend() {
		f.mu.Unlock()
		return // the peer's next REQUEST_N wakes the stream
	}
	if f.out.scope.holdWake(f) {
		f.mu.Unlock()
		return // woken again after the inline handler's answer
	}
	f.running = true
	f.mu.Unlock()
	f.out.run.Go(f.drainFn)
}

// End ends the stream once the item being sent, if any, is out or given
// back to the source: with COMPLETE when err is nil, else with err as a
// handler's error. Ending an ended stream does nothing.
func (f *Feeder) End(err error) { f.end(err) }

// Serve is what the handler that fed its stream returns: nil at once when
// the stream outlives the handler, otherwise the stream's outcome once it
// ended (see [Sender.Feed]).
func (f *Feeder) Serve() error {
	if f.out != nil {
		f.Wake() // what src held before the stream opened
		return nil
	}
	for !f.isEnded() {
		p, ok, err := f.src.next()
		switch {
		case err != nil:
			f.end(err)
		case !ok:
			select {
			case <-f.wake:
			case <-f.ctx.Done():
				f.end(f.ctx.Err())
			}
		default:
			if err := f.stream.Send(f.ctx, p); err != nil {
				f.src.unsent()
				f.end(err)
			}
		}
	}
	f.mu.Lock()
	f.done = true
	err := f.err
	f.mu.Unlock()
	f.src.ended(err)
	return err
}

func (f *Feeder) isEnded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended
}

// end records what ended the stream, the first cause only, and stops a
// send waiting for demand; the drain, or the handler's return, finishes
// the stream.
func (f *Feeder) end(err error) {
	f.mu.Lock()
	if !f.ended {
		f.ended, f.err = true, err
	}
	f.mu.Unlock()
	f.cancel()
	f.finish()
}

// drain sends items while the source has them and the peer has demand,
// on a goroutine of the library's pool that it gives back when either
// runs out.
func (f *Feeder) drain() {
	defer f.recoverDrain()
	for {
		f.mu.Lock()
		if f.ended || !f.out.canSend() {
			f.running = false
			f.mu.Unlock()
			f.finish()
			return
		}
		f.again = false
		f.mu.Unlock()
		p, ok, err := f.src.next()
		switch {
		case err != nil:
			f.end(err)
		case !ok:
			f.mu.Lock()
			if !f.again {
				f.running = false
				f.mu.Unlock()
				f.finish() // ended meanwhile: no drain will see it
				return
			}
			f.mu.Unlock()
		default:
			// The peer has demand and nothing else sends on this
			// stream: Send waits only for the response budget.
			if err := f.stream.Send(f.ctx, p); err != nil {
				f.src.unsent()
				f.end(err)
			}
		}
	}
}

// recoverDrain ends the stream with "internal error" when its source
// panicked on the drain, as a handler's panic does, so that the stream
// does not wait for a drain that is gone.
func (f *Feeder) recoverDrain() {
	p := recover()
	if p == nil {
		return
	}
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
	call := &f.out.held.call
	f.end(recovered(f.out.scope.log, p, call.Interaction, call.Route))
}

// detach is the runtime's side of a stream that outlives its handler:
// the handler returned herr (nil, or its failure, which ends the stream),
// and fin ends the stream once the feed is over.
func (f *Feeder) detach(fin func(error), herr error) {
	f.mu.Lock()
	f.fin = fin
	f.mu.Unlock()
	if herr != nil {
		f.end(herr)
		return
	}
	f.finish()
}

// finish ends the stream for good once it ended, no drain is sending and
// the handler returned.
func (f *Feeder) finish() {
	f.mu.Lock()
	if !f.ended || f.running || f.fin == nil || f.done {
		f.mu.Unlock()
		return
	}
	f.done = true
	err, fin := f.err, f.fin
	f.mu.Unlock()
	f.stopAfter()
	defer fin(err) // the stream ends even if Ended panics
	f.src.ended(err)
}

// feedSource is a Source with its items encoded.
type feedSource interface {
	next() (Payload, bool, error)
	unsent()
	ended(error)
}

type typedSource[T any] struct {
	src  Source[T]
	enc  func(T) (Payload, error)
	last *Shared[T]
}

func (t *typedSource[T]) next() (Payload, bool, error) {
	v, ok := t.src.Next()
	if !ok {
		return Payload{}, false, nil
	}
	t.last = v
	p, err := v.payload(t.enc)
	if err != nil {
		t.last = nil // an item that cannot be encoded is not given back
		return Payload{}, false, err
	}
	return p, true, nil
}

func (t *typedSource[T]) unsent() {
	if t.last != nil {
		t.src.Unsent(t.last)
		t.last = nil
	}
}

func (t *typedSource[T]) ended(err error) { t.src.Ended(err) }
