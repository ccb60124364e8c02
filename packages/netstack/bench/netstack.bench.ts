/**
 * @tsnet/netstack benchmarks (a plain script):
 *   npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source packages/netstack/bench/netstack.bench.ts
 *
 * 1. Stack-to-stack TCP throughput in one process on the real clock (CPU-bound: both stacks,
 *    both Duplex streams, checksums and copies all run on this one thread).
 * 2. 50 MB transfers with equal SHA-256 at 0/1/5/10% loss (the issue's acceptance runs).
 * 3. Throughput against loss on a simulated 100 Mbit/s, 20 ms RTT link (fake clock, so the
 *    figures are simulated goodput, independent of CPU): NewReno vs CUBIC, with and without SACK.
 *
 * Env: BENCH_MB (default 50) sizes runs 1 and 2; BENCH_TABLE_MB (default 10) sizes the table runs.
 */
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { type Clock, FakeClock, type TimerHandle } from '../src/clock.js';
import { createPipe, type PipeFaults, type PipeOptions } from '../src/link/pipe.js';
import { seededRandom } from '../src/random.js';
import { Stack } from '../src/stack.js';
import type { CongestionAlgorithm } from '../src/tcp/congestion.js';

const MB = 1 << 20;
const BENCH_MB = Number(process.env.BENCH_MB ?? 50);
const TABLE_MB = Number(process.env.BENCH_TABLE_MB ?? 10);

/** The real clock, but zero-delay timers run on setImmediate (no 1 ms clamp). */
const immediateClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms <= 0 ? { imm: setImmediate(fn) } : { t: setTimeout(fn, ms) }),
  clearTimeout: (h: TimerHandle) => {
    const x = h as { imm?: NodeJS.Immediate; t?: NodeJS.Timeout };
    if (x.imm) clearImmediate(x.imm);
    if (x.t) clearTimeout(x.t);
  },
};

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

interface RunOptions {
  bytes: number;
  clock: Clock;
  pipe: PipeOptions;
  cc?: CongestionAlgorithm;
  sack?: boolean;
  rack?: boolean;
  buffer?: number;
  seed?: number;
}

/** One transfer; resolves with the received hash and elapsed wall and clock time. */
function transfer(o: RunOptions, drive?: (done: () => boolean) => Promise<void>) {
  const tcp = {
    congestion: o.cc ?? 'cubic',
    sack: o.sack ?? true,
    rack: o.rack ?? true,
    recvBufferSize: o.buffer ?? 4 * MB,
    sendBufferSize: o.buffer ?? 4 * MB,
  };
  const pipe = createPipe({ clock: o.clock, ...o.pipe, seed: o.seed ?? 1 });
  const a = new Stack({
    link: pipe.a,
    addresses: ['10.0.0.1'],
    clock: o.clock,
    random: seededRandom(1),
    tcp,
  });
  const b = new Stack({
    link: pipe.b,
    addresses: ['10.0.0.2'],
    clock: o.clock,
    random: seededRandom(2),
    tcp,
  });
  const data = pattern(Math.min(o.bytes, 8 * MB));
  const hash = createHash('sha256');
  const want = createHash('sha256');
  let received = 0;
  let finished = false;
  a.listen({ port: 5001 }, (s) => {
    s.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    s.on('end', () => {
      finished = true;
      s.end();
    });
  });
  const sock = b.connect({ host: '10.0.0.1', port: 5001 });
  let sent = 0;
  const pump = () => {
    while (sent < o.bytes) {
      const n = Math.min(256 * 1024, o.bytes - sent);
      const off = sent % data.length;
      const chunk = data.subarray(off, Math.min(off + n, data.length));
      want.update(chunk);
      sent += chunk.length;
      if (!sock.write(chunk)) return;
    }
    sock.end();
  };
  sock.on('drain', pump);
  const t0 = performance.now();
  const c0 = o.clock.now();
  pump();
  const done = () => finished;
  const wait = drive
    ? drive(done)
    : new Promise<void>((resolve) => {
        const check = () => (finished ? resolve() : setTimeout(check, 5));
        check();
      });
  return wait.then(() => ({
    ok: received === o.bytes && hash.digest('hex') === want.digest('hex'),
    wallMs: performance.now() - t0,
    clockMs: o.clock.now() - c0,
    lost: pipe.a.stats.lost + pipe.b.stats.lost,
    info: sock.tcpInfo(),
    packets: pipe.a.stats.sent + pipe.b.stats.sent,
  }));
}

function fakeDriver(clock: FakeClock) {
  return async (done: () => boolean) => {
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (done()) return;
      if (!clock.runNext()) {
        await new Promise<void>((r) => setImmediate(r));
        if (!clock.runNext() && !done()) throw new Error('stalled');
      }
    }
  };
}

const mbit = (bytes: number, ms: number) => (bytes * 8) / (ms / 1000) / 1e6;

async function main() {
  console.log(`# @tsnet/netstack bench — ${new Date().toISOString()}`);
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}\n`);

  console.log(
    `## 1. stack-to-stack throughput, one process, real clock (${BENCH_MB} MB per run, 4 MiB buffers)`,
  );
  // The machine may be shared: best and median of five runs.
  for (const mtu of [1280, 9000]) {
    const rates: number[] = [];
    let allOk = true;
    for (let run = 0; run < 5; run++) {
      const r = await transfer({ bytes: BENCH_MB * MB, clock: immediateClock, pipe: { delayMs: 0, mtu } });
      rates.push(mbit(BENCH_MB * MB, r.wallMs));
      allOk &&= r.ok;
    }
    rates.sort((x, y) => y - x);
    console.log(
      `MTU ${mtu}: best ${rates[0]!.toFixed(0)} Mbit/s, median ${rates[2]!.toFixed(0)} Mbit/s over 5 runs (sha256 ${allOk ? 'equal' : 'DIFFERENT'})`,
    );
  }

  console.log(
    `\n## 2. ${BENCH_MB} MB with equal SHA-256 under loss (CUBIC + SACK, 100 Mbit/s, 20 ms RTT, simulated)`,
  );
  console.log('| loss | sha256 | simulated goodput | retransmits | RTOs | wall time |');
  console.log('|---|---|---|---|---|---|');
  for (const loss of [0, 0.01, 0.05, 0.1]) {
    const clock = new FakeClock();
    const r = await transfer(
      {
        bytes: BENCH_MB * MB,
        clock,
        pipe: { delayMs: 10, rateBps: 100e6, queueLimit: 256, faults: { loss } },
        seed: 11,
      },
      fakeDriver(clock),
    );
    console.log(
      `| ${loss * 100}% | ${r.ok ? 'equal' : 'DIFFERENT'} | ${mbit(BENCH_MB * MB, r.clockMs).toFixed(1)} Mbit/s | ${r.info.retransmits} | ${r.info.rtos} | ${(r.wallMs / 1000).toFixed(1)} s |`,
    );
  }

  console.log(
    `\n## 3. goodput vs loss, ${TABLE_MB} MB per cell, 100 Mbit/s bottleneck, 20 ms RTT, 256-packet queue (simulated Mbit/s)`,
  );
  const configs: [CongestionAlgorithm, boolean, boolean][] = [
    ['newreno', false, false],
    ['newreno', true, false],
    ['newreno', true, true],
    ['cubic', false, false],
    ['cubic', true, false],
    ['cubic', true, true],
  ];
  console.log('cells: goodput Mbit/s (RTOs)');
  console.log(
    `| loss | ${configs.map(([cc, s, r]) => `${cc}${s ? ' + SACK' : ''}${r ? ' + RACK-TLP' : ''}`).join(' | ')} |`,
  );
  console.log(`|---|${configs.map(() => '---').join('|')}|`);
  for (const loss of [0, 0.01, 0.05, 0.1]) {
    const cells: string[] = [];
    for (const [cc, sack, rack] of configs) {
      const clock = new FakeClock();
      const faults: PipeFaults = { loss };
      const r = await transfer(
        {
          bytes: TABLE_MB * MB,
          clock,
          pipe: { delayMs: 10, rateBps: 100e6, queueLimit: 256, faults },
          cc,
          sack,
          rack,
          seed: 5,
        },
        fakeDriver(clock),
      );
      cells.push(r.ok ? `${mbit(TABLE_MB * MB, r.clockMs).toFixed(1)} (${r.info.rtos})` : 'FAIL');
    }
    console.log(`| ${loss * 100}% | ${cells.join(' | ')} |`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
