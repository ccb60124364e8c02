// The harness against itself: two real nodes, tailscaled (userspace networking) and the Go tsnet peer,
// join a real headscale and reach each other through a real derper, first over DERP only, then directly
// over UDP on 127.0.0.1, and move data both ways. When a later interop test fails, this one says whether
// the fault is ours or the harness's.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Derper,
  describeInterop,
  freeTcpPort,
  type GoPeer,
  type Headscale,
  printLogsOnFailure,
  startDerper,
  startGoPeer,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '../src/index.js';

const ECHO = 7;
const SOURCE = 19;
const WHOIS = 80;
const SOURCE_BYTES = 1 << 20;

describeInterop(
  'baseline: tailscaled <-> Go tsnet peer via headscale + derper',
  ['derper', 'headscale', 'tailscaled', 'gopeer'],
  () => {
    let derper: Derper | null = null;
    let hs: Headscale | null = null;
    let ts: Tailscaled | null = null;
    let gp: GoPeer | null = null;
    let gpDirect: GoPeer | null = null;
    let hostEcho: Server | null = null;
    let authKey = '';
    printLogsOnFailure(() => ({
      derper,
      headscale: hs,
      tailscaled: ts,
      'gopeer (DERP only)': gp,
      gopeer: gpDirect,
    }));

    beforeAll(async () => {
      derper = await startDerper();
      hs = await startHeadscale({ derpMap: derper.derpMap() });
      const alice = await hs.createUser('alice');
      authKey = await hs.createPreAuthKey({ user: alice.id, reusable: true, expiration: '1h' });
      const d = derper;
      const h = hs;
      // Both nodes come up at once. The Go peer first runs with TS_DEBUG_ALWAYS_USE_DERP=1: it has no UDP
      // socket, so the only path to it is DERP.
      [ts, gp] = await Promise.all([
        (async () => {
          const t = await startTailscaled({ env: d.clientEnv });
          ts = t;
          await t.up({ loginServer: h.url, authKey, hostname: 'ts1' });
          return t;
        })(),
        startGoPeer({
          controlUrl: h.url,
          authKey,
          hostname: 'gopeer',
          alwaysDerp: true,
          echo: ECHO,
          whois: WHOIS,
          env: d.clientEnv,
        }),
      ]);
    }, 60_000);

    afterAll(async () => {
      await gpDirect?.close();
      await gp?.close();
      await ts?.close();
      await hs?.close();
      await derper?.close();
      await new Promise<void>((r) => (hostEcho === null ? r() : hostEcho.close(() => r())));
    });

    it('registers both nodes with headscale, and each sees the other', async () => {
      if (hs === null || ts === null || gp === null) throw new Error('fixtures not started');
      const t = ts;
      const g = gp;
      expect(g.up.backendState).toBe('Running');
      expect(g.ip4).toMatch(/^100\.64\.0\.\d+$/);
      expect(g.ip6).toMatch(/^fd7a:115c:a1e0::/);
      const nodes = await hs.nodes();
      expect(nodes.map((n) => n.givenName).sort()).toEqual(['gopeer', 'ts1']);
      for (const n of nodes) expect(n.user).toBe('alice');

      const peer = await waitUntil(
        'tailscaled to see the Go peer online',
        async () =>
          Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'gopeer' && p.Online),
        { timeoutMs: 15_000 },
      );
      expect(peer.TailscaleIPs).toEqual(g.up.tailscaleIPs);
      expect(peer.DNSName).toBe('gopeer.tailnet.test.');

      const who = await t.whois(g.ip4);
      expect((who.Node as { Name: string }).Name).toBe('gopeer.tailnet.test.');
    });

    it('reaches the Go peer over DERP only: tailscale ping via DERP(loop), WhoIs over HTTP, echo', async () => {
      if (ts === null || gp === null) throw new Error('fixtures not started');
      const t = ts;
      const g = gp;
      // The very first disco ping may race the DERP route; ping until pongs come, every one via DERP.
      const ping = await waitUntil(
        'a pong over DERP',
        async () => {
          const p = await t.ping(g.ip4, { count: 3, untilDirect: false, timeoutSec: 2 });
          return p.pongs.length > 0 ? p : undefined;
        },
        { timeoutMs: 20_000 },
      );
      for (const p of ping.pongs) expect(p.via).toBe('DERP(loop)');

      const res = await t.httpGet(`http://${g.ip4}:${WHOIS}/`);
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as {
        remoteAddr: string;
        whois: { Node: { Name: string }; UserProfile: { LoginName: string } };
      };
      const tsIp = await t.ip4();
      expect(body.remoteAddr.startsWith(`${tsIp}:`)).toBe(true);
      expect(body.whois.Node.Name).toBe('ts1.tailnet.test.');
      expect(body.whois.UserProfile.LoginName).toContain('alice');

      const payload = `echo over DERP ${'x'.repeat(3000)}`;
      const echoed = await t.socks5Exchange(g.ip4, ECHO, payload, { expectBytes: payload.length });
      expect(echoed.toString()).toBe(payload);
      const nc = await t.nc(g.ip4, ECHO, 'tailscale nc', { expectBytes: 12 });
      expect(nc.toString()).toBe('tailscale nc');

      const st = Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'gopeer');
      expect(st?.CurAddr).toBe('');
      expect(st?.Relay).toBe('loop');
    });

    it('goes direct once the Go peer has UDP (same node, restarted): ping via 127.0.0.1, data both ways', async () => {
      if (hs === null || ts === null || gp === null || derper === null)
        throw new Error('fixtures not started');
      const t = ts;
      // A server on this host: tailscaled forwards tailnet TCP to its own address to 127.0.0.1:<port>.
      const hostPort = await freeTcpPort();
      hostEcho = createServer((c) => {
        c.write('host:');
        c.pipe(c);
      });
      const server = hostEcho;
      await new Promise<void>((r) => server.listen(hostPort, '127.0.0.1', r));
      const tsIp = await t.ip4();

      const dir = gp.dir;
      const before = gp.up.self.publicKey;
      await gp.close({ keepState: true });
      gp = null;
      gpDirect = await startGoPeer({
        controlUrl: hs.url,
        dir,
        hostname: 'gopeer',
        echo: ECHO,
        whois: WHOIS,
        source: SOURCE,
        sourceBytes: SOURCE_BYTES,
        env: derper.clientEnv,
        dial: `${tsIp}:${hostPort}`,
        dialData: 'from gopeer',
      });
      const g = gpDirect;
      expect(g.up.self.publicKey).toBe(before); // the same node, from its saved state

      // --until-direct (the default): pongs come via DERP until the direct path is confirmed.
      const ping = await waitUntil(
        'a direct pong',
        async () => {
          const p = await t.ping(g.ip4, { count: 10, timeoutSec: 2 });
          return p.code === 0 && p.pongs.some((x) => !x.derp) ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const last = ping.pongs[ping.pongs.length - 1];
      expect(last?.via).toMatch(/^127\.0\.0\.1:\d+$/);
      const st = Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'gopeer');
      expect(st?.CurAddr).toMatch(/^127\.0\.0\.1:\d+$/);

      const res = await t.httpGet(`http://${g.ip4}:${WHOIS}/`);
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { whois: { Node: { Name: string } } }).whois.Node.Name).toBe(
        'ts1.tailnet.test.',
      );
      const payload = Buffer.alloc(256 * 1024, 'direct ');
      const echoed = await t.socks5Exchange(g.ip4, ECHO, payload, {
        expectBytes: payload.length,
        timeoutMs: 15_000,
      });
      expect(echoed.equals(payload)).toBe(true);
      // 1 MiB from the Go peer's source port (bytes 0, 1, ..., 255, 0, ... in 32 KiB chunks).
      const got = await t.socks5Exchange(g.ip4, SOURCE, '', { timeoutMs: 15_000 });
      expect(got.length).toBe(SOURCE_BYTES);
      expect(got[0]).toBe(0);
      expect(got[SOURCE_BYTES - 1]).toBe(255);

      // The other direction: the Go peer dialed tailscaled, which forwarded to our host server.
      const dial = await g.waitForLine((l) => l.type === 'dial', 20_000);
      expect(dial.error).toBeUndefined();
      expect(dial.reply).toBe('host:from gopeer');

      const nodes = await hs.nodes();
      expect(nodes).toHaveLength(2);
      expect(nodes.every((n) => n.online)).toBe(true);
    }, 60_000);
  },
);
