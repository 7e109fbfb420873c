// Command chat-load measures a chat server: request-response throughput of
// "message" at several in-flight levels, channel fan-out to many open
// messages.incoming streams (deliveries per second, end-to-end latency,
// stall detection under request(n) backpressure) and server memory per
// logged-in session with an open stream.
//
// It drives a running server (--addr), or starts the generated chat server
// and/or the hand-written baseline (internal/loadbase) itself on free
// 127.0.0.1 ports and measures both in the same run
// (--target chat|baseline|both), over TCP, WebSocket or each in turn
// (--transport tcp|ws|both); every measure names its transport.
// The memory scenario runs each server in a child process (this binary's
// hidden "serve" subcommand, or --server-cmd for the chat server) and reads
// its VmRSS.
//
// Usage:
//
//	chat-load [--target both] [--transport tcp] [--quick] [--json FILE] [--svg FILE] ...
//	chat-load --addr 127.0.0.1:6565 --scenarios rr,fanout
//	chat-load --addr ws://127.0.0.1:6566/ --scenarios rr
//	chat-load cluster [--members 200] [--messages 200] [--rounds 3]
//
// The cluster subcommand compares a channel's fan-out with its members
// spread over two chat nodes sharing through NATS (package chatcluster)
// against the same on one node, in one process (see cluster.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// Results is what a run measured, per target.
type Results struct {
	Started  time.Time       `json:"started"`
	Host     string          `json:"host"`
	Client   string          `json:"client"`
	Quick    bool            `json:"quick"`
	Rounds   int             `json:"rounds"`
	Settings map[string]any  `json:"settings"`
	Targets  []*TargetResult `json:"targets"`
}

// TargetResult holds the measures of one server over one transport, in
// one round.
type TargetResult struct {
	Target string `json:"target"`
	// Transport is what the clients connected over: "tcp" or "ws"
	// (WebSocket).
	Transport string         `json:"transport"`
	Round     int            `json:"round"`
	Addr      string         `json:"addr,omitempty"`
	RR        []RRResult     `json:"request_response,omitempty"`
	Fanout    []FanoutResult `json:"fanout,omitempty"`
	Memory    *MemResult     `json:"memory,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
	// LoadAvg is the 1-minute load average of the machine when the round
	// of this target started and ended: other work on the host skews the
	// figures.
	LoadAvg [2]float64 `json:"load_avg"`
}

// loadAvg returns the 1-minute load average, or 0.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

var logOut io.Writer = os.Stderr

func logf(format string, args ...any) { fmt.Fprintf(logOut, format+"\n", args...) }

func main() {
	// The library logs every closed connection at WARN level: only its
	// errors are shown.
	rsrt.RouteLibraryLogs(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "chat-load serve:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "cluster" {
		res, err := runClusterCmd(context.Background(), os.Args[2:], os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chat-load cluster:", err)
			os.Exit(1)
		}
		for _, r := range res {
			if r.Lost > 0 {
				os.Exit(2)
			}
		}
		return
	}
	res, err := run(context.Background(), os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat-load:", err)
		os.Exit(1)
	}
	for _, t := range res.Targets {
		if len(t.Errors) > 0 {
			os.Exit(2)
		}
	}
}

// run parses args, runs the scenarios and prints the table to out.
func run(ctx context.Context, args []string, out io.Writer) (*Results, error) {
	fs := flag.NewFlagSet("chat-load", flag.ContinueOnError)
	var (
		target      = fs.String("target", "both", "servers to start and measure: chat, baseline or both (ignored with --addr)")
		addr        = fs.String("addr", "", "drive the server already running at host:port (TCP) or ws://host:port/path (WebSocket) instead of starting one")
		transport   = fs.String("transport", "tcp", "transports to measure: tcp, ws (WebSocket) or both, each scenario over one then the other (with --addr, the address's form names it)")
		serverCmd   = fs.String("server-cmd", "", "command line that runs the chat server, with {port} for the port to listen on on 127.0.0.1, or {tcp-addr} and {ws-addr} for 127.0.0.1:port on the transport measured and an empty argument on the other (default: this binary's serve subcommand)")
		inProcess   = fs.Bool("in-process", false, "run the servers of the rr and fan-out scenarios in this process (to profile them with --cpuprofile) instead of child processes; memory always uses a child")
		scenarios   = fs.String("scenarios", "rr,fanout,memory", "comma-separated scenarios: rr, fanout, memory")
		quick       = fs.Bool("quick", false, "small counts and short durations (CI)")
		clientKind  = fs.String("client", "typed", "load client: typed (generated chat client) or raw (plain rsocket-go)")
		prefetch    = fs.Int("prefetch", 64, "stream items requested at a time by each messages.incoming subscriber")
		conns       = fs.Int("conns", 4, "connections (users) for the request-response scenario")
		rrMode      = fs.String("rr-mode", "private", "request-response messages: private (to the sender's own user), channel (to a channel whose only member is the sender), or split (private, to a user on a connection of its own: the requests and the draining stream on separate connections)")
		inflight    = fs.String("inflight", "1,64,256", "request-response in-flight levels")
		rrDur       = fs.Duration("rr-duration", 3*time.Second, "duration of each request-response level")
		members     = fs.Int("members", 1000, "fan-out: channel members, each on its own connection with an open stream")
		rate        = fs.Int("rate", 10, "fan-out: fixed send rate in messages per second (0 skips the phase)")
		rateDur     = fs.Duration("rate-duration", 3*time.Second, "fan-out: duration of the fixed-rate phase")
		flatMsgs    = fs.Int("flat-messages", 200, "fan-out: messages sent flat out (0 skips the phase)")
		flatIn      = fs.Int("flat-inflight", 8, "fan-out: sends in flight in the flat-out phase")
		slow        = fs.Int("slow", 0, "fan-out: members that consume slowly (backpressure)")
		slowDelay   = fs.Duration("slow-delay", time.Millisecond, "fan-out: processing time per message of a slow member")
		sessions    = fs.Int("sessions", 10000, "memory: logged-in sessions with open streams")
		stallTO     = fs.Duration("stall-timeout", 3*time.Second, "a member with pending messages and no receipt for this long is stalled")
		dialers     = fs.Int("dialers", 32, "concurrent dials when opening many connections")
		memProf     = fs.String("server-memprofile", "", "memory scenario: write a heap profile of each server with the sessions open to PREFIX-<target>.pprof, PREFIX-<transport>-<target>.pprof with --transport both (not with --server-cmd)")
		rounds      = fs.Int("rounds", 1, "run every target this many times, alternating, and report medians")
		timeout     = fs.Duration("timeout", 15*time.Minute, "bound on the whole run")
		jsonFile    = fs.String("json", "", "write the results as JSON to this file")
		svgFile     = fs.String("svg", "", "write a chat-vs-baseline bar chart to this SVG file")
		cpuProf     = fs.String("cpuprofile", "", "write a CPU profile of this process (the load client, and the servers with --in-process)")
		mutexProf   = fs.String("mutexprofile", "", "write a mutex contention profile of this process (the load client, and the servers with --in-process)")
		serverProf  = fs.String("server-cpuprofile", "", "write a CPU profile of each child server of the rr and fan-out scenarios to PREFIX-<target>.pprof, PREFIX-<transport>-<target>.pprof with --transport both (not with --server-cmd)")
		serverTrace = fs.String("server-trace", "", "write a runtime execution trace of each child server of the rr and fan-out scenarios to PREFIX-<target>.trace, PREFIX-<transport>-<target>.trace with --transport both (not with --server-cmd; read it with go tool trace, e.g. -pprof=sched for where goroutines waited to run)")
	)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, p any, v any) {
			if set[name] {
				return
			}
			switch p := p.(type) {
			case *int:
				*p = v.(int)
			case *time.Duration:
				*p = v.(time.Duration)
			}
		}
		def("rr-duration", rrDur, 300*time.Millisecond)
		def("members", members, 50)
		def("rate", rate, 50)
		def("rate-duration", rateDur, 500*time.Millisecond)
		def("flat-messages", flatMsgs, 50)
		def("sessions", sessions, 200)
		def("stall-timeout", stallTO, 2*time.Second)
	}
	cfg := &config{
		client:       dialOpts{kind: *clientKind, prefetch: *prefetch},
		conns:        *conns,
		rrDuration:   *rrDur,
		members:      *members,
		rate:         *rate,
		rateDuration: *rateDur,
		flatMessages: *flatMsgs,
		flatInFlight: *flatIn,
		slow:         *slow,
		slowDelay:    *slowDelay,
		sessions:     *sessions,
		stallTimeout: *stallTO,
		dialers:      *dialers,
		memProfile:   *memProf,
		rrChannel:    *rrMode == "channel",
		rrSplit:      *rrMode == "split",
	}
	if *rrMode != "private" && *rrMode != "channel" && *rrMode != "split" {
		return nil, fmt.Errorf("bad --rr-mode %q", *rrMode)
	}
	for _, s := range strings.Split(*inflight, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad --inflight %q", *inflight)
		}
		cfg.inflight = append(cfg.inflight, n)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "rr", "fanout", "memory":
			want[s] = true
		case "":
		default:
			return nil, fmt.Errorf("unknown scenario %q", s)
		}
	}
	var transports []string
	switch *transport {
	case "both":
		transports = []string{"tcp", "ws"}
	case "tcp", "ws":
		transports = []string{*transport}
	default:
		return nil, fmt.Errorf("bad --transport %q: want tcp, ws or both", *transport)
	}
	var targets []string
	switch {
	case *addr != "":
		targets = []string{"external"}
		// The address names the transport; a --transport that says
		// otherwise is a mistake, not something to ignore.
		tp := "tcp"
		if strings.HasPrefix(*addr, "ws://") || strings.HasPrefix(*addr, "wss://") {
			tp = "ws"
		}
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "transport" })
		if explicit && *transport != tp {
			return nil, fmt.Errorf("--transport %s with --addr %s: the address is a %s one (a ws:// URL for WebSocket, host:port for TCP)", *transport, *addr, tp)
		}
		transports = []string{tp}
		if want["memory"] {
			logf("memory scenario skipped: it needs a server it starts itself (use --server-cmd)")
			delete(want, "memory")
		}
	case *target == "both":
		targets = []string{"chat", "baseline"}
	case *target == "chat" || *target == "baseline":
		targets = []string{*target}
	default:
		return nil, fmt.Errorf("bad --target %q", *target)
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *mutexProf != "" {
		runtime.SetMutexProfileFraction(5)
		defer func() {
			runtime.SetMutexProfileFraction(0)
			f, err := os.Create(*mutexProf)
			if err != nil {
				logf("mutex profile: %v", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("mutex").WriteTo(f, 0); err != nil {
				logf("mutex profile: %v", err)
			}
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ctx, stopSig := signal.NotifyContext(ctx, os.Interrupt)
	defer stopSig()

	host, _ := os.Hostname()
	res := &Results{
		Started: time.Now().UTC(), Host: fmt.Sprintf("%s %s/%s %d CPUs %s", host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Client: *clientKind, Quick: *quick, Rounds: *rounds,
		Settings: map[string]any{
			"transports": transports,
			"conns":      cfg.conns, "rr_mode": *rrMode, "inflight": cfg.inflight, "rr_duration": cfg.rrDuration.String(),
			"members": cfg.members, "rate": cfg.rate, "rate_duration": cfg.rateDuration.String(),
			"flat_messages": cfg.flatMessages, "flat_inflight": cfg.flatInFlight, "prefetch": *prefetch,
			"slow": cfg.slow, "slow_delay": cfg.slowDelay.String(),
			"sessions": cfg.sessions, "stall_timeout": cfg.stallTimeout.String(),
		},
	}
	// Each round measures every transport in turn, and on each the
	// targets one after the other: the two servers compared on a
	// transport run close in time. The order of the targets alternates
	// from round to round, so that neither always runs first on a host
	// whose load drifts. Every run starts its own servers.
	type runSpec struct {
		target, transport string
		round             int
	}
	var runs []runSpec
	for r := 0; r < *rounds; r++ {
		for _, tp := range transports {
			for i := range targets {
				if r%2 == 1 {
					i = len(targets) - 1 - i
				}
				runs = append(runs, runSpec{targets[i], tp, r + 1})
			}
		}
	}
	for _, rs := range runs {
		t := rs.target
		tr := &TargetResult{Target: t, Transport: rs.transport, Round: rs.round}
		res.Targets = append(res.Targets, tr)
		tr.LoadAvg[0] = loadAvg()
		logf("== %s over %s (round %d), load average %.1f", t, rs.transport, tr.Round, tr.LoadAvg[0])
		if want["rr"] || want["fanout"] {
			var srv *server
			var err error
			switch {
			case t == "external":
				srv = &server{target: t, transport: rs.transport, addr: *addr, stop: func() error { return nil }}
			case *inProcess:
				srv, err = startInProcess(ctx, t, rs.transport)
			default:
				cmd := ""
				if t == "chat" {
					cmd = *serverCmd
				}
				prof := serverProfiles{cpu: *serverProf, trace: *serverTrace}
				if len(transports) > 1 {
					prof = prof.per(rs.transport)
				}
				srv, err = spawn(ctx, t, rs.transport, cmd, prof)
			}
			if err != nil {
				tr.Errors = append(tr.Errors, fmt.Sprintf("start: %v", err))
				logf("  start %s: %v", t, err)
			} else {
				tr.Addr = srv.addr
				if want["rr"] {
					r, err := runRR(ctx, srv, cfg)
					tr.RR = r
					if err != nil {
						tr.Errors = append(tr.Errors, fmt.Sprintf("rr: %v", err))
						logf("  rr: %v", err)
					}
				}
				if want["fanout"] {
					r, err := runFanout(ctx, srv, cfg)
					tr.Fanout = r
					if err != nil {
						tr.Errors = append(tr.Errors, fmt.Sprintf("fanout: %v", err))
						logf("  fanout: %v", err)
					}
				}
				_ = srv.stop()
			}
		}
		if want["memory"] {
			cmd := ""
			if t == "chat" {
				cmd = *serverCmd
			}
			srv, err := spawn(ctx, t, rs.transport, cmd, serverProfiles{})
			if err == nil {
				mcfg := *cfg
				if mcfg.memProfile != "" && len(transports) > 1 {
					mcfg.memProfile += "-" + rs.transport
				}
				tr.Memory, err = runMemory(ctx, srv, &mcfg)
				_ = srv.stop()
			}
			if err != nil {
				tr.Errors = append(tr.Errors, fmt.Sprintf("memory: %v", err))
				logf("  memory: %v", err)
			}
		}
		tr.LoadAvg[1] = loadAvg()
	}
	printTable(out, res)
	if *jsonFile != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return res, err
		}
	}
	if *svgFile != "" {
		if err := os.WriteFile(*svgFile, []byte(renderSVG(res)), 0o644); err != nil {
			return res, err
		}
	}
	if ctx.Err() != nil {
		return res, errors.New("run stopped early: " + ctx.Err().Error())
	}
	return res, nil
}
