// Command chat-server serves the chat of the rsocket-py tutorial over
// RSocket, on TCP and WebSocket, with files stored on disk.
//
// With --nats the server is a node of a chat cluster: it shares users,
// channels, messages and files with the other nodes through NATS, an
// external one or one it runs itself (--nats embedded); see package
// chatcluster. Without it, it is a single node and uses no NATS.
//
// Every setting is a flag and an environment variable (the flag wins); run
// `chat-server --help` for the list. The server logs with log/slog to
// standard error and shuts down gracefully on SIGINT or SIGTERM (a second
// signal kills it at once).
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/gen/rsrt/guard"
	"github.com/rsocket-chat/rsgen/impl/chatauth"
	"github.com/rsocket-chat/rsgen/impl/chatcluster"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
	"github.com/rsocket-chat/rsgen/impl/filestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process
	}()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "users" {
		err = users(os.Args[2:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "chat-server:", err)
		os.Exit(1)
	}
}

// maxBusyPoll bounds --busy-poll: longer polls only burn CPU, since a
// client that takes that long to send its next request is not waiting
// on the server's wake-up.
const maxBusyPoll = 10 * time.Millisecond

// errUsage reports a command line the flag set already complained about.
var errUsage = errors.New("usage error")

// options are the settings of one run.
type options struct {
	tcpAddr, wsAddr, dataDir string
	maxFile, maxTotal        size
	responseBudget           size
	maxFiles                 int
	uploadMemory             size
	reassembly               size
	queueLen                 int
	queueBytes, maxMessage   size
	maxQueued                size
	maxJoined                int
	shutdown                 time.Duration
	busyPoll                 time.Duration
	logLevel                 string
	logFormat                string
	auth                     string
	allowOrigins             originList
	tlsCert, tlsKey          string
	metricsAddr              string
	pprof                    bool

	// Cluster mode (package chatcluster); nats "" is a single node.
	nats                      string
	natsPort, natsClusterPort int
	natsRoutes, natsStore     string
	natsHost                  string
	natsReplicas              int
	natsDeadAfter             time.Duration
}

// setting is one flag and its environment variable.
type setting struct {
	flag, env, help string
	value           flag.Value
}

func settings(o *options) []setting {
	return []setting{
		{"tcp-addr", "CHAT_TCP_ADDR", "TCP listen `address`; \"\" disables TCP", (*str)(&o.tcpAddr)},
		{"ws-addr", "CHAT_WS_ADDR", "WebSocket listen `address` (path \"/\"); \"\" disables WebSocket", (*str)(&o.wsAddr)},
		{"data-dir", "CHAT_DATA_DIR", "`directory` of the uploaded files, created if needed", (*str)(&o.dataDir)},
		{"max-file-size", "CHAT_MAX_FILE_SIZE", "largest file accepted, in bytes or with a KiB/MiB/GiB suffix (`size`)", &o.maxFile},
		{"max-store-size", "CHAT_MAX_STORE_SIZE", "largest total `size` of the stored files, each charged its content plus 4KiB and its name's length", &o.maxTotal},
		{"max-files", "CHAT_MAX_FILES", "largest number of stored `files`", (*integer)(&o.maxFiles)},
		{"upload-memory", "CHAT_UPLOAD_MEMORY", "upload payloads held in memory until written, server-wide (`size`); an upload over it is refused as busy", &o.uploadMemory},
		{"queue-len", "CHAT_QUEUE_LEN", "`messages` queued per connection for a slow reader before the oldest are dropped", (*integer)(&o.queueLen)},
		{"queue-size", "CHAT_QUEUE_SIZE", "message content `size` queued per connection, the same way", &o.queueBytes},
		{"max-queued", "CHAT_MAX_QUEUED", "message content `size` queued by all connections together; over it, the connections holding more than their share drop their oldest", &o.maxQueued},
		{"max-message-size", "CHAT_MAX_MESSAGE_SIZE", "largest message content accepted (`size`), at most the schema's 64KiB", &o.maxMessage},
		{"response-budget", "CHAT_RESPONSE_BUDGET", "unread response `size` all connections together may hold (each also has its own 16MiB bound); past it, downloads wait", &o.responseBudget},
		{"reassembly-memory", "CHAT_REASSEMBLY_MEMORY", "bytes of requests still arriving in fragments all connections together may hold (`size`); a request over it is refused as busy", &o.reassembly},
		{"max-joined", "CHAT_MAX_JOINED", "`channels` one connection may have joined at once", (*integer)(&o.maxJoined)},
		{"shutdown-timeout", "CHAT_SHUTDOWN_TIMEOUT", "`time` in-flight requests get to finish on shutdown", (*duration)(&o.shutdown)},
		{"busy-poll", "CHAT_BUSY_POLL", "`time` a connection polls its socket before it sleeps, after a request that came within that long (one connection at a time): lower latency for clients with one request in flight, for CPU while it polls; 0 never polls", (*duration)(&o.busyPoll)},
		{"log-level", "CHAT_LOG_LEVEL", "log `level`: debug, info, warn or error", (*level)(&o.logLevel)},
		{"log-format", "CHAT_LOG_FORMAT", "log `format`: text or json", (*format)(&o.logFormat)},
		{"allow-origin", "CHAT_ALLOW_ORIGIN", "web `origin` (https://chat.example.com) whose pages may connect over WebSocket, besides the server's own page; repeatable or comma-separated, \"*\" for any (development only); clients that send no Origin are always accepted", &o.allowOrigins},
		{"tls-cert", "CHAT_TLS_CERT", "PEM certificate chain `file`: with --tls-key, TCP is served over TLS and WebSocket as wss://", (*str)(&o.tlsCert)},
		{"tls-key", "CHAT_TLS_KEY", "PEM private key `file` of --tls-cert", (*str)(&o.tlsKey)},
		{"metrics-addr", "CHAT_METRICS_ADDR", "`address` of the operations listener: /metrics (Prometheus), /healthz, /readyz; \"\" (the default) serves none and collects no metrics", (*str)(&o.metricsAddr)},
		{"pprof", "CHAT_PPROF", "also serve net/http/pprof under /debug/pprof/ on the --metrics-addr listener (never on the chat ports)", (*boolean)(&o.pprof)},
		{"auth", "CHAT_AUTH", "user database `file`: every connection must authenticate in its SETUP and logs in only as itself (manage it with 'chat-server users'); unset, anyone logs in as anyone, as in the tutorial", (*str)(&o.auth)},
		{"nats", "CHAT_NATS", "cluster mode: the NATS server `URLs` (nats://host:4222, comma-separated) the chat nodes share users, channels, messages and files through, or \"embedded\" to run a NATS server in this process; unset, a single node with nothing shared", (*str)(&o.nats)},
		{"nats-host", "CHAT_NATS_HOST", "with --nats embedded: the `address` its client and cluster ports listen on (0.0.0.0 for other machines)", (*str)(&o.natsHost)},
		{"nats-port", "CHAT_NATS_PORT", "with --nats embedded: the NATS client `port` (-1 picks one)", (*integer)(&o.natsPort)},
		{"nats-cluster-port", "CHAT_NATS_CLUSTER_PORT", "with --nats embedded: the `port` the other nodes' NATS servers route to; 0 runs a NATS server alone", (*integer)(&o.natsClusterPort)},
		{"nats-routes", "CHAT_NATS_ROUTES", "with --nats embedded: the other nodes' NATS cluster `URLs` (nats://host:6222, comma-separated)", (*str)(&o.natsRoutes)},
		{"nats-store", "CHAT_NATS_STORE", "with --nats embedded: the JetStream `directory`", (*str)(&o.natsStore)},
		{"nats-replicas", "CHAT_NATS_REPLICAS", "JetStream `replicas` of the shared membership and files (3 on three NATS servers survives one down)", (*integer)(&o.natsReplicas)},
		{"nats-dead-after", "CHAT_NATS_DEAD_AFTER", "`time` after its last heartbeat (sent every fifth of it) at which a node that died leaves the others' membership and counts", (*duration)(&o.natsDeadAfter)},
	}
}

func defaults() *options {
	d := chatserver.DefaultConfig()
	return &options{
		tcpAddr:        d.TCPAddr,
		wsAddr:         d.WSAddr,
		dataDir:        d.DataDir,
		maxFile:        filestore.DefaultMaxFileBytes,
		maxTotal:       filestore.DefaultMaxTotalBytes,
		responseBudget: rsrt.DefaultServerResponseBudget,
		maxFiles:       filestore.DefaultMaxFiles,
		uploadMemory:   chatsvc.DefaultUploadMemoryBytes,
		reassembly:     guard.DefaultMaxServerPendingBytes,
		queueLen:       chatsvc.DefaultQueueLen,
		queueBytes:     chatsvc.DefaultQueueBytes,
		maxQueued:      chatsvc.DefaultMaxQueuedBytes,
		maxMessage:     chatsvc.DefaultMaxContentBytes,
		maxJoined:      chatsvc.DefaultMaxJoined,
		shutdown:       d.ShutdownTimeout,
		busyPoll:       chatserver.DefaultBusyPoll,
		logLevel:       "info",
		logFormat:      "text",
		natsHost:       "127.0.0.1",
		natsPort:       4222,
		natsReplicas:   1,
		natsDeadAfter:  chatcluster.DefaultDeadAfter,
	}
}

// parse reads the settings from the defaults, then the environment, then
// the flags.
func parse(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (*options, error) {
	o := defaults()
	fs := flag.NewFlagSet("chat-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	set := settings(o)
	for _, s := range set {
		fs.Var(s.value, s.flag, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: chat-server [flags]
       chat-server users add|token [--auth FILE] NAME

Serves the chat of the rsocket-py tutorial over RSocket (TCP and WebSocket).
With --nats, the server is a node of a chat cluster sharing through NATS.
Each flag can also be set by its environment variable; the flag wins.
Logs go to standard error. SIGINT or SIGTERM shuts down gracefully.

Flags:
`)
		fs.PrintDefaults()
	}
	for _, s := range set {
		v, ok := lookupEnv(s.env)
		if !ok {
			continue
		}
		if err := s.value.Set(v); err != nil {
			return nil, fmt.Errorf("environment variable %s=%q: %w", s.env, v, err)
		}
	}
	// The flag replaces the environment's list rather than adding to it.
	o.allowOrigins.fromEnv = len(o.allowOrigins.list) > 0
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chat-server: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errUsage
	}
	switch {
	case o.tcpAddr == "" && o.wsAddr == "":
		return nil, errors.New("both --tcp-addr and --ws-addr are empty: nothing to serve")
	case o.dataDir == "":
		return nil, errors.New("--data-dir is empty")
	case o.maxFile <= 0 || o.maxTotal <= 0 || o.queueBytes <= 0 || o.maxMessage <= 0 || o.responseBudget <= 0 || o.maxQueued <= 0 || o.uploadMemory <= 0 || o.reassembly <= 0:
		return nil, errors.New("sizes must be positive")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case o.maxMessage > chatsvc.DefaultMaxContentBytes:
		return nil, fmt.Errorf("--max-message-size is more than %d bytes, the largest content schema/chat.yaml allows", chatsvc.DefaultMaxContentBytes)
	case o.queueLen <= 0 || o.maxJoined <= 0 || o.maxFiles <= 0:
		return nil, errors.New("--queue-len, --max-joined and --max-files must be positive")
	case o.shutdown <= 0:
		return nil, errors.New("--shutdown-timeout must be positive")
	case o.busyPoll < 0 || o.busyPoll > maxBusyPoll:
		return nil, fmt.Errorf("--busy-poll must be between 0 and %v", maxBusyPoll)
	case o.pprof && o.metricsAddr == "":
		return nil, errors.New("--pprof needs --metrics-addr: pprof is served on the operations listener only")
	case o.maxFile > o.maxTotal:
		return nil, errors.New("--max-file-size is larger than --max-store-size")
	case o.allowOrigins.err() != nil:
		return nil, o.allowOrigins.err()
	case o.maxFile > o.uploadMemory:
		return nil, errors.New("--max-file-size is larger than --upload-memory: the largest file could never be uploaded")
	case o.maxFile > o.reassembly:
		return nil, errors.New("--max-file-size is larger than --reassembly-memory: the largest file could never arrive")
	case o.nats == "embedded" && o.natsStore == "":
		return nil, errors.New("--nats embedded needs --nats-store, the JetStream directory")
	case o.nats != "embedded" && (o.natsStore != "" || o.natsRoutes != "" || o.natsClusterPort != 0 || o.natsHost != "127.0.0.1"):
		return nil, errors.New("--nats-store, --nats-routes, --nats-host and --nats-cluster-port configure an embedded NATS server: add --nats embedded")
	case o.natsReplicas <= 0 || o.natsDeadAfter < time.Second:
		return nil, errors.New("--nats-replicas must be positive and --nats-dead-after at least 1s")
	}
	return o, nil
}

func (o *options) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(o.logLevel)) // validated by level.Set
	hopts := &slog.HandlerOptions{Level: lvl}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

func (o *options) config(log *slog.Logger) chatserver.Config {
	return chatserver.Config{
		TCPAddr: o.tcpAddr,
		WSAddr:  o.wsAddr,
		DataDir: o.dataDir,
		Files:   filestore.Limits{MaxFileBytes: int64(o.maxFile), MaxTotalBytes: int64(o.maxTotal), MaxFiles: o.maxFiles},
		Chat: chatsvc.Config{
			QueueLen:          o.queueLen,
			QueueBytes:        int(o.queueBytes),
			MaxQueuedBytes:    int64(o.maxQueued),
			MaxContentBytes:   int(o.maxMessage),
			MaxJoined:         o.maxJoined,
			UploadMemoryBytes: int64(o.uploadMemory),
		},
		ResponseBudget:   int64(o.responseBudget),
		ReassemblyMemory: int64(o.reassembly),
		ShutdownTimeout:  o.shutdown,
		BusyPoll:         cmp.Or(o.busyPoll, -1), // 0 on the command line: never
		AllowedOrigins:   o.allowOrigins.list,
		Logger:           log,
		MetricsAddr:      o.metricsAddr,
		Pprof:            o.pprof,
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	o, err := parse(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	log := o.logger(stderr)
	// rsocket-go's own lines, otherwise printed by the standard logger,
	// join the structured log.
	rsrt.RouteLibraryLogs(log)
	cfg := o.config(log)
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.auth != "" {
		users, err := chatauth.Load(o.auth)
		if err != nil {
			return fmt.Errorf("--auth: %w", err)
		}
		cfg.Chat.Auth = users
		log.Info("authentication required", "users", users.Len(), "file", o.auth)
	}
	if o.nats != "" {
		leave, err := o.joinCluster(ctx, &cfg, log)
		if err != nil {
			return err
		}
		defer leave()
	}
	srv, err := chatserver.Start(ctx, cfg)
	if err != nil {
		return err
	}
	// The bound addresses on stdout let a script use port 0.
	if a := srv.TCPAddr(); a != "" {
		fmt.Fprintf(stdout, "tcp %s\n", a)
	}
	if u := srv.WSURL(); u != "" {
		fmt.Fprintf(stdout, "ws %s\n", u)
	}
	if u := srv.PageURL(); u != "" {
		fmt.Fprintf(stdout, "page %s\n", u)
	}
	if a := srv.MetricsAddr(); a != "" {
		fmt.Fprintf(stdout, "metrics http://%s/metrics\n", a)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case <-srv.Done():
	}
	return srv.Wait()
}

// joinCluster starts the embedded NATS server if asked, joins the cluster
// and sets cfg to share through it; leave closes both, once the chat
// server has stopped.
func (o *options) joinCluster(ctx context.Context, cfg *chatserver.Config, log *slog.Logger) (leave func(), err error) {
	url := o.nats
	var emb *chatcluster.Embedded
	if o.nats == "embedded" {
		var routes []string
		if o.natsRoutes != "" {
			routes = strings.Split(o.natsRoutes, ",")
		}
		emb, err = chatcluster.StartEmbedded(chatcluster.EmbeddedConfig{
			Host: o.natsHost, Port: o.natsPort, ClusterPort: o.natsClusterPort, Routes: routes, StoreDir: o.natsStore,
		})
		if err != nil {
			return nil, err
		}
		url = emb.ClientURL()
		log.Info("embedded NATS server started", "url", url, "cluster", emb.ClusterURL(), "store", o.natsStore)
	}
	// A JetStream cluster forms once enough of its servers are up: wait
	// for it, within reason.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	node, err := chatcluster.Connect(cctx, chatcluster.Config{
		URL: url, Replicas: o.natsReplicas, DeadAfter: o.natsDeadAfter, Heartbeat: o.natsDeadAfter / 5,
		Files:  cfg.Files,
		Logger: log,
	})
	if err != nil {
		if emb != nil {
			emb.Shutdown()
		}
		return nil, err
	}
	cfg.Chat.Hub, cfg.Chat.Files = node, node.Files()
	cfg.Cluster = func() chatserver.ClusterState {
		h := node.Health()
		return chatserver.ClusterState{Connected: h.Connected, Disconnects: h.Disconnects, Reconnects: h.Reconnects,
			RelayErrors: h.PublishErrors, LiveNodes: h.LiveNodes}
	}
	return func() {
		if err := node.Close(); err != nil {
			log.Warn("leaving the cluster", "err", err)
		}
		if emb != nil {
			emb.Shutdown()
		}
	}, nil
}

// Flag value types.

type str string

func (s *str) String() string     { return strconv.Quote(string(*s)) }
func (s *str) Set(v string) error { *s = str(v); return nil }

type integer int

func (i *integer) String() string { return strconv.Itoa(int(*i)) }
func (i *integer) Set(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return errors.New("not an integer")
	}
	*i = integer(n)
	return nil
}

// boolean is a flag without a value (--pprof), or with one (--pprof=false,
// CHAT_PPROF=1).
type boolean bool

func (b *boolean) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolean) IsBoolFlag() bool { return true }
func (b *boolean) Set(v string) error {
	x, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return errors.New("not a boolean such as true or false")
	}
	*b = boolean(x)
	return nil
}

type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }
func (d *duration) Set(v string) error {
	t, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return errors.New(`not a duration such as "5s"`)
	}
	*d = duration(t)
	return nil
}

// size is a byte count written as an integer with an optional binary
// suffix: 512, 64KiB, 16MiB, 1GiB (K, M, G are accepted too).
type size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}

func (s *size) String() string {
	n := int64(*s)
	for _, u := range sizeUnits[:3] {
		if n >= u.mult && n%u.mult == 0 && (u.mult == 1<<30 || n%(u.mult<<10) != 0) {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s *size) Set(v string) error {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return errors.New(`not a size such as "16MiB"`)
	}
	*s = size(n * mult)
	return nil
}

// originList is the list of --allow-origin values: repeatable, each
// possibly a comma-separated list.
type originList struct {
	list []string
	// fromEnv is set while the list holds the environment's value, which
	// a flag replaces.
	fromEnv bool
}

func (l *originList) String() string { return strings.Join(l.list, ",") }
func (l *originList) Set(v string) error {
	if l.fromEnv {
		l.list, l.fromEnv = nil, false
	}
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			l.list = append(l.list, o)
		}
	}
	return nil
}

// err checks every origin, so that a typo is a usage error at start.
func (l *originList) err() error {
	if _, err := guard.NewOriginPolicy(l.list...); err != nil {
		return fmt.Errorf("--allow-origin: %w", err)
	}
	return nil
}

// level is a slog level name, kept as text so that --help shows it.
type level string

func (l *level) String() string { return string(*l) }
func (l *level) Set(v string) error {
	var sl slog.Level
	if err := sl.UnmarshalText([]byte(v)); err != nil {
		return errors.New("not one of debug, info, warn, error")
	}
	*l = level(strings.ToLower(v))
	return nil
}

type format string

func (f *format) String() string { return string(*f) }
func (f *format) Set(v string) error {
	if v != "text" && v != "json" {
		return errors.New("not text or json")
	}
	*f = format(v)
	return nil
}
