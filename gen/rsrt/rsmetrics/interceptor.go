package rsmetrics

import (
	"context"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Interceptor returns the interceptor that records the calls a service
// serves (the requests its clients send): requests, errors by code,
// duration, open streams, and the items of streams and channels. The
// calls the service makes (to client routes) pass through unrecorded.
// AcceptOptions installs it; install it first, so that it also records
// the calls the interceptors after it refuse.
func (m *Metrics) Interceptor() rsrt.Interceptor { return interceptor{m} }

type interceptor struct{ m *Metrics }

// It learns of a stream's end from rsrt.OnStreamEnd: fed streams outlive
// their handler under it (see rsrt.Sender.Feed).
var _ rsrt.StreamEndHooker = interceptor{}

// WrapUnary records request-response, fire-and-forget and metadata-push
// calls served.
func (ic interceptor) WrapUnary(next rsrt.UnaryFunc) rsrt.UnaryFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload) (*rsrt.Payload, error) {
		if call.Requester {
			return next(ctx, call, req)
		}
		c := ic.m.begin(call.Route, call.Interaction)
		resp, err := next(ctx, call, req)
		c.end(err)
		return resp, err
	}
}

// WrapStreamHandler records request-streams and request-channels served,
// and their items. A stream's end comes from rsrt.OnStreamEnd, so that a
// stream that outlives its handler (rsrt.Sender.Feed) is counted open
// until it ends.
func (ic interceptor) WrapStreamHandler(next rsrt.StreamHandlerFunc) rsrt.StreamHandlerFunc {
	return func(ctx context.Context, call *rsrt.Call, req *rsrt.Payload, s rsrt.Stream) error {
		c := ic.m.begin(call.Route, call.Interaction)
		hooked := rsrt.OnStreamEnd(ctx, c.end)
		err := next(ctx, call, req, countedStream{s, c})
		if !hooked {
			// The wrapper called outside the runtime's serving
			// side: the stream's end is the return.
			c.end(err)
		}
		return err
	}
}

// HooksStreamEnd implements rsrt.StreamEndHooker.
func (interceptor) HooksStreamEnd() {}

// WrapStreamClient passes the streams the service opens through.
func (interceptor) WrapStreamClient(next rsrt.StreamClientFunc) rsrt.StreamClientFunc { return next }

// countedStream counts the items a stream handler sends and receives.
type countedStream struct {
	rsrt.Stream
	c call
}

// Send counts an item sent.
func (s countedStream) Send(ctx context.Context, p rsrt.Payload) error {
	err := s.Stream.Send(ctx, p)
	if err == nil {
		s.c.itemSent()
	}
	return err
}

// Recv counts an item received.
func (s countedStream) Recv(ctx context.Context) (*rsrt.Payload, error) {
	p, err := s.Stream.Recv(ctx)
	if err == nil {
		s.c.itemReceived()
	}
	return p, err
}
