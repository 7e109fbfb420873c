package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// emitClientFile renders client.go: the Client with one call method per
// server route and, when the schema has client routes, the ClientHandler
// interface, its stub, WithHandler and the client's dispatch table.
func emitClientFile(m *Model) *jen.File {
	f := newFile(m)
	emitClient(f, m)
	side, n := m.Client, m.Names
	if len(side.Routes) == 0 {
		return f
	}
	f.Line()
	emitHandlerInterface(f, side, fmt.Sprintf("%s is the client side of the %s service: the routes a\n"+
		"client serves to the server. Pass it to %s with %s.", side.Handler, m.Package, n.Dial, n.WithHandler))
	f.Line()
	emitUnimplemented(f, side)
	f.Line()
	f.Add(comment(fmt.Sprintf("%s makes the client serve %s and declare its routes in SETUP, so\n"+
		"that the server may call them.", n.WithHandler, side.Recv)))
	f.Func().Id(n.WithHandler).Params(jen.Id(side.Recv).Id(side.Handler)).Add(rsrtQ("DialOption")).Block(
		jen.Return(rsrtQ("WithRoutes").Call(jen.Id(side.RoutesVar), jen.Id(side.Recv))))
	f.Line()
	emitRouteTable(f, side, fmt.Sprintf("%s dispatches the server's requests to a %s.", side.RoutesVar, side.Handler))
	return f
}

// emitClient declares Client, its constructors and its call methods.
func emitClient(f *jen.File, m *Model) {
	n, side := m.Names, m.Server
	l, h := &n.Locals, &n.Helpers
	client := side.Caller
	conn := func() *jen.Statement { return jen.Op("*").Add(rsrtQ("ClientConn")) }
	f.Add(comment(fmt.Sprintf("%s calls the routes that a server of the %s service serves. Errors\n"+
		"the server sends are *rsrt.Error values (use errors.As). It is safe for\n"+
		"concurrent use.", client, m.Package)))
	f.Type().Id(client).Struct(jen.Id(n.ClientConn).Add(conn()))

	dialDoc := fmt.Sprintf("%s connects to a server of the %s service at addr (\"host:port\",\n"+
		"\"tcp://host:port\" or \"ws://host:port/path\").", n.Dial, m.Package)
	if len(m.Client.Routes) > 0 {
		dialDoc += fmt.Sprintf("\nPass %s to serve the client routes.", n.WithHandler)
	}
	f.Line()
	f.Add(comment(dialDoc))
	f.Func().Id(n.Dial).Params(jen.Id(l.Ctx).Add(ctxType()), jen.Id(h.Addr).String(), jen.Id(h.Opts).Op("...").Add(rsrtQ("DialOption"))).
		Params(jen.Op("*").Id(client), jen.Error()).Block(
		jen.List(jen.Id(h.Conn), jen.Id(l.Err)).Op(":=").Add(rsrtQ("Dial")).Call(jen.Id(l.Ctx), jen.Id(h.Addr), jen.Id(h.Opts).Op("...")),
		jen.If(jen.Id(l.Err).Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id(l.Err))),
		jen.Return(jen.Id(n.NewClient).Call(jen.Id(h.Conn)), jen.Nil()),
	)
	f.Line()
	f.Add(comment(fmt.Sprintf("%s returns a %s that sends its requests on %s.", n.NewClient, client, h.Conn)))
	f.Func().Id(n.NewClient).Params(jen.Id(h.Conn).Add(conn())).Op("*").Id(client).Block(
		jen.Return(jen.Op("&").Id(client).Values(jen.Id(n.ClientConn).Op(":").Id(h.Conn))))
	recv := func() *jen.Statement { return jen.Id(side.CallerRecv).Op("*").Id(client) }
	f.Line()
	f.Add(comment(fmt.Sprintf("%s returns the client's connection.", n.ConnMethod)))
	f.Func().Params(recv()).Id(n.ConnMethod).Params().Add(conn()).Block(
		jen.Return(jen.Id(side.CallerRecv).Dot(n.ClientConn)))
	f.Line()
	f.Add(comment(fmt.Sprintf("%s closes the client's connection.", n.CloseMethod)))
	f.Func().Params(recv()).Id(n.CloseMethod).Params().Error().Block(
		jen.Return(jen.Id(side.CallerRecv).Dot(n.ClientConn).Dot("Close").Call()))
	for _, r := range side.Routes {
		f.Line()
		emitCaller(f, r, methodDoc(r),
			func() *jen.Statement { return jen.Id(side.CallerRecv).Dot(n.ClientConn).Dot(rsrtCaller).Call() })
	}
}
