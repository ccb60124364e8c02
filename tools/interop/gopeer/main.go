// Command gopeer is the reference Go tsnet node of the interop tests: it joins a control server with an
// auth key and, by flags, serves echo / sink / source / WhoIs over the tailnet, dials a peer, and prints
// one JSON status line on stdout when it is up. Logs go to stderr.
//
//	gopeer -control-url http://127.0.0.1:8080 -authkey KEY -dir /tmp/x -hostname gopeer \
//	       -echo 7 -sink 9 -source 19 -whois 80 -udp-echo 7
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"tailscale.com/envknob"
	"tailscale.com/tsnet"
)

var (
	controlURL  = flag.String("control-url", "", "control server URL (required)")
	authKey     = flag.String("authkey", os.Getenv("TS_AUTHKEY"), "pre-auth key (default $TS_AUTHKEY)")
	hostname    = flag.String("hostname", "gopeer", "tailnet hostname")
	dir         = flag.String("dir", "", "state directory (required)")
	port        = flag.Uint("port", 0, "UDP port for WireGuard/disco (0 = random)")
	ephemeral   = flag.Bool("ephemeral", false, "register as an ephemeral node")
	echoPort    = flag.Int("echo", 0, "tailnet TCP port that echoes what it reads")
	udpEchoPort = flag.Int("udp-echo", 0, "tailnet UDP port that echoes datagrams (on each Tailscale IP)")
	sinkPort    = flag.Int("sink", 0, "tailnet TCP port that reads until EOF, then writes the byte count")
	sourcePort  = flag.Int("source", 0, "tailnet TCP port that writes -source-bytes bytes, then closes")
	sourceBytes = flag.Int64("source-bytes", 1<<20, "bytes the source port writes (0 = until the reader closes)")
	whoisPort   = flag.Int("whois", 0, "tailnet HTTP port answering GET / with the caller's WhoIs as JSON")
	dialAddr    = flag.String("dial", "", "after coming up, dial host:port over the tailnet, send -dial-data, half-close, print the reply")
	dialData    = flag.String("dial-data", "hello from gopeer", "what -dial sends")
	upTimeout   = flag.Duration("up-timeout", 60*time.Second, "how long to wait for the node to come up")
	verbose     = flag.Bool("verbose", true, "tsnet backend logs on stderr")
)

// emit prints one JSON object on its own line on stdout.
func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	// A test peer on loopback: no log uploads, no UPnP/NAT-PMP/PCP probes of the default gateway.
	envknob.SetNoLogsNoSupport()
	envknob.Setenv("TS_DISABLE_PORTMAPPER", "1")
	if *controlURL == "" || *dir == "" {
		log.Fatal("gopeer: -control-url and -dir are required")
	}
	s := &tsnet.Server{
		Dir:        *dir,
		Hostname:   *hostname,
		ControlURL: *controlURL,
		AuthKey:    *authKey,
		Ephemeral:  *ephemeral,
		Port:       uint16(*port),
		UserLogf:   log.Printf,
	}
	if *verbose {
		s.Logf = log.Printf
	}
	defer s.Close()

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	upCtx, upCancel := context.WithTimeout(ctx, *upTimeout)
	st, err := s.Up(upCtx)
	upCancel()
	if err != nil {
		emit(map[string]any{"type": "error", "error": err.Error()})
		log.Fatalf("gopeer: up: %v", err)
	}

	listen := map[string]int{}
	serveTCP := func(name string, p int, handle func(net.Conn)) {
		if p == 0 {
			return
		}
		ln, err := s.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			log.Fatalf("gopeer: listen %s :%d: %v", name, p, err)
		}
		listen[name] = p
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					handle(c)
				}()
			}
		}()
	}
	serveTCP("echo", *echoPort, func(c net.Conn) { io.Copy(c, c) })
	serveTCP("sink", *sinkPort, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d\n", n)
	})
	serveTCP("source", *sourcePort, func(c net.Conn) { writeSource(c, *sourceBytes) })

	if *whoisPort != 0 {
		ln, err := s.Listen("tcp", ":"+strconv.Itoa(*whoisPort))
		if err != nil {
			log.Fatalf("gopeer: listen whois: %v", err)
		}
		listen["whois"] = *whoisPort
		lc, err := s.LocalClient()
		if err != nil {
			log.Fatalf("gopeer: local client: %v", err)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who, err := lc.WhoIs(r.Context(), r.RemoteAddr)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"remoteAddr": r.RemoteAddr, "whois": who})
		}))
	}

	if *udpEchoPort != 0 {
		for _, ip := range st.TailscaleIPs {
			pc, err := s.ListenPacket("udp", netip.AddrPortFrom(ip, uint16(*udpEchoPort)).String())
			if err != nil {
				log.Fatalf("gopeer: listen udp %v: %v", ip, err)
			}
			go func() {
				buf := make([]byte, 65535)
				for {
					n, addr, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo(buf[:n], addr)
				}
			}()
		}
		listen["udpEcho"] = *udpEchoPort
	}

	self := map[string]any{}
	if st.Self != nil {
		self = map[string]any{
			"id":        st.Self.ID,
			"dnsName":   st.Self.DNSName,
			"hostName":  st.Self.HostName,
			"publicKey": st.Self.PublicKey.String(),
		}
	}
	emit(map[string]any{
		"type":         "up",
		"backendState": st.BackendState,
		"tailscaleIPs": st.TailscaleIPs,
		"self":         self,
		"listen":       listen,
		"pid":          os.Getpid(),
	})

	if *dialAddr != "" {
		go dial(ctx, s)
	}
	<-ctx.Done()
	log.Printf("gopeer: shutting down")
}

func writeSource(c net.Conn, n int64) {
	chunk := make([]byte, 32*1024)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for n <= 0 || n > 0 {
		b := chunk
		if n > 0 && int64(len(b)) > n {
			b = b[:n]
		}
		w, err := c.Write(b)
		if err != nil {
			return
		}
		if n > 0 {
			n -= int64(w)
			if n == 0 {
				return
			}
		}
	}
}

func dial(ctx context.Context, s *tsnet.Server) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := s.Dial(ctx, "tcp", *dialAddr)
	if err != nil {
		emit(map[string]any{"type": "dial", "addr": *dialAddr, "error": err.Error()})
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, *dialData); err != nil {
		emit(map[string]any{"type": "dial", "addr": *dialAddr, "error": err.Error()})
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	reply, err := io.ReadAll(c)
	res := map[string]any{"type": "dial", "addr": *dialAddr, "reply": string(reply), "ms": time.Since(start).Milliseconds()}
	if err != nil && !errors.Is(err, io.EOF) {
		res["error"] = err.Error()
	}
	emit(res)
}
