// Command goclient is the Go tsnet side of tools/bench: the client half of each measurement, doing
// exactly what the TypeScript runner (tools/bench/src/tsnode.ts) does, over tailscale.com/tsnet
// v1.102.3. The servers it talks to are tools/interop/gopeer (Go) and the TypeScript runner.
//
// Modes:
//
//	goclient -control-url URL -authkey KEY -dir D [-hostname H]              commands on stdin
//	goclient ... -ttfb IP:PORT                                                 time to first byte, then exit
//	goclient ... -multi N                                                      N tsnet.Servers in this process
//
// Commands (one JSON object a line on stdin; one JSON result a line on stdout):
//
//	{"cmd":"bulk","addr":"IP:PORT","seconds":3}          write to a sink for that long, half-close, read its count
//	{"cmd":"rr","addr":"IP:PORT","count":500,"size":1024,"warmup":50}   request/response round trips on an echo
//	{"cmd":"direct","ip":"IP","addr":"IP:PORT","timeoutMs":20000}        exchange on the echo until the path is direct
//	{"cmd":"rss"}                                        this process's resident set
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tailscale.com/envknob"
	"tailscale.com/tsnet"
)

var (
	controlURL = flag.String("control-url", "", "control server URL (required)")
	authKey    = flag.String("authkey", "", "pre-auth key")
	hostname   = flag.String("hostname", "goclient", "tailnet hostname")
	dir        = flag.String("dir", "", "state directory (required)")
	ephemeral  = flag.Bool("ephemeral", false, "register as an ephemeral node")
	ttfb       = flag.String("ttfb", "", "after coming up, dial IP:PORT (an echo), send one byte, time the first byte back, exit")
	multi      = flag.Int("multi", 0, "start this many tsnet.Servers in this process, report RSS, wait for stdin to close")
	upTimeout  = flag.Duration("up-timeout", 60*time.Second, "bound on coming up")
	verbose    = flag.Bool("verbose", false, "tsnet logs on stderr")
)

var processStart = time.Now()

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func newServer(host, d string) *tsnet.Server {
	s := &tsnet.Server{
		Dir:        d,
		Hostname:   host,
		ControlURL: *controlURL,
		AuthKey:    *authKey,
		Ephemeral:  *ephemeral,
		UserLogf:   func(string, ...any) {},
		Logf:       func(string, ...any) {},
	}
	if *verbose {
		s.UserLogf = log.Printf
		s.Logf = log.Printf
	}
	return s
}

func main() {
	flag.Parse()
	envknob.SetNoLogsNoSupport()
	envknob.Setenv("TS_DISABLE_PORTMAPPER", "1")
	if *controlURL == "" || *dir == "" {
		log.Fatal("goclient: -control-url and -dir are required")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	if *multi > 0 {
		runMulti(ctx)
		return
	}

	created := time.Now()
	s := newServer(*hostname, *dir)
	defer s.Close()
	upCtx, upCancel := context.WithTimeout(ctx, *upTimeout)
	_, err := s.Up(upCtx)
	upCancel()
	if err != nil {
		emit(map[string]any{"type": "error", "error": err.Error()})
		os.Exit(1)
	}
	if *ttfb != "" {
		runTTFB(ctx, s, created)
		return
	}
	emit(map[string]any{"type": "up", "pid": os.Getpid(), "upMs": ms(time.Since(created))})

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-lines:
			if !ok {
				return
			}
			var cmd map[string]any
			if err := json.Unmarshal([]byte(l), &cmd); err != nil {
				emit(map[string]any{"type": "error", "error": "bad command: " + err.Error()})
				continue
			}
			emit(handle(ctx, s, cmd))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func num(m map[string]any, k string, def float64) float64 {
	if v, ok := m[k].(float64); ok {
		return v
	}
	return def
}

func handle(ctx context.Context, s *tsnet.Server, cmd map[string]any) map[string]any {
	name := str(cmd, "cmd")
	res, err := func() (map[string]any, error) {
		switch name {
		case "bulk":
			return bulk(ctx, s, str(cmd, "addr"), num(cmd, "seconds", 3))
		case "rr":
			return rr(ctx, s, str(cmd, "addr"), int(num(cmd, "count", 500)), int(num(cmd, "size", 1024)), int(num(cmd, "warmup", 50)))
		case "direct":
			return waitDirect(ctx, s, str(cmd, "ip"), str(cmd, "addr"), time.Duration(num(cmd, "timeoutMs", 20000))*time.Millisecond)
		case "rss":
			return map[string]any{"rss": rssBytes()}, nil
		}
		return nil, fmt.Errorf("unknown command %q", name)
	}()
	if err != nil {
		return map[string]any{"type": name, "error": err.Error()}
	}
	res["type"] = name
	return res
}

func dial(ctx context.Context, s *tsnet.Server, addr string) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return s.Dial(dctx, "tcp", addr)
}

// bulk writes 32 KiB chunks to a sink for `seconds`, half-closes, and reads the count it answers.
// Throughput: the bytes the sink counted over the time from the first write to its answer.
func bulk(ctx context.Context, s *tsnet.Server, addr string, seconds float64) (map[string]any, error) {
	c, err := dial(ctx, s, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	chunk := make([]byte, 32*1024)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	dur := time.Duration(seconds * float64(time.Second))
	c.SetDeadline(time.Now().Add(dur + 30*time.Second))
	start := time.Now()
	var written int64
	for time.Since(start) < dur {
		n, err := c.Write(chunk)
		written += int64(n)
		if err != nil {
			return nil, fmt.Errorf("write after %d bytes: %w", written, err)
		}
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	reply, err := io.ReadAll(c)
	elapsed := time.Since(start)
	if err != nil && len(reply) == 0 {
		return nil, fmt.Errorf("reading the count: %w", err)
	}
	got, perr := strconv.ParseInt(strings.TrimSpace(string(reply)), 10, 64)
	if perr != nil {
		return nil, fmt.Errorf("sink answered %q", string(reply))
	}
	return map[string]any{"bytes": got, "written": written, "secs": elapsed.Seconds()}, nil
}

// rr sends `size` bytes and waits for them back, `count` times after `warmup`; answers percentiles.
func rr(ctx context.Context, s *tsnet.Server, addr string, count, size, warmup int) (map[string]any, error) {
	c, err := dial(ctx, s, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	req := make([]byte, size)
	resp := make([]byte, size)
	lat := make([]float64, 0, count)
	for i := 0; i < warmup+count; i++ {
		t := time.Now()
		if _, err := c.Write(req); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return nil, err
		}
		if i >= warmup {
			lat = append(lat, float64(time.Since(t).Nanoseconds())/1e6)
		}
	}
	sort.Float64s(lat)
	return map[string]any{"n": len(lat), "p50": pct(lat, 0.5), "p99": pct(lat, 0.99)}, nil
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// waitDirect exchanges small messages with the echo at addr until the peer with ip has a direct path.
func waitDirect(ctx context.Context, s *tsnet.Server, ip, addr string, timeout time.Duration) (map[string]any, error) {
	lc, err := s.LocalClient()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	var c net.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	buf := make([]byte, 1)
	for time.Now().Before(deadline) {
		if c == nil {
			c, _ = dial(ctx, s, addr)
		}
		if c != nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte{'.'}); err == nil {
				io.ReadFull(c, buf)
			}
		}
		st, err := lc.Status(ctx)
		if err == nil {
			for _, p := range st.Peer {
				for _, a := range p.TailscaleIPs {
					if a.String() == ip && p.CurAddr != "" {
						return map[string]any{"direct": p.CurAddr}, nil
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("no direct path to %s within %v", ip, timeout)
}

func runTTFB(ctx context.Context, s *tsnet.Server, created time.Time) {
	up := time.Since(created)
	c, err := dial(ctx, s, *ttfb)
	if err != nil {
		emit(map[string]any{"type": "ttfb", "error": err.Error()})
		os.Exit(1)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		emit(map[string]any{"type": "ttfb", "error": err.Error()})
		os.Exit(1)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		emit(map[string]any{"type": "ttfb", "error": err.Error()})
		os.Exit(1)
	}
	emit(map[string]any{
		"type":        "ttfb",
		"sinceMainMs": ms(time.Since(processStart)),
		"sinceNodeMs": ms(time.Since(created)),
		"upMs":        ms(up),
	})
}

// runMulti starts N servers concurrently in this process and reports RSS before and after.
func runMulti(ctx context.Context) {
	n := *multi
	before := rssBytes()
	servers := make([]*tsnet.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		servers[i] = newServer(fmt.Sprintf("%s-%d", *hostname, i), filepath.Join(*dir, strconv.Itoa(i)))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			upCtx, cancel := context.WithTimeout(ctx, *upTimeout)
			defer cancel()
			_, errs[i] = servers[i].Up(upCtx)
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			emit(map[string]any{"type": "multi", "error": e.Error()})
			os.Exit(1)
		}
	}
	upSecs := time.Since(start).Seconds()
	time.Sleep(3 * time.Second)
	after := rssBytes()
	emit(map[string]any{"type": "multi", "n": n, "rssBefore": before, "rssAfter": after, "upSecs": upSecs})
	// Stay up until told to go (stdin closed or a signal), so the orchestrator can read RSS too.
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-ctx.Done():
	case <-done:
	}
	for _, s := range servers {
		s.Close()
	}
}
