/**
 * @tsnet/netstack against the Linux kernel's TCP, through the wireguard-go namespace fixture (a plain
 * script; needs root, wireguard-go, network namespaces, python3):
 *   npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source packages/netstack/bench/linux.bench.ts
 *
 * Our side: `Stack` on our WireGuard `Device` (node:dgram on 127.0.0.1), MTU 1280. The kernel's side:
 * wireguard-go's TUN in a network namespace, a python3 program sending random bytes or reading and
 * hashing them. Every run moves BENCH_MB (default 100) MB one way and checks the SHA-256 at both
 * ends; the other direction carries nothing but ACKs.
 *
 * Directions: "we send" (our client → a Linux server), "Linux sends" (a Linux client → our
 * listener). Links: the plain tunnel; `tc netem delay 20ms loss 1% reorder 5%` on the kernel's
 * interface when this kernel has netem (skipped, with the reason, when not); the same impairment
 * emulated in our process between the Device and the Stack on the kernel's egress (netem's
 * direction; always available); and emulated on both directions.
 *
 * Env: BENCH_MB (default 100), BENCH_REPEAT (default 1), BENCH_IMPAIRED_MB (default BENCH_MB),
 * BENCH_BOTH_WAYS_MB (default 20), BENCH_ONLY (run only the series whose name contains it).
 */
import { cpus, loadavg } from 'node:os';
import { interopAvailable } from '@tsnet/interop';
import type { TcpSocket } from '../src/tcp-socket.js';
import {
  addNetem,
  EMPTY_SHA,
  type EndResult,
  type Impairment,
  kernelEnd,
  type LinuxPeer,
  MB,
  ourEnd,
  ssInfo,
  startLinuxPeer,
} from '../test/linux-peer.js';

const BENCH_MB = Number(process.env.BENCH_MB ?? 100);
const IMPAIRED_MB = Number(process.env.BENCH_IMPAIRED_MB ?? BENCH_MB);
/** Our sender under reordering in both directions runs at about 1 Mbit/s (see docs/benchmarks.md). */
const BOTH_WAYS_MB = Number(process.env.BENCH_BOTH_WAYS_MB ?? 20);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
/** Runs only the series whose name contains this (e.g. `both ways`). */
const ONLY = process.env.BENCH_ONLY ?? '';
const NETEM = ['delay', '20ms', 'loss', '1%', 'reorder', '5%'];
const IMPAIR: Impairment = { delayMs: 20, loss: 0.01, reorder: 0.05, directions: 'fromKernel', seed: 7 };
const TIMEOUT_MS = 30 * 60_000;

interface Row {
  link: string;
  direction: string;
  mb: number;
  seconds: number;
  mbps: number;
  equal: boolean;
  retransmits: number;
  rtos: number;
  note: string;
}

const rows: Row[] = [];
let nextPort = 41000;

async function oneRun(
  lp: LinuxPeer,
  link: string,
  direction: 'we send' | 'Linux sends',
  bytes: number,
): Promise<Row> {
  const port = nextPort++;
  let ours: Promise<EndResult>;
  let socket: TcpSocket;
  let theirs: Promise<EndResult>;
  if (direction === 'we send') {
    const k = kernelEnd(lp.peer, 'listen', lp.theirs4, port, 0, TIMEOUT_MS);
    await k.listening;
    socket = lp.stack.connect({ host: lp.theirs4, port, allowHalfOpen: true });
    ours = ourEnd(socket, bytes, TIMEOUT_MS);
    theirs = k.result;
  } else {
    const server = lp.stack.listen({ port, allowHalfOpen: true });
    const accepted = new Promise<TcpSocket>((r) => server.once('connection', r));
    const k = kernelEnd(lp.peer, 'connect', lp.ours4, port, bytes, TIMEOUT_MS);
    socket = await accepted;
    server.close();
    ours = ourEnd(socket, 0, TIMEOUT_MS);
    theirs = k.result;
  }
  const t0 = performance.now();
  // One look at the connection from the kernel's side while it runs.
  const ss = new Promise<string>((resolve) =>
    setTimeout(
      () =>
        ssInfo(lp.peer, lp.ours4, socket.localPort)
          .then(
            (i) => resolve(i === null ? '' : i.line.split(' ').slice(0, 4).join(' ')), // "ts sack bbr wscale:5,10"
          )
          .catch(() => resolve('')),
      1000,
    ),
  );
  const [a, b] = await Promise.all([ours, theirs]);
  const seconds = (performance.now() - t0) / 1000;
  const info = socket.tcpInfo();
  const [sender, receiver] = direction === 'we send' ? [a, b] : [b, a];
  const equal =
    sender.sent === bytes &&
    receiver.received === bytes &&
    sender.sentSha === receiver.receivedSha &&
    receiver.sent === 0 &&
    sender.receivedSha === EMPTY_SHA;
  const row: Row = {
    link,
    direction,
    mb: bytes / MB,
    seconds,
    mbps: (bytes * 8) / seconds / 1e6,
    equal,
    retransmits: info.retransmits,
    rtos: info.rtos,
    note: `kernel ss: ${await ss}; ours: ${info.congestion}`,
  };
  console.log(
    `${link.padEnd(34)} ${direction.padEnd(12)} ${row.mb} MiB in ${seconds.toFixed(1)} s = ${row.mbps.toFixed(1)} Mbit/s, SHA-256 ${equal ? 'equal' : 'DIFFERENT'}, our retransmits ${row.retransmits}, RTOs ${row.rtos} (${row.note}); load ${loadavg()[0]!.toFixed(1)}`,
  );
  rows.push(row);
  return row;
}

async function series(
  link: string,
  opts: { impair?: Impairment; netem?: boolean },
  mb: number,
): Promise<void> {
  if (!link.includes(ONLY)) return;
  const lp = await startLinuxPeer(opts.impair ? { impair: opts.impair } : {});
  try {
    if (opts.netem) {
      const why = await addNetem(lp.peer, NETEM);
      if (why !== null) {
        console.log(`${link}: skipped — ${why}`);
        return;
      }
    }
    const rtt = await lp.stack.ping(lp.theirs4, { timeoutMs: 5000 });
    if (rtt === null) throw new Error('no ping reply from the kernel');
    for (let i = 0; i < REPEAT; i++) {
      await oneRun(lp, link, 'we send', mb * MB);
      await oneRun(lp, link, 'Linux sends', mb * MB);
    }
  } finally {
    await lp.close();
  }
}

async function main(): Promise<void> {
  const avail = interopAvailable('wireguard');
  if (!avail.ok) {
    console.log(`skipped: the wireguard-go fixture is not available here (${avail.missing})`);
    return;
  }
  console.log(
    `@tsnet/netstack ↔ Linux TCP through wireguard-go; ${cpus().length} × ${cpus()[0]?.model ?? '?'}; Node ${process.version}; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  await series('tunnel', {}, BENCH_MB);
  await series('netem 20ms 1% reorder 5% (kernel)', { netem: true }, IMPAIRED_MB);
  await series('netem-like, kernel → us (emulated)', { impair: IMPAIR }, IMPAIRED_MB);
  await series(
    'netem-like, both ways (emulated)',
    { impair: { ...IMPAIR, directions: 'both' } },
    BOTH_WAYS_MB,
  );
  console.log('\n| link | direction | MiB | seconds | Mbit/s | SHA-256 | our retransmits | our RTOs |');
  console.log('|---|---|---:|---:|---:|---|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.link} | ${r.direction} | ${r.mb} | ${r.seconds.toFixed(1)} | ${r.mbps.toFixed(1)} | ${r.equal ? 'equal' : 'DIFFERENT'} | ${r.retransmits} | ${r.rtos} |`,
    );
  }
  if (rows.some((r) => !r.equal)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
