// Our TypeScript node joins a real tailnet: headscale v0.29.2 and a real derper on loopback, with a
// real tailscaled (userspace networking) and the Go tsnet peer (tailscale.com v1.102.3).
// (a) we reach the Go peer's echo over DERP, then over a direct UDP path found by disco, on one
//     running connection; (b) tailscaled reaches our listener through its SOCKS5 proxy, and
//     `tailscale ping` (disco, TSMP, ICMP) gets answers, the disco ones finally direct;
// (c) a headscale policy that allows only some ports is enforced by our filter;
// (d) the Go peer restarts (new disco key) and we reach it again, directly; (e) a 50 MB echo that
//     starts on DERP survives the upgrade to direct; (f) two of our nodes reach each other;
// (g) a 50 MB echo entirely over DERP and (h) one entirely over the direct path, with throughput;
// (i) the real tailscaled restarts with its state (new disco key) and the direct path comes back.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import {
  type Derper,
  describeInterop,
  type GoPeer,
  type Headscale,
  printLogsOnFailure,
  startDerper,
  startGoPeer,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import type { TcpSocket } from '@tsnet/netstack';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TAILSCALE_MTU } from '../src/engine/datapath.js';
import { TsnetNode } from '../src/engine/node.js';
import type { PeerPath } from '../src/magicsock/endpoint.js';
import { Server } from '../src/server.js';
import { MemoryStore } from '../src/state/store.js';

const ECHO = 7;
const LISTEN = 8080;
const DENIED = 9090;
/** Bytes each way in the bulk test (TSNET_BULK_MB overrides). */
const BULK_BYTES = Number(process.env.TSNET_BULK_MB ?? '50') * 1024 * 1024;
/** Payload of one TCP segment over IPv4 at Tailscale's MTU: each WireGuard datagram carries at most this. */
const MSS4 = TAILSCALE_MTU - 40;
/**
 * WireGuard datagrams allowed on the unused path during a one-path bulk test. The path counters count
 * WireGuard datagrams only (disco rides beside them uncounted), so this is slack for a stray keepalive;
 * a lapse of trust in the direct path would send every packet over DERP as well, thousands of them.
 */
const OTHER_PATH_SLACK = 16;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `size` bytes of a pattern that repeats only after 4 GiB. */
function bulkData(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  return data;
}

/** MiB/s for `bytes` (each way) in `ms`. */
const mibps = (bytes: number, ms: number) => bytes / 1024 / 1024 / (ms / 1000);

/**
 * UDP datagrams this network namespace dropped for a full socket receive buffer (Linux's
 * `Udp: RcvbufErrors`; -1 elsewhere). Shared with every process here: for the logs, not for asserts.
 */
function udpRcvbufErrors(): number {
  try {
    const [head, vals] = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const i = head?.split(' ').indexOf('RcvbufErrors') ?? -1;
    return i < 0 ? -1 : Number(vals?.split(' ')[i] ?? -1);
  } catch {
    return -1;
  }
}

/** The peer in our netmap that has the Tailscale address `ip`. */
function netmapPeer(n: TsnetNode, ip: string) {
  for (const [, p] of n.netmap?.peerTable.entries() ?? []) {
    if ((p.Addresses ?? []).some((a) => a.addr.toString() === ip)) return p;
  }
  return undefined;
}

/**
 * Echoes `probe` on `sock` `rounds` times, `gapMs` apart, and returns the peer's path counters from
 * before and after: a window of light traffic in which to see which path each side uses.
 */
async function probeWindow(
  n: TsnetNode,
  peerIp: string,
  sock: TcpSocket,
  rounds = 6,
  gapMs = 400,
): Promise<{ before: PeerPath; after: PeerPath }> {
  const probe = Buffer.from(`probe ${'p'.repeat(200)}`);
  const before = n.peerPath(peerIp);
  for (let i = 0; i < rounds; i++) {
    const back = await exchange(sock, probe, probe.length, 10_000);
    if (!back.equals(probe)) throw new Error('probe echo differs');
    await sleep(gapMs);
  }
  const after = n.peerPath(peerIp);
  if (before === undefined || after === undefined) throw new Error(`no path to ${peerIp}`);
  return { before, after };
}

/** Echoes BULK_BYTES through `sock` and reports the path counters around it. */
async function bulkEcho(n: TsnetNode, ip: string, sock: TcpSocket) {
  const size = BULK_BYTES;
  const data = bulkData(size);
  const before = n.peerPath(ip);
  const rcvbuf0 = udpRcvbufErrors();
  const started = Date.now();
  const back = await exchange(sock, data, size, 150_000);
  const ms = Date.now() - started;
  const after = n.peerPath(ip);
  const rcvbufDrops = udpRcvbufErrors() - rcvbuf0;
  sock.destroy();
  if (before === undefined || after === undefined) throw new Error(`no path to ${ip}`);
  return { size, data, back, ms, before, after, rcvbufDrops };
}

/** Writes `data` and reads until `n` bytes came back (bounded). */
function exchange(
  sock: TcpSocket | Socket,
  data: Buffer,
  n = data.length,
  timeoutMs = 15_000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const t = setTimeout(() => {
      sock.off('data', onData);
      reject(new Error(`only ${got} of ${n} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= n) {
        clearTimeout(t);
        sock.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    sock.on('data', onData);
    sock.write(data);
  });
}

describeInterop(
  'tsnet engine: our node with tailscaled and the Go tsnet peer via headscale + derper',
  ['derper', 'headscale', 'tailscaled', 'gopeer'],
  () => {
    let derper: Derper | null = null;
    let hs: Headscale | null = null;
    let ts: Tailscaled | null = null;
    let gp: GoPeer | null = null;
    let node: TsnetNode | null = null;
    const logs: string[] = [];
    let accepted = { allowed: 0, denied: 0 };
    /** MiB/s each way measured by (g) and (h). */
    const throughput: { derp?: number; direct?: number } = {};
    printLogsOnFailure(() => ({
      derper,
      headscale: hs,
      tailscaled: ts,
      gopeer: gp,
      tsnode: { logs: () => logs.slice(-200).join('\n') },
    }));

    beforeAll(async () => {
      derper = await startDerper();
      hs = await startHeadscale({
        derpMap: derper.derpMap(),
        policy: {
          acls: [{ action: 'accept', src: ['*'], dst: [`*:${ECHO}`, `*:${LISTEN}`, '*:80'] }],
        },
      });
      const alice = await hs.createUser('alice');
      const authKey = await hs.createPreAuthKey({ user: alice.id, reusable: true, expiration: '1h' });
      const d = derper;
      const h = hs;
      node = new TsnetNode({
        controlUrl: h.url,
        authKey,
        hostname: 'tsnode',
        listenAddress: '127.0.0.1',
        derpUseHttp: true,
        // Starts DERP only; test (a) turns direct paths on to watch the upgrade.
        disableDirect: true,
        logf: (f, ...a) => {
          logs.push(`${f} ${a.map(String).join(' ')}`);
          if (logs.length > 2000) logs.splice(0, 1000);
        },
      });
      const n = node;
      [ts, gp] = await Promise.all([
        (async () => {
          const t = await startTailscaled({ env: d.clientEnv });
          ts = t;
          await t.up({ loginServer: h.url, authKey, hostname: 'ts1' });
          return t;
        })(),
        startGoPeer({ controlUrl: h.url, authKey, hostname: 'gopeer', echo: ECHO, env: d.clientEnv }),
        n.up(30_000),
      ]);
      accepted = { allowed: 0, denied: 0 };
      n.listen(LISTEN, (s) => {
        accepted.allowed++;
        s.on('data', (d: Buffer) => s.write(d));
        s.on('end', () => s.end());
        s.on('error', () => {});
      });
      n.listen(DENIED, (s) => {
        accepted.denied++;
        s.destroy();
      });
    }, 90_000);

    afterAll(async () => {
      await node?.close();
      await gp?.close();
      await ts?.close();
      await hs?.close();
      await derper?.close();
    });

    it('registers: headscale lists tsnode with both address families, the Go peer and tailscaled see it', async () => {
      if (node === null || hs === null || ts === null || gp === null) throw new Error('fixtures not started');
      const n = node;
      expect(n.addresses.map(String).find((a) => a.startsWith('100.64.'))).toBeDefined();
      expect(n.addresses.map(String).find((a) => a.startsWith('fd7a:115c:a1e0:'))).toBeDefined();
      expect((await hs.nodes()).map((x) => x.givenName).sort()).toEqual(['gopeer', 'ts1', 'tsnode']);
      const t = ts;
      const peer = await waitUntil(
        'tailscaled to see tsnode online',
        async () =>
          Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'tsnode' && p.Online),
        { timeoutMs: 15_000 },
      );
      expect(peer.TailscaleIPs).toEqual(n.addresses.map(String));
      await waitUntil('a home DERP region', () => (n.magicsock.homeRegion !== 0 ? true : undefined), {
        timeoutMs: 10_000,
      });
    });

    it('(a) reaches the Go peer echo over DERP, then directly after disco, on one connection', async () => {
      if (node === null || gp === null) throw new Error('fixtures not started');
      const n = node;
      const g = gp;
      const sock = await n.dial(g.ip4, ECHO, 20_000);
      const first = Buffer.from(`over DERP ${'x'.repeat(2000)}`);
      expect((await exchange(sock, first)).equals(first)).toBe(true);
      const p0 = n.peerPath(g.ip4);
      expect(p0?.txDerp).toBeGreaterThan(0);
      expect(p0?.rxDerp).toBeGreaterThan(0);
      expect(p0?.direct).toBeUndefined();
      expect(p0?.derpRegion).toBe(n.magicsock.homeRegion);
      // The real peer sees the same: its disco pings come back via DERP.
      if (ts !== null) {
        const ip = n.addresses.find((a) => a.is4())?.toString() ?? '';
        const t = ts;
        const viaDerp = await waitUntil(
          'tailscale ping via DERP',
          async () => {
            const p = await t.ping(ip, { count: 2, untilDirect: false, timeoutSec: 3 });
            return p.pongs.length > 0 ? p : undefined;
          },
          { timeoutMs: 15_000 },
        );
        for (const p of viaDerp.pongs) expect(p.via).toBe('DERP(loop)');
        // tailscaled reaches our listener over DERP too, and TSMP pings are answered.
        const payload = `over DERP from tailscaled ${'z'.repeat(2000)}`;
        const echoed = await t.socks5Exchange(ip, LISTEN, payload, {
          expectBytes: payload.length,
          timeoutMs: 15_000,
        });
        expect(echoed.toString()).toBe(payload);
        const tsmp = await t.ping(ip, { type: 'tsmp', count: 1, timeoutSec: 3 });
        expect(tsmp.pongs.length).toBe(1);
        const st = Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'tsnode');
        expect(st?.CurAddr).toBe('');
      }
      // Direct paths on: endpoints go to control, disco finds 127.0.0.1, the connection moves over.
      n.magicsock.setDirectEnabled(true);
      // Traffic on a second connection keeps the session active while disco works.
      const busy = await n.dial(g.ip4, ECHO, 10_000);
      busy.on('data', () => {});
      const keepBusy = setInterval(() => busy.write('.'), 300);
      const direct = await waitUntil(
        'a trusted direct path to the Go peer',
        () => {
          const p = n.peerPath(g.ip4);
          return p?.trusted === true ? p : undefined;
        },
        { timeoutMs: 20_000 },
      ).finally(() => {
        clearInterval(keepBusy);
        busy.destroy();
      });
      expect(direct.direct).toMatch(/^127\.0\.0\.1:\d+$/);
      // The same TCP connection keeps working after the upgrade; 256 KiB goes through it.
      const rxBefore = n.peerPath(g.ip4)?.rxDirect ?? 0;
      const big = Buffer.alloc(256 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
      const back = await exchange(sock, big, big.length, 30_000);
      expect(createHash('sha256').update(back).digest('hex')).toBe(
        createHash('sha256').update(big).digest('hex'),
      );
      expect((n.peerPath(g.ip4)?.rxDirect ?? 0) - rxBefore).toBeGreaterThan(10);
      sock.destroy();
    }, 60_000);

    it('(b) tailscaled reaches our listener through SOCKS5; tailscale ping goes direct, TSMP and ICMP answered', async () => {
      if (node === null || ts === null) throw new Error('fixtures not started');
      const n = node;
      const t = ts;
      const ip = n.addresses.find((a) => a.is4())?.toString() ?? '';
      const payload = `hello tsnode ${'y'.repeat(3000)}`;
      const echoed = await t.socks5Exchange(ip, LISTEN, payload, {
        expectBytes: payload.length,
        timeoutMs: 20_000,
      });
      expect(echoed.toString()).toBe(payload);
      expect(accepted.allowed).toBeGreaterThan(0);
      const ping = await waitUntil(
        'a direct pong from tsnode',
        async () => {
          const p = await t.ping(ip, { count: 5, timeoutSec: 2 });
          return p.pongs.some((x) => !x.derp) ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(ping.pongs[ping.pongs.length - 1]?.via).toBe(`127.0.0.1:${n.magicsock.localPort}`);
      const st = Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'tsnode');
      expect(st?.CurAddr).toBe(`127.0.0.1:${n.magicsock.localPort}`);
      const tsmp = await t.ping(ip, { type: 'tsmp', count: 2, timeoutSec: 3 });
      expect(tsmp.pongs.length).toBeGreaterThan(0);
      expect(n.datapath.tsmp.pings).toBeGreaterThan(0);
      const icmp = await t.ping(ip, { type: 'icmp', count: 2, timeoutSec: 3 });
      expect(icmp.pongs.length).toBeGreaterThan(0);
    }, 60_000);

    it('(c) enforces the policy: a port no rule allows is refused and never reaches the listener; the Go peer rejects ours with TSMP', async () => {
      if (node === null || ts === null) throw new Error('fixtures not started');
      const n = node;
      const t = ts;
      const ip = n.addresses.find((a) => a.is4())?.toString() ?? '';
      const dropsBefore = n.filter?.counters.dropNoRule ?? 0;
      await expect(
        t.socks5Exchange(ip, DENIED, 'nope', { expectBytes: 4, timeoutMs: 8_000 }),
      ).rejects.toThrow();
      expect(accepted.denied).toBe(0);
      expect((n.filter?.counters.dropNoRule ?? 0) - dropsBefore).toBeGreaterThan(0);
      // The other way: the Go peer's filter refuses our SYN to a port no rule allows and answers
      // with a TSMP reject, which fails our dial at once instead of after its timeout.
      if (gp !== null) {
        const started = Date.now();
        const err = await n.dial(gp.ip4, 19, 15_000).then(
          () => null,
          (e: unknown) => e as { code?: string },
        );
        expect(err?.code).toBe('ECONNREFUSED');
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(n.datapath.tsmp.rejectsReceived).toBeGreaterThan(0);
      }
      // The allowed port still works.
      const ok = await t.socks5Exchange(ip, LISTEN, 'still fine', { expectBytes: 10, timeoutMs: 10_000 });
      expect(ok.toString()).toBe('still fine');
    }, 30_000);

    it('(d) survives the Go peer restarting with a new disco key: echo works and the path goes direct again', async () => {
      if (node === null || gp === null || hs === null || derper === null)
        throw new Error('fixtures not started');
      const n = node;
      const dir = gp.dir;
      await gp.close({ keepState: true });
      gp = null;
      gp = await startGoPeer({
        controlUrl: hs.url,
        dir,
        hostname: 'gopeer',
        echo: ECHO,
        env: derper.clientEnv,
      });
      const g = gp;
      const msg = Buffer.from('after restart');
      const back = await waitUntil(
        'echo from the restarted Go peer',
        async () => {
          try {
            const s = await n.dial(g.ip4, ECHO, 5_000);
            const r = await exchange(s, msg, msg.length, 5_000);
            s.destroy();
            return r;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 30_000 },
      );
      expect(back.equals(msg)).toBe(true);
      await waitUntil(
        'a direct path to the restarted peer',
        async () => {
          const s = await n.dial(g.ip4, ECHO, 5_000).catch(() => undefined);
          if (s !== undefined) {
            await exchange(s, msg, msg.length, 3_000).catch(() => undefined);
            s.destroy();
          }
          return n.peerPath(g.ip4)?.trusted === true ? true : undefined;
        },
        { timeoutMs: 30_000 },
      );
    }, 70_000);

    it('(e) a 50 MB echo (each way) that starts on DERP survives the upgrade to direct, SHA-256 equal', async () => {
      if (node === null || gp === null) throw new Error('fixtures not started');
      const n = node;
      const g = gp;
      n.magicsock.setDirectEnabled(false);
      const sock = await n.dial(g.ip4, ECHO, 10_000);
      const size = BULK_BYTES;
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
      const started = Date.now();
      const done = exchange(sock, data, size, 90_000);
      await new Promise((r) => setTimeout(r, 500));
      const derpTx = n.peerPath(g.ip4)?.txDerp ?? 0;
      expect(derpTx).toBeGreaterThan(0);
      n.magicsock.setDirectEnabled(true);
      const back = await done;
      const secs = (Date.now() - started) / 1000;
      logs.push(`bulk: ${size} bytes each way in ${secs.toFixed(1)} s`);
      expect(createHash('sha256').update(back).digest('hex')).toBe(
        createHash('sha256').update(data).digest('hex'),
      );
      expect(n.peerPath(g.ip4)?.direct).toMatch(/^127\.0\.0\.1:\d+$/);
      sock.destroy();
    }, 120_000);

    it('(f) two of our nodes in one process reach each other (the second through the public Server, ephemeral)', async () => {
      if (node === null || hs === null || derper === null) throw new Error('fixtures not started');
      const n1 = node;
      const alice = (await hs.users()).find((u) => u.name === 'alice');
      if (alice === undefined) throw new Error('no user alice');
      const key = await hs.createPreAuthKey({
        user: alice.id,
        reusable: false,
        ephemeral: true,
        expiration: '1h',
      });
      // The second node through the public Server API.
      const srv = new Server({
        hostname: 'tsnode2',
        authKey: key,
        ephemeral: true,
        store: new MemoryStore(),
        controlUrl: hs.url,
        listenAddress: '127.0.0.1',
        derpUseHttp: true,
      });
      try {
        await srv.up(30_000);
        expect(srv.tailscaleIPs().ip4).toMatch(/^100\.64\./);
        const ip1 = n1.addresses.find((a) => a.is4())?.toString() ?? '';
        const s = await waitUntil(
          'tsnode2 to dial tsnode',
          async () => srv.dial('tcp', `${ip1}:${LISTEN}`, 5_000).catch(() => undefined),
          { timeoutMs: 20_000 },
        );
        const msg = Buffer.from('node to node in one process');
        expect((await exchange(s, msg)).equals(msg)).toBe(true);
        s.destroy();
        // And the other way, by name from the netmap.
        const ln = await srv.listen('tcp', `:${LISTEN}`);
        ln.on('connection', (c: TcpSocket) => {
          c.on('data', (d: Buffer) => c.write(d));
          c.on('error', () => {});
        });
        const back = await waitUntil(
          'tsnode to dial tsnode2 by name',
          async () => {
            try {
              return await n1.dial('tsnode2', LISTEN, 5_000);
            } catch {
              return undefined;
            }
          },
          { timeoutMs: 20_000 },
        );
        expect((await exchange(back, msg)).equals(msg)).toBe(true);
        back.destroy();
      } finally {
        await srv.close();
      }
      // Ephemeral: closing logged the node out and headscale removed it.
      const h = hs;
      await waitUntil(
        'headscale to drop the ephemeral tsnode2',
        async () => ((await h.nodes()).some((x) => x.givenName === 'tsnode2') ? undefined : true),
        { timeoutMs: 15_000 },
      );
    }, 60_000);

    it('(g) a 50 MB echo (each way) entirely over DERP: direct paths off, the direct counters stay still, SHA-256 equal', async ({
      annotate,
    }) => {
      if (node === null || gp === null) throw new Error('fixtures not started');
      const n = node;
      const g = gp;
      // (e) left a trusted direct path. Turning direct paths off forgets it at once, so everything we
      // send goes over DERP from now on. The Go peer keeps sending to our UDP address until its trust
      // in the path lapses (6.5 s after our last Pong; we answer no UDP ping now) and its next ping
      // there times out (5 s), when it drops the address and sends over DERP only.
      n.magicsock.setDirectEnabled(false);
      const p0 = n.peerPath(g.ip4);
      expect(p0?.direct).toBeUndefined();
      expect(p0?.trusted).toBe(false);
      const sock = await n.dial(g.ip4, ECHO, 10_000);
      const deadline = Date.now() + 45_000;
      for (;;) {
        const { before, after } = await probeWindow(n, g.ip4, sock);
        expect(after.txDirect).toBe(before.txDirect);
        if (after.rxDirect === before.rxDirect && after.rxDerp > before.rxDerp) break;
        if (Date.now() > deadline) throw new Error('the Go peer still sends to our UDP address after 45 s');
      }
      const { size, data, back, ms, before, after, rcvbufDrops } = await bulkEcho(n, g.ip4, sock);
      throughput.derp = mibps(size, ms);
      const line =
        `bulk over DERP only: ${size} bytes each way in ${(ms / 1000).toFixed(1)} s = ` +
        `${throughput.derp.toFixed(2)} MiB/s each way; WireGuard datagrams via DERP tx ` +
        `${after.txDerp - before.txDerp} rx ${after.rxDerp - before.rxDerp}, direct tx ` +
        `${after.txDirect - before.txDirect} rx ${after.rxDirect - before.rxDirect}; ` +
        `UDP receive-buffer drops here ${rcvbufDrops}`;
      logs.push(line);
      await annotate(line);
      expect(sha256(back)).toBe(sha256(data));
      expect(after.direct).toBeUndefined();
      expect(after.txDirect).toBe(before.txDirect);
      expect(after.rxDirect).toBe(before.rxDirect);
      // Every segment of the 50 MB went over DERP: at least size / MSS datagrams each way.
      expect(after.txDerp - before.txDerp).toBeGreaterThanOrEqual(Math.ceil(size / MSS4));
      expect(after.rxDerp - before.rxDerp).toBeGreaterThanOrEqual(Math.ceil(size / MSS4));
    }, 180_000);

    it('(h) a 50 MB echo (each way) entirely over the direct path: DERP carries no data, SHA-256 equal', async ({
      annotate,
    }) => {
      if (node === null || gp === null) throw new Error('fixtures not started');
      const n = node;
      const g = gp;
      n.magicsock.setDirectEnabled(true);
      const sock = await n.dial(g.ip4, ECHO, 10_000);
      // Both sides on the direct path first: ours trusted, and round trips that move no WireGuard
      // datagram over DERP either way (the Go peer trusts it too).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { before, after } = await probeWindow(n, g.ip4, sock);
        if (
          after.trusted &&
          after.txDerp === before.txDerp &&
          after.rxDerp === before.rxDerp &&
          after.rxDirect > before.rxDirect
        )
          break;
        if (Date.now() > deadline) throw new Error('no direct path used by both sides within 60 s');
      }
      const { size, data, back, ms, before, after, rcvbufDrops } = await bulkEcho(n, g.ip4, sock);
      throughput.direct = mibps(size, ms);
      const line =
        `bulk over the direct path only: ${size} bytes each way in ${(ms / 1000).toFixed(1)} s = ` +
        `${throughput.direct.toFixed(2)} MiB/s each way; WireGuard datagrams direct tx ` +
        `${after.txDirect - before.txDirect} rx ${after.rxDirect - before.rxDirect}, via DERP tx ` +
        `${after.txDerp - before.txDerp} rx ${after.rxDerp - before.rxDerp}; ` +
        `UDP receive-buffer drops here ${rcvbufDrops}`;
      logs.push(line);
      await annotate(line);
      const summary = `throughput each way (${size} bytes): DERP only ${throughput.derp?.toFixed(2) ?? '-'} MiB/s, direct only ${throughput.direct.toFixed(2)} MiB/s`;
      logs.push(summary);
      await annotate(summary);
      expect(sha256(back)).toBe(sha256(data));
      expect(after.trusted).toBe(true);
      expect(after.direct).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(after.txDirect - before.txDirect).toBeGreaterThanOrEqual(Math.ceil(size / MSS4));
      expect(after.rxDirect - before.rxDirect).toBeGreaterThanOrEqual(Math.ceil(size / MSS4));
      expect(after.txDerp - before.txDerp).toBeLessThanOrEqual(OTHER_PATH_SLACK);
      expect(after.rxDerp - before.rxDerp).toBeLessThanOrEqual(OTHER_PATH_SLACK);
    }, 180_000);

    it('(i) the real tailscaled restarts with its state (new disco key): it reaches us again and the path goes direct again', async () => {
      if (node === null || ts === null || derper === null) throw new Error('fixtures not started');
      const n = node;
      const t0 = ts;
      const ip = n.addresses.find((a) => a.is4())?.toString() ?? '';
      const tsIp = await t0.ip4();
      const old = netmapPeer(n, tsIp);
      const oldDisco = old?.DiscoKey?.toString();
      expect(oldDisco).toBeDefined();
      // Same state dir and port, as a restarted tailscaled has; no `up`: the state logs it in.
      const { dir, port } = t0;
      await t0.close({ keepState: true });
      ts = null;
      ts = await startTailscaled({ env: derper.clientEnv, dir, port });
      const t = ts;
      await waitUntil(
        'the restarted tailscaled to be Running',
        async () => (await t.status()).BackendState === 'Running',
        { timeoutMs: 30_000 },
      );
      expect(await t.ip4()).toBe(tsIp);
      // Control tells us its new disco key; the node key stayed (and our magicsock forgot the paths).
      const fresh = await waitUntil(
        'the new disco key of tailscaled in our netmap',
        () => {
          const p = netmapPeer(n, tsIp);
          const disco = p?.DiscoKey?.toString();
          return disco !== undefined && disco !== oldDisco ? p : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(fresh.Key.toString()).toBe(old?.Key.toString());
      const short = fresh.Key.shortString();
      expect(logs.some((l) => l.includes('has a new disco key') && l.includes(short))).toBe(true);
      // (i) tailscaled reaches our listener again (a fresh WireGuard session), and we answer.
      const payload = `after the restart ${'r'.repeat(2000)}`;
      const echoed = await waitUntil(
        'tailscaled to reach our listener again',
        () =>
          t
            .socks5Exchange(ip, LISTEN, payload, { expectBytes: payload.length, timeoutMs: 8_000 })
            .catch(() => undefined),
        { timeoutMs: 45_000 },
      );
      expect(echoed.toString()).toBe(payload);
      // (ii) `tailscale ping` goes direct again...
      const ping = await waitUntil(
        'a direct pong from tsnode after the restart',
        async () => {
          const p = await t.ping(ip, { count: 5, timeoutSec: 2 });
          return p.pongs.some((x) => !x.derp) ? p : undefined;
        },
        { timeoutMs: 45_000 },
      );
      expect(ping.pongs[ping.pongs.length - 1]?.via).toBe(`127.0.0.1:${n.magicsock.localPort}`);
      // ...and so do we: traffic keeps our session active while disco (to the new key) works.
      const path = await waitUntil(
        'our trusted direct path to the restarted tailscaled',
        async () => {
          await t
            .socks5Exchange(ip, LISTEN, 'keep busy', { expectBytes: 9, timeoutMs: 5_000 })
            .catch(() => undefined);
          const p = n.peerPath(tsIp);
          return p?.trusted === true ? p : undefined;
        },
        { timeoutMs: 45_000 },
      );
      expect(path.direct).toBe(`127.0.0.1:${port}`);
      const st = Object.values((await t.status()).Peer ?? {}).find((p) => p.HostName === 'tsnode');
      expect(st?.CurAddr).toBe(`127.0.0.1:${n.magicsock.localPort}`);
    }, 180_000);
  },
);
