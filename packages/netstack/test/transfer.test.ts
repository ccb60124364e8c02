/**
 * Bulk transfers between two stacks over the fault-injecting pipe on a fake clock: the bytes that
 * arrive must hash the same as the bytes sent, at every loss rate, with reordering, duplication
 * and corruption mixed in. (The 50 MB runs are in bench/netstack.bench.ts.)
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PipeFaults } from '../src/link/pipe.js';
import type { CongestionAlgorithm } from '../src/tcp/congestion.js';
import { A4, A6, runUntil, twoStacks } from './sim.js';

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

async function transfer(opts: {
  bytes: number;
  faults: PipeFaults;
  seed: number;
  host?: string;
  cc?: CongestionAlgorithm;
  sack?: boolean;
}) {
  const tcp = { congestion: opts.cc ?? 'cubic', sack: opts.sack ?? true };
  const { clock, a, b, pipe } = twoStacks({
    pipe: { faults: opts.faults, seed: opts.seed, delayMs: 10, rateBps: 100e6, queueLimit: 256 },
    a: { tcp },
    b: { tcp },
    seed: opts.seed,
  });
  const data = pattern(opts.bytes, opts.seed);
  const hash = createHash('sha256');
  let received = 0;
  let done = false;
  a.listen({ port: 5001 }, (s) => {
    s.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    s.on('end', () => {
      done = true;
      s.end();
    });
  });
  const sock = b.connect({ host: opts.host ?? A4, port: 5001 });
  sock.on('error', (e) => {
    throw e;
  });
  const chunk = 64 * 1024;
  let off = 0;
  const pump = () => {
    while (off < data.length) {
      const ok = sock.write(data.subarray(off, off + chunk));
      off += chunk;
      if (!ok) return;
    }
    sock.end();
  };
  sock.on('drain', pump);
  pump();
  await runUntil(clock, () => done, 3_600_000);
  return {
    received,
    sha: hash.digest('hex'),
    want: createHash('sha256').update(data).digest('hex'),
    simMs: clock.now(),
    pipe,
  };
}

describe('bulk transfer with equal SHA-256', () => {
  for (const loss of [0, 0.01, 0.05, 0.1]) {
    it(`4 MB at ${loss * 100}% loss`, async () => {
      const r = await transfer({ bytes: 4 << 20, faults: { loss }, seed: 7 + loss * 100 });
      expect(r.received).toBe(4 << 20);
      expect(r.sha).toBe(r.want);
      if (loss > 0) expect(r.pipe.a.stats.lost + r.pipe.b.stats.lost).toBeGreaterThan(0);
    });
  }

  it('2 MB over IPv6 through 2% loss, 2% reordering, 1% duplication and 0.5% corruption', async () => {
    const r = await transfer({
      bytes: 2 << 20,
      faults: { loss: 0.02, reorder: 0.02, duplicate: 0.01, corrupt: 0.005 },
      seed: 99,
      host: A6,
    });
    expect(r.sha).toBe(r.want);
    expect(r.pipe.b.stats.corrupted).toBeGreaterThan(0);
    expect(r.pipe.b.stats.reordered).toBeGreaterThan(0);
  });

  for (const [cc, sack] of [
    ['newreno', true],
    ['newreno', false],
    ['cubic', false],
  ] as const) {
    it(`2 MB at 5% loss with ${cc}${sack ? ' + SACK' : ' without SACK'}`, async () => {
      const r = await transfer({ bytes: 2 << 20, faults: { loss: 0.05 }, seed: 3, cc, sack });
      expect(r.sha).toBe(r.want);
    });
  }
});

describe('many connections at once', () => {
  it('40 concurrent echo connections through 3% loss and reordering all complete intact', async () => {
    const { clock, a, b } = twoStacks({
      pipe: { faults: { loss: 0.03, reorder: 0.02 }, seed: 21, delayMs: 5 },
    });
    a.listen({ port: 7, backlog: 64 }, (s) => s.pipe(s));
    let done = 0;
    const size = 50_000;
    for (let i = 0; i < 40; i++) {
      const payload = pattern(size, i + 1);
      const sock = b.connect({ host: i % 2 ? A4 : A6, port: 7 });
      const h = createHash('sha256');
      sock.on('data', (d: Buffer) => h.update(d));
      sock.on('end', () => {
        if (h.digest('hex') === createHash('sha256').update(payload).digest('hex')) done++;
      });
      sock.on('error', (e) => {
        throw e;
      });
      sock.end(payload);
    }
    await runUntil(clock, () => done === 40, 600_000);
    expect(done).toBe(40);
    // Every connection drains out of the tables once TIME-WAIT passes.
    await runUntil(clock, () => a.connectionCount + b.connectionCount === 0, 200_000);
  });
});
