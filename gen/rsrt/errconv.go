package rsrt

import (
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/rsocket/rsocket-go/core"
)

// errInternal is what a peer reads when a handler panicked: the panic text
// stays in our logs.
var errInternal = &Error{Code: core.ErrorCodeApplicationError, Message: "internal error"}

// errShuttingDown answers requests that arrive after the Gate closed.
var errShuttingDown = &Error{Code: core.ErrorCodeRejected, Message: "server is shutting down"}

// wireError converts a handler's error to the error the library writes as
// an ERROR frame: an *Error (also wrapped) keeps its code and message; any
// other error becomes APPLICATION_ERROR with its text.
func wireError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: core.ErrorCodeApplicationError, Message: err.Error()}
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
	var ce core.CustomError
	if errors.As(err, &ce) {
		return &Error{Code: ce.ErrorCode(), Message: string(ce.ErrorData())}
	}
	return err
}

// recovered logs a handler panic with its stack and returns the error the
// peer gets instead.
func recovered(log *slog.Logger, r any, i Interaction, route string) error {
	log.Error("rsrt: handler panicked", "interaction", i.String(), "route", route, "panic", r, "stack", string(debug.Stack()))
	return errInternal
}
