package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config holds the bounds of every scenario.
type config struct {
	client       dialOpts
	conns        int
	inflight     []int
	rrDuration   time.Duration
	members      int
	rate         int
	rateDuration time.Duration
	flatMessages int
	flatInFlight int
	slow         int
	slowDelay    time.Duration
	sessions     int
	stallTimeout time.Duration
	dialers      int
	memProfile   string
	rrChannel    bool
	rrSplit      bool          // requests on connections of their own, not the streams'
	finalWait    time.Duration // 0: max(3 x stallTimeout, 10s)
	// afterWarmup, when set, runs once every fan-out stream is open
	// (tests use it to inject faults).
	afterWarmup func()
}

// RRResult is the request-response throughput at one in-flight level.
type RRResult struct {
	InFlight int     `json:"in_flight"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"requests_per_second"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	// ServerCPUus is the server process's CPU time (user+system) per
	// request, when the server runs in a child process.
	ServerCPUus float64 `json:"server_cpu_us_per_request,omitempty"`
	// ServerReads and ServerWrites are the server process's read and
	// write system calls per request (from /proc/PID/io), when it runs in
	// a child process; -1 otherwise. They include the deliveries' writes.
	ServerReads  float64 `json:"server_reads_per_request"`
	ServerWrites float64 `json:"server_writes_per_request"`
	// Delivered counts the messages the senders' own messages.incoming
	// streams received (each message goes to its sender, the only
	// member of its channel or its own user); Lost the requests answered
	// but never delivered, dropped by a session queue although its
	// reader kept reading.
	Delivered int64 `json:"delivered"`
	Lost      int64 `json:"lost"`
	// ServerDropped is how many messages the server reported dropping
	// from full session queues during the level (its overflow policy),
	// which accounts for that many of Lost; always 0 on the baseline,
	// which never drops; -1 when the server cannot tell (one in this
	// process, a --server-cmd or --addr server).
	ServerDropped int64 `json:"server_dropped"`
}

// FanoutResult is one channel fan-out phase.
type FanoutResult struct {
	Mode             string  `json:"mode"` // "rate" or "flat"
	Members          int     `json:"members"`
	SendRate         int     `json:"send_rate,omitempty"` // messages per second, rate mode
	Sent             int64   `json:"sent"`
	SendErrors       int64   `json:"send_errors"`
	Expected         int64   `json:"expected_deliveries"`
	Delivered        int64   `json:"delivered"`
	Seconds          float64 `json:"seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_second"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	MaxMs            float64 `json:"max_ms"`
	// StallEvents counts episodes of a member receiving nothing for the
	// stall timeout while messages were pending for it. They are transient
	// when StalledMembers is 0 (a starved machine shows up here).
	StallEvents int `json:"stall_events"`
	// StalledMembers is the number of members still missing messages when
	// the phase ended, after no delivery at all for max(3 x stall timeout,
	// 10s): streams that stalled for good. Missing is how many messages
	// they miss in all.
	StalledMembers int   `json:"stalled_members"`
	Missing        int64 `json:"missing"`
	// ServerCPUus is the server process's CPU time per delivery, when the
	// server runs in a child process.
	ServerCPUus float64 `json:"server_cpu_us_per_delivery,omitempty"`
	// ServerWrites is the server process's write system calls per
	// delivery, when it runs in a child process; -1 otherwise.
	ServerWrites float64 `json:"server_writes_per_delivery"`
	// ServerDropped is how many messages the server reported dropping
	// from full session queues during the phase (its overflow policy),
	// which explains that many missing deliveries; -1 when the server
	// cannot tell (a --server-cmd or --addr server).
	ServerDropped int64 `json:"server_dropped"`
}

// MemResult is the server memory with many open sessions.
type MemResult struct {
	Method          string  `json:"method"`
	Sessions        int     `json:"sessions"`
	Verified        int     `json:"verified_streams"`
	RSSBefore       int64   `json:"rss_before_bytes"`
	RSSAfter        int64   `json:"rss_after_bytes"`
	RSSPerSession   float64 `json:"rss_per_session_bytes"`
	HeapBefore      int64   `json:"heap_before_bytes,omitempty"`
	HeapAfter       int64   `json:"heap_after_bytes,omitempty"`
	HeapPerSession  float64 `json:"heap_per_session_bytes,omitempty"`
	GoroutinesAfter int64   `json:"server_goroutines_after,omitempty"`
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// dialMany opens n logged-in connections (user name prefix+index) with at
// most cfg.dialers dialing at once.
func dialMany(ctx context.Context, addr string, cfg *config, n int, prefix string, o dialOpts) ([]loadClient, error) {
	clients := make([]loadClient, n)
	errs := make(chan error, 1)
	var next atomic.Int64
	var wg sync.WaitGroup
	d := cfg.dialers
	if d > n {
		d = n
	}
	for w := 0; w < d; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dial(ctx, addr, o)
				if err == nil {
					lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err = c.Login(lctx, prefix+strconv.Itoa(i))
					cancel()
					if err != nil {
						c.Close()
					}
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("connection %d: %w", i, err):
					default:
					}
					next.Store(int64(n))
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		closeAll(clients)
		return nil, err
	default:
	}
	return clients, nil
}

// closeAll closes the connections. Callers cancel their streams first; the
// pause lets the CANCEL frames that items still in flight trigger be
// queued before the connection closes (rsocket-go v0.8.16 closes its send
// queue under a concurrent send, which it recovers from, but which the race
// detector reports).
func closeAll(cs []loadClient) {
	time.Sleep(200 * time.Millisecond)
	var wg sync.WaitGroup
	for _, c := range cs {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}

// runRR measures request-response throughput of "message": each worker
// sends private messages to its own connection's user (or, in channel
// mode, to a channel of that user alone), whose incoming stream is open
// and drained on that connection; in split mode it sends them from a
// connection of its own.
func runRR(ctx context.Context, srv *server, cfg *config) ([]RRResult, error) {
	clients, err := dialMany(ctx, srv.addr, cfg, cfg.conns, "rr", cfg.client)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	// senders[i] sends the requests to clients[i]'s user: the same
	// connection, or in split mode one of its own.
	senders := clients
	if cfg.rrSplit {
		if senders, err = dialMany(ctx, srv.addr, cfg, cfg.conns, "rs", cfg.client); err != nil {
			return nil, err
		}
		defer closeAll(senders)
	}
	if cfg.rrChannel {
		// Each user gets a channel of its own, of which it is the only member.
		for i, c := range clients {
			if err := c.Join(ctx, "rr"+strconv.Itoa(i)); err != nil {
				return nil, fmt.Errorf("join: %w", err)
			}
		}
	}
	sctx, cancel := streamContext(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	// answered counts the requests answered at every level, the warm-up
	// included: each puts one message on its sender's stream.
	var delivered, answered atomic.Int64
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Incoming(sctx, func(string) { delivered.Add(1) }) }()
	}
	run := func(level int, d time.Duration, record bool) RRResult {
		// Every message of the previous level is in, or lost.
		settle(ctx, &delivered, answered.Load())
		delivered0 := delivered.Load()
		lat := make([][]time.Duration, level)
		var reqs, errs atomic.Int64
		var w sync.WaitGroup
		drop0, dropOK := srv.dropped()
		use0, useOK := srv.usage()
		start := time.Now()
		deadline := start.Add(d)
		for i := 0; i < level; i++ {
			w.Add(1)
			go func() {
				defer w.Done()
				c := senders[i%len(senders)]
				user := "rr" + strconv.Itoa(i%len(clients))
				for time.Now().Before(deadline) && ctx.Err() == nil {
					t0 := time.Now()
					rctx, rc := context.WithTimeout(ctx, 10*time.Second)
					var err error
					if cfg.rrChannel {
						err = c.Send(rctx, "", user, "x")
					} else {
						err = c.Send(rctx, user, "", "x")
					}
					rc()
					if err != nil {
						errs.Add(1)
						continue
					}
					reqs.Add(1)
					answered.Add(1)
					if record {
						lat[i] = append(lat[i], time.Since(t0))
					}
				}
			}()
		}
		w.Wait()
		el := time.Since(start).Seconds()
		use1, _ := srv.usage()
		got := settle(ctx, &delivered, answered.Load()) - delivered0
		dropped := int64(-1)
		if drop1, ok := srv.dropped(); ok && dropOK {
			dropped = int64(drop1 - drop0)
		}
		all := slices.Concat(lat...)
		slices.Sort(all)
		cpuPer, readsPer, writesPer := 0.0, -1.0, -1.0
		if useOK {
			cpuPer, readsPer, writesPer = use1.per(use0, reqs.Load())
		}
		return RRResult{
			ServerCPUus: cpuPer, ServerReads: readsPer, ServerWrites: writesPer,
			InFlight: level, Requests: reqs.Load(), Errors: errs.Load(), Seconds: el,
			RPS:       float64(reqs.Load()) / el,
			P50us:     float64(percentile(all, 0.50).Nanoseconds()) / 1e3,
			P99us:     float64(percentile(all, 0.99).Nanoseconds()) / 1e3,
			Delivered: got, Lost: max(0, reqs.Load()-got), ServerDropped: dropped,
		}
	}
	// Warm up connections, pools and the JIT-free but cache-cold paths.
	run(16, cfg.rrDuration/5, false)
	var out []RRResult
	for _, l := range cfg.inflight {
		r := run(l, cfg.rrDuration, true)
		out = append(out, r)
		srvUse := "server CPU n/a"
		if r.ServerReads >= 0 {
			srvUse = fmt.Sprintf("server CPU %.1f us/req  reads %.2f writes %.2f /req", r.ServerCPUus, r.ServerReads, r.ServerWrites)
		}
		logf("  rr in-flight %4d: %9.0f req/s  p50 %7.0f us  p99 %7.0f us  errors %d  %s  delivered %d  lost %d (server dropped %s)", l, r.RPS, r.P50us, r.P99us, r.Errors, srvUse, r.Delivered, r.Lost, countOrNA(r.ServerDropped))
	}
	return out, nil
}

// settle waits until n reaches want (the streams have delivered a
// message for every request answered) or has not moved for settleQuiet
// (what is missing then is lost), and returns it. Waiting for the count
// rather than for a fixed quiet spell keeps a reader that a loaded machine
// starved for a moment from being counted as losing messages.
func settle(ctx context.Context, n *atomic.Int64, want int64) int64 {
	last, moved := n.Load(), time.Now()
	for {
		now := n.Load()
		if now >= want || ctx.Err() != nil {
			return now
		}
		if now != last {
			last, moved = now, time.Now()
		} else if time.Since(moved) > settleQuiet {
			return now
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settleQuiet is how long settle waits for a count that does not move.
const settleQuiet = 2 * time.Second

// member is one fan-out receiver.
type member struct {
	recv     atomic.Int64 // messages of the current phase received
	mu       sync.Mutex
	phase    string
	lat      []time.Duration
	slow     time.Duration
	progress atomic.Int64 // unix nanos of the last receipt
}

func (m *member) onMessage(content string) {
	now := time.Now()
	// content is "<phase> <seq> <unix-nanos>"
	f := strings.Fields(content)
	if len(f) != 3 {
		return
	}
	ts, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return
	}
	m.mu.Lock()
	if f[0] == m.phase {
		m.lat = append(m.lat, now.Sub(time.Unix(0, ts)))
		m.recv.Add(1)
	}
	m.mu.Unlock()
	m.progress.Store(now.UnixNano())
	if m.slow > 0 {
		time.Sleep(m.slow)
	}
}

// runFanout measures channel fan-out: one sender, cfg.members members of
// one channel, each with an open messages.incoming stream.
func runFanout(ctx context.Context, srv *server, cfg *config) ([]FanoutResult, error) {
	k := cfg.members
	clients, err := dialMany(ctx, srv.addr, cfg, k+1, "fan", cfg.client)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	sender, recvs := clients[k], clients[:k]
	const channel = "fanout"
	for _, c := range clients {
		if err := c.Join(ctx, channel); err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
	}
	members := make([]*member, k)
	for i := range members {
		members[i] = &member{}
		if i < cfg.slow {
			members[i].slow = cfg.slowDelay
		}
	}
	sctx, cancel := streamContext(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i, c := range recvs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Incoming(sctx, members[i].onMessage) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = sender.Incoming(sctx, func(string) {}) }()

	// phase runs one send schedule and waits for every delivery.
	phase := func(name string, send func(tag string, sent *atomic.Int64, sendErrs *atomic.Int64)) FanoutResult {
		for _, m := range members {
			m.mu.Lock()
			m.phase, m.lat = name, m.lat[:0]
			m.recv.Store(0)
			m.mu.Unlock()
			m.progress.Store(time.Now().UnixNano())
		}
		var sent, sendErrs atomic.Int64
		drop0, dropOK := srv.dropped()
		use0, useOK := srv.usage()
		start := time.Now()
		stop := make(chan struct{})
		stallEvents := 0
		var monWG sync.WaitGroup
		monWG.Add(1)
		go func() { // stall monitor
			defer monWG.Done()
			stalled := make([]bool, k)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				s := sent.Load()
				now := time.Now().UnixNano()
				for i, m := range members {
					pending := m.recv.Load() < s
					idle := time.Duration(now-m.progress.Load()) > cfg.stallTimeout
					if pending && idle && !stalled[i] {
						stalled[i] = true
						stallEvents++
					} else if !pending || !idle {
						stalled[i] = false
					}
				}
			}
		}()
		send(name, &sent, &sendErrs)
		// Wait until all delivered, or no progress at all for a while: a
		// member still short then is stalled for good.
		finalWait := cfg.finalWait
		if finalWait <= 0 {
			finalWait = max(3*cfg.stallTimeout, 10*time.Second)
		}
		n := sent.Load()
		var last int64
		lastChange := time.Now()
		for {
			var total int64
			for _, m := range members {
				total += m.recv.Load()
			}
			if total >= n*int64(k) {
				break
			}
			if total != last {
				last, lastChange = total, time.Now()
			} else if time.Since(lastChange) > finalWait || ctx.Err() != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		monWG.Wait()
		use1, _ := srv.usage()
		drop1, _ := srv.dropped()
		var end int64
		r := FanoutResult{Mode: name, Members: k, Sent: n, SendErrors: sendErrs.Load(), Expected: n * int64(k), StallEvents: stallEvents}
		var all []time.Duration
		for _, m := range members {
			m.mu.Lock()
			got := m.recv.Load()
			r.Delivered += got
			if got < n {
				r.StalledMembers++
				r.Missing += n - got
			}
			all = append(all, m.lat...)
			m.phase = "" // ignore late arrivals
			m.mu.Unlock()
			if p := m.progress.Load(); p > end {
				end = p
			}
		}
		r.Seconds = time.Unix(0, end).Sub(start).Seconds()
		if r.Seconds > 0 {
			r.DeliveriesPerSec = float64(r.Delivered) / r.Seconds
		}
		r.ServerDropped = -1 // unknown
		if dropOK {
			r.ServerDropped = int64(drop1 - drop0)
		}
		r.ServerWrites = -1 // unknown
		if useOK && r.Delivered > 0 {
			r.ServerCPUus, _, r.ServerWrites = use1.per(use0, r.Delivered)
		}
		slices.Sort(all)
		r.P50ms = float64(percentile(all, 0.50).Microseconds()) / 1e3
		r.P99ms = float64(percentile(all, 0.99).Microseconds()) / 1e3
		r.MaxMs = float64(percentile(all, 1).Microseconds()) / 1e3
		return r
	}
	sendOne := func(tag string, seq int64, sent, sendErrs *atomic.Int64) {
		content := tag + " " + strconv.FormatInt(seq, 10) + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
		rctx, rc := context.WithTimeout(ctx, 30*time.Second)
		defer rc()
		if err := sender.Send(rctx, "", channel, content); err != nil {
			sendErrs.Add(1)
			return
		}
		sent.Add(1)
	}
	// Warm-up: one message that every member must receive, which also
	// proves every stream is open.
	warm := phase("warm", func(tag string, sent, errs *atomic.Int64) { sendOne(tag, 0, sent, errs) })
	if warm.Delivered != int64(k) {
		return nil, fmt.Errorf("warm-up: %d of %d members received the first message (streams not open?)", warm.Delivered, k)
	}
	if cfg.afterWarmup != nil {
		cfg.afterWarmup()
	}
	var out []FanoutResult
	if cfg.rate > 0 && cfg.rateDuration > 0 {
		r := phase("rate", func(tag string, sent, errs *atomic.Int64) {
			interval := time.Second / time.Duration(cfg.rate)
			total := int64(cfg.rateDuration / interval)
			var w sync.WaitGroup
			sem := make(chan struct{}, 64)
			start := time.Now()
			for i := int64(0); i < total && ctx.Err() == nil; i++ {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				sem <- struct{}{}
				w.Add(1)
				go func() { defer w.Done(); sendOne(tag, i, sent, errs); <-sem }()
			}
			w.Wait()
		})
		r.SendRate = cfg.rate
		out = append(out, r)
		logFanout(r)
	}
	if cfg.flatMessages > 0 {
		r := phase("flat", func(tag string, sent, errs *atomic.Int64) {
			var next atomic.Int64
			var w sync.WaitGroup
			for j := 0; j < cfg.flatInFlight; j++ {
				w.Add(1)
				go func() {
					defer w.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(cfg.flatMessages) || ctx.Err() != nil {
							return
						}
						sendOne(tag, i, sent, errs)
					}
				}()
			}
			w.Wait()
		})
		out = append(out, r)
		logFanout(r)
	}
	return out, nil
}

func logFanout(r FanoutResult) {
	srvUse := "server CPU n/a"
	if r.ServerWrites >= 0 {
		srvUse = fmt.Sprintf("server CPU %.1f us/delivery  writes %.2f /delivery", r.ServerCPUus, r.ServerWrites)
	}
	logf("  fanout %-4s x%d: %9.0f deliveries/s  p50 %7.1f ms  p99 %7.1f ms  delivered %d/%d  stalls %d (stalled members %d, server dropped %s)  %s",
		r.Mode, r.Members, r.DeliveriesPerSec, r.P50ms, r.P99ms, r.Delivered, r.Expected, r.StallEvents, r.StalledMembers, countOrNA(r.ServerDropped), srvUse)
}

// countOrNA formats a count the server reports, -1 when it is unknown (a
// server this tool did not start).
func countOrNA(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.FormatInt(n, 10)
}

// runMemory opens cfg.sessions logged-in connections, each with an open
// messages.incoming stream, against a server in its own process and
// reports the growth of its memory per session.
func runMemory(ctx context.Context, srv *server, cfg *config) (*MemResult, error) {
	if srv.child == nil {
		return nil, errors.New("memory needs a server in a child process")
	}
	before, err := srv.sampleMem()
	if err != nil {
		return nil, err
	}
	o := cfg.client
	if o.keepalive == 0 {
		// 10,000 connections at the tutorial's 500 ms would be 20,000
		// keepalive frames a second; memory does not depend on it.
		o.keepalive = 20 * time.Second
	}
	clients, err := dialMany(ctx, srv.addr, cfg, cfg.sessions, "mem", o)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	sctx, cancel := streamContext(ctx)
	var got atomic.Int64
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Incoming(sctx, func(string) { got.Add(1) })
		}()
	}
	// Prove every stream is open: each session sends itself one private
	// message and all of them must arrive.
	var next atomic.Int64
	var w sync.WaitGroup
	for j := 0; j < cfg.dialers; j++ {
		w.Add(1)
		go func() {
			defer w.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(clients) || ctx.Err() != nil {
					return
				}
				rctx, rc := context.WithTimeout(ctx, 30*time.Second)
				_ = clients[i].Send(rctx, "mem"+strconv.Itoa(i), "", "probe 0 0")
				rc()
			}
		}()
	}
	w.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(len(clients)) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	after, err := srv.sampleMem()
	if err != nil {
		return nil, err
	}
	if cfg.memProfile != "" {
		path := cfg.memProfile + "-" + srv.target + ".pprof"
		if err := srv.heapProfile(path); err != nil {
			logf("  heap profile: %v", err)
		} else {
			logf("  heap profile written to %s", path)
		}
	}
	n := float64(cfg.sessions)
	r := &MemResult{
		Method:   "server in a child process: VmRSS from /proc",
		Sessions: cfg.sessions, Verified: int(got.Load()),
		RSSBefore: before.RSS, RSSAfter: after.RSS,
		RSSPerSession: float64(after.RSS-before.RSS) / n,
	}
	if srv.ours {
		r.Method += " after runtime.GC + debug.FreeOSMemory in the server"
		r.HeapBefore, r.HeapAfter = before.HeapInuse, after.HeapInuse
		r.HeapPerSession = float64(after.HeapInuse-before.HeapInuse) / n
		r.GoroutinesAfter = after.Gorout
	}
	logf("  memory %d sessions (%d streams verified): RSS %.1f -> %.1f MiB = %.1f KiB/session; heap %.1f KiB/session; server goroutines %d",
		r.Sessions, r.Verified, mib(r.RSSBefore), mib(r.RSSAfter), r.RSSPerSession/1024, r.HeapPerSession/1024, r.GoroutinesAfter)
	return r, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
