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
	side := m.Server
	emitHandlerInterface(f, side, fmt.Sprintf("Server is the server side of the %s service: one value serves one\n"+
		"connection (see NewAcceptor). Embed UnimplementedServer to get an\n"+
		"APPLICATION_ERROR for the routes you do not implement.", m.Package))
	f.Line()
	emitUnimplemented(f, side)
	f.Line()
	emitPeer(f, m)
	f.Line()
	emitAcceptor(f, m)
	f.Line()
	emitRouteTable(f, side, "serverRoutes dispatches the requests of every connection.")
	return f
}

// emitPeer declares Peer and its call methods, one per client route.
func emitPeer(f *jen.File, m *Model) {
	f.Comment("Peer is one accepted client connection as the server sees it: its SETUP")
	f.Comment("information, its context (cancelled when it closes) and typed calls to")
	f.Comment("the routes the client serves.")
	f.Type().Id("Peer").Struct(jen.Op("*").Add(rsrtQ("Conn")))
	for _, r := range m.Client.Routes {
		doc := fmt.Sprintf("%s calls the client's route %q.", r.GoName, r.Name)
		if r.Doc != "" {
			doc = fmt.Sprintf("%s calls the client's route %q: %s", r.GoName, r.Name, sentence(lowerDoc(r.Doc)))
		}
		doc += "\nIt returns *rsrt.UndeclaredRouteError, sending nothing, when the client\n" +
			"did not declare the route in its SETUP."
		f.Line()
		emitCaller(f, jen.Id("peer").Op("*").Id("Peer"), r, doc,
			func() *jen.Statement { return jen.Id("peer").Dot("Caller").Call() })
	}
}

// emitAcceptor declares NewAcceptor, which gives each connection its own
// Server value.
func emitAcceptor(f *jen.File, m *Model) {
	f.Add(comment(fmt.Sprintf("NewAcceptor returns the rsocket-go acceptor of a server of the %s\n"+
		"service. For each accepted connection it calls newServer with the\n"+
		"connection's Peer; the returned Server serves that connection's\n"+
		"requests.", m.Package)))
	newServer := jen.Func().Params(jen.Id("ctx").Add(ctxType()), jen.Id("peer").Op("*").Id("Peer")).
		Params(jen.Id("Server"), jen.Error())
	f.Func().Id("NewAcceptor").Params(
		jen.Id("newServer").Add(newServer),
		jen.Id("opts").Op("...").Add(rsrtQ("AcceptOption")),
	).Qual(rsocketPath, "ServerAcceptor").Block(
		jen.Return(rsrtQ("NewAcceptor").Call(
			jen.Id("serverRoutes"),
			jen.Func().Params(jen.Id("ctx").Add(ctxType()), jen.Id("conn").Op("*").Add(rsrtQ("Conn"))).
				Params(jen.Id("Server"), jen.Error()).Block(
				jen.Return(jen.Id("newServer").Call(jen.Id("ctx"), jen.Op("&").Id("Peer").Values(jen.Id("Conn").Op(":").Id("conn")))),
			),
			jen.Id("opts").Op("..."),
		)),
	)
}
