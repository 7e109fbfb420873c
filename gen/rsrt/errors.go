package rsrt

import (
	"fmt"

	"github.com/rsocket-chat/rsgen/gen/rsrt/internal/rsock"
)

// ErrorCode is an RSocket error code. It is rsocket-go's type (an alias),
// so that code written against the library's constants keeps working.
type ErrorCode = rsock.ErrorCode

// The RSocket error codes (values from the protocol specification).
const (
	ErrorCodeInvalidSetup     ErrorCode = 0x001
	ErrorCodeUnsupportedSetup ErrorCode = 0x002
	ErrorCodeRejectedSetup    ErrorCode = 0x003
	ErrorCodeRejectedResume   ErrorCode = 0x004
	ErrorCodeConnectionError  ErrorCode = 0x101
	ErrorCodeConnectionClose  ErrorCode = 0x102
	ErrorCodeApplicationError ErrorCode = 0x201
	ErrorCodeRejected         ErrorCode = 0x202
	ErrorCodeCanceled         ErrorCode = 0x203
	ErrorCodeInvalid          ErrorCode = 0x204
)

// Error is an RSocket error frame: sent by a handler, or received from the
// peer. Use errors.As to inspect errors returned by generated clients.
type Error struct {
	// Code is the RSocket error code; handlers should use
	// APPLICATION_ERROR (see NewError) since rsocket-py cannot parse
	// custom codes.
	Code ErrorCode
	// Message is the error frame's data, as UTF-8 text.
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// ErrorCode returns the code: with ErrorData, it is how the library puts
// the code on the wire.
func (e *Error) ErrorCode() ErrorCode { return e.Code }

// ErrorData returns the message, the ERROR frame's data.
func (e *Error) ErrorData() []byte { return []byte(e.Message) }

// NewError returns an APPLICATION_ERROR with the formatted message. Handlers
// return it for errors the peer should read.
func NewError(format string, args ...any) *Error {
	return &Error{Code: ErrorCodeApplicationError, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns the APPLICATION_ERROR for a request whose data or
// metadata cannot be decoded: "route R: invalid request data: ...".
func BadRequest(route, what string, err error) *Error {
	return NewError("route %s: invalid %s: %v", route, what, err)
}

// Unimplemented returns the APPLICATION_ERROR of a route whose handler is
// the generated Unimplemented stub.
func Unimplemented(route string) *Error {
	return NewError("route %s is not implemented", route)
}

// UndeclaredRouteError is returned, without anything being sent, by a call
// to a client route that the connected client did not declare in SETUP.
type UndeclaredRouteError struct {
	Interaction Interaction
	Route       string
}

// Error implements error.
func (e *UndeclaredRouteError) Error() string {
	return fmt.Sprintf("client did not declare %s route %q", e.Interaction, e.Route)
}

// BadResponse wraps the error of a response (or stream item) that the
// client cannot decode: "route R: invalid response data: ...".
func BadResponse(route string, err error) error {
	return fmt.Errorf("route %s: invalid response data: %w", route, err)
}
