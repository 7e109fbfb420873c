package rsrt

import (
	"context"
	"time"
)

// fence orders the runtime's own calls into rsocket-go that may queue a
// frame before the library closes the connection's send queue.
//
// rsocket-go v0.8.16 closes that queue (a channel, in
// DuplexConnection.Close) while other goroutines may still be sending on
// it: a handler answering, a stream sending its next item, a channel
// issuing demand. The library survives by recovering the "send on closed
// channel" panic, but the close and the send race (`go test -race`
// reports it) and the frame is lost without a trace. So every such call
// runs inside the fence, and whoever is about to let the library close
// the connection shuts the fence first: shut waits for the calls inside
// and makes later ones skip.
//
// On a client that is ClientConn.Close. On a server it is the
// transport: gen/rsrt/guard closes the network connection, so that no
// call inside is left blocked on a full send queue, then shuts the fence
// (through the function Gate.ConnContext returns), and only then does the
// library close its socket.
//
// Like the gate, it is an admission: it may be entered again by a call
// already inside it (the library can call back into the runtime
// synchronously, and the callback may issue demand).
type fence struct{ calls admission }

// do runs call inside the fence, or skips it once the fence is shut.
func (f *fence) do(call func()) {
	if !f.calls.enter() {
		return
	}
	defer f.calls.leave()
	call()
}

// close shuts the fence and waits, at most wait, for the calls inside to
// leave. The bound is a last resort: a call blocked on the send queue of a
// connection whose writes hang would otherwise hold the close forever;
// the callers make sure writes fail first. It is safe to call more than
// once, from any goroutine.
func (f *fence) close(wait time.Duration) {
	f.calls.shutOff()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_ = f.calls.wait(ctx)
}

// fenceWait bounds how long a close waits for the calls inside the fence.
const fenceWait = time.Second
