package rsrt

import (
	"testing"

	"github.com/rsocket/rsocket-go/core"
)

// TestErrorCodesMatchTheLibrary checks the error codes rsrt declares
// against rsocket-go's, which puts them on the wire.
func TestErrorCodesMatchTheLibrary(t *testing.T) {
	for _, c := range []struct{ ours, lib ErrorCode }{
		{ErrorCodeInvalidSetup, core.ErrorCodeInvalidSetup},
		{ErrorCodeUnsupportedSetup, core.ErrorCodeUnsupportedSetup},
		{ErrorCodeRejectedSetup, core.ErrorCodeRejectedSetup},
		{ErrorCodeRejectedResume, core.ErrorCodeRejectedResume},
		{ErrorCodeConnectionError, core.ErrorCodeConnectionError},
		{ErrorCodeConnectionClose, core.ErrorCodeConnectionClose},
		{ErrorCodeApplicationError, core.ErrorCodeApplicationError},
		{ErrorCodeRejected, core.ErrorCodeRejected},
		{ErrorCodeCanceled, core.ErrorCodeCanceled},
		{ErrorCodeInvalid, core.ErrorCodeInvalid},
	} {
		if c.ours != c.lib {
			t.Errorf("rsrt has %s = %#x, rsocket-go %#x", c.lib, uint32(c.ours), uint32(c.lib))
		}
	}
}
