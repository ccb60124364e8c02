// DERP relay throughput: two of our DerpClients on loopback, A sending to B as fast as the
// connection takes it, through (1) our DerpServer in its own Node process and (2) the real Go
// derper (v1.102.3, from the interop cache). Same clients, same run.
//
//   npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source packages/derp/bench/derp.bench.ts [--seconds=3]
//
// Reports packets/s and MB/s (10^6 bytes of payload) delivered to B, and the share of packets the
// relay dropped (DERP drops under overload rather than pushing back).
import { execSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodePrivate } from '@tsnet/core';
import { interopAvailable, startDerper } from '@tsnet/interop';
import { DerpClient } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const secondsArg = process.argv.find((a) => a.startsWith('--seconds='));
const SECONDS = secondsArg === undefined ? 3 : Number(secondsArg.split('=')[1]);
const SIZES = [64, 1200, 16 * 1024];

interface Result {
  size: number;
  pps: number;
  mbps: number;
  lossPct: number;
}

async function measure(url: string, size: number): Promise<Result> {
  const a = new DerpClient({ privateKey: NodePrivate.generate(), url, sendQueueLimit: 1024 });
  const b = new DerpClient({ privateKey: NodePrivate.generate(), url });
  await Promise.all([a.connect(), b.connect()]);
  let received = 0;
  b.on('packet', () => {
    received++;
  });
  const pkt = new Uint8Array(size).fill(7);
  // Warm-up.
  for (let i = 0; i < 2000; i++) a.send(b.publicKey, pkt);
  await new Promise((r) => setTimeout(r, 300));
  received = 0;
  let sent = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      if (!a.send(b.publicKey, pkt)) break;
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = (performance.now() - start) / 1000;
  const atEnd = received;
  await new Promise((r) => setTimeout(r, 300)); // stragglers count for the loss figure only
  const lost = Math.max(0, sent - received);
  await a.close();
  await b.close();
  return {
    size,
    pps: atEnd / elapsed,
    mbps: (atEnd * size) / elapsed / 1e6,
    lossPct: (100 * lost) / Math.max(1, sent),
  };
}

/**
 * Paced: at most `window` packets in flight (sent, not yet received), so a relay with a 32-packet
 * queue never has to drop; measures the relay's turnaround rather than its overload behaviour.
 */
async function measurePaced(url: string, size: number, window: number): Promise<Result> {
  const a = new DerpClient({ privateKey: NodePrivate.generate(), url });
  const b = new DerpClient({ privateKey: NodePrivate.generate(), url });
  await Promise.all([a.connect(), b.connect()]);
  let received = 0;
  let wake: (() => void) | null = null;
  b.on('packet', () => {
    received++;
    if (wake !== null) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const pkt = new Uint8Array(size).fill(7);
  let sent = 0;
  const run = async (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      while (sent - received < window) {
        a.send(b.publicKey, pkt);
        sent++;
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100); // a lost packet must not stall the loop
      });
      if (sent - received >= window) received = sent - window + 1; // forget what was dropped
    }
  };
  await run(300);
  const r0 = received;
  const start = performance.now();
  await run(SECONDS * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const n = received - r0;
  await a.close();
  await b.close();
  return { size, pps: n / elapsed, mbps: (n * size) / elapsed / 1e6, lossPct: 0 };
}

async function ourServer(): Promise<{ url: string; close(): void }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@tsnet/source', '--import', 'tsx', join(here, 'server-child.ts')],
    {
      cwd: join(here, '..'),
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server child did not start')), 20_000);
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /URL=(\S+)/.exec(buf);
      if (m?.[1] !== undefined) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', () => reject(new Error('server child exited')));
  });
  return {
    url,
    close: () => {
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    },
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const rows: Array<[string, Result]> = [];
const paced: Array<[string, Result]> = [];
const ours = await ourServer();
try {
  for (const size of SIZES) rows.push(['@tsnet/derp DerpServer', await measure(ours.url, size)]);
  paced.push(['@tsnet/derp DerpServer', await measurePaced(ours.url, 1200, 32)]);
} finally {
  ours.close();
}
if (interopAvailable('derper').ok) {
  const derper = await startDerper({ tls: false, stun: false });
  try {
    for (const size of SIZES) rows.push(['Go derper v1.102.3', await measure(`${derper.url}/derp`, size)]);
    paced.push(['Go derper v1.102.3', await measurePaced(`${derper.url}/derp`, 1200, 32)]);
  } finally {
    await derper.close();
  }
} else {
  console.log('(the Go derper is not installed: node tools/interop/src/install.mjs)');
}

let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
console.log(`DERP relay, ${SECONDS} s per case, clients: @tsnet/derp DerpClient ×2 in one process`);
console.log(
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, commit ${commit}, ${new Date().toISOString()}`,
);
console.log('| relay | payload | packets/s | MB/s | dropped |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, r] of rows) {
  console.log(`| ${name} | ${r.size} B | ${fmt(r.pps)} | ${r.mbps.toFixed(1)} | ${r.lossPct.toFixed(1)} % |`);
}
console.log('\nPaced: at most 32 packets in flight');
console.log('| relay | payload | packets/s | MB/s |');
console.log('|---|---:|---:|---:|');
for (const [name, r] of paced)
  console.log(`| ${name} | ${r.size} B | ${fmt(r.pps)} | ${r.mbps.toFixed(1)} |`);
