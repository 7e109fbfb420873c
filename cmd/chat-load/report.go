package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// quantity is something the scenarios measure, whatever the transport.
type quantity struct {
	name   string
	unit   string
	higher bool // higher is better
	chart  bool
	value  func(*TargetResult) (float64, bool)
}

// measure is one row of the table and one group of the chart: one
// quantity over one transport.
type measure struct {
	quantity
	transport string // "tcp" or "ws": only the results over it count
}

// title names the measure with its transport, for the chart.
func (m measure) title() string { return m.name + " (" + m.transport + ")" }

// nonZero makes a value unknown when it is zero (CPU time of a server that
// is not a child process).
func nonZero(f func(*TargetResult) (float64, bool)) func(*TargetResult) (float64, bool) {
	return func(t *TargetResult) (float64, bool) {
		v, ok := f(t)
		return v, ok && v != 0
	}
}

// known makes a negative value (unknown) unknown.
func known(f func(*TargetResult) (float64, bool)) func(*TargetResult) (float64, bool) {
	return func(t *TargetResult) (float64, bool) {
		v, ok := f(t)
		return v, ok && v >= 0
	}
}

// measures returns every measure of res, each quantity once per transport
// it was measured over, in the order of the transports in the run.
func measures(res *Results) []measure {
	var tps []string
	for _, t := range res.Targets {
		if !slices.Contains(tps, t.Transport) {
			tps = append(tps, t.Transport)
		}
	}
	var ms []measure
	for _, q := range quantities(res) {
		for _, tp := range tps {
			m := measure{q, tp}
			for _, t := range targetNames(res) {
				if _, ok := value(res, t, m); ok {
					ms = append(ms, m)
					break
				}
			}
		}
	}
	return ms
}

// quantities returns the measures of res whatever their transport.
func quantities(res *Results) []quantity {
	var ms []quantity
	levels := map[int]bool{}
	var order []int
	for _, t := range res.Targets {
		for _, r := range t.RR {
			if !levels[r.InFlight] {
				levels[r.InFlight] = true
				order = append(order, r.InFlight)
			}
		}
	}
	rr := func(l int, f func(RRResult) float64) func(*TargetResult) (float64, bool) {
		return func(t *TargetResult) (float64, bool) {
			for _, r := range t.RR {
				if r.InFlight == l {
					return f(r), true
				}
			}
			return 0, false
		}
	}
	for _, l := range order {
		ms = append(ms,
			quantity{fmt.Sprintf("message RR throughput, %d in flight", l), "req/s", true, true, rr(l, func(r RRResult) float64 { return r.RPS })},
			quantity{fmt.Sprintf("message RR p50 latency, %d in flight", l), "us", false, false, rr(l, func(r RRResult) float64 { return r.P50us })},
			quantity{fmt.Sprintf("message RR p99 latency, %d in flight", l), "us", false, false, rr(l, func(r RRResult) float64 { return r.P99us })},
			quantity{fmt.Sprintf("message RR server CPU, %d in flight", l), "us/req", false, false, nonZero(rr(l, func(r RRResult) float64 { return r.ServerCPUus }))},
			quantity{fmt.Sprintf("message RR server write system calls, %d in flight", l), "writes/req", false, false, known(rr(l, func(r RRResult) float64 { return r.ServerWrites }))},
			quantity{fmt.Sprintf("message RR server read system calls, %d in flight", l), "reads/req", false, false, known(rr(l, func(r RRResult) float64 { return r.ServerReads }))},
			quantity{fmt.Sprintf("message RR messages lost, %d in flight", l), "msgs", false, false, rr(l, func(r RRResult) float64 { return float64(r.Lost) })},
			quantity{fmt.Sprintf("message RR messages dropped by the server (full queues), %d in flight", l), "msgs", false, false, known(rr(l, func(r RRResult) float64 { return float64(r.ServerDropped) }))},
		)
	}
	fo := func(mode string, f func(FanoutResult) float64) func(*TargetResult) (float64, bool) {
		return func(t *TargetResult) (float64, bool) {
			for _, r := range t.Fanout {
				if r.Mode == mode {
					return f(r), true
				}
			}
			return 0, false
		}
	}
	for _, mode := range []string{"rate", "flat"} {
		label := "flat out"
		members := 0
		for _, t := range res.Targets {
			for _, r := range t.Fanout {
				if r.Mode == mode {
					members = r.Members
					if mode == "rate" {
						label = fmt.Sprintf("%d msg/s", r.SendRate)
					}
				}
			}
		}
		if members == 0 {
			continue
		}
		p := fmt.Sprintf("fan-out to %d, %s", members, label)
		ms = append(ms,
			quantity{p + ": deliveries", "deliveries/s", true, true, fo(mode, func(r FanoutResult) float64 { return r.DeliveriesPerSec })},
			quantity{p + ": p50 end-to-end", "ms", false, false, fo(mode, func(r FanoutResult) float64 { return r.P50ms })},
			quantity{p + ": p99 end-to-end", "ms", false, true, fo(mode, func(r FanoutResult) float64 { return r.P99ms })},
			quantity{p + ": server CPU", "us/delivery", false, mode == "flat", nonZero(fo(mode, func(r FanoutResult) float64 { return r.ServerCPUus }))},
			quantity{p + ": server write system calls", "writes/delivery", false, false, known(fo(mode, func(r FanoutResult) float64 { return r.ServerWrites }))},
			quantity{p + ": delivered/expected", "%", true, false, fo(mode, func(r FanoutResult) float64 {
				if r.Expected == 0 {
					return 0
				}
				return 100 * float64(r.Delivered) / float64(r.Expected)
			})},
			quantity{p + ": dropped by the server (full queues)", "count", false, false, known(fo(mode, func(r FanoutResult) float64 { return float64(r.ServerDropped) }))},
			quantity{p + ": stalled streams (never recovered)", "count", false, false, fo(mode, func(r FanoutResult) float64 { return float64(r.StalledMembers) })},
			quantity{p + ": stall episodes (no receipt for the stall timeout while pending)", "count", false, false, fo(mode, func(r FanoutResult) float64 { return float64(r.StallEvents) })},
		)
	}
	mem := func(f func(*MemResult) float64) func(*TargetResult) (float64, bool) {
		return func(t *TargetResult) (float64, bool) {
			if t.Memory == nil {
				return 0, false
			}
			return f(t.Memory), true
		}
	}
	sessions := 0
	for _, t := range res.Targets {
		if t.Memory != nil {
			sessions = t.Memory.Sessions
		}
	}
	if sessions > 0 {
		p := fmt.Sprintf("server memory, %d sessions with open streams", sessions)
		ms = append(ms,
			quantity{p + ": RSS per session", "KiB", false, true, mem(func(m *MemResult) float64 { return m.RSSPerSession / 1024 })},
			quantity{p + ": Go heap per session", "KiB", false, false, nonZero(mem(func(m *MemResult) float64 { return m.HeapPerSession / 1024 }))},
		)
	}
	return ms
}

func fmtVal(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// targetNames returns the distinct targets of res, in run order.
func targetNames(res *Results) []string {
	var names []string
	for _, t := range res.Targets {
		if !slices.Contains(names, t.Target) {
			names = append(names, t.Target)
		}
	}
	return names
}

// value returns the median of the measure over the rounds of target on
// the measure's transport.
func value(res *Results, target string, m measure) (float64, bool) {
	var vs []float64
	for _, t := range res.Targets {
		if t.Target == target && t.Transport == m.transport {
			if v, ok := m.value(t); ok {
				vs = append(vs, v)
			}
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// ratio returns chat/baseline for the measure (both over its transport),
// when both are known.
func ratio(res *Results, m measure) (float64, bool) {
	cv, ok1 := value(res, "chat", m)
	bv, ok2 := value(res, "baseline", m)
	if !ok1 || !ok2 || bv == 0 {
		return 0, false
	}
	return cv / bv, true
}

func printTable(out io.Writer, res *Results) {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	names := targetNames(res)
	hdr := "measure\ttransport\tunit\t"
	for _, t := range names {
		hdr += t + "\t"
	}
	if len(names) == 2 {
		hdr += "chat/baseline\t"
	}
	fmt.Fprintln(w, hdr)
	for _, m := range measures(res) {
		line := m.name + "\t" + m.transport + "\t" + m.unit + "\t"
		for _, t := range names {
			if v, ok := value(res, t, m); ok {
				line += fmtVal(v) + "\t"
			} else {
				line += "-\t"
			}
		}
		if len(names) == 2 {
			if r, ok := ratio(res, m); ok {
				line += fmt.Sprintf("%.2fx\t", r)
			} else {
				line += "-\t"
			}
		}
		fmt.Fprintln(w, line)
	}
	w.Flush()
	if res.Rounds > 1 {
		fmt.Fprintf(out, "(median of %d rounds)\n", res.Rounds)
	}
	for _, t := range res.Targets {
		fmt.Fprintf(out, "load average during %s over %s round %d: %.1f -> %.1f (%d CPUs)\n", t.Target, t.Transport, t.Round, t.LoadAvg[0], t.LoadAvg[1], runtime.NumCPU())
	}
	for _, t := range res.Targets {
		for _, e := range t.Errors {
			fmt.Fprintf(out, "ERROR %s over %s (round %d): %s\n", t.Target, t.Transport, t.Round, e)
		}
	}
}

// renderSVG draws, for each charted measure, one bar per target scaled to
// the larger value of the measure, with the values and the ratio.
func renderSVG(res *Results) string {
	var ms []measure
	for _, m := range measures(res) {
		if m.chart {
			ms = append(ms, m)
		}
	}
	colors := map[string]string{"chat": "#2b6cb0", "baseline": "#a0aec0", "external": "#2f855a"}
	const (
		left   = 90  // bars start here; target names to the left
		barW   = 520 // the larger value of a measure
		barH   = 16
		gap    = 4
		head   = 20 // measure title line
		group  = 14 // space after a group
		top    = 62
		width  = left + barW + 150
		legend = 24
	)
	names := targetNames(res)
	n := len(names)
	height := top + len(ms)*(head+n*(barH+gap)+group) + legend
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	title := "chat server (generated code + rsrt) vs hand-written rsocket-go baseline"
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	rounds := ""
	if res.Rounds > 1 {
		rounds = fmt.Sprintf("; median of %d rounds", res.Rounds)
	}
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s; %s client%s; bars scaled to the larger value of each measure</text>`+"\n", html.EscapeString(res.Host), html.EscapeString(res.Client), rounds)
	x := 10
	for _, t := range names {
		fmt.Fprintf(&b, `<rect x="%d" y="45" width="10" height="10" fill="%s"/><text x="%d" y="54">%s</text>`+"\n", x, colors[t], x+14, html.EscapeString(t))
		x += 90
	}
	y := top
	for _, m := range ms {
		max := 0.0
		vals := make([]float64, n)
		oks := make([]bool, n)
		for i, t := range names {
			vals[i], oks[i] = value(res, t, m)
			if oks[i] && vals[i] > max {
				max = vals[i]
			}
		}
		better := "higher is better"
		if !m.higher {
			better = "lower is better"
		}
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s <tspan font-weight="normal" fill="#777">(%s, %s)</tspan></text>`+"\n", y+13, html.EscapeString(m.title()), html.EscapeString(m.unit), better)
		if r, ok := ratio(res, m); ok {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-weight="bold">chat/baseline %.2fx</text>`+"\n", width-10, y+13, r)
		}
		y += head
		for i, t := range names {
			w := 0.0
			if oks[i] && max > 0 {
				w = vals[i] / max * barW
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+12, html.EscapeString(t))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %s %s</title></rect>`+"\n",
				left, y, w, barH, colors[t], html.EscapeString(t), html.EscapeString(m.title()), fmtVal(vals[i]), html.EscapeString(m.unit))
			label := "n/a"
			if oks[i] {
				label = fmtVal(vals[i]) + " " + m.unit
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+w+4, y+12, html.EscapeString(label))
			y += barH + gap
		}
		y += group
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#777" font-size="10">ratio = chat / baseline</text>`+"\n", height-8)
	b.WriteString("</svg>\n")
	return b.String()
}
