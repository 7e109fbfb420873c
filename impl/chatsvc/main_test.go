package chatsvc

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (an incoming stream,
// a statistics reader, a time call) outlives them. rsocket-go's worker
// pool, started by its package initialisation, is not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*Pool).purgePeriodically"))
}
