// Package loadbase is a minimal hand-written chat server built directly on
// rsocket-go (no rsrt runtime, no generated code). It is the baseline the
// load tool (cmd/chat-load) compares the generated chat server against,
// and lives with that tool, its only user: it is no part of the chat
// service.
//
// It serves only the routes the load tool measures, on the same wire format
// as the real server (composite metadata with a routing entry, JSON
// Message payloads):
//
//   - login (request-response): logs the connection in;
//   - channel.join (request-response): joins (and creates) a channel;
//   - message (request-response): delivers a Message to a channel's members
//     or to the sessions of a user;
//   - messages.incoming (request-stream): the session's messages, emitted
//     only within the demand the client granted (REQUEST_N), from a
//     per-session queue.
//
// It serves over TCP (Start) or over WebSocket (StartWebSocket), each with
// rsocket-go's own transport and its defaults: the baseline is what a
// plain rsocket-go server does on that transport.
//
// It imports rsocket-go directly, by definition: it is what the generated
// server is measured against, so it must not go through the runtime's
// boundary (gen/rsrt/internal/rsock). gen/rsrt's
// TestOneBoundaryAroundTheLibrary lists it, with that reason. So does
// RawClient, the load tool's client on plain rsocket-go.
//
// It follows the rsocket-go v0.8.16 rules: handlers never block the read
// loop, inbound payload bytes are copied before they are kept, the stream
// producer is demand-driven, stops on cancel and recovers around Next.
package loadbase

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core/transport"
	"github.com/rsocket/rsocket-go/payload"
	"github.com/rsocket/rsocket-go/rx"
	"github.com/rsocket/rsocket-go/rx/flux"
	"github.com/rsocket/rsocket-go/rx/mono"
)

// Message is the chat message on the wire (the same JSON keys as the
// generated chat.Message).
type Message struct {
	User    *string `json:"user,omitempty"`
	Content *string `json:"content,omitempty"`
	Channel *string `json:"channel,omitempty"`
}

// maxName bounds user and channel names.
const maxName = 256

// Server is a running baseline server.
type Server struct {
	ln     net.Listener
	url    string // the address clients dial, see Addr
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.RWMutex
	users    map[string]map[*session]struct{}
	channels map[string]map[*session]struct{}

	sessions atomic.Int64
}

// Start listens on addr (for example "127.0.0.1:0") and serves RSocket
// over TCP until Close or until ctx is done.
func Start(ctx context.Context, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tp := transport.NewTCPServerTransport(func(context.Context) (net.Listener, error) { return ln, nil })
	return start(ctx, ln, ln.Addr().String(), tp)
}

// StartWebSocket listens on addr (for example "127.0.0.1:0") and serves
// RSocket over WebSocket, on path "/", until Close or until ctx is done.
// It uses rsocket-go's websocket transport with its default upgrader (1
// KiB buffers, any origin), as a plain rsocket-go server would.
func StartWebSocket(ctx context.Context, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tp := transport.NewWebsocketServerTransport(func(context.Context) (net.Listener, error) { return ln, nil }, "/", nil)
	return start(ctx, ln, "ws://"+ln.Addr().String()+"/", tp)
}

// start serves tp, whose listener is ln, and returns once it accepts.
func start(ctx context.Context, ln net.Listener, url string, tp transport.ServerTransport) (*Server, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{
		ln:       ln,
		url:      url,
		cancel:   cancel,
		done:     make(chan struct{}),
		users:    make(map[string]map[*session]struct{}),
		channels: make(map[string]map[*session]struct{}),
	}
	started := make(chan struct{})
	go func() {
		defer close(s.done)
		_ = rsocket.Receive().
			OnStart(func() { close(started) }).
			Acceptor(s.accept).
			Transport(func(context.Context) (transport.ServerTransport, error) { return tp, nil }).
			Serve(ctx)
	}()
	select {
	case <-started:
	case <-s.done:
		cancel()
		ln.Close()
		return nil, errors.New("loadbase: server failed to start")
	}
	return s, nil
}

// Addr returns the address a client dials: "127.0.0.1:port" over TCP,
// "ws://127.0.0.1:port/" over WebSocket (both forms chat.Dial and DialRaw
// take).
func (s *Server) Addr() string { return s.url }

// Sessions returns the number of logged-in sessions.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// FreezeUser is fault injection for testing stall detection: the
// messages.incoming streams of the sessions logged in as user stop emitting
// (their messages stay queued, whatever the demand) until the connection
// closes.
func (s *Server) FreezeUser(user string) {
	s.mu.RLock()
	var set []*session
	for ss := range s.users[user] {
		set = append(set, ss)
	}
	s.mu.RUnlock()
	for _, ss := range set {
		ss.mu.Lock()
		ss.frozen = true
		ss.mu.Unlock()
	}
}

// Wait blocks until the server has stopped.
func (s *Server) Wait() { <-s.done }

// session is the state of one connection.
type session struct {
	srv *Server

	mu       sync.Mutex
	user     string // "" until login
	joined   map[string]struct{}
	queue    [][]byte // encoded Messages waiting for demand
	demand   int64    // outstanding REQUEST_N credit of the open stream
	sink     flux.Sink
	stream   uint64 // id of the open stream, 0 when none
	draining bool
	closed   bool
	frozen   bool // fault injection, see FreezeUser
}

func (s *Server) accept(_ context.Context, setup payload.SetupPayload, sock rsocket.CloseableRSocket) (rsocket.RSocket, error) {
	if setup.MetadataMimeType() != "message/x.rsocket.composite-metadata.v0" {
		return nil, errors.New("metadata MIME type must be message/x.rsocket.composite-metadata.v0")
	}
	ss := &session{srv: s, joined: make(map[string]struct{})}
	sock.OnClose(func(error) { ss.close() })
	return rsocket.NewAbstractSocket(
		rsocket.RequestResponse(ss.requestResponse),
		rsocket.RequestStream(ss.requestStream),
	), nil
}

// route returns the first routing tag of composite metadata md, parsed
// defensively (the library's scanner has no bounds checks).
func route(md []byte) (string, error) {
	for len(md) > 0 {
		b := md[0]
		md = md[1:]
		routing := false
		if b&0x80 != 0 {
			routing = b&0x7f == 0x7e
		} else {
			n := int(b) + 1
			if len(md) < n {
				return "", errors.New("bad composite metadata")
			}
			routing = string(md[:n]) == "message/x.rsocket.routing.v0"
			md = md[n:]
		}
		if len(md) < 3 {
			return "", errors.New("bad composite metadata")
		}
		n := int(md[0])<<16 | int(md[1])<<8 | int(md[2])
		md = md[3:]
		if len(md) < n {
			return "", errors.New("bad composite metadata")
		}
		if routing {
			if n < 1 || int(md[0])+1 > n {
				return "", errors.New("bad routing metadata")
			}
			return string(md[1 : 1+int(md[0])]), nil
		}
		md = md[n:]
	}
	return "", errors.New("no route in metadata")
}

func name(b []byte) (string, error) {
	if len(b) == 0 || len(b) > maxName || !utf8.Valid(b) {
		return "", errors.New("name must be 1 to 256 bytes of UTF-8")
	}
	return string(b), nil // string() copies out of the pooled buffer
}

var empty = payload.New(nil, nil)

// reply answers a request with p. Not mono.Just: reactor-go hands the
// subscriptions of mono.Just out of a sync.Pool and back as soon as the
// value is emitted, while rsocket-go keeps the subscription and cancels it
// again when the connection closes, which can cancel an unrelated request
// that reuses it. mono.Create's subscriptions are not pooled.
func reply(p payload.Payload) mono.Mono {
	return mono.Create(func(_ context.Context, sink mono.Sink) { sink.Success(p) })
}

func (ss *session) requestResponse(req payload.Payload) mono.Mono {
	md, _ := req.Metadata()
	r, err := route(md)
	if err != nil {
		return mono.Error(err)
	}
	switch r {
	case "login":
		user, err := name(req.Data())
		if err != nil {
			return mono.Error(err)
		}
		if err := ss.login(user); err != nil {
			return mono.Error(err)
		}
		return reply(payload.New([]byte(uuid.NewString()), nil))
	case "channel.join":
		ch, err := name(req.Data())
		if err != nil {
			return mono.Error(err)
		}
		if err := ss.join(ch); err != nil {
			return mono.Error(err)
		}
		return reply(empty)
	case "message":
		var m Message
		if !utf8.Valid(req.Data()) {
			return mono.Error(errors.New("message: not valid UTF-8"))
		}
		// Unmarshal copies the strings out of the pooled buffer. The
		// delivery (fan-out) runs off the read loop.
		if err := json.Unmarshal(req.Data(), &m); err != nil {
			return mono.Error(fmt.Errorf("message: bad JSON: %v", err))
		}
		return mono.Create(func(_ context.Context, sink mono.Sink) {
			if err := ss.send(m); err != nil {
				sink.Error(err)
				return
			}
			sink.Success(empty)
		})
	}
	return mono.Error(fmt.Errorf("unknown route %q", r))
}

func (ss *session) login(user string) error {
	s := ss.srv
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return errors.New("connection closed")
	}
	if ss.user != "" {
		ss.mu.Unlock()
		return errors.New("already logged in")
	}
	ss.user = user
	ss.mu.Unlock()
	s.mu.Lock()
	set := s.users[user]
	if set == nil {
		set = make(map[*session]struct{})
		s.users[user] = set
	}
	set[ss] = struct{}{}
	s.mu.Unlock()
	s.sessions.Add(1)
	return nil
}

func (ss *session) userName() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.user
}

func (ss *session) join(ch string) error {
	if ss.userName() == "" {
		return errors.New("login first")
	}
	s := ss.srv
	s.mu.Lock()
	set := s.channels[ch]
	if set == nil {
		set = make(map[*session]struct{})
		s.channels[ch] = set
	}
	set[ss] = struct{}{}
	s.mu.Unlock()
	ss.mu.Lock()
	ss.joined[ch] = struct{}{}
	ss.mu.Unlock()
	return nil
}

// send delivers m to its recipients: it encodes the message once and
// appends it to each recipient session's queue.
func (ss *session) send(m Message) error {
	from := ss.userName()
	if from == "" {
		return errors.New("login first")
	}
	out := Message{User: &from, Content: m.Content}
	s := ss.srv
	var targets []*session
	s.mu.RLock()
	switch {
	case m.Channel != nil:
		set, ok := s.channels[*m.Channel]
		if _, member := set[ss]; !ok || !member {
			s.mu.RUnlock()
			return fmt.Errorf("not a member of channel %q", *m.Channel)
		}
		out.Channel = m.Channel
		targets = make([]*session, 0, len(set))
		for t := range set {
			targets = append(targets, t)
		}
	case m.User != nil:
		set := s.users[*m.User]
		if len(set) == 0 {
			s.mu.RUnlock()
			return fmt.Errorf("user %q is not logged in", *m.User)
		}
		for t := range set {
			targets = append(targets, t)
		}
	default:
		s.mu.RUnlock()
		return errors.New("message needs a user or a channel")
	}
	s.mu.RUnlock()
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	for _, t := range targets {
		t.deliver(data)
	}
	return nil
}

// deliver queues one encoded message and starts a drainer when the stream
// has demand and none runs. The drainer is a goroutine so that neither the
// sender nor the read loop waits on a slow recipient.
func (ss *session) deliver(data []byte) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.queue = append(ss.queue, data)
	start := ss.startDrainLocked()
	ss.mu.Unlock()
	if start {
		go ss.drain()
	}
}

func (ss *session) startDrainLocked() bool {
	if ss.draining || ss.frozen || ss.sink == nil || ss.demand <= 0 || len(ss.queue) == 0 {
		return false
	}
	ss.draining = true
	return true
}

// drain emits queued messages while the stream has demand.
func (ss *session) drain() {
	ss.mu.Lock()
	for ss.sink != nil && !ss.frozen && ss.demand > 0 && len(ss.queue) > 0 {
		data := ss.queue[0]
		ss.queue[0] = nil
		ss.queue = ss.queue[1:]
		if len(ss.queue) == 0 {
			ss.queue = nil // release the backing array
		}
		ss.demand--
		sink := ss.sink
		ss.mu.Unlock()
		safeNext(sink, payload.New(data, nil))
		ss.mu.Lock()
	}
	ss.draining = false
	ss.mu.Unlock()
}

// safeNext emits p; after a cancel the sink's queue is closed and Next can
// panic, which only means the item is dropped with the stream.
func safeNext(sink flux.Sink, p payload.Payload) {
	defer func() { _ = recover() }()
	sink.Next(p)
}

var streamIDs atomic.Uint64

func (ss *session) requestStream(req payload.Payload) flux.Flux {
	md, _ := req.Metadata()
	r, err := route(md)
	if err != nil {
		return flux.Error(err)
	}
	if r != "messages.incoming" {
		return flux.Error(fmt.Errorf("unknown route %q", r))
	}
	if ss.userName() == "" {
		return flux.Error(errors.New("login first"))
	}
	id := streamIDs.Add(1)
	// The subscriber requests its initial demand before the generator
	// runs, so demand is counted per stream id from the start.
	return flux.Create(func(_ context.Context, sink flux.Sink) {
		ss.mu.Lock()
		if ss.closed {
			ss.mu.Unlock()
			sink.Complete()
			return
		}
		if ss.stream != id {
			// A newer stream replaced this one before it started.
			ss.mu.Unlock()
			sink.Complete()
			return
		}
		ss.sink = sink
		start := ss.startDrainLocked()
		ss.mu.Unlock()
		if start {
			go ss.drain()
		}
	}).DoOnRequest(func(n int) {
		ss.mu.Lock()
		if ss.stream == 0 || ss.stream < id {
			// First request of this stream: it becomes the open one.
			ss.stream = id
			ss.sink = nil
			ss.demand = 0
		}
		if ss.stream == id {
			ss.demand += int64(n)
		}
		start := ss.startDrainLocked()
		ss.mu.Unlock()
		if start {
			go ss.drain()
		}
	}).DoFinally(func(rx.SignalType) {
		ss.mu.Lock()
		if ss.stream == id {
			ss.stream = 0
			ss.sink = nil
			ss.demand = 0
		}
		ss.mu.Unlock()
	})
}

func (ss *session) close() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	user := ss.user
	joined := ss.joined
	ss.queue = nil
	ss.sink = nil
	ss.mu.Unlock()
	s := ss.srv
	s.mu.Lock()
	if user != "" {
		if set := s.users[user]; set != nil {
			delete(set, ss)
			if len(set) == 0 {
				delete(s.users, user)
			}
		}
	}
	for ch := range joined {
		if set := s.channels[ch]; set != nil {
			delete(set, ss)
		}
	}
	s.mu.Unlock()
	if user != "" {
		s.sessions.Add(-1)
	}
}
