package chatserver_test

import (
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// TestMain keeps rsocket-go's own log lines out of the test output (errors
// only) and fails the tests if a goroutine outlives them: a session, a
// stream, a statistics loop or a time call left behind after the server
// stopped. rsocket-go's worker pool is started by the library and lives
// with the process.
func TestMain(m *testing.M) {
	rsrt.RouteLibraryLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*Pool).purgePeriodically"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}
