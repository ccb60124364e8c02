// Our client ↔ our server, in one process over loopback: HTTP, TLS (pinned), WebSocket.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient, type DerpClientOptions, DerpServer, dialDerp, PEER_GONE_REASON } from '../src/index.js';
import { nextEvent, payload, payloadIndex, selfSignedCert, until } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(opts: ConstructorParameters<typeof DerpServer>[0] = {}, listen = {}) {
  const server = new DerpServer(opts);
  const { url, port } = await server.listen(listen);
  cleanups.push(() => server.close());
  return { server, url, port };
}

function client(opts: Omit<DerpClientOptions, 'privateKey'> & { privateKey?: NodePrivate }) {
  const c = new DerpClient({ privateKey: NodePrivate.generate(), ...opts });
  cleanups.push(() => c.close());
  return c;
}

/** A sends `n` packets to B; resolves with what B received (copied), checked in order. */
async function exchange(a: DerpClient, b: DerpClient, n: number, size = 1200): Promise<number> {
  let got = 0;
  const onPacket = (p: Uint8Array, src: { equals(x: unknown): boolean }) => {
    expect(src.equals(a.publicKey)).toBe(true);
    expect(Buffer.compare(p, payload(payloadIndex(p), size))).toBe(0);
    got++;
  };
  b.on('packet', onPacket);
  for (let i = 0; i < n; i++) {
    a.send(b.publicKey, payload(i, size));
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  await until(`${n} packets at B`, () => got >= n, 10_000);
  b.off('packet', onPacket);
  return got;
}

describe('in-process: our client ↔ our server', () => {
  it('two clients exchange 2,000 packets over plain HTTP, every payload checked', async () => {
    const { server, url } = await startServer();
    const a = client({ url });
    const b = client({ url });
    await Promise.all([a.connect(), b.connect()]);
    expect(a.serverPublicKey?.equals(server.publicKey)).toBe(true);
    expect(await exchange(a, b, 2000)).toBe(2000);
    expect(await exchange(b, a, 500, 64 * 1024)).toBe(500);
    expect(server.counters.packetsDropped).toBe(0);
    expect(server.counters.packetsSent).toBe(2500);
    expect(server.isConnected(a.publicKey)).toBe(true);
  });

  it('PeerGone(Disconnected) reaches a client that heard from the peer that left', async () => {
    const { url } = await startServer();
    const a = client({ url });
    const b = client({ url });
    await Promise.all([a.connect(), b.connect()]);
    await exchange(a, b, 1);
    const gone = nextEvent<[{ equals(x: unknown): boolean }, number]>(b, 'peerGone');
    await a.close();
    const [peer, reason] = await gone;
    expect(peer.equals(a.publicKey)).toBe(true);
    expect(reason).toBe(PEER_GONE_REASON.Disconnected);
  });

  it('a disco packet to an unknown key gets PeerGone(NotHere); other packets are only counted', async () => {
    const { server, url } = await startServer();
    const a = client({ url });
    await a.connect();
    const stranger = NodePrivate.generate().public();
    a.send(stranger, new Uint8Array(100));
    await until('drop counted', () => server.counters.dropsByReason.unknown_dest === 1);
    const disco = new Uint8Array(80);
    disco.set([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
    const gone = nextEvent<[{ equals(x: unknown): boolean }, number]>(a, 'peerGone');
    a.send(stranger, disco);
    const [peer, reason] = await gone;
    expect(peer.equals(stranger)).toBe(true);
    expect(reason).toBe(PEER_GONE_REASON.NotHere);
  });

  it('the send queue is bounded: sends beyond it are dropped and counted, the rest delivered', async () => {
    const { url } = await startServer();
    const b = client({ url });
    await b.connect();
    const a = client({ url, sendQueueLimit: 10 });
    // Not connected yet: packets wait in the queue, the overflow is dropped.
    const accepted = Array.from({ length: 15 }, (_, i) => a.send(b.publicKey, payload(i, 100)));
    expect(accepted.filter(Boolean).length).toBe(10);
    expect(a.counters.packetsDroppedQueueFull).toBe(5);
    let got = 0;
    b.on('packet', () => got++);
    await a.connect();
    await until('queued packets delivered', () => got === 10);
    await a.close();
    expect(a.send(b.publicKey, payload(1, 1))).toBe(false);
    expect(a.counters.packetsDroppedClosed).toBe(1);
  });

  it('ping gets a pong', async () => {
    const { server, url } = await startServer();
    const a = client({ url });
    await a.connect();
    const rtt = await a.ping(2000);
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(server.counters.pongsSent).toBe(1);
  });

  it('Restarting: the client reconnects after the advertised delay', async () => {
    const { server, url } = await startServer();
    const a = client({ url });
    await a.connect();
    const restarting = nextEvent<[{ reconnectInMs: number }]>(a, 'restarting');
    const reconnected = nextEvent(a, 'connected');
    const t0 = Date.now();
    server.broadcastRestarting(300, 2000);
    expect((await restarting)[0].reconnectInMs).toBe(300);
    await reconnected;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(a.generation).toBe(2);
    expect(a.counters.restarts).toBe(1);
  });

  it('reconnects with backoff after the server goes away and comes back on the same port', async () => {
    const key = NodePrivate.generate();
    const first = new DerpServer({ privateKey: key });
    const { url, port } = await first.listen();
    const a = client({ url, maxBackoffMs: 200 });
    const b = client({ url, maxBackoffMs: 200 });
    await Promise.all([a.connect(), b.connect()]);
    const down = nextEvent(a, 'disconnected');
    await first.close();
    await down;
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts
    const second = new DerpServer({ privateKey: key });
    cleanups.push(() => second.close());
    await second.listen({ port });
    await until(
      'both reconnected',
      () => a.state === 'connected' && b.state === 'connected' && a.generation === 2 && b.generation === 2,
      10_000,
    );
    expect(a.counters.connectFailures).toBeGreaterThan(0);
    expect(await exchange(a, b, 100)).toBe(100);
  });

  it('the admission hook refuses a key; the client sees the connection close', async () => {
    const refused = NodePrivate.generate();
    const { server, url } = await startServer({ admit: (r) => !r.nodeKey.equals(refused.public()) });
    const ok = client({ url });
    await ok.connect();
    const bad = client({ url, privateKey: refused, reconnect: false });
    await bad.connect().catch(() => {}); // ready is reached before the verdict; the close follows
    await until('refusal counted', () => server.counters.admissionRefused === 1);
    await until('refused client disconnected', () => bad.state !== 'connected');
    expect(server.isConnected(refused.public())).toBe(false);
  });

  it('WebSocket transport (subprotocol derp)', async () => {
    const { server, url } = await startServer();
    const wsUrl = url.replace('http://', 'ws://');
    const a = client({ url: wsUrl });
    const b = client({ url: wsUrl });
    await Promise.all([a.connect(), b.connect()]);
    expect(await exchange(a, b, 1000)).toBe(1000);
    expect(server.counters.websocketAccepts).toBe(2);
  });

  it('WebSocket to an IPv6 host name dialled at another address: the Host header brackets it', async () => {
    const server = new DerpServer();
    const http = createServer();
    const hosts: Array<string | undefined> = [];
    http.on('upgrade', (req) => hosts.push(req.headers.host));
    server.attach(http);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      await server.close();
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    });
    const port = (http.address() as AddressInfo).port;
    const { transport } = await dialDerp({
      protocol: 'ws:',
      hostname: '::1',
      connectHost: '127.0.0.1',
      port,
    });
    transport.destroy();
    expect(hosts).toEqual([`[::1]:${port}`]);
  });

  it('TLS with a sha256-raw pin; a wrong pin is refused; insecure works', async () => {
    const tls = selfSignedCert();
    const { url } = await startServer({}, { tls: { cert: tls.cert, key: tls.key } });
    expect(url.startsWith('https://')).toBe(true);
    const a = client({ url, tls: { certName: tls.pin } });
    const b = client({ url, tls: { insecure: true } });
    await Promise.all([a.connect(), b.connect()]);
    expect(await exchange(a, b, 500)).toBe(500);
    const wrong = client({ url, tls: { certName: `sha256-raw:${'00'.repeat(32)}` }, reconnect: false });
    await expect(wrong.connect()).rejects.toMatchObject({ code: 'ERR_TLS_CERT_PIN' });
    const unverified = client({ url, reconnect: false });
    await expect(unverified.connect()).rejects.toBeTruthy();
    const wss = client({ url: url.replace('https://', 'wss://'), tls: { certName: tls.pin } });
    await wss.connect();
    expect(await exchange(wss, a, 100)).toBe(100);
  });

  it('attaches to an existing http.Server, leaving its other routes alone', async () => {
    const server = new DerpServer();
    const http = createServer((req, res) => {
      if (server.handleRequest(req, res)) return;
      res.end(`app:${req.url}`);
    });
    server.attach(http);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      await server.close();
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    });
    const port = (http.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/other`)).text()).toBe('app:/other');
    expect((await fetch(`${base}/derp/latency-check`)).status).toBe(200);
    expect((await fetch(`${base}/derp`)).status).toBe(426);
    const a = client({ url: `${base}/derp` });
    const b = client({ url: `${base}/derp` });
    await Promise.all([a.connect(), b.connect()]);
    expect(await exchange(a, b, 100)).toBe(100);
  });
});
