package rsrt

// The outbound side of streams and channels: an rsock.Outbound of our own
// instead of flux.Create (see rsock's doc, entry "Own publisher instead
// of flux.Create"). The sender below does its own credit accounting under
// a mutex: the library's subscriber delivers REQUEST_N as Request(n) and
// CANCEL as Cancel(), and Send emits exactly one item per unit of credit,
// blocking (without any timer) until credit arrives or the exchange ends.

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// Errors Send returns once the exchange can carry no more items.
var (
	// ErrCancelled is returned by Send after the peer cancelled the
	// stream or channel (or the connection closed under it).
	ErrCancelled = errors.New("rsrt: the peer cancelled the stream")
	// ErrFinished is returned by Send after the outbound side completed.
	ErrFinished = errors.New("rsrt: the stream is already complete")
)

// RawSender sends the items of a stream or channel response. Send blocks
// while the peer has no outstanding demand (REQUEST_N) and returns an error
// once the peer cancelled, the connection closed or ctx is done.
//
// The library sees it through senderSub: an rsock.Outbound it subscribes
// to, and the rsock.Control its subscriber controls it with.
type RawSender struct {
	scope *connScope
	done  <-chan struct{} // connection closed
	// held charges the items to the connection's response budget (see
	// budget.go), unbounded on a client.
	held *handlerCtx

	mu        sync.Mutex
	sub       *rsock.Downstream // the library's subscriber, once subscribed
	credit    int
	cancelled bool
	dry       bool          // no more credit can come (see noMoreCredit)
	finished  bool          // terminal decided (complete or error)
	pending   bool          // terminal decided before subscription
	termErr   error         // the terminal error, nil for complete
	waitCh    chan struct{} // closed on the next state change, when someone waits
	emitted   chan struct{} // closed once the terminal is on its way, or after cancel
	emitOnce  sync.Once

	// detachable is set when the stream may outlive its handler (see
	// Sender.Feed); fed is then the Feeder it is fed from, if any.
	detachable bool
	fed        *Feeder

	emitMu   sync.Mutex   // serialises the calls into sub
	onCancel func()       // cancels the handler's context
	onSub    func()       // called once subscribed
	run      rsock.Runner // where the library wants the producer run
}

func newSender(scope *connScope, held *handlerCtx, done <-chan struct{}, onCancel func()) *RawSender {
	return &RawSender{scope: scope, held: held, done: done, onCancel: onCancel, emitted: make(chan struct{})}
}

// senderSub is the library's side of a RawSender: the rsock.Outbound it
// subscribes to, and the rsock.Control through which its subscriber
// controls the sender. (A type of its own, so that handlers holding a
// RawSender see Send only.)
type senderSub RawSender

// Subscribe implements rsock.Outbound.
func (s *senderSub) Subscribe(ctx context.Context, sub *rsock.Downstream, run rsock.Runner) {
	(*RawSender)(s).subscribe(ctx, sub, run)
}

// Request implements rsock.Control: the peer's REQUEST_N.
func (s *senderSub) Request(n int) { (*RawSender)(s).request(n) }

// Cancel implements rsock.Control: the peer's CANCEL, or the library
// tearing the connection down.
func (s *senderSub) Cancel() { (*RawSender)(s).cancel() }

// request adds the peer's demand to the credit.
func (s *RawSender) request(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	if s.credit > math.MaxInt32-n {
		s.credit = math.MaxInt32 // unbounded demand
	} else {
		s.credit += n
	}
	s.signalLocked()
	f := s.fed
	s.mu.Unlock()
	if f != nil {
		f.Wake()
	}
}

// feed makes f the stream's source, which the stream then outlives its
// handler with; it reports false when the stream cannot (see
// Sender.Feed).
func (s *RawSender) feed(f *Feeder) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.detachable || s.fed != nil {
		return false
	}
	s.fed = f
	return true
}

// feeder returns the Feeder the stream is fed from, nil when none.
func (s *RawSender) feeder() *Feeder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fed
}

// canSend reports whether Send would not wait for the peer's demand: it
// has some, or Send fails at once.
func (s *RawSender) canSend() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.credit > 0 || s.cancelled || s.finished || s.dry
}

// cancel ends the exchange for the peer's CANCEL, our own (a client
// closing its channel), or the library tearing the connection down.
func (s *RawSender) cancel() {
	s.mu.Lock()
	if s.cancelled {
		s.mu.Unlock()
		return
	}
	s.cancelled = true
	s.finished = true
	s.signalLocked()
	s.mu.Unlock()
	s.closeEmitted()
	if s.onCancel != nil {
		s.onCancel()
	}
}

// noMoreCredit makes Send fail instead of waiting once the credit is used
// up. A v0.8.16 requester forgets a channel as soon as the responder ends
// its side, after which the responder's REQUEST_N frames are dropped as
// unmatched: waiting for them would block forever.
func (s *RawSender) noMoreCredit() {
	s.mu.Lock()
	s.dry = true
	s.signalLocked()
	s.mu.Unlock()
}

func (s *RawSender) signalLocked() {
	if s.waitCh != nil {
		close(s.waitCh)
		s.waitCh = nil
	}
}

// subscribe attaches the library's subscriber. Only one is accepted.
func (s *RawSender) subscribe(ctx context.Context, sub *rsock.Downstream, run rsock.Runner) {
	s.run = run
	s.mu.Lock()
	if s.sub != nil {
		s.mu.Unlock()
		s.call(func() error { return sub.Error(errors.New("rsrt: outbound stream subscribed twice")) })
		return
	}
	s.sub = sub
	s.mu.Unlock()
	if ctx.Err() != nil {
		// The library's subscribers end themselves (OnError) when
		// subscribed with a done context, and are then recycled:
		// nothing may be emitted to them after that.
		s.cancel()
	}
	s.emitMu.Lock()
	s.call(func() error { return sub.Start(ctx, (*senderSub)(s)) })
	s.emitMu.Unlock()
	if s.onSub != nil {
		s.onSub()
	}
	s.mu.Lock()
	pending := s.pending
	s.pending = false
	s.mu.Unlock()
	if pending {
		s.emitTerminal()
	}
}

// Send sends one item, waiting for the peer's demand.
func (s *RawSender) Send(ctx context.Context, r Payload) error {
	p, err := responsePayload(r)
	if err != nil {
		return err
	}
	return s.sendRaw(ctx, p)
}

func (s *RawSender) sendRaw(ctx context.Context, p rsock.Payload) error {
	for {
		s.mu.Lock()
		if s.cancelled {
			s.mu.Unlock()
			return ErrCancelled
		}
		if s.finished {
			s.mu.Unlock()
			return ErrFinished
		}
		if s.credit > 0 {
			if s.credit != math.MaxInt32 {
				s.credit--
			}
			s.mu.Unlock()
			break
		}
		if s.dry {
			s.mu.Unlock()
			return ErrCancelled
		}
		if s.waitCh == nil {
			s.waitCh = make(chan struct{})
		}
		ch := s.waitCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.ctxErr(ctx)
		case <-s.done:
			return ErrCancelled
		}
	}
	// Charged once the peer asked for the item, not while it waits for
	// demand: the peer may be waiting for another response before it
	// asks for more, and that one needs the room.
	p, err := s.held.hold(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return s.ctxErr(ctx)
		}
		return err
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	sub, stop := s.sub, s.finished
	s.mu.Unlock()
	if stop {
		// Cancelled while we took the emit lock: the unit of credit
		// no longer matters.
		if p.Done != nil {
			p.Done() // never handed over
		}
		if s.cancelled {
			return ErrCancelled
		}
		return ErrFinished
	}
	s.call(func() error { return sub.Next(p) })
	return nil
}

// ctxErr is what Send returns once ctx ended: ErrCancelled when the
// peer's CANCEL ended it (cancel cancels the handler's context too, and a
// send waiting on both sees either first), else ctx's error.
func (s *RawSender) ctxErr(ctx context.Context) error {
	s.mu.Lock()
	cancelled := s.cancelled
	s.mu.Unlock()
	if cancelled {
		return ErrCancelled
	}
	return ctx.Err()
}

// finish ends the outbound side: COMPLETE when err is nil, else an ERROR
// frame. After a cancel nothing is sent: the stream is over for the peer,
// and the library's stream subscriber is pooled once terminated, so a late
// signal could land on another stream.
func (s *RawSender) finish(err error) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	s.termErr = err
	s.signalLocked()
	if s.sub == nil {
		s.pending = true
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.emitTerminal()
}

func (s *RawSender) emitTerminal() {
	s.emitMu.Lock()
	s.mu.Lock()
	sub, err, cancelled := s.sub, s.termErr, s.cancelled
	s.mu.Unlock()
	if !cancelled {
		if err == nil {
			s.call(sub.Complete)
		} else {
			werr := wireError(err)
			s.call(func() error { return sub.Error(werr) })
		}
	}
	s.emitMu.Unlock()
	s.closeEmitted()
}

func (s *RawSender) closeEmitted() { s.emitOnce.Do(func() { close(s.emitted) }) }

// wait blocks until the terminal signal went out (or the peer cancelled,
// or the connection closed).
func (s *RawSender) wait() {
	select {
	case <-s.emitted:
	case <-s.done:
	}
}

// call makes a call into the library through the boundary (which skips
// it once the connection is closing) and logs the library's panic (a
// subscriber can be torn down under us when the connection closes).
func (s *RawSender) call(f func() error) {
	// A type assertion, not errors.As: this runs for every item, and
	// errors.As would allocate its target.
	if pe, ok := f().(*rsock.PanicError); ok {
		s.scope.log.Error("rsrt: recovered panic in rsocket-go outbound call", "panic", pe.Value)
	}
}

// responsePayload converts an outbound Payload without a route: metadata
// is present only when there are entries.
func responsePayload(r Payload) (rsock.Payload, error) {
	if len(r.Metadata) == 0 {
		return rsock.Payload{Data: r.Data}, nil
	}
	md, err := EncodeComposite("", r.Metadata)
	if err != nil {
		return rsock.Payload{}, err
	}
	return rsock.Payload{Data: r.Data, Metadata: md}, nil
}

// requestPayload converts an outbound request: composite metadata with the
// routing entry first.
func requestPayload(route string, r Payload) (rsock.Payload, error) {
	if route == "" {
		return rsock.Payload{}, errors.New("rsrt: empty route")
	}
	md, err := EncodeComposite(route, r.Metadata)
	if err != nil {
		return rsock.Payload{}, err
	}
	return rsock.Payload{Data: r.Data, Metadata: md}, nil
}
