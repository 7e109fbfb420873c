package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/rsocket-chat/rsgen/cmd/chat-load/internal/loadbase"
	"github.com/rsocket-chat/rsgen/gen/rsrt"
)

// server is a chat or baseline server the scenarios drive, over one
// transport.
type server struct {
	target    string // "chat", "baseline" or "external"
	transport string // "tcp" or "ws"
	// addr is the address clients dial: host:port over TCP,
	// ws://host:port/ over WebSocket.
	addr string
	// child is set when the server runs in a child process.
	child  *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	// ours is true when the child is our own "serve" subcommand, which
	// answers "mem" requests.
	ours bool
	stop func() error
}

// startInProcess starts target in this process on a free 127.0.0.1 port,
// serving transport.
func startInProcess(ctx context.Context, target, transport string) (*server, error) {
	switch target {
	case "baseline":
		s, err := startBaseline(ctx, "127.0.0.1:0", transport)
		if err != nil {
			return nil, err
		}
		return &server{target: target, transport: transport, addr: s.Addr(), stop: s.Close}, nil
	case "chat":
		addr, stop, _, err := startChat(ctx, "127.0.0.1:0", transport)
		if err != nil {
			return nil, err
		}
		return &server{target: target, transport: transport, addr: addr, stop: stop}, nil
	}
	return nil, fmt.Errorf("unknown target %q", target)
}

// startBaseline starts the baseline server on addr, serving transport.
func startBaseline(ctx context.Context, addr, transport string) (*loadbase.Server, error) {
	switch transport {
	case "tcp":
		return loadbase.Start(ctx, addr)
	case "ws":
		return loadbase.StartWebSocket(ctx, addr)
	}
	return nil, fmt.Errorf("unknown transport %q", transport)
}

// dialAddr returns the address a client dials to reach a server serving
// transport on hostport.
func dialAddr(transport, hostport string) string {
	if transport == "ws" {
		return "ws://" + hostport + "/"
	}
	return hostport
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverProfiles are the prefixes of the files a child server writes its
// CPU profile and its execution trace to; empty for none.
type serverProfiles struct{ cpu, trace string }

// per returns the prefixes of the servers of one transport.
func (p serverProfiles) per(transport string) serverProfiles {
	if p.cpu != "" {
		p.cpu += "-" + transport
	}
	if p.trace != "" {
		p.trace += "-" + transport
	}
	return p
}

// spawn starts target in a child process, serving transport, so that its
// RSS is its own. With cmdTemplate empty the child is this binary's hidden
// "serve" subcommand; otherwise cmdTemplate is a command line (split on
// spaces) in which, in each argument, "{port}" is replaced by a free port
// on 127.0.0.1 for transport to listen on, "{tcp-addr}" and "{ws-addr}" by
// 127.0.0.1:port for the transport measured and by nothing for the other
// (an argument that is only the other's placeholder becomes an empty
// argument, which chat-server reads as "disabled").
func spawn(ctx context.Context, target, transport, cmdTemplate string, prof serverProfiles) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hostport := fmt.Sprintf("127.0.0.1:%d", port)
	var cmd *exec.Cmd
	ours := cmdTemplate == ""
	if ours {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{"serve", "-target", target, "-transport", transport, "-listen", hostport}
		if prof.cpu != "" {
			args = append(args, "-cpuprofile", prof.cpu+"-"+target+".pprof")
		}
		if prof.trace != "" {
			args = append(args, "-trace", prof.trace+"-"+target+".trace")
		}
		cmd = exec.Command(self, args...)
	} else {
		addrs := map[string]string{"tcp": "", "ws": ""}
		addrs[transport] = hostport
		fill := strings.NewReplacer("{port}", strconv.Itoa(port), "{tcp-addr}", addrs["tcp"], "{ws-addr}", addrs["ws"])
		args := strings.Fields(cmdTemplate)
		for i, a := range args {
			if a == `""` || a == "''" {
				a = "" // an empty argument
			}
			args[i] = fill.Replace(a)
		}
		if len(args) == 0 {
			return nil, errors.New("empty --server-cmd")
		}
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Stderr = os.Stderr
	}
	if ours {
		cmd.Stderr = os.Stderr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{target: target, transport: transport, addr: dialAddr(transport, hostport), child: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), ours: ours}
	s.stop = func() error {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
	if !ours {
		go func() { _, _ = io.Copy(io.Discard, s.stdout) }()
	}
	// Wait until it accepts connections.
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", hostport, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = s.stop()
			return nil, fmt.Errorf("%s server at %s did not come up: %v", target, s.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// memSample is the memory of a server process.
type memSample struct {
	RSS       int64 // bytes, from /proc/PID/status VmRSS
	HeapInuse int64 // bytes after a forced GC; -1 when unknown
	Gorout    int64 // goroutines; -1 when unknown
}

// sampleMem reads the child's RSS; when the child is our own serve
// subcommand it first asks it to collect garbage and return freed memory to
// the OS, so RSS reflects live memory, and reads its heap too.
func (s *server) sampleMem() (memSample, error) {
	m := memSample{HeapInuse: -1, Gorout: -1}
	if s.child == nil {
		return m, errors.New("server is not a child process")
	}
	if s.ours {
		if _, err := io.WriteString(s.stdin, "mem\n"); err != nil {
			return m, err
		}
		line, err := s.stdout.ReadString('\n')
		if err != nil {
			return m, err
		}
		var heap, g int64
		if _, err := fmt.Sscanf(line, "MEM %d %d", &heap, &g); err != nil {
			return m, fmt.Errorf("bad mem answer %q", line)
		}
		m.HeapInuse, m.Gorout = heap, g
	}
	rss, err := readRSS(s.child.Process.Pid)
	m.RSS = rss
	return m, err
}

// usage is what a server process has used so far.
type usage struct {
	cpu time.Duration // user+system CPU time
	// reads and writes are its read and write system calls (syscr and
	// syscw of /proc/PID/io), -1 where the file cannot be read.
	reads, writes int64
}

// per returns the CPU time in microseconds and the read and write system
// calls, each per unit, that the process used since u0; a count is -1
// when unknown.
func (u usage) per(u0 usage, units int64) (cpuUS, reads, writes float64) {
	if units <= 0 {
		return 0, -1, -1
	}
	n := float64(units)
	cpuUS = float64((u.cpu - u0.cpu).Microseconds()) / n
	reads, writes = -1, -1
	if u.reads >= 0 && u0.reads >= 0 {
		reads = float64(u.reads-u0.reads) / n
	}
	if u.writes >= 0 && u0.writes >= 0 {
		writes = float64(u.writes-u0.writes) / n
	}
	return cpuUS, reads, writes
}

// usage returns what the child process used so far; false when the
// server is not a child process.
func (s *server) usage() (usage, bool) {
	cpu, ok := s.cpuTime()
	if !ok {
		return usage{}, false
	}
	u := usage{cpu: cpu, reads: -1, writes: -1}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", s.child.Process.Pid))
	if err != nil {
		return u, true
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			u.reads = n
		case "syscw":
			u.writes = n
		}
	}
	return u, true
}

// cpuTime returns the user+system CPU time of the child process so far.
func (s *server) cpuTime() (time.Duration, bool) {
	if s.child == nil {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.child.Process.Pid))
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (USER_HZ = 100 on
	// Linux).
	str := string(b)
	i := strings.LastIndexByte(str, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(str[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * 10 * time.Millisecond, true
}

// dropped returns how many messages the server dropped from full session
// queues so far, when it is our own child.
func (s *server) dropped() (uint64, bool) {
	if s.child == nil || !s.ours {
		return 0, false
	}
	if _, err := io.WriteString(s.stdin, "dropped\n"); err != nil {
		return 0, false
	}
	line, err := s.stdout.ReadString('\n')
	if err != nil {
		return 0, false
	}
	var n uint64
	if _, err := fmt.Sscanf(line, "DROPPED %d", &n); err != nil {
		return 0, false
	}
	return n, true
}

// heapProfile makes our own child write a heap profile to path.
func (s *server) heapProfile(path string) error {
	if s.child == nil || !s.ours {
		return errors.New("no heap profile: not our own child server")
	}
	if _, err := io.WriteString(s.stdin, "heapprofile "+path+"\n"); err != nil {
		return err
	}
	line, err := s.stdout.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "HEAP <nil>" {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

// readRSS returns VmRSS of a process in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// serveMain is the hidden "serve" subcommand: it runs one server until its
// stdin closes. On each "mem" line it collects garbage, returns memory to
// the OS and answers "MEM <heap-inuse-bytes> <goroutines>"; on each
// "dropped" line it answers "DROPPED <messages dropped from full queues>";
// on "heapprofile PATH" it writes a heap profile and answers "HEAP <error>".
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	target := fs.String("target", "baseline", "chat or baseline")
	transport := fs.String("transport", "tcp", "tcp or ws (WebSocket on path /)")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	prof := fs.String("cpuprofile", "", "write a CPU profile to this file")
	traceFile := fs.String("trace", "", "write a runtime execution trace to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Connections that close (the readiness probe, the load clients at the
	// end) are logged by the library; the measures do not need that.
	rsrt.RouteLibraryLogs(nil)
	for _, r := range []struct {
		path  string
		start func(io.Writer) error
		stop  func()
	}{
		{*prof, pprof.StartCPUProfile, pprof.StopCPUProfile},
		{*traceFile, trace.Start, trace.Stop},
	} {
		if r.path == "" {
			continue
		}
		f, err := os.Create(r.path)
		if err != nil {
			return err
		}
		if err := r.start(f); err != nil {
			f.Close()
			return err
		}
		defer func() { r.stop(); f.Close() }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stop func() error
	dropped := func() uint64 { return 0 } // the baseline never drops
	switch *target {
	case "baseline":
		s, err := startBaseline(ctx, *listen, *transport)
		if err != nil {
			return err
		}
		stop = s.Close
	case "chat":
		_, st, dr, err := startChat(ctx, *listen, *transport)
		if err != nil {
			return err
		}
		stop, dropped = st, dr
	default:
		return fmt.Errorf("unknown target %q", *target)
	}
	defer stop()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if path, ok := strings.CutPrefix(line, "heapprofile "); ok {
			runtime.GC()
			f, err := os.Create(path)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Printf("HEAP %v\n", err)
			continue
		}
		switch line {
		case "dropped":
			fmt.Printf("DROPPED %d\n", dropped())
		case "mem":
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("MEM %d %d\n", ms.HeapInuse, runtime.NumGoroutine())
		}
	}
	return nil
}
