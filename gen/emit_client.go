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
	if len(m.Client.Routes) == 0 {
		return f
	}
	f.Line()
	emitHandlerInterface(f, m.Client, fmt.Sprintf("ClientHandler is the client side of the %s service: the routes a\n"+
		"client serves to the server. Pass it to Dial with WithHandler.", m.Package))
	f.Line()
	emitUnimplemented(f, m.Client)
	f.Line()
	f.Comment("WithHandler makes the client serve h and declare its routes in SETUP, so")
	f.Comment("that the server may call them.")
	f.Func().Id("WithHandler").Params(jen.Id("h").Id("ClientHandler")).Add(rsrtQ("DialOption")).Block(
		jen.Return(rsrtQ("WithRoutes").Call(jen.Id("clientRoutes"), jen.Id("h"))))
	f.Line()
	emitRouteTable(f, m.Client, "clientRoutes dispatches the server's requests to a ClientHandler.")
	return f
}

// emitClient declares Client, its constructors and its call methods.
func emitClient(f *jen.File, m *Model) {
	conn := func() *jen.Statement { return jen.Op("*").Add(rsrtQ("ClientConn")) }
	f.Add(comment(fmt.Sprintf("Client calls the routes that a server of the %s service serves. Errors\n"+
		"the server sends are *rsrt.Error values (use errors.As). It is safe for\n"+
		"concurrent use.", m.Package)))
	f.Type().Id("Client").Struct(jen.Id("conn").Add(conn()))

	dialDoc := fmt.Sprintf("Dial connects to a server of the %s service at addr (\"host:port\",\n"+
		"\"tcp://host:port\" or \"ws://host:port/path\").", m.Package)
	if len(m.Client.Routes) > 0 {
		dialDoc += "\nPass WithHandler to serve the client routes."
	}
	f.Line()
	f.Add(comment(dialDoc))
	f.Func().Id("Dial").Params(jen.Id("ctx").Add(ctxType()), jen.Id("addr").String(), jen.Id("opts").Op("...").Add(rsrtQ("DialOption"))).
		Params(jen.Op("*").Id("Client"), jen.Error()).Block(
		jen.List(jen.Id("conn"), jen.Err()).Op(":=").Add(rsrtQ("Dial")).Call(jen.Id("ctx"), jen.Id("addr"), jen.Id("opts").Op("...")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Id("NewClient").Call(jen.Id("conn")), jen.Nil()),
	)
	f.Line()
	f.Comment("NewClient returns a Client that sends its requests on conn.")
	f.Func().Id("NewClient").Params(jen.Id("conn").Add(conn())).Op("*").Id("Client").Block(
		jen.Return(jen.Op("&").Id("Client").Values(jen.Id("conn").Op(":").Id("conn"))))
	f.Line()
	f.Comment("Conn returns the client's connection.")
	f.Func().Params(jen.Id("c").Op("*").Id("Client")).Id("Conn").Params().Add(conn()).Block(
		jen.Return(jen.Id("c").Dot("conn")))
	f.Line()
	f.Comment("Close closes the client's connection.")
	f.Func().Params(jen.Id("c").Op("*").Id("Client")).Id("Close").Params().Error().Block(
		jen.Return(jen.Id("c").Dot("conn").Dot("Close").Call()))
	for _, r := range m.Server.Routes {
		f.Line()
		emitCaller(f, jen.Id("c").Op("*").Id("Client"), r, methodDoc(r),
			func() *jen.Statement { return jen.Id("c").Dot("conn").Dot("Caller").Call() })
	}
}
