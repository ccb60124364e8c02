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
const ours = await ourServer();
try {
  for (const size of SIZES) rows.push(['@tsnet/derp DerpServer', await measure(ours.url, size)]);
} finally {
  ours.close();
}
if (interopAvailable('derper').ok) {
  const derper = await startDerper({ tls: false, stun: false });
  try {
    for (const size of SIZES) rows.push(['Go derper v1.102.3', await measure(`${derper.url}/derp`, size)]);
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
