/**
 * The TypeScript side of tools/bench: one `TsnetNode` (or N of them) in its own process, started by
 * the orchestrator (`e2e.ts`) with `node --conditions=@tsnet/source --import tsx`. It mirrors the Go
 * side (tools/interop/gopeer as a server, tools/bench/goclient as a client) command for command.
 *
 *   tsnode.ts --control-url URL --authkey KEY --hostname H [--derp-only] [--echo P] [--sink P]
 *             [--ttfb IP:PORT] [--multi N] [--ephemeral] [--verbose]
 *
 * Prints one JSON line `{"type":"up",…}` when up, then answers commands read from stdin, one JSON
 * object per line (bulk, rr, direct, rss, profile-start, profile-stop; see `handle`). SIGTERM or
 * stdin closing ends it cleanly.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { getCryptoProvider } from '@tsnet/core';
import type { TcpSocket } from '@tsnet/netstack';
import { TsnetNode } from 'tsnet';
import { percentile } from './stats.js';

const { values: args } = parseArgs({
  options: {
    'control-url': { type: 'string' },
    authkey: { type: 'string' },
    hostname: { type: 'string', default: 'tsnode' },
    'derp-only': { type: 'boolean', default: false },
    echo: { type: 'string' },
    sink: { type: 'string' },
    ttfb: { type: 'string' },
    multi: { type: 'string' },
    ephemeral: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const controlUrl = args['control-url'] ?? '';
if (controlUrl === '') {
  process.stderr.write('tsnode: --control-url is required\n');
  process.exit(2);
}

function emit(v: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

const logf = args.verbose
  ? (f: string, ...a: unknown[]) => process.stderr.write(`${f} ${a.map(String).join(' ')}\n`)
  : undefined;

function newNode(hostname: string): TsnetNode {
  return new TsnetNode({
    controlUrl,
    hostname,
    ...(args.authkey !== undefined ? { authKey: args.authkey } : {}),
    ephemeral: args.ephemeral,
    listenAddress: '127.0.0.1',
    derpUseHttp: true,
    disableDirect: args['derp-only'],
    ...(logf !== undefined ? { logf } : {}),
  });
}

/** Splits `IP:PORT` (IPv4 or bracketed IPv6). */
function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), Number(addr.slice(i + 1))];
}

/** Reads from `sock` until `n` bytes have come (bounded). */
function readN(sock: TcpSocket, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err?: Error) => {
      clearTimeout(t);
      sock.off('data', onData);
      sock.off('error', onErr);
      sock.off('end', onEnd);
      if (err !== undefined) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const t = setTimeout(
      () => done(new Error(`only ${got} of ${n} bytes within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= n) done();
    };
    const onErr = (e: Error) => done(e);
    const onEnd = () => done(new Error(`connection ended after ${got} of ${n} bytes`));
    sock.on('data', onData);
    sock.once('error', onErr);
    sock.once('end', onEnd);
  });
}

/** Reads to EOF (bounded). */
function readAll(sock: TcpSocket, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const t = setTimeout(() => reject(new Error(`no EOF within ${timeoutMs} ms`)), timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.once('end', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks));
    });
    sock.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Writes 32 KiB chunks to a sink for `seconds`, half-closes, reads the byte count it answers. */
async function bulk(node: TsnetNode, addr: string, seconds: number): Promise<Record<string, unknown>> {
  const [ip, port] = splitAddr(addr);
  const sock = await node.dial(ip, port, 20_000);
  const chunk = Buffer.alloc(32 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i & 255;
  const reply = readAll(sock, seconds * 1000 + 30_000);
  const start = performance.now();
  const end = start + seconds * 1000;
  let written = 0;
  while (performance.now() < end) {
    if (sock.destroyed) throw new Error(`socket closed after ${written} bytes`);
    written += chunk.length;
    if (!sock.write(chunk)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5_000);
        sock.once('drain', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  sock.end();
  const text = (await reply).toString('utf8').trim();
  const secs = (performance.now() - start) / 1000;
  sock.destroy();
  const bytes = Number(text);
  if (!Number.isFinite(bytes) || text === '') throw new Error(`sink answered ${JSON.stringify(text)}`);
  return { bytes, written, secs };
}

/** `count` request/response round trips of `size` bytes on an echo, after `warmup`. */
async function rr(
  node: TsnetNode,
  addr: string,
  count: number,
  size: number,
  warmup: number,
): Promise<Record<string, unknown>> {
  const [ip, port] = splitAddr(addr);
  const sock = await node.dial(ip, port, 20_000);
  const req = Buffer.alloc(size, 0x61);
  const lat: number[] = [];
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t = performance.now();
      const p = readN(sock, size, 10_000);
      sock.write(req);
      await p;
      if (i >= warmup) lat.push(performance.now() - t);
    }
  } finally {
    sock.destroy();
  }
  lat.sort((a, b) => a - b);
  return { n: lat.length, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99) };
}

/** Exchanges small messages with the echo at `addr` until the path to `ip` is direct (bounded). */
async function waitDirect(
  node: TsnetNode,
  ip: string,
  addr: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const [host, port] = splitAddr(addr);
  const deadline = Date.now() + timeoutMs;
  let sock: TcpSocket | undefined;
  try {
    while (Date.now() < deadline) {
      try {
        sock ??= await node.dial(host, port, 3_000);
        const p = readN(sock, 1, 2_000);
        sock.write('.');
        await p;
      } catch {
        sock?.destroy();
        sock = undefined;
      }
      const path = node.peerPath(ip);
      if (path?.trusted === true && path.direct !== undefined) return { direct: path.direct };
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    sock?.destroy();
  }
  throw new Error(`no direct path to ${ip} within ${timeoutMs} ms`);
}

let session: Session | undefined;
function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session?.post(method, params ?? {}, (err, res) => (err !== null ? reject(err) : resolve(res as T)));
  });
}

async function handle(node: TsnetNode, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  const str = (k: string) => String(cmd[k] ?? '');
  const num = (k: string, d: number) => (typeof cmd[k] === 'number' ? (cmd[k] as number) : d);
  switch (cmd.cmd) {
    case 'bulk':
      return bulk(node, str('addr'), num('seconds', 3));
    case 'rr':
      return rr(node, str('addr'), num('count', 500), num('size', 1024), num('warmup', 50));
    case 'direct':
      return waitDirect(node, str('ip'), str('addr'), num('timeoutMs', 20_000));
    case 'rss':
      return { rss: process.memoryUsage().rss };
    case 'profile-start': {
      // The V8 CPU profiler (what --cpu-prof runs) through the inspector, so the profile covers
      // exactly the measured window rather than start-up and TypeScript loading.
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: num('intervalUs', 200) });
      await post('Profiler.start');
      return {};
    }
    case 'profile-stop': {
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      writeFileSync(str('file'), JSON.stringify(profile));
      session?.disconnect();
      session = undefined;
      return { file: str('file') };
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`);
  }
}

function serve(node: TsnetNode): Record<string, number> {
  const listen: Record<string, number> = {};
  if (args.echo !== undefined) {
    listen.echo = Number(args.echo);
    node.listen(listen.echo, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
  }
  if (args.sink !== undefined) {
    listen.sink = Number(args.sink);
    node.listen(listen.sink, (s) => {
      let n = 0;
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        n += d.length;
      });
      s.on('end', () => s.end(`${n}\n`));
    });
  }
  return listen;
}

async function runMulti(n: number): Promise<void> {
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const nodes = Array.from({ length: n }, (_, i) => newNode(`${args.hostname}-${i}`));
  await Promise.all(nodes.map((x) => x.up(60_000)));
  const upSecs = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  emit({ type: 'multi', n, rssBefore: before, rssAfter: process.memoryUsage().rss, upSecs });
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => {});
    process.stdin.once('end', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([Promise.all(nodes.map((x) => x.close())), new Promise((r) => setTimeout(r, 3000))]);
}

async function runTtfb(target: string): Promise<void> {
  const created = performance.now();
  const node = newNode(args.hostname);
  await node.up(60_000);
  const upMs = performance.now() - created;
  const [ip, port] = splitAddr(target);
  const sock = await node.dial(ip, port, 20_000);
  const p = readN(sock, 1, 20_000);
  sock.write('x');
  await p;
  // performance.now() counts from the process's time origin (its start).
  emit({ type: 'ttfb', sinceMainMs: performance.now(), sinceNodeMs: performance.now() - created, upMs });
  sock.destroy();
  await Promise.race([node.close(), new Promise((r) => setTimeout(r, 2000))]);
}

async function main(): Promise<void> {
  if (args.multi !== undefined) return runMulti(Number(args.multi));
  if (args.ttfb !== undefined) return runTtfb(args.ttfb);
  const created = performance.now();
  const node = newNode(args.hostname);
  await node.up(60_000);
  const listen = serve(node);
  emit({
    type: 'up',
    pid: process.pid,
    upMs: performance.now() - created,
    tailscaleIPs: node.addresses.map(String),
    listen,
    crypto: getCryptoProvider().name,
  });
  const rl = createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(async () => {
      let cmd: Record<string, unknown> = {};
      try {
        cmd = JSON.parse(line) as Record<string, unknown>;
        emit({ ...(await handle(node, cmd)), type: cmd.cmd });
      } catch (e) {
        emit({ type: cmd.cmd ?? 'error', error: e instanceof Error ? e.message : String(e) });
      }
    });
  });
  await new Promise<void>((resolve) => {
    rl.once('close', resolve);
    process.once('SIGTERM', resolve);
  });
  await queue;
  await Promise.race([node.close(), new Promise((r) => setTimeout(r, 3000))]);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit({ type: 'error', error: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  },
);
