// Both proxies end to end in one process: an in-process tailnet (@tsnet/testcontrol) with two
// tsnet nodes, `exposer` and `client`. Each test moves ~1 MB each way through a proxy and checks
// SHA-256 on both ends; the far end answers only after it has read the near end's FIN, so a
// half-close that did not propagate (or ended the other direction) fails the test. Then errors,
// resets and close() in both modes.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { format } from 'node:util';
import { TestTailnet } from '@tsnet/testcontrol';
import { Server } from 'tsnet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expose, forward, type TailnetProxy } from '../src/index.js';

const MB = 1 << 20;

let tailnet: TestTailnet;
let root = '';
let exposer: Server;
let client: Server;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  tailnet = await TestTailnet.start();
  root = mkdtempSync(join(tmpdir(), 'tsnet-proxy-'));
  const node = (hostname: string) =>
    new Server({
      hostname,
      controlUrl: tailnet.controlURL,
      authKey: tailnet.createAuthKey(),
      dir: join(root, hostname),
      listenAddress: '127.0.0.1',
      userLogf: () => {},
    });
  exposer = node('exposer');
  client = node('client');
  await Promise.all([exposer.up({ timeoutMs: 30_000 }), client.up({ timeoutMs: 30_000 })]);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await Promise.all([exposer?.close(), client?.close()]);
  await tailnet?.close();
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The far end: hashes what it reads; after the peer's FIN, sends `reply` and ends. */
function answerAfterFin(sock: Duplex, reply: Uint8Array): Promise<string> {
  sock.allowHalfOpen = true; // keep writing after the peer's FIN
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    sock.on('data', (c: Buffer) => h.update(c));
    sock.on('end', () => {
      sock.end(reply);
      resolve(h.digest('hex'));
    });
    sock.on('error', reject);
  });
}

/** The near end: sends `payload`, half-closes, and hashes everything read until the far end's FIN. */
function sendThenRead(sock: Duplex, payload: Uint8Array): Promise<string> {
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    sock.on('data', (c: Buffer) => h.update(c));
    sock.on('end', () => resolve(h.digest('hex')));
    sock.on('error', reject);
    sock.end(payload);
  });
}

/** A TCP server on 127.0.0.1 (a free port) that calls `onSocket` for each connection. */
async function localService(
  onSocket: (s: net.Socket) => void,
): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => srv.close(resolve));
  });
  return { port: (srv.address() as net.AddressInfo).port, sockets };
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Waits (bounded) until the proxy has no open connection. */
async function settled(proxy: TailnetProxy): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (proxy.stats.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(proxy.stats.active).toBe(0);
}

function track(proxy: TailnetProxy): TailnetProxy {
  cleanups.push(() => proxy.close());
  return proxy;
}

/** Resolves when `s` has closed, whatever the reason (events.once would reject on an 'error'). */
const closed = (s: Duplex) =>
  s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()));

describe('expose: a local TCP port as a port of the node on the tailnet', () => {
  it('carries 1 MB each way intact, with the half-close in both directions', async () => {
    const request = randomBytes(MB);
    const response = randomBytes(MB);
    let received: Promise<string> | undefined;
    const svc = await localService((s) => {
      received = answerAfterFin(s, response);
    });
    const lines: string[] = [];
    const proxy = track(
      await expose({
        server: exposer,
        target: `127.0.0.1:${svc.port}`,
        listen: ':8001',
        logf: (f, ...a) => lines.push(format(f, ...a)),
      }),
    );
    expect(proxy.listenAddress).toBe(':8001');
    expect(proxy.target).toBe(`127.0.0.1:${svc.port}`);

    const sock = await client.dial('tcp', 'exposer:8001');
    const got = await sendThenRead(sock, request);
    expect(await received).toBe(sha256(request));
    expect(got).toBe(sha256(response));

    await settled(proxy);
    expect(proxy.stats).toEqual({
      accepted: 1,
      active: 0,
      failed: 0,
      bytesToTarget: MB,
      bytesFromTarget: MB,
    });
    expect(lines[0]).toMatch(/^expose #1: 100\.64\.\d+\.\d+:\d+ → 127\.0\.0\.1:\d+ \(1 open\)$/);
    expect(lines[1]).toMatch(
      /^expose #1 closed after [\d.]+ s: 1048576 B to the target, 1048576 B back \(0 open, 1 total, 0 failed\)$/,
    );
  });

  it('resets the tailnet caller when the local service refuses, and counts the failure', async () => {
    const port = await deadPort();
    const lines: string[] = [];
    const proxy = track(
      await expose({
        server: exposer,
        target: port,
        listen: 8003,
        logf: (f, ...a) => lines.push(format(f, ...a)),
      }),
    );
    const sock = await client.dial('tcp', 'exposer:8003');
    const [err] = (await once(sock, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await settled(proxy);
    expect(proxy.stats.failed).toBe(1);
    expect(lines.at(-1)).toMatch(/failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
  });

  it('a reset on either side resets the other', async () => {
    // The local service resets as soon as it reads anything: the tailnet caller sees ECONNRESET.
    const svc = await localService((s) => {
      s.once('data', () => s.resetAndDestroy());
      s.on('error', () => {});
    });
    const proxy = track(await expose({ server: exposer, target: svc.port, listen: ':8004' }));
    const a = await client.dial('tcp', 'exposer:8004');
    a.write('hello');
    const [errA] = (await once(a, 'error')) as [NodeJS.ErrnoException];
    expect(errA.code).toBe('ECONNRESET');

    // The tailnet caller resets: the local service's connection is reset too.
    const b = await client.dial('tcp', 'exposer:8004');
    const deadline = Date.now() + 15_000;
    while (svc.sockets.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const local = svc.sockets[1];
    expect(local).toBeDefined();
    const localClosed = closed(local as net.Socket);
    b.resetAndDestroy();
    await localClosed;
    await settled(proxy);
    expect(proxy.stats.accepted).toBe(2);
    expect(proxy.stats.failed).toBe(2);
  });
});

describe('forward: a tailnet host:port on a loopback port', () => {
  it('carries 1 MB each way intact, with the half-close in both directions', async () => {
    const request = randomBytes(MB);
    const response = randomBytes(MB);
    const svc = await exposer.listen('tcp', ':8002');
    cleanups.push(() => void svc.close());
    const received = new Promise<string>((resolve, reject) =>
      svc.once('connection', (s: Duplex) => answerAfterFin(s, response).then(resolve, reject)),
    );
    const lines: string[] = [];
    const proxy = track(
      await forward({
        server: client,
        listen: 0,
        target: 'exposer:8002',
        logf: (f, ...a) => lines.push(format(f, ...a)),
      }),
    );
    expect(proxy.listenAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = Number(proxy.listenAddress.split(':')[1]);

    const sock = net.connect({ host: '127.0.0.1', port });
    const got = await sendThenRead(sock, request);
    expect(await received).toBe(sha256(request));
    expect(got).toBe(sha256(response));

    await settled(proxy);
    expect(proxy.stats).toEqual({
      accepted: 1,
      active: 0,
      failed: 0,
      bytesToTarget: MB,
      bytesFromTarget: MB,
    });
    expect(lines[0]).toMatch(/^forward #1: 127\.0\.0\.1:\d+ → exposer:8002 \(1 open\)$/);
    expect(lines[1]).toMatch(/^forward #1 closed after [\d.]+ s: 1048576 B to the target, 1048576 B back/);
  });

  it('listens on loopback only', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:0', 'example.com:0']) {
      await expect(forward({ server: client, listen, target: 'exposer:1' })).rejects.toThrow(/loopback only/);
    }
    for (const listen of [0, '0', ':0', '127.0.0.1:0', 'localhost:0']) {
      const proxy = track(await forward({ server: client, listen, target: 'exposer:1' }));
      expect(proxy.listenAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    }
  });

  it('resets the local client when the tailnet refuses, and counts the failure', async () => {
    const lines: string[] = [];
    const proxy = track(
      await forward({
        server: client,
        listen: 0,
        target: 'exposer:8999',
        logf: (f, ...a) => lines.push(format(f, ...a)),
      }),
    );
    const sock = net.connect({ host: '127.0.0.1', port: Number(proxy.listenAddress.split(':')[1]) });
    const [err] = (await once(sock, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await settled(proxy);
    expect(proxy.stats.failed).toBe(1);
    expect(lines.at(-1)).toMatch(/^forward #1 failed: .*ECONNREFUSED/);
  });
});

describe('close()', () => {
  it('stops both proxies, resets open connections on both sides and leaves no socket behind', async () => {
    // expose, with one connection open end to end.
    const svc = await localService(() => {});
    const ex = await expose({ server: exposer, target: svc.port, listen: ':8005' });
    const viaTailnet = await client.dial('tcp', 'exposer:8005');
    viaTailnet.on('error', () => {});
    viaTailnet.write('x');
    // forward, with one connection open end to end.
    const tailnetSvc = await exposer.listen('tcp', ':8006');
    cleanups.push(() => void tailnetSvc.close());
    const farEnds: Duplex[] = [];
    tailnetSvc.on('connection', (s: Duplex) => {
      s.on('error', () => {});
      farEnds.push(s);
    });
    const fw = await forward({ server: client, listen: 0, target: 'exposer:8006' });
    const fwPort = Number(fw.listenAddress.split(':')[1]);
    const viaLoopback = net.connect({ host: '127.0.0.1', port: fwPort });
    viaLoopback.on('error', () => {});
    viaLoopback.write('y');

    const deadline = Date.now() + 15_000;
    while ((svc.sockets.length < 1 || farEnds.length < 1) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ex.stats.active).toBe(1);
    expect(fw.stats.active).toBe(1);
    for (const s of svc.sockets) s.on('error', () => {});

    const ends = [viaTailnet, viaLoopback, svc.sockets[0] as Duplex, farEnds[0] as Duplex].map(closed);
    await Promise.all([ex.close(), fw.close()]);
    expect(ex.stats.active).toBe(0);
    expect(fw.stats.active).toBe(0);
    await Promise.all(ends); // every socket of both connections, at both ends, closed
    await ex.close(); // idempotent

    // Nothing listens any more.
    const refused = net.connect({ host: '127.0.0.1', port: fwPort });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    await expect(client.dial('tcp', 'exposer:8005', { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
