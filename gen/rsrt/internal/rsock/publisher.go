package rsock

import (
	"context"

	"github.com/jjeffcaii/reactor-go/scheduler"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
)

// Outbound is a stream the runtime produces itself, item by item, as the
// peer's demand allows: a response stream, or the requests of a client's
// channel. It replaces flux.Create (see the package doc, entry "Own
// publisher instead of flux.Create").
type Outbound interface {
	// Subscribe attaches the library's subscriber; run starts work
	// where the library meant the producer to run.
	Subscribe(ctx context.Context, sub rx.Subscriber, run Runner)
}

// Publisher returns o as the flux.Flux the library takes. The library
// calls only SubscribeOn and SubscribeWith on the fluxes it is given; the
// embedded Flux is never used and is there to satisfy the interface (an
// empty flux, so a misuse is harmless).
func Publisher(o Outbound) flux.Flux { return publisher{Flux: flux.Empty(), o: o} }

type publisher struct {
	flux.Flux
	o  Outbound
	sc scheduler.Scheduler
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
	p.o.Subscribe(ctx, sub, Runner{p.sc})
}

// Subscribe attaches a subscriber built from options.
func (p publisher) Subscribe(ctx context.Context, opts ...rx.SubscriberOption) {
	p.o.Subscribe(ctx, rx.NewSubscriber(opts...), Runner{p.sc})
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
