package gen

// Emitters shared by the two sides: the handler interface, its
// Unimplemented stub and dispatch table on the serving side, and the typed
// call methods on the calling side (Client for server routes, Peer for
// client routes).

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// param is one parameter of a generated method.
type param struct {
	name string
	typ  *jen.Statement
}

// servedParams are the parameters of a handler method.
func servedParams(r *Route) []param {
	l := &r.Side.names.Locals
	ps := []param{{l.Ctx, ctxType()}}
	if r.Interaction == RequestChannel {
		return append(ps,
			param{l.In, jen.Op("*").Add(rsrtQ("Inbound")).Types(reqItem(r))},
			param{l.Out, jen.Op("*").Add(rsrtQ("Sender")).Types(respItem(r))})
	}
	if r.Request.Kind != PayloadEmpty {
		ps = append(ps, param{l.Req, dataType(r.Request)})
	}
	for _, e := range r.RequestMeta {
		ps = append(ps, param{e.Param, entryType(e)})
	}
	if r.Interaction == RequestStream {
		ps = append(ps, param{l.Out, jen.Op("*").Add(rsrtQ("Sender")).Types(respItem(r))})
	}
	return ps
}

// servedResults are the results of a handler method.
func servedResults(r *Route) []jen.Code {
	if r.Interaction == RequestResponse && hasResp(r) {
		return []jen.Code{respItem(r), jen.Error()}
	}
	return []jen.Code{jen.Error()}
}

// emitHandlerInterface declares Server or ClientHandler.
func emitHandlerInterface(f *jen.File, side *Side, doc string) {
	methods := make([]jen.Code, 0, 2*len(side.Routes))
	for _, r := range side.Routes {
		var params []jen.Code
		for _, p := range servedParams(r) {
			params = append(params, jen.Id(p.name).Add(p.typ))
		}
		methods = append(methods, comment(methodDoc(r)),
			jen.Id(r.GoName).Params(params...).Params(servedResults(r)...))
	}
	f.Add(comment(doc))
	f.Type().Id(side.Handler).Interface(methods...)
}

// emitUnimplemented declares the embeddable stub of a handler interface,
// with a compile-time check that it implements it.
func emitUnimplemented(f *jen.File, side *Side) {
	f.Add(comment(fmt.Sprintf("%s answers every route of %s with an\nAPPLICATION_ERROR naming the route. Embed it by value.", side.Unimplemented, side.Handler)))
	f.Type().Id(side.Unimplemented).Struct()
	f.Var().Id("_").Id(side.Handler).Op("=").Id(side.Unimplemented).Values()
	for _, r := range side.Routes {
		var params []jen.Code
		for _, p := range servedParams(r) {
			params = append(params, p.typ)
		}
		ret := []jen.Code{rsrtQ("Unimplemented").Call(jen.Id(r.Const))}
		if len(servedResults(r)) == 2 {
			ret = append([]jen.Code{respZero(r)}, ret...)
		}
		f.Line()
		f.Add(comment(fmt.Sprintf("%s answers that %s is not implemented.", r.GoName, routeWhat(r))))
		f.Func().Params(jen.Id(side.Unimplemented)).Id(r.GoName).Params(params...).Params(servedResults(r)...).
			Block(jen.Return(ret...))
	}
}

// emitRouteTable declares the dispatch table of a side and the function
// that adapts each route's raw requests to the handler method.
func emitRouteTable(f *jen.File, side *Side, doc string) {
	f.Add(comment(doc))
	f.Var().Id(side.RoutesVar).Op("=").Id(side.RoutesFunc).Call()
	table := side.names.Helpers.Routes
	regs := []jen.Code{jen.Id(table).Op(":=").Add(rsrtQ("NewRoutes")).Types(jen.Id(side.Handler)).Call()}
	for _, r := range side.Routes {
		args := []jen.Code{jen.Id(r.Const)}
		if r.Interaction == RequestChannel {
			args = append(args, jen.Lit(r.InitialEmpty))
		}
		args = append(args, jen.Id(r.Serve))
		regs = append(regs, jen.Id(table).Dot(r.Interaction.handleMethod()).Call(args...))
	}
	regs = append(regs, jen.Return(jen.Id(table)))
	f.Func().Id(side.RoutesFunc).Params().Op("*").Add(rsrtQ("Routes")).Types(jen.Id(side.Handler)).Block(regs...)
	for _, r := range side.Routes {
		f.Line()
		emitServeFunc(f, r)
	}
}

// emitServeFunc declares the adapter of one route: it decodes the request
// data and metadata, calls the handler method and encodes its response.
// Decoding errors go back to the peer as APPLICATION_ERROR naming the
// route.
func emitServeFunc(f *jen.File, r *Route) {
	side := r.Side
	l := &side.names.Locals
	id := func(name string) func() *jen.Statement { return func() *jen.Statement { return jen.Id(name) } }
	ctx, req, in, out, err := id(l.Ctx), id(l.Req), id(l.In), id(l.Out), id(l.Err)
	recv := jen.Id(side.Recv).Id(side.Handler)
	payload := func() *jen.Statement { return jen.Op("*").Add(rsrtQ("Payload")) }
	// fail returns from the function with e as its error.
	fail := func(e jen.Code) jen.Code { return jen.Return(e) }
	if r.Interaction == RequestResponse {
		fail = func(e jen.Code) jen.Code { return jen.Return(rsrtQ("Payload").Values(), e) }
	}
	var body []jen.Code
	args := []jen.Code{ctx()}
	if r.Interaction != RequestChannel {
		if r.Request.Kind != PayloadEmpty {
			body = append(body,
				jen.List(in(), err()).Op(":=").Add(decodeFunc(r.Request)).Call(req()),
				jen.If(err().Op("!=").Nil()).Block(
					fail(rsrtQ("BadRequest").Call(jen.Id(r.Const), jen.Lit("request data"), err()))))
			args = append(args, in())
		}
		for _, e := range r.RequestMeta {
			body = append(body,
				jen.List(jen.Id(e.Param), err()).Op(":=").Id(e.Func).Call(req().Dot("Metadata")),
				jen.If(err().Op("!=").Nil()).Block(
					fail(rsrtQ("BadRequest").Call(jen.Id(r.Const), jen.Lit("request metadata"), err()))))
			args = append(args, jen.Id(e.Param))
		}
	}
	call := func(extra ...jen.Code) *jen.Statement {
		return jen.Id(side.Recv).Dot(r.GoName).Call(append(args, extra...)...)
	}
	newSender := func() *jen.Statement {
		return rsrtQ("NewSender").Call(ctx(), out(), respEncodeFunc(r))
	}
	var params []jen.Code
	results := []jen.Code{jen.Error()}
	switch r.Interaction {
	case RequestResponse:
		params = []jen.Code{ctx().Add(ctxType()), recv, req().Add(payload())}
		results = []jen.Code{rsrtQ("Payload"), jen.Error()}
		if hasResp(r) {
			var enc jen.Code
			if r.RespStruct != "" {
				enc = jen.Id(r.RespEncode).Call(out())
			} else {
				enc = encodeCall(r.Response, out())
			}
			body = append(body,
				jen.List(out(), err()).Op(":=").Add(call()),
				jen.If(err().Op("!=").Nil()).Block(fail(err())),
				jen.Return(enc))
		} else {
			body = append(body,
				jen.If(err().Op(":=").Add(call()), err().Op("!=").Nil()).Block(fail(err())),
				jen.Return(rsrtQ("EncodeEmpty").Call(jen.Struct().Values())))
		}
	case FireAndForget, MetadataPush:
		params = []jen.Code{ctx().Add(ctxType()), recv, req().Add(payload())}
		body = append(body, jen.Return(call()))
	case RequestStream:
		params = []jen.Code{ctx().Add(ctxType()), recv, req().Add(payload()),
			out().Add(rsrtQ("Stream"))}
		body = append(body, jen.Return(call(newSender())))
	case RequestChannel:
		// One stream, both sides: the channel's items come in and go out
		// through out.
		params = []jen.Code{ctx().Add(ctxType()), recv, out().Add(rsrtQ("Stream"))}
		body = append(body, jen.Return(call(
			rsrtQ("NewInbound").Call(ctx(), out(), reqDecodeFunc(r)), newSender())))
	}
	f.Func().Id(r.Serve).Params(params...).Params(results...).Block(body...)
}

// callerParams are the parameters of a call method.
func callerParams(r *Route) []jen.Code {
	l := &r.Side.names.Locals
	ps := []jen.Code{jen.Id(l.Ctx).Add(ctxType())}
	if r.Interaction == RequestChannel {
		if firstItem(r) {
			ps = append(ps, jen.Id(l.First).Add(reqItem(r)))
		}
		return ps
	}
	if r.Request.Kind != PayloadEmpty {
		ps = append(ps, jen.Id(l.Req).Add(dataType(r.Request)))
	}
	for _, e := range r.RequestMeta {
		ps = append(ps, jen.Id(e.Param).Add(entryType(e)))
	}
	return ps
}

// firstItem reports whether the call method of a request-channel takes its
// first item: not when the REQUEST_CHANNEL frame carries the route only,
// nor when items are empty (the first one is sent without a parameter).
func firstItem(r *Route) bool {
	return !r.InitialEmpty && (r.Request.Kind != PayloadEmpty || r.ReqStruct != "")
}

// emitCaller declares the typed call method of a route on the calling
// side's type: (c *Client) for server routes, (peer *Peer) for client
// routes. caller renders the *rsrt.Caller to send with.
func emitCaller(f *jen.File, r *Route, doc string, caller func() *jen.Statement) {
	l := &r.Side.names.Locals
	id := func(name string) func() *jen.Statement { return func() *jen.Statement { return jen.Id(name) } }
	ctx, req, p, resp, out, err, raw, first, md :=
		id(l.Ctx), id(l.Req), id(l.Payload), id(l.Resp), id(l.Out), id(l.Err), id(l.Raw), id(l.First), id(l.MD)
	var results []jen.Code
	var zero jen.Code // the value results other than the error, when failing
	switch r.Interaction {
	case RequestResponse:
		results = []jen.Code{jen.Error()}
		if hasResp(r) {
			results = []jen.Code{respItem(r), jen.Error()}
			zero = respZero(r)
		}
	case FireAndForget, MetadataPush:
		results = []jen.Code{jen.Error()}
	case RequestStream:
		results = []jen.Code{jen.Qual("iter", "Seq2").Types(respItem(r), jen.Error())}
	case RequestChannel:
		results = []jen.Code{jen.Op("*").Add(rsrtQ("Channel")).Types(reqItem(r), respItem(r)), jen.Error()}
		zero = jen.Nil()
	}
	fail := func(e jen.Code) jen.Code {
		switch {
		case r.Interaction == RequestStream:
			return jen.Return(rsrtQ("ErrorSeq").Types(respItem(r)).Call(e))
		case zero != nil:
			return jen.Return(zero, e)
		}
		return jen.Return(e)
	}

	var body []jen.Code
	errDeclared := false
	// The request payload: encoded data, then the metadata entries.
	var payload jen.Code = rsrtQ("Payload").Values()
	if r.Interaction != RequestChannel && r.Interaction != MetadataPush {
		if r.Request.Kind != PayloadEmpty {
			body = append(body,
				jen.List(p(), err()).Op(":=").Add(encodeCall(r.Request, req())),
				jen.If(err().Op("!=").Nil()).Block(fail(err())))
			errDeclared = true
			payload = p()
		} else if len(r.RequestMeta) > 0 {
			body = append(body, jen.Var().Add(p()).Add(rsrtQ("Payload")))
			payload = p()
		}
		for _, e := range r.RequestMeta {
			body = append(body, appendEntry(
				func() *jen.Statement { return p().Dot("Metadata") }, e,
				func() *jen.Statement { return jen.Id(e.Param) }))
		}
	}

	switch r.Interaction {
	case RequestResponse:
		send := caller().Dot("RequestResponse").Call(ctx(), jen.Id(r.Const), payload)
		if hasResp(r) {
			var dec jen.Code
			if r.RespStruct != "" {
				dec = jen.Id(r.RespDecode).Call(resp())
			} else {
				dec = decodeFunc(r.Response).Call(resp())
			}
			body = append(body,
				jen.List(resp(), err()).Op(":=").Add(send),
				jen.If(err().Op("!=").Nil()).Block(fail(err())),
				jen.List(out(), err()).Op(":=").Add(dec),
				jen.If(err().Op("!=").Nil()).Block(fail(rsrtQ("BadResponse").Call(jen.Id(r.Const), err()))),
				jen.Return(out(), jen.Nil()))
		} else {
			op := ":="
			if errDeclared {
				op = "="
			}
			body = append(body, jen.List(jen.Id("_"), err()).Op(op).Add(send), jen.Return(err()))
		}
	case FireAndForget:
		body = append(body, jen.Return(caller().Dot("FireAndForget").Call(ctx(), jen.Id(r.Const), payload)))
	case RequestStream:
		body = append(body, jen.Return(rsrtQ("DecodeSeq").Call(
			caller().Dot("RequestStream").Call(ctx(), jen.Id(r.Const), payload),
			jen.Id(r.Const), respDecodeFunc(r))))
	case MetadataPush:
		var mdArg jen.Code = jen.Nil()
		if len(r.RequestMeta) > 0 {
			body = append(body, jen.Var().Add(md()).Add(rsrtQ("Metadata")))
			for _, e := range r.RequestMeta {
				body = append(body, appendEntry(md, e,
					func() *jen.Statement { return jen.Id(e.Param) }))
			}
			mdArg = md()
		}
		body = append(body, jen.Return(caller().Dot("MetadataPush").Call(ctx(), jen.Id(r.Const), mdArg)))
	case RequestChannel:
		var firstArg jen.Code = jen.Nil()
		if !r.InitialEmpty && !firstItem(r) {
			firstArg = jen.Op("&").Add(rsrtQ("Payload").Values())
		}
		if firstItem(r) {
			var enc jen.Code
			if r.ReqStruct != "" {
				enc = jen.Id(r.ReqEncode).Call(first())
			} else {
				enc = encodeCall(r.Request, first())
			}
			body = append(body,
				jen.List(p(), err()).Op(":=").Add(enc),
				jen.If(err().Op("!=").Nil()).Block(fail(err())))
			firstArg = jen.Op("&").Add(p())
		}
		body = append(body,
			jen.List(raw(), err()).Op(":=").Add(caller().Dot("RequestChannel").Call(ctx(), jen.Id(r.Const), firstArg)),
			jen.If(err().Op("!=").Nil()).Block(fail(err())),
			jen.Return(rsrtQ("NewChannel").Call(ctx(), raw(), reqEncodeFunc(r), respDecodeFunc(r)), jen.Nil()))
	}
	side := r.Side
	recv := jen.Id(side.CallerRecv).Op("*").Id(side.Caller)
	f.Add(comment(doc + callerNote(r)))
	f.Func().Params(recv).Id(r.GoName).Params(callerParams(r)...).Params(results...).Block(body...)
}
