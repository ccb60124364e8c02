/**
 * The raw limits beside the end-to-end figures: what Node itself does on this machine, with no
 * Tailscale in the way. A receiver runs in a second Node process (as the bench nodes do), the
 * sender in this one.
 *
 * - `node:crypto` ChaCha20-Poly1305 seal of 1280-byte packets (one cipher context per packet, as a
 *   WireGuard data packet needs for its own nonce).
 * - `node:dgram` 1280-byte datagrams per second on loopback, received by the other process.
 * - plain loopback TCP (`net.Socket`) throughput to a sink in the other process.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const PACKET = 1280;

export function chachaSeal(seconds: number): { opsPerSec: number; mbps: number } {
  const key = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const pkt = randomBytes(PACKET);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      nonce.writeUInt32LE(n++, 4);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.update(pkt);
      c.final();
      c.getAuthTag();
    }
  }
  const secs = (performance.now() - start) / 1000;
  return { opsPerSec: n / secs, mbps: (n * PACKET) / secs / 1e6 };
}

/** A receiver in a child Node process: prints its port, then the count it got when stdin closes. */
const RECEIVER = `
const kind = process.argv[1];
let count = 0;
const done = () => { process.stdout.write(JSON.stringify({ count }) + '\\n'); process.exit(0); };
process.stdin.on('data', () => {});
process.stdin.on('end', done);
if (kind === 'udp') {
  const s = require('node:dgram').createSocket('udp4');
  s.on('message', () => { count++; });
  s.bind(0, '127.0.0.1', () => {
    try { s.setRecvBufferSize(4 << 20); } catch {}
    process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n');
  });
} else {
  const srv = require('node:net').createServer((c) => { c.on('data', (d) => { count += d.length; }); c.on('error', () => {}); });
  srv.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\\n'));
}
`;

async function withReceiver<T>(
  kind: 'udp' | 'tcp',
  fn: (port: number) => Promise<T>,
): Promise<{ result: T; count: number }> {
  const child = spawn(process.execPath, ['-e', RECEIVER, kind], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    const port = (JSON.parse(String(first.value)) as { port: number }).port;
    const result = await fn(port);
    await new Promise((r) => setTimeout(r, 200));
    child.stdin.end();
    const last = await lines.next();
    const count = (JSON.parse(String(last.value)) as { count: number }).count;
    return { result, count };
  } finally {
    clearTimeout(kill);
    child.kill('SIGKILL');
  }
}

export async function dgramPps(seconds: number): Promise<{ pps: number; sentPps: number }> {
  const { result, count } = await withReceiver('udp', async (port) => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    try {
      s.setSendBufferSize(4 << 20);
    } catch {
      // best effort
    }
    const pkt = Buffer.alloc(PACKET, 7);
    let sent = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      // Bursts of 64 with the completion of the last awaited: the send queue stays bounded.
      await new Promise<void>((resolve) => {
        for (let i = 0; i < 64; i++) s.send(pkt, port, '127.0.0.1', i === 63 ? () => resolve() : undefined);
      });
      sent += 64;
    }
    const secs = (performance.now() - start) / 1000;
    s.close();
    return { secs, sent };
  });
  return { pps: count / result.secs, sentPps: result.sent / result.secs };
}

export async function loopbackTcp(seconds: number): Promise<{ mbps: number }> {
  const { result, count } = await withReceiver('tcp', async (port) => {
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r, j) => {
      sock.once('connect', () => r());
      sock.once('error', j);
    });
    const chunk = Buffer.alloc(64 * 1024, 3);
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    await new Promise<void>((r) => sock.end(() => r()));
    const secs = (performance.now() - start) / 1000;
    return { secs };
  });
  return { mbps: count / result.secs / 1e6 };
}
