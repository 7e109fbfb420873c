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
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rsocket-chat/rsgen/impl/chatcluster"
	"github.com/rsocket-chat/rsgen/impl/chatserver"
	"github.com/rsocket-chat/rsgen/impl/chatsvc"
)

// The cluster scenario (chat-load cluster): one channel, its members
// spread over two chat nodes that share through NATS (an embedded NATS
// server with JetStream, all in this process), one sender on the first
// node; against the same scenario on one node. Rounds alternate the two
// setups; the report gives medians and the cluster/one-node ratios.

// ClusterResult is one round of one setup of the cluster scenario.
type ClusterResult struct {
	Setup    string `json:"setup"` // "one-node" or "cluster"
	Round    int    `json:"round"`
	Members  int    `json:"members"`
	Messages int    `json:"messages"`
	// Delivered counts the deliveries (of Messages x Members); Lost the
	// ones that never arrived.
	Delivered int64 `json:"delivered"`
	Lost      int64 `json:"lost"`
	// PerSec is the deliveries per second, from the first send to the
	// last delivery.
	PerSec float64 `json:"deliveries_per_sec"`
	// CrossPerSec counts only the members on the second node (in the
	// one-node setup: all of them).
	CrossPerSec float64 `json:"cross_node_deliveries_per_sec"`
	// P50, P99: end-to-end latency of the deliveries to the members on
	// the second node (one-node: all members), send to receipt.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

type clusterOpts struct {
	members, messages, inflight, rounds int
	timeout                             time.Duration
	jsonFile                            string
}

func runClusterCmd(ctx context.Context, args []string, out io.Writer) ([]ClusterResult, error) {
	fs := flag.NewFlagSet("chat-load cluster", flag.ContinueOnError)
	var o clusterOpts
	fs.IntVar(&o.members, "members", 200, "channel members, each on its own connection with an open stream, alternating between the two nodes")
	fs.IntVar(&o.messages, "messages", 200, "messages sent flat out by the sender, on the first node")
	fs.IntVar(&o.inflight, "inflight", 8, "sends in flight")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs one node, then the cluster")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	fs.StringVar(&o.jsonFile, "json", "", "write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.members < 1 || o.messages < 1 || o.inflight < 1 || o.rounds < 1 {
		return nil, errors.New("--members, --messages, --inflight and --rounds must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	env, err := startClusterEnv(ctx)
	if err != nil {
		return nil, err
	}
	defer env.stop()
	var results []ClusterResult
	for round := 1; round <= o.rounds; round++ {
		for _, setup := range []string{"one-node", "cluster"} {
			addrs := env.single
			if setup == "cluster" {
				addrs = env.nodes
			}
			r, err := runClusterRound(ctx, addrs, o, fmt.Sprintf("r%d%s", round, setup[:1]))
			if err != nil {
				return results, fmt.Errorf("round %d, %s: %w", round, setup, err)
			}
			r.Setup, r.Round = setup, round
			logf("cluster scenario, round %d, %s: %d/%d delivered, %.0f deliveries/s (%.0f to the second node), p50 %v p99 %v",
				round, setup, r.Delivered, int64(o.members*o.messages), r.PerSec, r.CrossPerSec, r.P50, r.P99)
			results = append(results, r)
		}
	}
	printClusterTable(out, results)
	if o.jsonFile != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.jsonFile, b, 0o644); err != nil {
			return results, err
		}
	}
	return results, nil
}

// clusterEnv is the servers of the scenario: one stand-alone chat server,
// and two chat nodes on an embedded NATS server.
type clusterEnv struct {
	single, nodes []string
	stops         []func()
}

func (e *clusterEnv) stop() {
	for _, f := range slices.Backward(e.stops) {
		f()
	}
}

func startClusterEnv(ctx context.Context) (_ *clusterEnv, err error) {
	e := &clusterEnv{}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	dir, err := os.MkdirTemp("", "chat-load-cluster-")
	if err != nil {
		return nil, err
	}
	e.stops = append(e.stops, func() { os.RemoveAll(dir) })
	start := func(chatCfg chatsvc.Config) (string, error) {
		r, err := chatserver.Start(ctx, chatserver.Config{TCPAddr: "127.0.0.1:0", DataDir: dir, Chat: chatCfg, Logger: log})
		if err != nil {
			return "", err
		}
		e.stops = append(e.stops, func() { _ = r.Stop(context.Background()) })
		return r.TCPAddr(), nil
	}
	addr, err := start(chatsvc.Config{})
	if err != nil {
		return nil, err
	}
	e.single = []string{addr}
	emb, err := chatcluster.StartEmbedded(chatcluster.EmbeddedConfig{Port: -1, StoreDir: dir + "/nats"})
	if err != nil {
		return nil, err
	}
	e.stops = append(e.stops, emb.Shutdown)
	for range 2 {
		node, err := chatcluster.Connect(ctx, chatcluster.Config{URL: emb.ClientURL(), MemoryStorage: true, Logger: log})
		if err != nil {
			return nil, err
		}
		e.stops = append(e.stops, func() { _ = node.Close() })
		addr, err := start(chatsvc.Config{Hub: node, Files: node.Files()})
		if err != nil {
			return nil, err
		}
		e.nodes = append(e.nodes, addr)
	}
	return e, nil
}

// runClusterRound runs the scenario once against addrs: the sender and
// the even members on addrs[0], the odd ones on the last address.
func runClusterRound(ctx context.Context, addrs []string, o clusterOpts, tag string) (ClusterResult, error) {
	res := ClusterResult{Members: o.members, Messages: o.messages}
	channel := "load-" + tag
	var clients []loadClient
	defer func() { closeAll(clients) }()
	open := func(addr, user string) (loadClient, error) {
		c, err := dial(ctx, addr, dialOpts{prefetch: 64})
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		if err := c.Login(ctx, user); err != nil {
			return nil, err
		}
		return c, c.Join(ctx, channel)
	}
	sender, err := open(addrs[0], tag+"-sender")
	if err != nil {
		return res, err
	}
	members := make([]*member, o.members)
	cross := make([]bool, o.members)
	sctx, stopStreams := streamContext(ctx)
	defer stopStreams()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopStreams()
	for i := range members {
		addr := addrs[0]
		if i%2 == 1 || len(addrs) == 1 {
			addr, cross[i] = addrs[len(addrs)-1], true
		}
		c, err := open(addr, fmt.Sprintf("%s-m%d", tag, i))
		if err != nil {
			return res, err
		}
		m := &member{phase: "warm"}
		members[i] = m
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Incoming(sctx, m.onMessage)
		}()
	}
	// Warm up: every stream open and every node's membership settled,
	// shown by one message reaching every member (sent again while one
	// is missing: delivery is at most once).
	deadline := time.Now().Add(30 * time.Second)
	for seq := 0; ; seq++ {
		if err := sender.Send(ctx, "", channel, fmt.Sprintf("warm %d %d", seq, time.Now().UnixNano())); err != nil {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
		if !slices.ContainsFunc(members, func(m *member) bool { return m.recv.Load() == 0 }) {
			break
		}
		if time.Now().After(deadline) {
			return res, errors.New("members not all reached by the warm-up message within 30s")
		}
	}
	for _, m := range members {
		m.mu.Lock()
		m.phase, m.lat = "flat", nil
		m.recv.Store(0)
		m.mu.Unlock()
	}
	start := time.Now()
	sem := make(chan struct{}, o.inflight)
	errc := make(chan error, 1)
	for seq := range o.messages {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if err := sender.Send(ctx, "", channel, fmt.Sprintf("flat %d %d", seq, time.Now().UnixNano())); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	for range o.inflight {
		sem <- struct{}{}
	}
	select {
	case err := <-errc:
		return res, err
	default:
	}
	// Wait for every delivery, or for nothing to arrive for 5s.
	want := int64(o.messages * o.members)
	var last int64
	lastChange := time.Now()
	var end time.Time
	for {
		var got int64
		var lastRecv int64
		for _, m := range members {
			got += m.recv.Load()
			lastRecv = max(lastRecv, m.progress.Load())
		}
		end = time.Unix(0, lastRecv)
		if got == want {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		}
		if time.Since(lastChange) > 5*time.Second || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := end.Sub(start)
	var lat []time.Duration
	var crossGot int64
	for i, m := range members {
		m.mu.Lock()
		res.Delivered += int64(len(m.lat))
		if cross[i] {
			crossGot += int64(len(m.lat))
			lat = append(lat, m.lat...)
		}
		m.mu.Unlock()
	}
	res.Lost = want - res.Delivered
	if elapsed > 0 {
		res.PerSec = float64(res.Delivered) / elapsed.Seconds()
		res.CrossPerSec = float64(crossGot) / elapsed.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50, res.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return res, nil
}

// printClusterTable prints the medians of each setup and their ratios.
func printClusterTable(out io.Writer, results []ClusterResult) {
	med := func(setup string, f func(ClusterResult) float64) float64 {
		var v []float64
		for _, r := range results {
			if r.Setup == setup {
				v = append(v, f(r))
			}
		}
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	rows := []struct {
		name string
		f    func(ClusterResult) float64
		unit string
	}{
		{"deliveries/s, all members", func(r ClusterResult) float64 { return r.PerSec }, ""},
		{"deliveries/s, members on the second node", func(r ClusterResult) float64 { return r.CrossPerSec }, ""},
		{"end-to-end p50 (second node)", func(r ClusterResult) float64 { return float64(r.P50) / 1e6 }, " ms"},
		{"end-to-end p99 (second node)", func(r ClusterResult) float64 { return float64(r.P99) / 1e6 }, " ms"},
		{"deliveries lost", func(r ClusterResult) float64 { return float64(r.Lost) }, ""},
	}
	fmt.Fprintf(out, "\ncluster scenario: one sender, members alternating between two nodes on NATS, vs one node (medians of %d rounds)\n\n", len(results)/2)
	fmt.Fprintf(out, "| measure | one node | cluster | cluster/one node |\n| --- | ---: | ---: | ---: |\n")
	for _, row := range rows {
		one, cl := med("one-node", row.f), med("cluster", row.f)
		ratio := "-"
		if one > 0 {
			ratio = strconv.FormatFloat(cl/one, 'f', 2, 64) + "x"
		}
		fmt.Fprintf(out, "| %s | %s%s | %s%s | %s |\n", row.name, fmtVal(one), row.unit, fmtVal(cl), row.unit, ratio)
	}
}
