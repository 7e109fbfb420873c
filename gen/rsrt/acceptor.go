package rsrt

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/rsocket/rsocket-go"
	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/payload"
	"golang.org/x/sync/semaphore"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

type acceptConfig struct {
	log    *slog.Logger
	gate   *Gate // unless the server's transport hands one (Gate.ConnContext)
	budget int64 // per connection; 0 for the default, < 0 for none
	// serverBudget bounds all connections' unwritten responses; 0 for
	// the default, < 0 for none.
	serverBudget int64
}

// scope builds the policy of one connection (see connScope) from what the
// server's transport prepared for it in ctx, if anything, and the
// acceptor's options; log is the connection's logger, shared the
// server-wide response budget.
func (cfg *acceptConfig) scope(ctx context.Context, log *slog.Logger, shared *semaphore.Weighted) *connScope {
	sc := &connScope{gate: cfg.gate, fence: new(fence), budget: newBudget(cfg.budget, shared), log: log,
		arrivals: rsock.NewArrivals()}
	if sv, ok := ctx.Value(servedKey{}).(*servedConn); ok {
		sc.gate, sc.fence, sc.arrivals = sv.gate, sv.fence, sv.arrivals
	}
	return sc
}

// Conn is one accepted connection as the server sees it.
type Conn struct {
	ctx    context.Context
	setup  Setup
	addr   string
	caller *Caller
	decls  map[routeKey]struct{}
}

// Context returns the connection's context, cancelled when it closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Setup returns the client's SETUP information.
func (c *Conn) Setup() Setup { return c.setup }

// RemoteAddr returns the peer address, or "" when unknown.
func (c *Conn) RemoteAddr() string { return c.addr }

// Declares reports whether the client declared in SETUP that it serves the
// route with the interaction.
func (c *Conn) Declares(i Interaction, route string) bool {
	_, ok := c.decls[routeKey{i, route}]
	return ok
}

// Caller returns the caller for requests to the client. Every call checks
// that the client declared the route and returns *UndeclaredRouteError
// without sending anything when it did not.
func (c *Conn) Caller() *Caller { return c.caller }

// newAcceptor builds the acceptor. What goes on the wire when it refuses a
// SETUP: rsocket-go v0.8.16 answers any acceptor error on a connection
// without resumption with an ERROR frame of code REJECTED_SETUP carrying
// err.Error(); the code of the *Error returned here (UNSUPPORTED_SETUP or
// INVALID_SETUP, as the contract wants) is therefore only in the text,
// unless the server's transport (gen/rsrt/guard) rewrites the frame.
func newAcceptor[S any](routes *Routes[S], newServer func(ctx context.Context, conn *Conn) (S, error), opts []AcceptOption) rsocket.ServerAcceptor {
	cfg := acceptConfig{log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gate == nil {
		cfg.gate = NewGate() // open for good: nobody else holds it
	}
	if cfg.budget == 0 {
		cfg.budget = DefaultResponseBudget
	}
	log := slog.New(rslog.NewClipHandler(cfg.log.Handler()))
	shared := serverBudget(cfg.serverBudget, cfg.budget)
	return func(sctx context.Context, setup payload.SetupPayload, sock rsocket.CloseableRSocket) (rs rsocket.RSocket, err error) {
		var cancel context.CancelFunc = func() {}
		defer func() {
			if p := recover(); p != nil {
				// A malformed SETUP makes the library's accessors panic.
				cancel()
				log.Warn("rsrt: malformed SETUP refused", "panic", p)
				rs, err = nil, &Error{Code: core.ErrorCodeInvalidSetup, Message: "malformed SETUP frame"}
			}
		}()
		addr, _ := rsocket.GetAddr(sock)
		// The connection's own lines: what its peer sends is clipped,
		// and a peer that makes it log in a loop is rate-limited.
		scope := cfg.scope(sctx, rslog.PerConn(log), shared)
		if scope.gate.isClosed() {
			return nil, &Error{Code: core.ErrorCodeRejectedSetup, Message: "server is shutting down"}
		}
		st, decls, err := readSetup(setup)
		if err != nil {
			log.Info("rsrt: SETUP refused", "remote", addr, "error", err)
			return nil, err
		}
		var ctx context.Context
		ctx, cancel = context.WithCancel(sctx)
		c := &Conn{ctx: ctx, setup: st, addr: addr, decls: decls}
		c.caller = &Caller{rs: sock, scope: scope, done: ctx.Done(), prefetch: defaultPrefetch,
			peerServes: c.Declares, tap: noTap{}, closeReason: noReason}
		s, err := newServer(ctx, c)
		if err != nil {
			cancel()
			log.Info("rsrt: connection refused by the server", "remote", addr, "error", err)
			return nil, err
		}
		sock.OnClose(func(err error) {
			cancel()
			if err != nil {
				log.Info("rsrt: connection closed", "remote", addr, "error", err)
			} else {
				log.Info("rsrt: connection closed", "remote", addr)
			}
		})
		log.Info("rsrt: connection opened", "remote", addr)
		return newResponder(ctx, routes, s, scope), nil
	}
}

// readSetup checks a SETUP and copies what the connection keeps of it.
func readSetup(setup payload.SetupPayload) (Setup, map[routeKey]struct{}, error) {
	st := Setup{
		// The library's strings are views of the frame buffer: clone.
		DataMIME:          strings.Clone(setup.DataMimeType()),
		MetadataMIME:      strings.Clone(setup.MetadataMimeType()),
		KeepaliveInterval: setup.TimeBetweenKeepalive(),
		MaxLifetime:       setup.MaxLifetime(),
	}
	if st.MetadataMIME != MIMECompositeMetadata {
		return st, nil, &Error{Code: core.ErrorCodeUnsupportedSetup,
			Message: fmt.Sprintf("unsupported metadata MIME type %q: this server routes on %s", st.MetadataMIME, MIMECompositeMetadata)}
	}
	if d := setup.Data(); len(d) > 0 {
		st.Data = append([]byte(nil), d...)
	}
	var decls map[routeKey]struct{}
	if md, ok := setup.Metadata(); ok && len(md) > 0 {
		_, entries, err := ParseComposite(md)
		if err != nil {
			return st, nil, &Error{Code: core.ErrorCodeInvalidSetup, Message: "invalid SETUP metadata: " + err.Error()}
		}
		st.Metadata = entries
		if b, ok := entries.Get(MIMEClientRoutes); ok {
			decls = parseDeclarations(b)
		}
	}
	return st, decls, nil
}
