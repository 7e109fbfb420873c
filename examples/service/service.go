// Package service implements the order service of the example: one
// session per connection (orders.Server) over a shop the sessions share.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"

	"example.com/orders/orders"
)

// Shop is the state the sessions share: the orders placed, the price
// list and the regions whose cache was invalidated.
type Shop struct {
	mu          sync.Mutex
	placed      int
	owner       map[string]*session // order id -> the session that placed it
	invalidated []string
	log         *slog.Logger
}

// NewShop returns an empty shop that logs to log.
func NewShop(log *slog.Logger) *Shop {
	return &Shop{owner: map[string]*session{}, log: log}
}

// Invalidated returns the regions whose cache was invalidated, in order.
func (s *Shop) Invalidated() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.invalidated...)
}

// Price is the price list: 250 cents per unit of the SKU's number.
func Price(sku string) int64 {
	var n int64
	fmt.Sscanf(sku[4:], "%d", &n) // the schema's pattern guarantees AAA-0000
	return 250 * n
}

// NewSession is the function orders.NewAcceptor calls for each accepted
// connection.
func (s *Shop) NewSession(_ context.Context, peer *orders.Peer) (orders.Server, error) {
	return &session{shop: s, peer: peer, events: make(chan orders.OrderEvent, 64)}, nil
}

// Serve serves the shop on the listeners of cfg until ctx ends, then
// drains (see gen/rsrt/server).
func (s *Shop) Serve(ctx context.Context, cfg server.Config, ready func(*server.Server)) error {
	cfg.Gate = rsrt.NewGate()
	cfg.Logger = s.log
	srv, err := server.New(orders.NewAcceptor(s.NewSession, rsrt.WithLogger(s.log)), cfg)
	if err != nil {
		return err
	}
	if ready != nil {
		go func() {
			select {
			case <-srv.Ready():
				ready(srv)
			case <-ctx.Done():
			}
		}()
	}
	return srv.Serve(ctx)
}

// session serves one connection; the values the handlers get are valid
// already: the generated decoders check the schema's constraints.
type session struct {
	shop   *Shop
	peer   *orders.Peer
	events chan orders.OrderEvent // this connection's order events, for orders.watch
}

var _ orders.Server = (*session)(nil)

func (s *session) event(id, state string) {
	select {
	case s.events <- orders.OrderEvent{OrderID: id, State: state}:
	default: // nobody watching for a while: events are dropped, not queued forever
	}
}

// OrderPlace asks the client to confirm the order (when it serves
// order.confirm), then places it.
func (s *session) OrderPlace(ctx context.Context, req orders.Order, traceID *string) (orders.Order, error) {
	if s.peer.Declares(rsrt.RequestResponse, orders.RouteOrderConfirm) {
		c, err := s.peer.OrderConfirm(ctx, req)
		if err != nil {
			return orders.Order{}, rsrt.NewError("confirmation failed: %v", err)
		}
		if !c.Accepted {
			return orders.Order{}, rsrt.NewError("the customer did not confirm the order")
		}
	}
	s.shop.mu.Lock()
	s.shop.placed++
	id := fmt.Sprintf("order-%d", s.shop.placed)
	s.shop.owner[id] = s
	s.shop.mu.Unlock()
	if traceID != nil {
		s.shop.log.Info("order placed", "id", id, "trace_id", *traceID)
	}
	req.ID = &id
	s.event(id, "placed")
	return req, nil
}

// OrderCancel cancels one of this connection's orders; others are ignored
// (a fire-and-forget has no answer to refuse with).
func (s *session) OrderCancel(_ context.Context, id string) error {
	s.shop.mu.Lock()
	owned := s.shop.owner[id] == s
	delete(s.shop.owner, id)
	s.shop.mu.Unlock()
	if !owned {
		return fmt.Errorf("order %q is not this connection's", id)
	}
	s.event(id, "cancelled")
	return nil
}

// OrdersWatch streams this connection's order events until the client
// cancels.
func (s *session) OrdersWatch(ctx context.Context, out *rsrt.Sender[orders.OrderEvent]) error {
	for {
		select {
		case ev := <-s.events:
			if err := out.Send(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// Prices answers each query with the item's price.
func (s *session) Prices(_ context.Context, in *rsrt.Inbound[orders.PriceQuery], out *rsrt.Sender[orders.Price]) error {
	for q, err := range in.All() {
		if err != nil {
			return err
		}
		if err := out.Send(orders.Price{Sku: q.Sku, Cents: Price(q.Sku)}); err != nil {
			return err
		}
	}
	return nil
}

// CacheInvalidate records the region.
func (s *session) CacheInvalidate(_ context.Context, region string) error {
	s.shop.mu.Lock()
	s.shop.invalidated = append(s.shop.invalidated, region)
	s.shop.mu.Unlock()
	return nil
}
