// Interop 1: our DerpClient against the real Go derper (tailscale.com/cmd/derper v1.102.3), plain
// HTTP and TLS with the self-signed certificate pinned by CertName, HTTP upgrade and WebSocket.
// Two clients of ours exchange packets through it and every payload is checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodePrivate } from '@tsnet/core';
import { type Derper, describeInterop, printLogsOnFailure, startDerper } from '@tsnet/interop';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  DerpClient,
  type DerpClientOptions,
  DerpServer,
  generateMeshKey,
  PEER_GONE_REASON,
  PEER_PRESENT_FLAGS,
  parseDerpMap,
} from '../src/index.js';
import { nextEvent, payload, payloadIndex, until } from './helpers.js';

const clients: DerpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

function client(opts: Omit<DerpClientOptions, 'privateKey'>): DerpClient {
  const c = new DerpClient({ privateKey: NodePrivate.generate(), connectTimeoutMs: 5000, ...opts });
  clients.push(c);
  return c;
}

/**
 * A sends `n` packets of `size` to B, at most `window` in flight (B's count tells what arrived),
 * and B checks each one. DERP may drop under overload; on loopback with a window it does not, and
 * the test demands every packet.
 */
async function relay(a: DerpClient, b: DerpClient, n: number, size: number, window = 32): Promise<void> {
  const seen = new Uint8Array(n);
  let got = 0;
  let bad = 0;
  const onPacket = (p: Uint8Array, src: { equals(x: unknown): boolean }) => {
    const i = payloadIndex(p);
    if (!src.equals(a.publicKey) || i >= n || Buffer.compare(p, payload(i, size)) !== 0) {
      bad++;
      return;
    }
    if (seen[i] === 0) {
      seen[i] = 1;
      got++;
    }
  };
  b.on('packet', onPacket);
  try {
    for (let i = 0; i < n; i++) {
      if (i - got >= window) await until(`packet ${i - window} at B`, () => i - got < window, 10_000);
      expect(a.send(b.publicKey, payload(i, size))).toBe(true);
    }
    await until(`all ${n} packets at B (got ${got})`, () => got === n, 15_000);
  } finally {
    b.off('packet', onPacket);
  }
  expect(bad).toBe(0);
  expect(got).toBe(n);
}

describeInterop('interop: our DerpClient <-> real derper (plain HTTP)', ['derper'], () => {
  let derper: Derper | null = null;
  printLogsOnFailure(() => ({ derper }));
  beforeAll(async () => {
    derper = await startDerper({ tls: false, stun: false });
  }, 30_000);
  afterAll(async () => {
    await derper?.close();
  });

  it('two clients exchange 10,000 packets through derper, every payload checked', async () => {
    const url = `${derper!.url}/derp`;
    const a = client({ url });
    const b = client({ url });
    await Promise.all([a.connect(), b.connect()]);
    expect(a.serverPublicKey?.equals(b.serverPublicKey!)).toBe(true);
    await relay(a, b, 10_000, 1200);
    await relay(b, a, 500, 16 * 1024);
    expect(a.counters.packetsDroppedQueueFull + b.counters.packetsDroppedQueueFull).toBe(0);
  }, 60_000);

  it('through the DERP map (region client, plain HTTP): ping answered, PeerGone when the sender leaves', async () => {
    const region = parseDerpMap(derper!.derpMap()).Regions[String(derper!.regionId)]!;
    const a = client({ region, useHttp: true });
    const b = client({ region, useHttp: true, preferred: true });
    await Promise.all([a.connect(), b.connect()]);
    expect(await a.ping(3000)).toBeGreaterThanOrEqual(0);
    await relay(a, b, 100, 100);
    const gone = nextEvent<[{ equals(x: unknown): boolean }, number]>(b, 'peerGone', 10_000);
    await a.close();
    const [peer, reason] = await gone;
    expect(peer.equals(a.publicKey)).toBe(true);
    expect(reason).toBe(PEER_GONE_REASON.Disconnected);
  }, 30_000);

  it('WebSocket (subprotocol derp) to derper, mixed with an HTTP-upgrade client', async () => {
    const wsUrl = `${derper!.url.replace('http://', 'ws://')}/derp`;
    const a = client({ url: wsUrl });
    const b = client({ url: `${derper!.url}/derp` });
    await Promise.all([a.connect(), b.connect()]);
    await relay(a, b, 2000, 1200);
    await relay(b, a, 2000, 1200);
  }, 60_000);

  it('a disco packet to a key derper does not know gets PeerGone(NotHere)', async () => {
    const a = client({ url: `${derper!.url}/derp` });
    await a.connect();
    const stranger = NodePrivate.generate().public();
    const disco = new Uint8Array(100);
    disco.set([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
    const gone = nextEvent<[{ equals(x: unknown): boolean }, number]>(a, 'peerGone', 10_000);
    a.send(stranger, disco);
    const [peer, reason] = await gone;
    expect(peer.equals(stranger)).toBe(true);
    expect(reason).toBe(PEER_GONE_REASON.NotHere);
  }, 30_000);

  it('when derper goes away the client reports it and keeps retrying with backoff', async () => {
    const a = client({ url: `${derper!.url}/derp`, maxBackoffMs: 300 });
    await a.connect();
    const down = nextEvent(a, 'disconnected', 10_000);
    await derper!.close();
    derper = null;
    await down;
    await until('two failed reconnect attempts', () => a.counters.connectFailures >= 2, 10_000);
    expect(['waiting', 'connecting']).toContain(a.state);
  }, 30_000);
});

describeInterop('interop: our DerpClient <-> real derper (TLS, CertName sha256-raw pin)', ['derper'], () => {
  let derper: Derper | null = null;
  printLogsOnFailure(() => ({ derper }));
  beforeAll(async () => {
    derper = await startDerper({ tls: true, stun: false });
  }, 30_000);
  afterAll(async () => {
    await derper?.close();
  });

  it('two region clients (HTTPS, pinned) exchange 10,000 packets, every payload checked', async () => {
    const region = parseDerpMap(derper!.derpMap()).Regions[String(derper!.regionId)]!;
    expect(region.Nodes[0]?.CertName).toMatch(/^sha256-raw:[0-9a-f]{64}$/);
    const a = client({ region });
    const b = client({ region });
    await Promise.all([a.connect(), b.connect()]);
    await relay(a, b, 10_000, 1200);
    await relay(b, a, 10_000, 1200);
  }, 90_000);

  it('a wrong pin is refused before any DERP byte; no pin and no CA is refused too', async () => {
    const region = parseDerpMap(derper!.derpMap()).Regions[String(derper!.regionId)]!;
    const node = { ...region.Nodes[0]!, CertName: `sha256-raw:${'ab'.repeat(32)}` };
    const wrong = client({ region: { ...region, Nodes: [node] }, reconnect: false });
    await expect(wrong.connect()).rejects.toMatchObject({ code: 'ERR_TLS_CERT_PIN' });
    const unpinned = client({ url: `${derper!.url}/derp`, reconnect: false });
    await expect(unpinned.connect()).rejects.toBeTruthy();
  }, 30_000);

  it('WebSocket over TLS (wss) with the pin', async () => {
    const region = parseDerpMap(derper!.derpMap()).Regions[String(derper!.regionId)]!;
    const a = client({ region, websocket: true });
    const b = client({ region });
    await Promise.all([a.connect(), b.connect()]);
    await relay(a, b, 1000, 1200);
    await relay(b, a, 1000, 1200);
  }, 60_000);
});

describeInterop(
  'interop: mesh with the real derper (mesh key, WatchConns, PeerPresent, ForwardPacket)',
  ['derper'],
  () => {
    let derper: Derper | null = null;
    let ours: DerpServer | null = null;
    const meshKey = generateMeshKey();
    const dir = mkdtempSync(join(tmpdir(), 'derp-mesh-'));
    printLogsOnFailure(() => ({ derper }));
    beforeAll(async () => {
      const pskFile = join(dir, 'mesh.key');
      writeFileSync(pskFile, `${meshKey}\n`, { mode: 0o600 });
      derper = await startDerper({ tls: false, stun: false, extraArgs: ['-mesh-psk-file', pskFile] });
    }, 30_000);
    afterAll(async () => {
      await ours?.close();
      await derper?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('a mesh client of ours watching derper sees PeerPresent (address, flags) and PeerGone', async () => {
      const url = `${derper!.url}/derp`;
      const watcher = client({ url, meshKey, watchConnectionChanges: true });
      const present = new Map<string, { port?: number; flags?: number }>();
      const gone: string[] = [];
      watcher.on('peerPresent', (peer, info) => present.set(peer.toString(), info));
      watcher.on('peerGone', (peer) => gone.push(peer.toString()));
      await watcher.connect();
      const x = client({ url });
      await x.connect();
      await until('PeerPresent for x', () => present.has(x.publicKey.toString()), 10_000);
      const info = present.get(x.publicKey.toString())!;
      expect(info.flags).toBe(PEER_PRESENT_FLAGS.IsRegular);
      expect(info.port).toBeGreaterThan(0);
      await x.close();
      await until('PeerGone for x', () => gone.includes(x.publicKey.toString()), 10_000);
    }, 30_000);

    it('our server meshed with derper forwards a packet to a client connected to derper', async () => {
      ours = new DerpServer({ meshKey });
      const { url } = await ours.listen();
      ours.meshWith(`${derper!.url}/derp`);
      const a = client({ url });
      const b = client({ url: `${derper!.url}/derp` });
      await Promise.all([a.connect(), b.connect()]);
      const got: number[] = [];
      b.on('packet', (p, src) => {
        if (src.equals(a.publicKey)) got.push(p[0]!);
      });
      await until(
        'a packet from our server to derper via ForwardPacket',
        () => {
          a.send(b.publicKey, new Uint8Array([7]));
          return got.length > 0;
        },
        10_000,
      );
      expect(got[0]).toBe(7);
      expect(ours.counters.packetsForwardedOut).toBeGreaterThan(0);
    }, 30_000);
  },
);
