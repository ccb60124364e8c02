// goderp: real Go Tailscale code (tailscale.com v1.102.3, unmodified) driven from the
// @tsnet/derp interop tests, so that our DERP server is checked against Tailscale's own client.
//
//	goderp relay   -url http://127.0.0.1:PORT/derp [-count N] [-size S] [-node JSON]
//	    Two derphttp.Clients (Tailscale's DERP client) connect to the server; A sends N packets
//	    to B, B echoes each back, every payload is checked; then a DERP ping, then B closes and
//	    A must see PeerGone(Disconnected). Prints one JSON object per line; exits 0 on success.
//	    With -node, the clients are region clients built from that tailcfg.DERPNode JSON (the
//	    path tailscaled uses, including CertName pinning and InsecureForTests).
//	    With TS_DEBUG_DERP_WS_CLIENT=1 (and the ts_debug_websockets build tag) the clients use
//	    the WebSocket transport.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatalf("usage: goderp relay [flags]")
	}
	switch os.Args[1] {
	case "relay":
		relay(os.Args[2:])
	default:
		log.Fatalf("unknown subcommand %q", os.Args[1])
	}
}

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(format string, args ...any) {
	emit(map[string]any{"event": "error", "error": fmt.Sprintf(format, args...)})
	os.Exit(1)
}

func newClient(url, nodeJSON string, priv key.NodePrivate, name string) *derphttp.Client {
	logf := func(format string, args ...any) { log.Printf(name+": "+format, args...) }
	nm := netmon.NewStatic()
	if nodeJSON != "" {
		var node tailcfg.DERPNode
		if err := json.Unmarshal([]byte(nodeJSON), &node); err != nil {
			fail("bad -node: %v", err)
		}
		node.RegionID = 900
		region := &tailcfg.DERPRegion{RegionID: 900, RegionCode: "ts", RegionName: "tsnet", Nodes: []*tailcfg.DERPNode{&node}}
		return derphttp.NewRegionClient(priv, logf, nm, func() *tailcfg.DERPRegion { return region })
	}
	c, err := derphttp.NewClient(priv, url, logf, nm)
	if err != nil {
		fail("NewClient: %v", err)
	}
	return c
}

func relay(args []string) {
	fs := flag.NewFlagSet("relay", flag.ExitOnError)
	url := fs.String("url", "", "DERP URL (http://host:port/derp)")
	nodeJSON := fs.String("node", "", "tailcfg.DERPNode JSON; use a region client instead of -url")
	count := fs.Int("count", 1000, "packets A→B (each echoed back)")
	size := fs.Int("size", 1200, "payload size")
	fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	privA, privB := key.NewNode(), key.NewNode()
	a := newClient(*url, *nodeJSON, privA, "A")
	b := newClient(*url, *nodeJSON, privB, "B")
	defer a.Close()
	if err := a.Connect(ctx); err != nil {
		fail("A connect: %v", err)
	}
	if err := b.Connect(ctx); err != nil {
		fail("B connect: %v", err)
	}
	emit(map[string]any{"event": "connected", "a": privA.Public().String(), "b": privB.Public().String(), "server": a.ServerPublicKey().String()})

	// B: echo every packet back to its source until closed.
	bDone := make(chan error, 1)
	go func() {
		for {
			m, err := b.Recv()
			if err != nil {
				bDone <- err
				return
			}
			if p, ok := m.(derp.ReceivedPacket); ok {
				if err := b.Send(p.Source, bytes.Clone(p.Data)); err != nil {
					bDone <- err
					return
				}
			}
		}
	}()

	// A: receive echoes and PeerGone; the Ping reply is handled inside Recv.
	echoes := make(chan []byte, *count)
	gone := make(chan derp.PeerGoneMessage, 4)
	serverInfo := make(chan derp.ServerInfoMessage, 1)
	go func() {
		for {
			m, err := a.Recv()
			if err != nil {
				return
			}
			switch m := m.(type) {
			case derp.ReceivedPacket:
				if m.Source != privB.Public() {
					fail("echo from unexpected source %v", m.Source)
				}
				echoes <- bytes.Clone(m.Data)
			case derp.PeerGoneMessage:
				gone <- m
			case derp.ServerInfoMessage:
				select {
				case serverInfo <- m:
				default:
				}
			}
		}
	}()

	start := time.Now()
	inflight := 0
	received := 0
	next := 0
	payload := func(i int) []byte {
		p := make([]byte, *size)
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
		if len(p) >= 4 {
			p[0], p[1], p[2], p[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		}
		return p
	}
	for received < *count {
		for inflight < 64 && next < *count {
			if err := a.Send(privB.Public(), payload(next)); err != nil {
				fail("A send %d: %v", next, err)
			}
			next++
			inflight++
		}
		select {
		case got := <-echoes:
			if len(got) < 4 {
				fail("short echo")
			}
			i := int(got[0])<<24 | int(got[1])<<16 | int(got[2])<<8 | int(got[3])
			if !bytes.Equal(got, payload(i)) {
				fail("echo %d corrupted", i)
			}
			received++
			inflight--
		case <-time.After(10 * time.Second):
			// DERP may drop under load: resend what is missing once, then give up.
			fail("timed out after %d of %d echoes", received, *count)
		case <-ctx.Done():
			fail("deadline after %d of %d echoes", received, *count)
		}
	}
	elapsed := time.Since(start)
	emit(map[string]any{"event": "echoed", "count": received, "size": *size, "ms": elapsed.Milliseconds()})

	select {
	case <-serverInfo:
		emit(map[string]any{"event": "serverinfo"})
	case <-time.After(5 * time.Second):
		fail("no ServerInfo frame")
	}

	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := a.Ping(pctx); err != nil {
		fail("ping: %v", err)
	}
	pcancel()
	emit(map[string]any{"event": "pong"})

	b.Close()
	select {
	case err := <-bDone:
		if err != nil && !errors.Is(err, derphttp.ErrClientClosed) {
			log.Printf("B recv ended: %v", err)
		}
	case <-time.After(5 * time.Second):
	}
	select {
	case g := <-gone:
		if g.Peer != privB.Public() {
			fail("PeerGone for %v, want B", g.Peer)
		}
		emit(map[string]any{"event": "peergone", "reason": int(g.Reason)})
	case <-time.After(10 * time.Second):
		fail("no PeerGone after B closed")
	}
	emit(map[string]any{"event": "done"})
}
