package rsrt

// The entry points of generated code: one generic function per
// interaction model and side, in the shape of connect-go's
// NewUnaryHandler and its client calls. A generated package passes each
// route's codecs and its handler method (a method expression, or a short
// adapter for methods whose parameters are metadata entries); everything
// else that is the same for every route (decoding the request, naming the
// route in a decoding error, encoding the answer, typing streams and
// channels, mapping a bad response) lives here, once.

import (
	"context"
	"errors"
	"iter"
)

// badRequest returns the error of a request dec could not decode: an
// *Error the decoder built (naming the part, as the decoders of requests
// with metadata entries do) as it is, any other error as BadRequest of the
// request data.
func badRequest(route string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return BadRequest(route, "request data", err)
}

// ServeRequestResponse registers the request-response route of r that h
// serves: the request is decoded with dec (an error goes back to the peer,
// naming the route, without calling h) and h's answer encoded with enc.
func ServeRequestResponse[S, Req, Res any](r *Routes[S], route string, dec func(*Payload) (Req, error), enc func(Res) (Payload, error), h func(S, context.Context, Req) (Res, error)) {
	r.HandleRequestResponse(route, func(ctx context.Context, s S, p *Payload) (Payload, error) {
		req, err := dec(p)
		if err != nil {
			return Payload{}, badRequest(route, err)
		}
		res, err := h(s, ctx, req)
		if err != nil {
			return Payload{}, err
		}
		return enc(res)
	})
}

// ServeFireAndForget registers the fire-and-forget route of r that h
// serves, its request decoded with dec.
func ServeFireAndForget[S, Req any](r *Routes[S], route string, dec func(*Payload) (Req, error), h func(S, context.Context, Req) error) {
	r.HandleFireAndForget(route, func(ctx context.Context, s S, p *Payload) error {
		req, err := dec(p)
		if err != nil {
			return badRequest(route, err)
		}
		return h(s, ctx, req)
	})
}

// ServeMetadataPush registers the metadata-push route of r that h serves;
// dec reads the request's metadata entries (it has no data).
func ServeMetadataPush[S, Req any](r *Routes[S], route string, dec func(*Payload) (Req, error), h func(S, context.Context, Req) error) {
	r.HandleMetadataPush(route, func(ctx context.Context, s S, p *Payload) error {
		req, err := dec(p)
		if err != nil {
			return badRequest(route, err)
		}
		return h(s, ctx, req)
	})
}

// ServeRequestStream registers the request-stream route of r that h
// serves: the request is decoded with dec, and h sends the items, encoded
// with enc, through its Sender.
func ServeRequestStream[S, Req, Res any](r *Routes[S], route string, dec func(*Payload) (Req, error), enc func(Res) (Payload, error), h func(S, context.Context, Req, *Sender[Res]) error) {
	r.HandleRequestStream(route, func(ctx context.Context, s S, p *Payload, out Stream) error {
		req, err := dec(p)
		if err != nil {
			return badRequest(route, err)
		}
		return h(s, ctx, req, NewSender(ctx, out, enc))
	})
}

// ServeRequestChannel registers the request-channel route of r that h
// serves, its inbound items decoded with dec and its outbound ones encoded
// with enc. With initialEmpty, the REQUEST_CHANNEL frame carries the route
// only and is not an item.
func ServeRequestChannel[S, Req, Res any](r *Routes[S], route string, initialEmpty bool, dec func(*Payload) (Req, error), enc func(Res) (Payload, error), h func(S, context.Context, *Inbound[Req], *Sender[Res]) error) {
	r.HandleRequestChannel(route, initialEmpty, func(ctx context.Context, s S, st Stream) error {
		return h(s, ctx, NewInbound(ctx, st, dec), NewSender(ctx, st, enc))
	})
}

// ServeRequestChannelOpen is ServeRequestChannel for a channel whose
// REQUEST_CHANNEL frame carries metadata entries for the whole channel
// (the schema's open_metadata): openDec reads them from that frame (an
// error ends the channel with it, naming the route, without calling h),
// and h gets them before the items.
func ServeRequestChannelOpen[S, Open, Req, Res any](r *Routes[S], route string, initialEmpty bool, openDec func(*Payload) (Open, error), dec func(*Payload) (Req, error), enc func(Res) (Payload, error), h func(S, context.Context, Open, *Inbound[Req], *Sender[Res]) error) {
	r.HandleRequestChannel(route, initialEmpty, func(ctx context.Context, s S, st Stream) error {
		first := &Payload{Route: route}
		if c := CallOf(ctx); c != nil {
			first.Metadata = c.Metadata
		}
		open, err := openDec(first)
		if err != nil {
			return badRequest(route, err)
		}
		return h(s, ctx, open, NewInbound(ctx, st, dec), NewSender(ctx, st, enc))
	})
}

// CallRequestResponse sends req, encoded with enc, on route and decodes
// the answer with dec; an answer that cannot be decoded is BadResponse.
func CallRequestResponse[Req, Res any](ctx context.Context, c *Caller, route string, req Req, enc func(Req) (Payload, error), dec func(*Payload) (Res, error)) (Res, error) {
	var zero Res
	p, err := enc(req)
	if err != nil {
		return zero, err
	}
	resp, err := c.RequestResponse(ctx, route, p)
	if err != nil {
		return zero, err
	}
	res, err := dec(resp)
	if err != nil {
		return zero, BadResponse(route, err)
	}
	return res, nil
}

// CallFireAndForget sends req, encoded with enc, on route.
func CallFireAndForget[Req any](ctx context.Context, c *Caller, route string, req Req, enc func(Req) (Payload, error)) error {
	p, err := enc(req)
	if err != nil {
		return err
	}
	return c.FireAndForget(ctx, route, p)
}

// CallMetadataPush sends the metadata entries of req, encoded with enc,
// on route.
func CallMetadataPush[Req any](ctx context.Context, c *Caller, route string, req Req, enc func(Req) (Payload, error)) error {
	p, err := enc(req)
	if err != nil {
		return err
	}
	return c.MetadataPush(ctx, route, p.Metadata)
}

// CallRequestStream opens a request-stream on route with req, encoded
// with enc, and returns its items decoded with dec. Breaking out of the
// loop or cancelling ctx cancels the stream.
func CallRequestStream[Req, Res any](ctx context.Context, c *Caller, route string, req Req, enc func(Req) (Payload, error), dec func(*Payload) (Res, error)) iter.Seq2[Res, error] {
	p, err := enc(req)
	if err != nil {
		return ErrorSeq[Res](err)
	}
	return DecodeSeq(c.RequestStream(ctx, route, p), route, dec)
}

// CallRequestChannel opens a request-channel on route, with first as its
// first item (nil: the REQUEST_CHANNEL frame carries the route only), and
// returns it typed with the codecs of its items. Closing it, or cancelling
// ctx, cancels it.
func CallRequestChannel[Req, Res any](ctx context.Context, c *Caller, route string, first *Req, enc func(Req) (Payload, error), dec func(*Payload) (Res, error)) (*Channel[Req, Res], error) {
	var fp *Payload
	if first != nil {
		p, err := enc(*first)
		if err != nil {
			return nil, err
		}
		fp = &p
	}
	raw, err := c.RequestChannel(ctx, route, fp)
	if err != nil {
		return nil, err
	}
	return NewChannel(ctx, raw, enc, dec), nil
}

// CallRequestChannelOpen is CallRequestChannel for a channel with open
// metadata: the entries of open, encoded with openEnc, go in its
// REQUEST_CHANNEL frame, after those of the first item if it has one.
func CallRequestChannelOpen[Open, Req, Res any](ctx context.Context, c *Caller, route string, open Open, openEnc func(Open) (Payload, error), first *Req, enc func(Req) (Payload, error), dec func(*Payload) (Res, error)) (*Channel[Req, Res], error) {
	p, err := openEnc(open)
	if err != nil {
		return nil, err
	}
	return CallRequestChannel(AppendMetadata(ctx, p.Metadata...), c, route, first, enc, dec)
}
