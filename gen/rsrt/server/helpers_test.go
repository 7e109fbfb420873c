package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/server"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	routeLibraryLogs()
	os.Exit(m.Run())
}

// routeLibraryLogs sends rsocket-go's logs to stderr, errors only unless
// RSGEN_TEST_LOG is set.
func routeLibraryLogs() {
	level := slog.LevelError
	if os.Getenv("RSGEN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	rsrt.RouteLibraryLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

func testLogger() *slog.Logger {
	if os.Getenv("RSGEN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// The test service's routes. rsrt routes requests by the routing entry
// of their composite metadata: every request, raw or from an rsocket-go
// client, carries meta(route).
const (
	routeEcho   = "echo"   // request-response
	routeCount  = "count"  // fire-and-forget
	routeItems  = "items"  // request-stream
	routeMirror = "mirror" // request-channel
)

// meta returns composite metadata with the routing entry of route.
func meta(route string) []byte {
	b, err := rsrt.EncodeComposite(route, nil)
	if err != nil {
		panic(err)
	}
	return b
}

// responder is a small service served through the project's runtime
// (rsrt), so that the tests run the real stack: rsrt, package server and
// the guard's transports. It answers "echo:" + data on request-response
// (the request is held until released when its data is "hold"; "blob" is
// answered with 1 MiB, reserved before it is made; "huge error" with an
// error of 17 MiB), 3 items
// of 1 byte on request-stream (10000 for "many", 2048 of 64 KiB for
// "big"), an echo on request-channel, and counts fire-and-forget
// requests (one whose data is "park" waits, like a held request, and
// counts as parked meanwhile). rsrt hands handlers copies of the payloads, and its senders
// wait for the peer's demand.
type responder struct {
	fnf     atomic.Int64
	parked  atomic.Int64
	held    chan struct{} // receives when a "hold" request arrives
	release chan struct{} // closed to answer the held requests
	// ended receives the error of a held request's context when it
	// ended before the release.
	ended chan error
	once  sync.Once
	// log, when set, receives the runtime's logs instead of testLogger.
	log *slog.Logger
	// opts are more options of the acceptor.
	opts []rsrt.AcceptOption
}

func newResponder() *responder {
	return &responder{held: make(chan struct{}, 16), release: make(chan struct{}), ended: make(chan error, 16)}
}

func (r *responder) releaseHeld() { r.once.Do(func() { close(r.release) }) }

// testRoutes dispatches to the *responder of the server.
var testRoutes = func() *rsrt.Routes[*responder] {
	routes := rsrt.NewRoutes[*responder]()
	routes.HandleRequestResponse(routeEcho, func(ctx context.Context, r *responder, req *rsrt.Payload) (rsrt.Payload, error) {
		switch string(req.Data) {
		case "hold":
		case "huge error": // more text than a frame can carry
			return rsrt.Payload{}, rsrt.NewError("%s", bytes.Repeat([]byte{'e'}, 17<<20))
		case "blob": // 1 MiB of its own, reserved first, as a download is
			if err := rsrt.ReserveResponse(ctx, 1<<20); err != nil {
				return rsrt.Payload{}, err
			}
			return rsrt.Payload{Data: make([]byte, 1<<20)}, nil
		default:
			return rsrt.Payload{Data: append([]byte("echo:"), req.Data...)}, nil
		}
		// rsrt runs the handler on the library's response pool: it
		// may wait. Like a real handler it also gives up when its
		// connection ends: that answer is made while the server stops
		// and must not race with rsocket-go closing the connection's
		// send queue (the guard gives the library a context that ends
		// only after the connection's fence is shut).
		r.held <- struct{}{}
		select {
		case <-r.release:
		case <-ctx.Done():
			select {
			case r.ended <- ctx.Err():
			default:
			}
			return rsrt.Payload{}, ctx.Err()
		}
		return rsrt.Payload{Data: []byte("released")}, nil
	})
	routes.HandleFireAndForget(routeCount, func(ctx context.Context, r *responder, req *rsrt.Payload) error {
		r.fnf.Add(1)
		if string(req.Data) == "park" {
			r.parked.Add(1)
			defer r.parked.Add(-1)
			select {
			case <-r.release:
			case <-ctx.Done():
			}
		}
		return nil
	})
	routes.HandleRequestStream(routeItems, func(ctx context.Context, _ *responder, req *rsrt.Payload, out rsrt.Stream) error {
		n, size := 3, 1
		switch string(req.Data) {
		case "many":
			n = 10000
		case "big": // 128 MiB in all, more than socket buffers hold
			n, size = 2048, 64<<10
		}
		data := make([]byte, size)
		for range n {
			if err := out.Send(ctx, rsrt.Payload{Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	routes.HandleRequestChannel(routeMirror, false, func(ctx context.Context, _ *responder, st rsrt.Stream) error {
		in, out := st, st // the inbound and outbound sides
		for {
			p, err := in.Recv(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := out.Send(ctx, rsrt.Payload{Data: p.Data}); err != nil {
				return err
			}
		}
	})
	return routes
}()

func (r *responder) acceptor() rsocket.ServerAcceptor {
	log := r.log
	if log == nil {
		log = testLogger()
	}
	return rsrt.NewAcceptor(testRoutes, func(context.Context, *rsrt.Conn) (*responder, error) { return r, nil },
		append([]rsrt.AcceptOption{rsrt.WithLogger(log)}, r.opts...)...)
}

// running is a server started by start.
type running struct {
	srv  *server.Server
	stop context.CancelFunc
	done chan error
}

// start serves r on 127.0.0.1 with free ports and stops it at the end of
// the test.
func start(t *testing.T, r *responder, cfg server.Config) *running {
	t.Helper()
	if cfg.TCPAddr == "" && cfg.WSAddr == "" {
		cfg.TCPAddr, cfg.WSAddr = "127.0.0.1:0", "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	srv, err := server.New(r.acceptor(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	run := &running{srv: srv, stop: stop, done: make(chan error, 1)}
	go func() { run.done <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-run.done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("server not ready")
	}
	// After the shutdown (cleanups run last in, first out): held
	// requests are answered once their connection is gone.
	t.Cleanup(r.releaseHeld)
	t.Cleanup(func() { run.shutdown(t) })
	return run
}

// shutdown stops the server and waits for Serve to return.
func (run *running) shutdown(t *testing.T) {
	t.Helper()
	run.stop()
	select {
	case err, ok := <-run.done:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		if ok {
			close(run.done)
		}
	case <-time.After(testTimeout):
		t.Error("Serve did not return after shutdown")
	}
}

func (run *running) tcp() string { return run.srv.TCPAddr().String() }
func (run *running) wsURL() string {
	return "ws://" + run.srv.WSAddr().String() + "/"
}

func client() rsocket.ClientBuilder {
	return rsocket.Connect().
		Fragment(1_000_000).
		ConnectTimeout(testTimeout).
		KeepAlive(500*time.Millisecond, 10*time.Second, 3).
		DataMimeType("application/json").
		MetadataMimeType("message/x.rsocket.composite-metadata.v0")
}

func dialTCP(t *testing.T, addr string) rsocket.Client {
	t.Helper()
	return dialStarter(t, client().Transport(rsocket.TCPClient().SetAddr(addr).Build()))
}

func dialWS(t *testing.T, url string) rsocket.Client {
	t.Helper()
	return dialStarter(t, client().Transport(rsocket.WebsocketClient().SetURL(url).Build()))
}

func dialStarter(t *testing.T, s rsocket.ClientStarter) rsocket.Client {
	t.Helper()
	// The client lives as long as the ctx given to Start: it must not be
	// cancelled when Start returns. ConnectTimeout bounds the dial.
	c, err := s.Start(context.Background())
	if err != nil {
		t.Fatalf("client start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// requestResponse sends data and returns the answer. The answer is
// copied inside the callback: rsocket-go's Block may read a response frame
// after the library released it.
func requestResponse(c rsocket.Client, data string) (answer string, err error) {
	// rsocket-go's client can panic ("this pool has been closed") when a
	// request races the close of its connection, as it does in the
	// shutdown tests: that is a failed request, not a test crash.
	defer func() {
		if r := recover(); r != nil {
			answer, err = "", fmt.Errorf("rsocket-go panicked: %v", r)
		}
	}()
	type result struct {
		s   string
		err error
	}
	res := make(chan result, 2)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c.RequestResponse(payload.New([]byte(data), meta(routeEcho))).Subscribe(ctx,
		rx.OnNext(func(p payload.Payload) error {
			res <- result{s: string(p.Data())}
			return nil
		}),
		rx.OnComplete(func() { res <- result{err: errors.New("empty response")} }),
		rx.OnError(func(err error) { res <- result{err: err} }),
	)
	select {
	case r := <-res:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// collect subscribes to f and returns the data of its items.
func collect(f flux.Flux) ([]string, error) {
	var (
		mu    sync.Mutex
		items []string
	)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	f.Subscribe(ctx,
		rx.OnNext(func(p payload.Payload) error {
			mu.Lock()
			defer mu.Unlock()
			items = append(items, string(p.Data()))
			return nil
		}),
		rx.OnComplete(func() { done <- nil }),
		rx.OnError(func(err error) { done <- err }),
	)
	select {
	case err := <-done:
		mu.Lock()
		defer mu.Unlock()
		return items, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkServes asserts that a fresh legitimate client gets a correct
// answer over TCP (and over WebSocket when the server has it).
func (run *running) checkServes(t *testing.T) {
	t.Helper()
	got, err := requestResponse(dialTCP(t, run.tcp()), "ping")
	if err != nil || got != "echo:ping" {
		t.Fatalf("legitimate TCP request: %q, %v", got, err)
	}
	if run.srv.WSAddr() != nil {
		got, err := requestResponse(dialWS(t, run.wsURL()), "ping")
		if err != nil || got != "echo:ping" {
			t.Fatalf("legitimate WebSocket request: %q, %v", got, err)
		}
	}
}
