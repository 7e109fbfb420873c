package rsrt

import (
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
	"github.com/rsocket-chat/rsgen/gen/rsrt/rslog"
)

// errInternal is what a peer reads when a handler panicked: the panic text
// stays in our logs.
var errInternal = &Error{Code: ErrorCodeApplicationError, Message: "internal error"}

// errShuttingDown answers requests that arrive after the Gate closed.
var errShuttingDown = &Error{Code: ErrorCodeRejected, Message: "server is shutting down"}

// MaxErrorText bounds the text of the ERROR frames the runtime sends, in
// bytes. A longer text is clipped (rslog.Clip): an error that quotes what a peer
// sent, or a handler's long message, must still fit one frame, or the
// request would never be answered.
const MaxErrorText = 16 << 10

// wireError converts a handler's error to the error the library writes as
// an ERROR frame: an *Error (also wrapped) keeps its code and message; any
// other error becomes APPLICATION_ERROR with its text. The text is clipped
// to MaxErrorText.
func wireError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: ErrorCodeApplicationError, Message: err.Error()}
	}
	if len(e.Message) > MaxErrorText {
		// Room for Clip's "… (N bytes)", so that the whole text fits.
		e = &Error{Code: e.Code, Message: rslog.Clip(e.Message, MaxErrorText-32)}
	}
	return e
}

// peerError converts an error the library reports for a request to what
// callers see: an ERROR frame from the peer becomes *Error, so that
// errors.As works whatever type rsocket-go used to carry it.
func peerError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if code, msg, ok := rsock.PeerError(err); ok {
		return &Error{Code: code, Message: msg}
	}
	return err
}

// recovered logs a handler panic with its stack and returns the error the
// peer gets instead.
func recovered(log *slog.Logger, r any, i Interaction, route string) error {
	log.Error("rsrt: handler panicked", "interaction", i.String(), "route", route, "panic", r, rslog.Unclipped("stack", string(debug.Stack())))
	return errInternal
}
