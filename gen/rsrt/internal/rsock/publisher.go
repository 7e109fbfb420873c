package rsock

import (
	"context"
	"fmt"
	"sync"

	"github.com/jjeffcaii/reactor-go/scheduler"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
)

// Outbound is a stream the runtime produces itself, item by item, as the
// peer's demand allows: a response stream, or the requests of a client's
// channel. It replaces flux.Create (see the package doc, entry "Own
// publisher instead of flux.Create").
type Outbound interface {
	// Subscribe attaches the library's subscriber, d; run starts work
	// where the library meant the producer to run.
	Subscribe(ctx context.Context, d *Downstream, run Runner)
}

// publisher returns o as the flux.Flux the library takes, its calls into
// the library inside fence. The library calls only SubscribeOn and
// SubscribeWith on the fluxes it is given; the embedded Flux is never used
// and is there to satisfy the interface (an empty flux, so a misuse is
// harmless).
func publish(o Outbound, fence *Fence) flux.Flux {
	return publisher{Flux: flux.Empty(), o: o, fence: fence}
}

type publisher struct {
	flux.Flux
	o     Outbound
	fence *Fence
	sc    scheduler.Scheduler
}

// SubscribeOn notes the scheduler the library meant for the producer.
// Subscribing itself stays synchronous (it is cheap and never blocks); the
// producer is started on that scheduler (see Runner).
func (p publisher) SubscribeOn(sc scheduler.Scheduler) flux.Flux {
	p.sc = sc
	return p
}

// SubscribeWith attaches the library's subscriber.
func (p publisher) SubscribeWith(ctx context.Context, sub rx.Subscriber) {
	p.o.Subscribe(ctx, &Downstream{sub: sub, fence: p.fence}, Runner{p.sc})
}

// Subscribe attaches a subscriber built from options.
func (p publisher) Subscribe(ctx context.Context, opts ...rx.SubscriberOption) {
	p.SubscribeWith(ctx, rx.NewSubscriber(opts...))
}

// Runner starts a producer where the library meant it to run.
type Runner struct{ sc scheduler.Scheduler }

// Go runs f on the library's scheduler when it gave one (its pools are
// unbounded for responses), else on reactor-go's elastic pool, the
// library's default for responses: its idle goroutines already have
// grown stacks, where a new goroutine per stream grows its stack again
// for every handler (measured in-process: a 100-item stream took 82 µs
// on new goroutines, 72 µs on the pool). A new goroutine is the fallback.
func (r Runner) Go(f func()) {
	sc := r.sc
	if sc == nil {
		sc = scheduler.Elastic()
	}
	if sc.Worker().Do(f) == nil {
		return
	}
	go f()
}

// Control is how the library's subscriber controls an Outbound: the
// peer's REQUEST_N (Request) and CANCEL, or the library tearing the
// connection down (Cancel).
type Control interface {
	Request(n int)
	Cancel()
}

// PanicError is returned by a call into the library that panicked (a
// subscriber torn down under us by a closing connection): the call had no
// effect.
type PanicError struct{ Value any }

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("rsock: rsocket-go panicked: %v", e.Value) }

// Downstream is the library's subscriber of an Outbound: where its items
// and its end go. Each call runs inside the connection's fence (it is
// skipped, returning nil, once the connection is closing) and returns a
// *PanicError when the library panicked. Calls must not overlap: the
// Outbound serialises them.
type Downstream struct {
	sub   rx.Subscriber
	fence *Fence
}

// items holds the payload values that carry stream items the response
// budget does not hold, each for the length of one OnNext (entry "Stream
// items in pooled payload values"): pooled rather than one per stream,
// which a server holds thousands of.
var items = sync.Pool{New: func() any { return new(outPayload) }}

func (d *Downstream) call(f func()) (err error) {
	d.fence.do(func() {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r}
			}
		}()
		f()
	})
	return err
}

// Start hands the subscriber its Control. ctx is the one the library
// subscribed with.
func (d *Downstream) Start(ctx context.Context, c Control) error {
	return d.call(func() { d.sub.OnSubscribe(ctx, c) })
}

// Next sends one item; p's Done is called once the library is done with it.
func (d *Downstream) Next(p Payload) error {
	if p.Done != nil {
		lp := p.lib()
		err := d.call(func() { d.sub.OnNext(lp) })
		settle(lp)
		return err
	}
	it := items.Get().(*outPayload)
	it.data, it.md = p.Data, p.Metadata
	err := d.call(func() { d.sub.OnNext(it) })
	*it = outPayload{} // the pool does not keep the bytes alive
	items.Put(it)
	return err
}

// Complete ends the stream with COMPLETE.
func (d *Downstream) Complete() error { return d.call(d.sub.OnComplete) }

// Error ends the stream with an ERROR frame: err's code when it has an
// ErrorCode() ErrorCode and ErrorData() []byte method, else
// APPLICATION_ERROR with its text.
func (d *Downstream) Error(err error) error { return d.call(func() { d.sub.OnError(err) }) }
