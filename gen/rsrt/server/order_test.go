package server_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

const (
	routeOrderFNF   = "order.fnf"
	routeOrderPush  = "order.push"
	routeOrderStart = "order.start"
	mimeSeq         = "application/x.test.seq"
	orderCount      = 200
)

// recorder is the handler of the ordering tests, on either side: it
// records the sequence number each one-way request carries (the data of a
// fire-and-forget, an entry of a metadata push), in the order the
// handlers run.
type recorder struct {
	seen chan int
	conn *rsrt.Conn // the server's view of the connection
}

func (r *recorder) record(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(n%3) * time.Microsecond) // a handler takes its time
	r.seen <- n
	return nil
}

func orderRoutes() *rsrt.Routes[*recorder] {
	routes := rsrt.NewRoutes[*recorder]()
	routes.HandleFireAndForget(routeOrderFNF, func(_ context.Context, r *recorder, req *rsrt.Payload) error {
		return r.record(string(req.Data))
	})
	routes.HandleMetadataPush(routeOrderPush, func(_ context.Context, r *recorder, req *rsrt.Payload) error {
		b, _ := req.Metadata.Get(mimeSeq)
		return r.record(string(b))
	})
	// The client asks the server to send the sequence its way.
	routes.HandleRequestResponse(routeOrderStart, func(ctx context.Context, r *recorder, _ *rsrt.Payload) (rsrt.Payload, error) {
		return rsrt.Payload{}, sendSequence(ctx, r.conn.Caller())
	})
	return routes
}

// sendSequence sends 0..orderCount-1 in a row, fire-and-forget and
// metadata push alternating.
func sendSequence(ctx context.Context, c *rsrt.Caller) error {
	for i := range orderCount {
		s := strconv.Itoa(i)
		var err error
		if i%2 == 0 {
			err = c.FireAndForget(ctx, routeOrderFNF, rsrt.Payload{Data: []byte(s)})
		} else {
			err = c.MetadataPush(ctx, routeOrderPush, rsrt.Metadata{{MIME: mimeSeq, Data: []byte(s)}})
		}
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
	return nil
}

// checkSequence reads the numbers the handlers recorded and fails unless
// they are 0..orderCount-1 in order.
func checkSequence(t *testing.T, seen <-chan int) {
	t.Helper()
	got := make([]int, 0, orderCount)
	for len(got) < orderCount {
		select {
		case n := <-seen:
			got = append(got, n)
		case <-time.After(testTimeout):
			t.Fatalf("%d of %d one-way requests handled", len(got), orderCount)
		}
	}
	for i, n := range got {
		if n != i {
			t.Fatalf("handlers ran out of arrival order at %d: %v", i, got)
		}
	}
}

// TestOneWayOrder: the fire-and-forget and metadata-push requests of one
// connection are handled in the order they were sent, on the server (the
// guard's transports observe the arrivals) and on the client (its tap
// does), over TCP and WebSocket.
func TestOneWayOrder(t *testing.T) {
	serverSide := make(chan *recorder, 4)
	acc := rsrt.NewAcceptor(orderRoutes(), func(_ context.Context, c *rsrt.Conn) (*recorder, error) {
		r := &recorder{seen: make(chan int, orderCount), conn: c}
		serverSide <- r
		return r, nil
	}, rsrt.WithLogger(testLogger()))
	srv, err := server.New(acc, server.Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.Ready()

	for _, addr := range []string{srv.TCPAddr().String(), "ws://" + srv.WSAddr().String() + "/"} {
		client := &recorder{seen: make(chan int, orderCount)}
		c, err := rsrt.Dial(ctx, addr, rsrt.WithRoutes(orderRoutes(), client), rsrt.WithDialLogger(testLogger()))
		if err != nil {
			t.Fatal(err)
		}
		r := <-serverSide
		if err := sendSequence(ctx, c.Caller()); err != nil {
			t.Fatal(err)
		}
		t.Run("server "+addr, func(t *testing.T) { checkSequence(t, r.seen) })

		if _, err := c.Caller().RequestResponse(ctx, routeOrderStart, rsrt.Payload{}); err != nil {
			t.Fatal(err)
		}
		t.Run("client "+addr, func(t *testing.T) { checkSequence(t, client.seen) })
		_ = c.Close()
	}
}
