package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// emitServerFile renders server.go: the Server interface and its stub, Peer
// with the calls to the client routes, NewAcceptor and the server's
// dispatch table.
func emitServerFile(m *Model) *jen.File {
	f := newFile(m)
	side, n := m.Server, m.Names
	emitHandlerInterface(f, side, fmt.Sprintf("%s is the server side of the %s service: one value serves one\n"+
		"connection (see %s). Embed %s to get an\n"+
		"APPLICATION_ERROR for the routes you do not implement.", side.Handler, m.Package, n.NewAcceptor, side.Unimplemented))
	f.Line()
	emitUnimplemented(f, side)
	f.Line()
	emitPeer(f, m)
	f.Line()
	emitAcceptor(f, m)
	f.Line()
	emitRouteTable(f, side, fmt.Sprintf("%s dispatches the requests of every connection.", side.RoutesVar))
	return f
}

// emitPeer declares Peer and its call methods, one per client route.
func emitPeer(f *jen.File, m *Model) {
	side := m.Client
	f.Add(comment(fmt.Sprintf("%s is one accepted client connection as the server sees it: its SETUP\n"+
		"information, its context (cancelled when it closes) and typed calls to\n"+
		"the routes the client serves.", side.Caller)))
	// The embedded field takes the name of rsrt's type, Names.PeerConn.
	f.Type().Id(side.Caller).Struct(jen.Op("*").Add(rsrtQ(m.Names.PeerConn)))
	for _, r := range side.Routes {
		doc := fmt.Sprintf("%s calls the client's route %q.", r.GoName, r.Name)
		if r.Doc != "" {
			doc = fmt.Sprintf("%s calls the client's route %q: %s", r.GoName, r.Name, sentence(lowerDoc(r.Doc)))
		}
		doc += "\nIt returns *rsrt.UndeclaredRouteError, sending nothing, when the client\n" +
			"did not declare the route in its SETUP."
		f.Line()
		emitCaller(f, r, doc, func() *jen.Statement { return jen.Id(side.CallerRecv).Dot(rsrtCaller).Call() })
	}
}

// emitAcceptor declares NewAcceptor, which gives each connection its own
// Server value.
func emitAcceptor(f *jen.File, m *Model) {
	n, server, peer := m.Names, m.Server, m.Client.Caller
	l, h := &n.Locals, &n.Helpers
	f.Add(comment(fmt.Sprintf("%s returns the acceptor of a server of the %s\n"+
		"service. For each accepted connection it calls %s with the\n"+
		"connection's %s; the returned %s serves that connection's\n"+
		"requests.", n.NewAcceptor, m.Package, h.NewServer, peer, server.Handler)))
	newServer := jen.Func().Params(jen.Id(l.Ctx).Add(ctxType()), jen.Id(l.Peer).Op("*").Id(peer)).
		Params(jen.Id(server.Handler), jen.Error())
	f.Func().Id(n.NewAcceptor).Params(
		jen.Id(h.NewServer).Add(newServer),
		jen.Id(h.Opts).Op("...").Add(rsrtQ("AcceptOption")),
	).Add(rsrtQ("Acceptor")).Block(
		jen.Return(rsrtQ("NewAcceptor").Call(
			jen.Id(server.RoutesVar),
			jen.Func().Params(jen.Id(l.Ctx).Add(ctxType()), jen.Id(h.Conn).Op("*").Add(rsrtQ(n.PeerConn))).
				Params(jen.Id(server.Handler), jen.Error()).Block(
				jen.Return(jen.Id(h.NewServer).Call(jen.Id(l.Ctx), jen.Op("&").Id(peer).Values(jen.Id(n.PeerConn).Op(":").Id(h.Conn)))),
			),
			jen.Id(h.Opts).Op("..."),
		)),
	)
}
