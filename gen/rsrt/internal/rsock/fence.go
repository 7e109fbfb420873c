package rsock

import (
	"context"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/admit"
)

// Fence orders the runtime's calls into rsocket-go that may queue a frame
// before the library closes the connection's send queue (see the package
// doc, entry "Send queue closed under senders").
//
// rsocket-go v0.8.16 closes that queue (a channel, in
// DuplexConnection.Close) while other goroutines may still be sending on
// it: a handler answering, a stream sending its next item, a channel
// issuing demand. The library survives by recovering the "send on closed
// channel" panic, but the close and the send race (`go test -race`
// reports it) and the frame is lost without a trace. So every such call
// this package makes runs inside the connection's fence, and whoever is
// about to let the library close the connection shuts the fence first:
// Close waits for the calls inside and makes later ones skip.
//
// On a client that is [Client.Close]. On a server it is the transport:
// gen/rsrt/guard closes the network connection, so that no call inside is
// left blocked on a full send queue, then shuts the fence (through the
// function [Prepare] returns), and only then does the library close its
// socket.
//
// It is an admission (gen/rsrt/internal/admit): it may be entered again by
// a call already inside it (the library can call back into the runtime
// synchronously, and the callback may issue demand).
type Fence struct{ calls admit.Admission }

// do runs call inside the fence and reports whether it ran: it is skipped
// once the fence is shut.
func (f *Fence) do(call func()) bool {
	if !f.calls.Enter() {
		return false
	}
	defer f.calls.Leave()
	call()
	return true
}

// Close shuts the fence and waits, at most fenceWait, for the calls inside
// to leave. The bound is a last resort: a call blocked on the send queue
// of a connection whose writes hang would otherwise hold the close
// forever; the callers make sure writes fail first. It is safe to call
// more than once, from any goroutine.
func (f *Fence) Close() {
	f.calls.ShutOff()
	ctx, cancel := context.WithTimeout(context.Background(), fenceWait)
	defer cancel()
	_ = f.calls.Wait(ctx)
}

// fenceWait bounds how long Close waits for the calls inside the fence.
const fenceWait = time.Second
