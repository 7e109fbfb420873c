// Package client is the client side of the example: a scenario that uses
// every route of the order service, and serves the route the server calls
// (order.confirm).
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rsocket-chat/rsgen/gen/rsrt"

	"example.com/orders/orders"
)

// confirmer serves order.confirm: it accepts orders without a note saying
// "reject".
type confirmer struct{ out io.Writer }

var _ orders.ClientHandler = confirmer{}

func (c confirmer) OrderConfirm(_ context.Context, o orders.Order) (orders.Confirmation, error) {
	ok := o.Note == nil || !strings.Contains(*o.Note, "reject")
	fmt.Fprintf(c.out, "confirm %d line(s) for %s: %v\n", len(o.Lines), o.Customer, ok)
	return orders.Confirmation{Accepted: ok}, nil
}

// Run connects to addr (host:port, or a ws:// URL) with opts and runs the
// scenario, writing what happens to out. It fails on any result it does
// not expect.
func Run(ctx context.Context, addr string, out io.Writer, opts ...rsrt.DialOption) error {
	c, err := orders.Dial(ctx, addr, append(opts, orders.WithHandler(confirmer{out}))...)
	if err != nil {
		return err
	}
	defer c.Close()

	// request-stream: this connection's order events, read as they come.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	events := make(chan orders.OrderEvent, 16)
	go func() {
		defer close(events)
		for ev, err := range c.OrdersWatch(watchCtx) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()

	// request-response, with a metadata entry, and the server calling
	// order.confirm on this client before it answers.
	trace := "trace-1"
	note := "ring twice"
	placed, err := c.OrderPlace(ctx, orders.Order{Customer: "ada", Note: &note,
		Lines: []orders.Line{{Sku: "TEA-0002", Quantity: 3}, {Sku: "CUP-0001", Quantity: 1}}}, &trace)
	if err != nil {
		return fmt.Errorf("order.place: %w", err)
	}
	if placed.ID == nil {
		return errors.New("order.place: no id")
	}
	fmt.Fprintf(out, "placed %s\n", *placed.ID)

	// The customer refuses; the server refuses the order.
	reject := "reject please"
	if _, err := c.OrderPlace(ctx, orders.Order{Customer: "ada", Note: &reject,
		Lines: []orders.Line{{Sku: "TEA-0001", Quantity: 1}}}, nil); err == nil {
		return errors.New("order.place: a refused order was placed")
	} else {
		fmt.Fprintf(out, "refused: %v\n", err)
	}

	// A request that breaks the schema's constraints: the server's
	// decoder refuses it, naming the field.
	if _, err := c.OrderPlace(ctx, orders.Order{Customer: "ada",
		Lines: []orders.Line{{Sku: "tea", Quantity: 0}}}, nil); err == nil {
		return errors.New("order.place: an invalid order was placed")
	} else {
		fmt.Fprintf(out, "invalid: %v\n", err)
	}

	// fire-and-forget.
	if err := c.OrderCancel(ctx, *placed.ID); err != nil {
		return fmt.Errorf("order.cancel: %w", err)
	}
	for _, want := range []string{"placed", "cancelled"} {
		select {
		case ev, ok := <-events:
			if !ok || ev.OrderID != *placed.ID || ev.State != want {
				return fmt.Errorf("orders.watch: got %+v, want %s %s", ev, *placed.ID, want)
			}
			fmt.Fprintf(out, "event %s %s\n", ev.OrderID, ev.State)
		case <-ctx.Done():
			return fmt.Errorf("orders.watch: no %s event: %w", want, ctx.Err())
		}
	}
	stopWatch() // break out of the stream: CANCEL

	// request-channel: queries one way, prices the other.
	ch, err := c.Prices(ctx, orders.PriceQuery{Sku: "TEA-0002"})
	if err != nil {
		return fmt.Errorf("prices: %w", err)
	}
	if err := ch.Send(orders.PriceQuery{Sku: "CUP-0004"}); err != nil {
		return fmt.Errorf("prices: %w", err)
	}
	if err := ch.CloseSend(); err != nil {
		return fmt.Errorf("prices: %w", err)
	}
	var prices []string
	for p, err := range ch.Recv() {
		if err != nil {
			return fmt.Errorf("prices: %w", err)
		}
		prices = append(prices, fmt.Sprintf("%s=%d", p.Sku, p.Cents))
	}
	if got := strings.Join(prices, " "); got != "TEA-0002=500 CUP-0004=1000" {
		return fmt.Errorf("prices: got %q", got)
	}
	fmt.Fprintf(out, "prices %s\n", strings.Join(prices, " "))

	// metadata-push.
	if err := c.CacheInvalidate(ctx, "eu-west"); err != nil {
		return fmt.Errorf("cache.invalidate: %w", err)
	}
	fmt.Fprintln(out, "invalidated eu-west")
	return nil
}
