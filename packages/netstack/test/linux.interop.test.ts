/**
 * Interop against the Linux kernel's TCP: our `Stack` on our WireGuard `Device` (node:dgram on
 * 127.0.0.1), and Debian's wireguard-go with its TUN in a fresh network namespace, so everything
 * answering on the other side is the kernel's TCP/IP stack (fixture: @tsnet/interop
 * `startWgNetnsPeer`). MTU 1280 on both sides. The kernel's end of each transfer is a small python3
 * program in the namespace (test/linux-peer.ts).
 *
 * - ping both ways, IPv4 and IPv6 (our `stack.ping`; the kernel's ping in the namespace);
 * - our client → a Linux server, and a Linux client → our listener: TRANSFER_MB MiB each way on the
 *   same connection at once (both ends send, half-close, read to EOF), equal SHA-256 at both ends;
 *   IPv6 too;
 * - `ss -tino` in the namespace during each transfer: SACK, timestamps and window scaling
 *   negotiated with us (and the window-scale shifts agree with ours), PMTU 1280;
 * - `tc qdisc ... netem delay 20ms loss 1% reorder 5%` on the kernel's interface — skipped, naming
 *   the reason, where the kernel has no netem (this machine's has none: CONFIG_NET_SCH_NETEM unset)
 *   — and the same impairment emulated in our process on the kernel's egress, which always runs.
 *
 * Sizes: the issue names 100 MB each way; that run is `bench/linux.bench.ts` (100 MiB one way per
 * connection, recorded in docs/benchmarks.md). Here both ends send at once and share this machine's
 * 2 loaded cores with the tunnel: 24 MiB each way took 4–7 s per connection at load 4–6, 64 MiB
 * 13–16 s at load 5 (the whole file 53 s), and the same machine runs at load 8–9 much of the
 * time, which about doubles that. So TRANSFER_MB = 48 MiB each way per connection (4 × 48 MiB
 * with equal hashes; the file took 34 s at load 5, so under 90 s at load 9), and 4 MiB under
 * impairment, where throughput is set by the loss, not the CPU (LINUX_INTEROP_MB and
 * LINUX_INTEROP_IMPAIRED_MB override both).
 */

import { describeInterop, kernelPing, printLogsOnFailure } from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TcpSocket } from '../src/tcp-socket.js';
import {
  addNetem,
  type EndResult,
  type Impairment,
  kernelEnd,
  type LinuxPeer,
  MB,
  ourEnd,
  type SsInfo,
  ssInfo,
  startLinuxPeer,
} from './linux-peer.js';

const TRANSFER_MB = Number(process.env.LINUX_INTEROP_MB ?? 48);
const IMPAIRED_MB = Number(process.env.LINUX_INTEROP_IMPAIRED_MB ?? 4);
const NETEM = ['delay', '20ms', 'loss', '1%', 'reorder', '5%'];
const IMPAIR: Impairment = { delayMs: 20, loss: 0.01, reorder: 0.05, directions: 'fromKernel', seed: 4 };
const TRANSFER_TIMEOUT_MS = 80_000;

const peers: LinuxPeer[] = [];
let lp: LinuxPeer;
let nextPort = 40100;

interface Outcome {
  ours: EndResult;
  theirs: EndResult;
  ss: SsInfo | null;
  socket: TcpSocket;
}

/** Polls `ss` in the namespace until it lists the connection (bounded), while the transfer runs. */
async function watchSs(p: LinuxPeer, socket: TcpSocket, until: Promise<unknown>): Promise<SsInfo | null> {
  let finished = false;
  until.then(
    () => (finished = true),
    () => (finished = true),
  );
  const t0 = Date.now();
  while (!finished && Date.now() - t0 < 20_000) {
    if (socket.localPort !== undefined && socket.localPort > 0) {
      const addr = socket.localAddress ?? '';
      const info = await ssInfo(p.peer, addr, socket.localPort);
      if (info !== null && info.state === 'ESTAB') return info;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** Our client connects to a python3 server in the namespace; both send `bytes`. */
async function weConnect(p: LinuxPeer, host: string, bytes: number): Promise<Outcome> {
  const port = nextPort++;
  const k = kernelEnd(p.peer, 'listen', host, port, bytes, TRANSFER_TIMEOUT_MS);
  await k.listening;
  const socket = p.stack.connect({ host, port, allowHalfOpen: true });
  const ours = ourEnd(socket, bytes, TRANSFER_TIMEOUT_MS);
  ours.catch(() => {});
  const both = Promise.all([ours, k.result]);
  const ss = await watchSs(p, socket, both);
  const [o, t] = await both;
  return { ours: o, theirs: t, ss, socket };
}

/** A python3 client in the namespace connects to our listener; both send `bytes`. */
async function theyConnect(p: LinuxPeer, host: string, bytes: number): Promise<Outcome> {
  const port = nextPort++;
  const server = p.stack.listen({ port, allowHalfOpen: true });
  try {
    const accepted = new Promise<TcpSocket>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no connection from the kernel within 15 s')), 15_000);
      server.once('connection', (s: TcpSocket) => {
        clearTimeout(t);
        resolve(s);
      });
    });
    const k = kernelEnd(p.peer, 'connect', host, port, bytes, TRANSFER_TIMEOUT_MS);
    const socket = await Promise.race([
      accepted,
      k.result.then(() => Promise.reject(new Error('python3 ended first'))),
    ]);
    const ours = ourEnd(socket, bytes, TRANSFER_TIMEOUT_MS);
    ours.catch(() => {});
    const both = Promise.all([ours, k.result]);
    const ss = await watchSs(p, socket, both);
    const [o, t] = await both;
    return { ours: o, theirs: t, ss, socket };
  } finally {
    server.close();
  }
}

/** Both directions arrived whole: what each end sent is what the other received. */
function expectEqualBothWays(r: Outcome, bytes: number): void {
  expect(r.ours.sent).toBe(bytes);
  expect(r.theirs.sent).toBe(bytes);
  expect(r.theirs.received).toBe(bytes);
  expect(r.ours.received).toBe(bytes);
  expect(r.theirs.receivedSha).toBe(r.ours.sentSha);
  expect(r.ours.receivedSha).toBe(r.theirs.sentSha);
  expect(r.ours.sentSha).not.toBe(r.theirs.sentSha); // two independent random streams
}

/** `ss` shows SACK, timestamps and window scaling, with the shifts we negotiated. */
function expectOptions(r: Outcome, v6: boolean): void {
  expect(r.ss, 'ss -tino listed the connection while it ran').not.toBeNull();
  const ss = r.ss!;
  expect(ss.sack, ss.line).toBe(true);
  expect(ss.ts, ss.line).toBe(true);
  expect(ss.wscale, ss.line).not.toBeNull();
  const ours = r.socket.tcpInfo();
  expect(ours.sack).toBe(true);
  expect(ours.timestamps).toBe(true);
  // ss: wscale:<the shift we announced>,<the kernel's own>; ours: [the kernel's, ours].
  expect(ours.windowScale).toEqual([ss.wscale![1], ss.wscale![0]]);
  expect(ss.pmtu, ss.line).toBe(1280);
  // MSS: 1280 − 40 (IPv4) or 60 (IPv6) − 12 bytes of timestamps option.
  expect(ss.mss, ss.line).toBe(v6 ? 1208 : 1228);
}

function log(what: string, r: Outcome, bytes: number): void {
  const i = r.socket.tcpInfo();
  const s = Math.max(r.ours.seconds, r.theirs.seconds);
  console.log(
    `[linux interop] ${what}: ${bytes / MB} MiB each way in ${s.toFixed(1)} s (${((2 * bytes * 8) / s / 1e6).toFixed(1)} Mbit/s both ways together); ` +
      `sha256 us→them ${r.ours.sentSha.slice(0, 16)}…, them→us ${r.theirs.sentSha.slice(0, 16)}…; ` +
      `ours: retransmits ${i.retransmits}, RTOs ${i.rtos}, recoveries ${i.recoveries}; ss: ${r.ss?.line.split(' ').slice(0, 4).join(' ') ?? '-'}`,
  );
}

describeInterop(
  'interop: @tsnet/netstack ↔ the Linux kernel’s TCP (wireguard-go namespace)',
  ['wireguard'],
  () => {
    printLogsOnFailure(() => Object.fromEntries(peers.map((p, i) => [`our stack + wireguard-go #${i}`, p])));

    beforeAll(async () => {
      lp = await startLinuxPeer({ mtu: 1280 });
      peers.push(lp);
    }, 30_000);

    afterAll(async () => {
      for (const p of peers) await p.close();
    }, 30_000);

    it('the kernel’s interface has MTU 1280', async () => {
      const r = await lp.peer.exec(['ip', '-o', 'link', 'show', 'dev', lp.peer.ifname]);
      expect(r.stdout).toMatch(/ mtu 1280 /);
    });

    it('ping both ways, IPv4 and IPv6', async () => {
      for (const addr of [lp.theirs4, lp.theirs6]) {
        const rtt = await lp.stack.ping(addr, { timeoutMs: 5000 });
        expect(rtt, `our ping ${addr}`).not.toBeNull();
      }
      for (const addr of [lp.ours4, lp.ours6]) {
        const r = await kernelPing(lp.peer, addr);
        expect(r.out, `${r.tool} ${addr} in the namespace`).toMatch(/3 (packets )?received/);
        expect(r.code).toBe(0);
      }
    }, 40_000);

    it(`our client → a Linux server: ${TRANSFER_MB} MiB each way at once, equal SHA-256; ss shows sack, ts, wscale`, async () => {
      const bytes = TRANSFER_MB * MB;
      const r = await weConnect(lp, lp.theirs4, bytes);
      log('our client → Linux server', r, bytes);
      expectEqualBothWays(r, bytes);
      expectOptions(r, false);
    }, 90_000);

    it(`a Linux client → our listener: ${TRANSFER_MB} MiB each way at once, equal SHA-256; ss shows sack, ts, wscale`, async () => {
      const bytes = TRANSFER_MB * MB;
      const r = await theyConnect(lp, lp.ours4, bytes);
      log('Linux client → our listener', r, bytes);
      expectEqualBothWays(r, bytes);
      expectOptions(r, false);
    }, 90_000);

    it('over IPv6 both ways: 4 MiB each way on each connection', async () => {
      const bytes = 4 * MB;
      const a = await weConnect(lp, lp.theirs6, bytes);
      expectEqualBothWays(a, bytes);
      expectOptions(a, true);
      const b = await theyConnect(lp, lp.ours6, bytes);
      expectEqualBothWays(b, bytes);
      expectOptions(b, true);
      log('IPv6 Linux client → our listener', b, bytes);
    }, 90_000);

    it('tc netem delay 20ms loss 1% reorder 5% on the kernel’s interface: transfers still complete', async (ctx) => {
      const p = await startLinuxPeer({ mtu: 1280 });
      peers.push(p);
      const why = await addNetem(p.peer, NETEM);
      if (why !== null) {
        console.warn(`[linux interop] netem test skipped: ${why}`);
        ctx.skip(why);
      }
      const q = await p.peer.exec(['tc', 'qdisc', 'show', 'dev', p.peer.ifname]);
      expect(q.stdout).toMatch(/netem .*delay 20ms.*loss 1%/);
      const bytes = IMPAIRED_MB * MB;
      const a = await weConnect(p, p.theirs4, bytes);
      expectEqualBothWays(a, bytes);
      expectOptions(a, false);
      const b = await theyConnect(p, p.ours4, bytes);
      expectEqualBothWays(b, bytes);
      log('netem: Linux client → our listener', b, bytes);
    }, 90_000);

    it('the same impairment emulated on the kernel’s egress (20 ms, 1% loss, 5% reordering): transfers still complete', async () => {
      const p = await startLinuxPeer({ mtu: 1280, impair: IMPAIR });
      peers.push(p);
      const bytes = IMPAIRED_MB * MB;
      const a = await weConnect(p, p.theirs4, bytes);
      log('impaired: our client → Linux server', a, bytes);
      expectEqualBothWays(a, bytes);
      expectOptions(a, false);
      const b = await theyConnect(p, p.ours4, bytes);
      log('impaired: Linux client → our listener', b, bytes);
      expectEqualBothWays(b, bytes);
      // The impairment really happened: the kernel's packets were dropped and reordered.
      const s = p.impairStats.fromKernel;
      expect(s.dropped).toBeGreaterThan(0);
      expect(s.reordered).toBeGreaterThan(0);
      // Our receiver saw holes and our sender's losses were repaired (the kernel's data was dropped).
      console.log(`[linux interop] impairment, kernel → us: ${JSON.stringify(s)}`);
      await p.close();
    }, 90_000);
  },
);
