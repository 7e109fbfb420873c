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
		for _, e := range r.OpenMeta {
			ps = append(ps, param{e.Param, entryType(e)})
		}
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

// emitRouteTable declares the dispatch table of a side: one registration
// per route through the runtime's generic entry point of its interaction
// (rsrt.ServeRequestResponse...), with the route's codecs and its handler
// method; then the request structs of the routes whose requests carry
// metadata entries.
func emitRouteTable(f *jen.File, side *Side, doc string) {
	f.Add(comment(doc))
	f.Var().Id(side.RoutesVar).Op("=").Id(side.RoutesFunc).Call()
	table := side.names.Helpers.Routes
	regs := []jen.Code{jen.Id(table).Op(":=").Add(rsrtQ("NewRoutes")).Types(jen.Id(side.Handler)).Call()}
	for _, r := range side.Routes {
		args := []jen.Code{jen.Id(table), jen.Id(r.Const)}
		if r.Interaction == RequestChannel {
			args = append(args, jen.Lit(r.InitialEmpty))
		}
		serve := r.Interaction.serveFunc()
		if r.Open != "" {
			serve += "Open"
			args = append(args, jen.Id(r.OpenDecode))
		}
		args = append(args, argsDecodeFunc(r))
		if r.Interaction.hasResponse() {
			args = append(args, respEncodeFunc(r))
		}
		args = append(args, handlerFunc(r))
		regs = append(regs, rsrtQ(serve).Call(args...))
	}
	regs = append(regs, jen.Return(jen.Id(table)))
	f.Func().Id(side.RoutesFunc).Params().Op("*").Add(rsrtQ("Routes")).Types(jen.Id(side.Handler)).Block(regs...)
	for _, r := range side.Routes {
		if r.Args != "" {
			f.Line()
			emitArgs(f, r)
		}
		if r.Open != "" {
			f.Line()
			emitOpen(f, r)
		}
	}
}

// argsType is the Go type of what a route's request decodes to: its
// request struct, its channel items, or its data.
func argsType(r *Route) *jen.Statement {
	switch {
	case r.Interaction == RequestChannel:
		return reqItem(r)
	case r.Args != "":
		return jen.Id(r.Args)
	}
	return dataType(r.Request)
}

// argsDecodeFunc and argsEncodeFunc are the codecs of argsType.
func argsDecodeFunc(r *Route) *jen.Statement {
	switch {
	case r.Interaction == RequestChannel:
		return reqDecodeFunc(r)
	case r.Args != "":
		return jen.Id(r.ArgsDecode)
	}
	return decodeFunc(r.Request)
}

func argsEncodeFunc(r *Route) *jen.Statement {
	switch {
	case r.Interaction == RequestChannel:
		return reqEncodeFunc(r)
	case r.Args != "":
		return jen.Id(r.ArgsEncode)
	}
	return encodeFunc(r.Request)
}

// handlerFunc is the function a route's entry point calls: the handler
// method as a method expression (Server.RrString) when its parameters are
// those of the entry point, else an adapter that spreads the request
// struct over the method's parameters.
func handlerFunc(r *Route) jen.Code {
	side := r.Side
	l := &side.names.Locals
	direct := r.Interaction == RequestChannel && r.Open == "" ||
		r.Interaction != RequestChannel && r.Args == "" && r.Request.Kind != PayloadEmpty && (r.Interaction != RequestResponse || hasResp(r))
	if direct {
		return jen.Id(side.Handler).Dot(r.GoName)
	}
	if r.Interaction == RequestChannel {
		// Its open metadata entries, then the items.
		callArgs := []jen.Code{jen.Id(l.Ctx)}
		for _, e := range r.OpenMeta {
			callArgs = append(callArgs, jen.Id(l.Open).Dot(e.Param))
		}
		callArgs = append(callArgs, jen.Id(l.In), jen.Id(l.Out))
		return jen.Func().Params(jen.Id(side.Recv).Id(side.Handler), jen.Id(l.Ctx).Add(ctxType()), jen.Id(l.Open).Id(r.Open),
			jen.Id(l.In).Op("*").Add(rsrtQ("Inbound")).Types(reqItem(r)),
			jen.Id(l.Out).Op("*").Add(rsrtQ("Sender")).Types(respItem(r))).Error().
			Block(jen.Return(jen.Id(side.Recv).Dot(r.GoName).Call(callArgs...)))
	}
	args := jen.Id(l.Args)
	callArgs := []jen.Code{jen.Id(l.Ctx)}
	switch {
	case r.Args != "":
		if argsHasData(r) {
			callArgs = append(callArgs, jen.Id(l.Args).Dot(l.Req))
		}
		for _, e := range r.RequestMeta {
			callArgs = append(callArgs, jen.Id(l.Args).Dot(e.Param))
		}
	case r.Request.Kind == PayloadEmpty:
		args = jen.Id("_")
	default:
		args = jen.Id(l.Req)
		callArgs = append(callArgs, jen.Id(l.Req))
	}
	params := []jen.Code{jen.Id(side.Recv).Id(side.Handler), jen.Id(l.Ctx).Add(ctxType()), args.Add(argsType(r))}
	results := []jen.Code{jen.Error()}
	if r.Interaction == RequestStream {
		params = append(params, jen.Id(l.Out).Op("*").Add(rsrtQ("Sender")).Types(respItem(r)))
		callArgs = append(callArgs, jen.Id(l.Out))
	}
	call := jen.Id(side.Recv).Dot(r.GoName).Call(callArgs...)
	ret := jen.Return(call)
	if r.Interaction == RequestResponse {
		results = []jen.Code{respItem(r), jen.Error()}
		if !hasResp(r) {
			ret = jen.Return(jen.Struct().Values(), call)
		}
	}
	return jen.Func().Params(params...).Params(results...).Block(ret)
}

// argsHasData reports whether a request struct has the request data: a
// metadata-push request has none, nor has an empty one.
func argsHasData(r *Route) bool {
	return r.Interaction != MetadataPush && r.Request.Kind != PayloadEmpty
}

// emitArgs declares the request struct of a route whose request carries
// metadata entries (the data, then one field per entry), its encoder,
// which the calling side uses, and its decoder, which the serving side
// uses: a decoding error names the route and the part that failed.
func emitArgs(f *jen.File, r *Route) {
	what := "its data and metadata entries"
	if !argsHasData(r) {
		what = "its metadata entries"
	}
	emitEntryStruct(f, r, entryStruct{name: r.Args, enc: r.ArgsEncode, dec: r.ArgsDecode, data: argsHasData(r),
		entries: r.RequestMeta, local: r.Side.names.Locals.Args,
		doc: fmt.Sprintf("%s is the request of %s: %s.", r.Args, routeWhat(r), what), part: "request"})
}

// emitOpen declares the struct of a request-channel's open_metadata
// entries and its codecs.
func emitOpen(f *jen.File, r *Route) {
	emitEntryStruct(f, r, entryStruct{name: r.Open, enc: r.OpenEncode, dec: r.OpenDecode,
		entries: r.OpenMeta, local: r.Side.names.Locals.Open,
		doc:  fmt.Sprintf("%s holds the open metadata of %s: the entries its\nREQUEST_CHANNEL frame carries for the whole channel.", r.Open, routeWhat(r)),
		part: "open"})
}

// entryStruct is an unexported struct of metadata entries (and maybe the
// request data) with its codecs.
type entryStruct struct {
	name, enc, dec string
	data           bool // has the request data, field Locals.Req
	entries        []*Entry
	local          string // the name of its values in the codecs
	doc            string
	part           string // "request" or "open": what its decoding errors name
}

func emitEntryStruct(f *jen.File, r *Route, st entryStruct) {
	l := &r.Side.names.Locals
	v, p, err := func() *jen.Statement { return jen.Id(st.local) }, func() *jen.Statement { return jen.Id(l.Payload) },
		func() *jen.Statement { return jen.Id(l.Err) }
	var fields []jen.Code
	if st.data {
		fields = append(fields, jen.Id(l.Req).Add(dataType(r.Request)))
	}
	for _, e := range st.entries {
		fields = append(fields, jen.Id(e.Param).Add(entryType(e)))
	}
	f.Add(comment(st.doc))
	f.Type().Id(st.name).Struct(fields...)

	var enc []jen.Code
	if st.data {
		enc = append(enc,
			jen.List(p(), err()).Op(":=").Add(encodeCall(r.Request, v().Dot(l.Req))),
			jen.If(err().Op("!=").Nil()).Block(jen.Return(p(), err())))
	} else {
		enc = append(enc, jen.Var().Add(p()).Add(rsrtQ("Payload")))
	}
	for _, e := range st.entries {
		enc = append(enc, appendEntry(
			func() *jen.Statement { return p().Dot("Metadata") }, e,
			func() *jen.Statement { return v().Dot(e.Param) }))
	}
	enc = append(enc, jen.Return(p(), jen.Nil()))
	f.Line()
	f.Add(comment(fmt.Sprintf("%s encodes the %s of %s.", st.enc, st.part, routeWhat(r))))
	f.Func().Id(st.enc).Params(v().Id(st.name)).Params(rsrtQ("Payload"), jen.Error()).Block(enc...)

	var dec []jen.Code
	fail := func(what string) jen.Code {
		return jen.If(err().Op("!=").Nil()).Block(jen.Return(v(),
			rsrtQ("BadRequest").Call(jen.Id(r.Const), jen.Lit(what), err())))
	}
	if st.data {
		dec = append(dec,
			jen.List(v().Dot(l.Req), err()).Op("=").Add(decodeFunc(r.Request)).Call(p()),
			fail("request data"))
	}
	for _, e := range st.entries {
		dec = append(dec,
			jen.List(v().Dot(e.Param), err()).Op("=").Id(e.Func).Call(p().Dot("Metadata")),
			fail(st.part+" metadata"))
	}
	dec = append(dec, jen.Return(v(), jen.Nil()))
	f.Line()
	f.Add(comment(fmt.Sprintf("%s decodes the %s of %s.", st.dec, st.part, routeWhat(r))))
	f.Func().Id(st.dec).Params(p().Op("*").Add(rsrtQ("Payload"))).
		Params(v().Id(st.name), err().Error()).Block(dec...)
}

// callerParams are the parameters of a call method.
func callerParams(r *Route) []jen.Code {
	l := &r.Side.names.Locals
	ps := []jen.Code{jen.Id(l.Ctx).Add(ctxType())}
	if r.Interaction == RequestChannel {
		for _, e := range r.OpenMeta {
			ps = append(ps, jen.Id(e.Param).Add(entryType(e)))
		}
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
// routes, one call of the runtime's generic entry point of its
// interaction (rsrt.CallRequestResponse...). caller renders the
// *rsrt.Caller to send with.
func emitCaller(f *jen.File, r *Route, doc string, caller func() *jen.Statement) {
	l := &r.Side.names.Locals
	args := []jen.Code{jen.Id(l.Ctx), caller(), jen.Id(r.Const)}
	if r.Open != "" {
		var vals []jen.Code
		for _, e := range r.OpenMeta {
			vals = append(vals, jen.Id(e.Param).Op(":").Id(e.Param))
		}
		args = append(args, jen.Id(r.Open).Values(vals...), jen.Id(r.OpenEncode))
	}
	switch {
	case r.Interaction == RequestChannel && r.InitialEmpty:
		args = append(args, jen.Nil())
	case r.Interaction == RequestChannel && firstItem(r):
		args = append(args, jen.Op("&").Id(l.First))
	case r.Interaction == RequestChannel:
		args = append(args, jen.Op("&").Struct().Values()) // the first, empty, item
	case r.Args != "":
		var vals []jen.Code
		if argsHasData(r) {
			vals = append(vals, jen.Id(l.Req).Op(":").Id(l.Req))
		}
		for _, e := range r.RequestMeta {
			vals = append(vals, jen.Id(e.Param).Op(":").Id(e.Param))
		}
		args = append(args, jen.Id(r.Args).Values(vals...))
	case r.Request.Kind == PayloadEmpty:
		args = append(args, jen.Struct().Values())
	default:
		args = append(args, jen.Id(l.Req))
	}
	args = append(args, argsEncodeFunc(r))
	var results []jen.Code
	var body jen.Code
	switch r.Interaction {
	case RequestResponse:
		if hasResp(r) {
			results = []jen.Code{respItem(r), jen.Error()}
			body = jen.Return(rsrtQ("CallRequestResponse").Call(append(args, respDecodeFunc(r))...))
		} else {
			results = []jen.Code{jen.Error()}
			body = jen.List(jen.Id("_"), jen.Id(l.Err)).Op(":=").Add(
				rsrtQ("CallRequestResponse").Call(append(args, rsrtQ("DecodeEmpty"))...)).Line().Return(jen.Id(l.Err))
		}
	case FireAndForget:
		results = []jen.Code{jen.Error()}
		body = jen.Return(rsrtQ("CallFireAndForget").Call(args...))
	case MetadataPush:
		results = []jen.Code{jen.Error()}
		body = jen.Return(rsrtQ("CallMetadataPush").Call(args...))
	case RequestStream:
		results = []jen.Code{jen.Qual("iter", "Seq2").Types(respItem(r), jen.Error())}
		body = jen.Return(rsrtQ("CallRequestStream").Call(append(args, respDecodeFunc(r))...))
	case RequestChannel:
		results = []jen.Code{jen.Op("*").Add(rsrtQ("Channel")).Types(reqItem(r), respItem(r)), jen.Error()}
		call := "CallRequestChannel"
		if r.Open != "" {
			call = "CallRequestChannelOpen"
		}
		body = jen.Return(rsrtQ(call).Call(append(args, respDecodeFunc(r))...))
	}
	side := r.Side
	recv := jen.Id(side.CallerRecv).Op("*").Id(side.Caller)
	f.Add(comment(doc + callerNote(r)))
	f.Func().Params(recv).Id(r.GoName).Params(callerParams(r)...).Params(results...).Block(body)
}
