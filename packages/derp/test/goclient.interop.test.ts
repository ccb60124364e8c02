// Our DerpServer against Tailscale's own Go DERP client (derphttp.Client from tailscale.com
// v1.102.3, driven by test/goderp): two Go clients connect to our server, exchange packets that
// are echoed and checked, ping it, and see PeerGone when one leaves. Plain HTTP, TLS through the
// region path tailscaled uses (CertName pin), and WebSocket.
import { describe, expect, it } from 'vitest';
import { DerpServer } from '../src/index.js';
import { goderpMissing, goderpRelay, isCI } from './goderp.js';
import { selfSignedCert } from './helpers.js';

const missing = goderpMissing();
if (missing !== null && !isCI) console.warn(`[interop] skipping Go-client interop: missing ${missing}`);

describe.skipIf(missing !== null && !isCI)('interop: real Go derphttp clients <-> our DerpServer', () => {
  it('has its prerequisites', () => {
    expect(missing).toBeNull();
  });

  function expectSuccess(
    r: { events: Array<Record<string, unknown>>; code: number; stderr: string },
    count: number,
  ) {
    const byType = new Map(r.events.map((e) => [e.event, e]));
    if (r.code !== 0)
      throw new Error(`goderp failed (${r.code}): ${JSON.stringify(r.events)}\n${r.stderr.slice(-3000)}`);
    expect(byType.get('echoed')?.count).toBe(count);
    expect(byType.has('serverinfo')).toBe(true);
    expect(byType.has('pong')).toBe(true);
    expect(byType.get('peergone')?.reason).toBe(0);
    expect(byType.has('done')).toBe(true);
  }

  it('plain HTTP: 5,000 packets echoed and checked, ping, PeerGone', async () => {
    const server = new DerpServer();
    const { url } = await server.listen();
    try {
      const r = await goderpRelay(['-url', url, '-count', '5000', '-size', '1200']);
      expectSuccess(r, 5000);
      expect(server.counters.packetsSent).toBe(10_000);
      expect(server.counters.packetsDropped).toBe(0);
      expect(server.counters.pongsSent).toBe(1);
      expect(server.counters.handshakeFailures).toBe(0);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('TLS via a DERP-map node with a sha256-raw CertName pin (the tailscaled path)', async () => {
    const cert = selfSignedCert();
    const server = new DerpServer();
    const { port } = await server.listen({ tls: { cert: cert.cert, key: cert.key } });
    try {
      const node = {
        Name: '900a',
        HostName: '127.0.0.1',
        IPv4: '127.0.0.1',
        IPv6: 'none',
        DERPPort: port,
        CertName: cert.pin,
      };
      const r = await goderpRelay(['-node', JSON.stringify(node), '-count', '2000', '-size', '1400']);
      expectSuccess(r, 2000);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('WebSocket (the Go client built with ts_debug_websockets, TS_DEBUG_DERP_WS_CLIENT=1)', async () => {
    const server = new DerpServer();
    const { url } = await server.listen();
    try {
      const r = await goderpRelay(['-url', url, '-count', '2000', '-size', '1200'], {
        env: { TS_DEBUG_DERP_WS_CLIENT: '1' },
      });
      expectSuccess(r, 2000);
      expect(server.counters.websocketAccepts).toBe(2);
    } finally {
      await server.close();
    }
  }, 120_000);
});
