package guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/rsocket/rsocket-go/core"
	"github.com/rsocket/rsocket-go/core/framing"
)

// setupMarker starts the text of a [SetupError]. The text is only ever
// read back by the transports: rsocket-go puts it in the ERROR frame it
// writes.
const setupMarker = "\x00rsgen-setup-error:"

// SetupError returns the error an acceptor returns to refuse a SETUP with
// code (INVALID_SETUP, UNSUPPORTED_SETUP or REJECTED_SETUP) and msg.
// rsocket-go v0.8.16 answers every acceptor error with REJECTED_SETUP and
// the error's text; the checking transports turn that frame back into
// code and msg. (Package server does this wrapping for any acceptor error
// that has one of these codes.)
func SetupError(code core.ErrorCode, msg string) error {
	return &setupError{code: code, msg: msg}
}

type setupError struct {
	code core.ErrorCode
	msg  string
}

// Error returns the marked text the transports recognise.
func (e *setupError) Error() string {
	return setupMarker + strconv.FormatUint(uint64(e.code), 16) + ":" + e.msg
}

// ErrorCode returns the SETUP error code.
func (e *setupError) ErrorCode() core.ErrorCode { return e.code }

// ErrorData returns the message.
func (e *setupError) ErrorData() []byte { return []byte(e.msg) }

// isSetupErrorCode reports whether code is one a SETUP is refused with.
func isSetupErrorCode(code core.ErrorCode) bool {
	switch code {
	case core.ErrorCodeInvalidSetup, core.ErrorCodeUnsupportedSetup, core.ErrorCodeRejectedSetup:
		return true
	}
	return false
}

// rewriteSetupError returns the frame to write instead of raw, an ERROR
// frame on stream 0, when it is the library's REJECTED_SETUP carrying a
// SetupError; otherwise nil.
func rewriteSetupError(raw []byte) []byte {
	if len(raw) < core.FrameHeaderLen+4 || binary.BigEndian.Uint32(raw[core.FrameHeaderLen:]) != uint32(core.ErrorCodeRejectedSetup) {
		return nil
	}
	text, ok := bytes.CutPrefix(raw[core.FrameHeaderLen+4:], []byte(setupMarker))
	if !ok {
		return nil
	}
	hex, msg, ok := bytes.Cut(text, []byte(":"))
	if !ok {
		return nil
	}
	code, err := strconv.ParseUint(string(hex), 16, 32)
	if err != nil || !isSetupErrorCode(core.ErrorCode(code)) {
		return nil
	}
	var b bytes.Buffer
	if _, err := framing.NewWriteableErrorFrame(0, core.ErrorCode(code), msg).WriteTo(&b); err != nil {
		panic(fmt.Sprintf("rsocket guard: writing to a buffer: %v", err))
	}
	return b.Bytes()
}

// AsSetupError returns the SetupError an acceptor's refusal goes on the
// wire as: with err's code when it carries a SETUP error code (it
// implements ErrorCode() core.ErrorCode and ErrorData() []byte, as
// rsocket-go's and the runtime's errors do), and REJECTED_SETUP
// otherwise; the text is err's data (for coded errors) or err.Error(),
// never prefixed with a code name. It returns nil for nil.
func AsSetupError(err error) error {
	type coded interface {
		ErrorCode() core.ErrorCode
		ErrorData() []byte
	}
	if err == nil {
		return nil
	}
	var c coded
	if !errors.As(err, &c) {
		return SetupError(core.ErrorCodeRejectedSetup, err.Error())
	}
	if !isSetupErrorCode(c.ErrorCode()) {
		return SetupError(core.ErrorCodeRejectedSetup, string(c.ErrorData()))
	}
	if se, ok := c.(*setupError); ok {
		return se
	}
	return SetupError(c.ErrorCode(), string(c.ErrorData()))
}
