// Command chat is the client of the chat service: a scripted demo of the
// rsocket-py tutorial's reference scenario, an interactive terminal session,
// and one-shot subcommands for shell scripts. Everything it sends goes
// through the generated typed client (package generated/chat).
//
// Usage:
//
//	chat demo [--addr host:port]
//	chat --user NAME [--addr host:port]
//	chat send --user U (--to USER | --channel C) TEXT
//	chat upload --user U PATH [--name NAME]
//	chat download --user U NAME [-o PATH]
//	chat channels | chat users CHANNEL | chat files | chat stats
//
// The server address comes from --addr, else $CHAT_ADDR, else
// localhost:6565. Exit codes: 0 success, 1 request or server error (the
// server's message goes to stderr), 2 usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

func main() {
	// rsocket-go logs to the standard logger on its own, for instance
	// "send frame failed" when a connection drops; on a chat terminal that
	// would garble the prompt. The command reports failures itself.
	rsrt.RouteLibraryLogs(nil)
	// Ctrl-C and SIGTERM cancel the context, so that long-running commands
	// (chat stats -n 0, a transfer) stop cleanly and close their connection.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
