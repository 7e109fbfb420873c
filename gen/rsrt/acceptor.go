package rsrt

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sync/semaphore"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

type acceptConfig struct {
	log    *slog.Logger
	gate   *Gate // unless the server hands one (see scope)
	budget int64 // per connection; 0 for the default, < 0 for none
	// serverBudget bounds all connections' unwritten responses; 0 for
	// the default, < 0 for none.
	serverBudget int64
	// stats receives the counts of every connection (WithServerStats).
	stats        *ServerStats
	interceptors interceptors
	inline       []string // WithInline
}

// scope builds the policy of one connection (see connScope) from what the
// server handed the connection through the boundary, if anything
// (gen/rsrt/server hands each connection its *Gate), and the acceptor's
// options; log is the
// connection's logger, shared the server-wide response budget.
func (cfg *acceptConfig) scope(served any, arrivals *rsock.Arrivals, log *slog.Logger, shared *semaphore.Weighted) *connScope {
	sc := &connScope{gate: cfg.gate, budget: newBudget(cfg.budget, shared), stats: cfg.stats, ic: cfg.interceptors, arrivals: arrivals, log: log}
	sc.budget.stats = cfg.stats
	if g, ok := served.(*Gate); ok {
		sc.gate = g
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
// SETUP: the library answers any acceptor error with REJECTED_SETUP, so
// the code of the *Error returned here (UNSUPPORTED_SETUP or
// INVALID_SETUP, as the contract wants) reaches the client only when the
// server's transport rewrites the frame (rsock's doc, entry "A refused
// SETUP keeps its code").
func newAcceptor[S any](routes *Routes[S], newServer func(ctx context.Context, conn *Conn) (S, error), opts []AcceptOption) Acceptor {
	cfg := acceptConfig{log: slog.Default(), stats: new(ServerStats)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gate == nil {
		cfg.gate = NewGate() // open for good: nobody else holds it
	}
	if cfg.budget == 0 {
		cfg.budget = DefaultResponseBudget
	}
	routes = routes.withInline(cfg.inline)
	log := slog.New(rslog.NewClipHandler(cfg.log.Handler()))
	shared := serverBudget(cfg.serverBudget, cfg.budget)
	return rsock.NewAcceptor(func(sctx context.Context, a *rsock.Accepted) (rs rsock.Responder, err error) {
		var cancel context.CancelFunc = func() {}
		defer func() {
			if p := recover(); p != nil {
				// A malformed SETUP makes the library's accessors panic.
				cancel()
				log.Warn("rsrt: malformed SETUP refused", "panic", p)
				rs, err = nil, &Error{Code: ErrorCodeInvalidSetup, Message: "malformed SETUP frame"}
			}
		}()
		addr := a.Addr()
		// The connection's own lines: what its peer sends is clipped,
		// and a peer that makes it log in a loop is rate-limited.
		scope := cfg.scope(a.Policy, a.Arrivals, rslog.PerConn(log), shared)
		if scope.gate.isClosed() {
			return nil, &Error{Code: ErrorCodeRejectedSetup, Message: "server is shutting down"}
		}
		st, decls, err := readSetup(a.Setup())
		if err != nil {
			log.Info("rsrt: SETUP refused", "remote", addr, "error", err)
			return nil, err
		}
		scope.peer = Peer{Addr: addr, Setup: &st}
		var ctx context.Context
		ctx, cancel = context.WithCancel(sctx)
		c := &Conn{ctx: ctx, setup: st, addr: addr, decls: decls}
		c.caller = &Caller{conn: a.Conn, scope: scope, done: ctx.Done(), prefetch: defaultPrefetch,
			peerServes: c.Declares, closeReason: noReason}
		s, err := newServer(ctx, c)
		if err != nil {
			cancel()
			log.Info("rsrt: connection refused by the server", "remote", addr, "error", err)
			return nil, err
		}
		a.OnClose(func(err error) {
			cancel()
			if err != nil {
				log.Info("rsrt: connection closed", "remote", addr, "error", err)
			} else {
				log.Info("rsrt: connection closed", "remote", addr)
			}
		})
		log.Info("rsrt: connection opened", "remote", addr)
		return newResponder(ctx, routes, s, scope), nil
	})
}

// readSetup checks a SETUP (rsock copied it) and keeps what the
// connection needs of it.
func readSetup(setup rsock.Setup) (Setup, map[routeKey]struct{}, error) {
	st := Setup{
		DataMIME:          setup.DataMIME,
		MetadataMIME:      setup.MetadataMIME,
		KeepaliveInterval: setup.Keepalive,
		MaxLifetime:       setup.MaxLifetime,
	}
	if st.MetadataMIME != MIMECompositeMetadata {
		return st, nil, &Error{Code: ErrorCodeUnsupportedSetup,
			Message: fmt.Sprintf("unsupported metadata MIME type %q: this server routes on %s", st.MetadataMIME, MIMECompositeMetadata)}
	}
	st.Data = setup.Data
	var decls map[routeKey]struct{}
	if md := setup.Metadata; len(md) > 0 {
		_, entries, err := ParseComposite(md)
		if err != nil {
			return st, nil, &Error{Code: ErrorCodeInvalidSetup, Message: "invalid SETUP metadata: " + err.Error()}
		}
		st.Metadata = entries
		if b, ok := entries.Get(MIMEClientRoutes); ok {
			decls = parseDeclarations(b)
		}
	}
	return st, decls, nil
}
