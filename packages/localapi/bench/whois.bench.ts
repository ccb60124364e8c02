// WhoIs round trips through each transport, and peerCaps alone: per-operation time.
// Run: npx tsx --conditions=@tsnet/source packages/localapi/bench/whois.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPAddr } from '@tsnet/core';
import { peerCaps } from '../src/capmap.js';
import { LocalClient } from '../src/client.js';
import { createLocalApiHandler } from '../src/handler.js';
import { sampleBackend, sampleNetmap } from '../test/fixture.js';

async function time(name: string, n: number, fn: () => Promise<unknown> | unknown): Promise<void> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${name.padEnd(40)} ${us.toFixed(1).padStart(8)} µs/op`);
}

const nm = sampleNetmap();
const backend = sampleBackend(nm);
const handler = createLocalApiHandler({ backend });
const dir = mkdtempSync(join(tmpdir(), 'tsnet-localapi-bench-'));
const sock = join(dir, 'l.sock');
const server = createServer(handler);
await new Promise<void>((r) => server.listen(sock, r));
const tcp = createServer(
  createLocalApiHandler({ backend, requiredPassword: 'pw', requireSecTailscaleHeader: true }),
);
await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
const port = (tcp.address() as { port: number }).port;

const src = IPAddr.parse('100.64.0.2');
const selfAddresses = nm.self?.Addresses ?? [];
await time('peerCaps (2 rules)', 100_000, () => peerCaps({ rules: nm.packetFilter, selfAddresses, src }));
await time('whoIs, in process (backend)', 3000, () => new LocalClient({ backend }).whoIs('100.64.0.2'));
const inProc = new LocalClient({ handler });
await time('whoIs, in process (handler, reused client)', 3000, () => inProc.whoIs('100.64.0.2'));
const unix = new LocalClient({ socketPath: sock });
await time('whoIs, unix socket', 3000, () => unix.whoIs('100.64.0.2'));
const loop = new LocalClient({ url: `http://127.0.0.1:${port}`, credential: 'pw' });
await time('whoIs, loopback TCP with credential', 3000, () => loop.whoIs('100.64.0.2'));

server.close();
tcp.close();
rmSync(dir, { recursive: true, force: true });
