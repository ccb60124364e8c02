// Region handling against two of our servers on loopback: latency, home choice with hysteresis,
// NotePreferred, on-demand connections to other regions, idle close on a fake clock.
import { type AddressInfo, createServer } from 'node:net';
import { FakeClock, NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DerpClient,
  type DerpMap,
  DerpRegionManager,
  DerpServer,
  generateMeshKey,
  PEER_PRESENT_FLAGS,
  parseDerpMap,
  probeLatency,
} from '../src/index.js';
import { selfSignedCert, until } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function regions(n: number): Promise<{ servers: DerpServer[]; map: DerpMap }> {
  const servers: DerpServer[] = [];
  const Regions: Record<string, unknown> = {};
  for (let id = 1; id <= n; id++) {
    const s = new DerpServer();
    const { port } = await s.listen();
    cleanups.push(() => s.close());
    servers.push(s);
    Regions[String(id)] = {
      RegionID: id,
      RegionCode: `r${id}`,
      Nodes: [
        {
          Name: `${id}a`,
          RegionID: id,
          HostName: '127.0.0.1',
          IPv4: '127.0.0.1',
          IPv6: 'none',
          DERPPort: port,
        },
      ],
    };
  }
  return { servers, map: parseDerpMap({ Regions }) };
}

function manager(opts: ConstructorParameters<typeof DerpRegionManager>[0]): DerpRegionManager {
  const m = new DerpRegionManager(opts);
  cleanups.push(() => m.close());
  return m;
}

describe('DerpRegionManager', () => {
  it('measures every region over HTTP(S) /derp/latency-check', async () => {
    const { map } = await regions(2);
    const m = manager({ privateKey: NodePrivate.generate(), derpMap: map, useHttp: true });
    const lat = await m.measureLatencies();
    expect([...lat.keys()].sort()).toEqual([1, 2]);
    for (const ms of lat.values()) expect(ms).toBeGreaterThanOrEqual(0);
  });

  it('measures a TLS node with a pinned certificate; a wrong pin leaves the region unmeasured', async () => {
    const cert = selfSignedCert();
    const s = new DerpServer();
    const { port } = await s.listen({ tls: { cert: cert.cert, key: cert.key } });
    cleanups.push(() => s.close());
    const node = { Name: '1a', RegionID: 1, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: port };
    const map = parseDerpMap({
      Regions: {
        '1': { RegionID: 1, RegionCode: 'ok', Nodes: [{ ...node, CertName: cert.pin }] },
        '2': {
          RegionID: 2,
          RegionCode: 'bad',
          Nodes: [{ ...node, RegionID: 2, CertName: `sha256-raw:${'00'.repeat(32)}` }],
        },
      },
    });
    const m = manager({ privateKey: NodePrivate.generate(), derpMap: map });
    const lat = await m.measureLatencies();
    expect([...lat.keys()]).toEqual([1]);
  });

  it('chooses the fastest region as home, with hysteresis, and tells the servers (NotePreferred)', async () => {
    const { servers, map } = await regions(2);
    let fake: Record<number, number> = { 1: 50, 2: 10 };
    const m = manager({
      privateKey: NodePrivate.generate(),
      derpMap: map,
      useHttp: true,
      measure: async (r) => fake[r.RegionID] ?? null,
    });
    expect(await m.chooseHome()).toBe(2);
    await until('home noted by region 2', () => servers[1]!.counters.currentHomeClients === 1);
    fake = { 1: 8, 2: 10 }; // better, but not by a third: stay
    expect(await m.chooseHome()).toBe(2);
    fake = { 1: 5, 2: 10 };
    expect(await m.chooseHome()).toBe(1);
    await until(
      'home moved',
      () => servers[0]!.counters.currentHomeClients === 1 && servers[1]!.counters.currentHomeClients === 0,
    );
  });

  it('skips Avoid and NoMeasureNoHome regions for home', async () => {
    const { map } = await regions(2);
    map.Regions['1']!.Avoid = true;
    const m = manager({
      privateKey: NodePrivate.generate(),
      derpMap: map,
      useHttp: true,
      measure: async (r) => (r.RegionID === 1 ? 1 : 30),
    });
    expect(await m.chooseHome()).toBe(2);
  });

  it('opens another region on demand, receives from it, and closes it when idle (fake clock)', async () => {
    const { map } = await regions(2);
    const clock = new FakeClock();
    const a = manager({ privateKey: NodePrivate.generate(), derpMap: map, useHttp: true, clock });
    await a.setHome(1);
    // A peer whose home is region 2.
    const peer = new DerpClient({
      privateKey: NodePrivate.generate(),
      region: map.Regions['2']!,
      useHttp: true,
    });
    cleanups.push(() => peer.close());
    await peer.connect();
    const got: Uint8Array[] = [];
    peer.on('packet', (p) => got.push(p.slice()));
    expect(a.send(2, peer.publicKey, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(a.connectedRegions).toEqual([1, 2]);
    await until('packet via region 2', () => got.length === 1);
    // The reply comes back on the same region connection.
    const back = new Promise<number>((resolve) => a.once('packet', (_p, _src, region) => resolve(region)));
    peer.send(a.client(2)!.publicKey, new Uint8Array([9]));
    expect(await back).toBe(2);
    clock.advance(59_000);
    expect(a.connectedRegions).toEqual([1, 2]);
    clock.advance(16_000); // the 15 s check after 60 s idle
    expect(a.connectedRegions).toEqual([1]);
  });

  it('a region client falls over to the next node and says which was ideal (PeerPresent NotIdeal)', async () => {
    const meshKey = generateMeshKey();
    const s = new DerpServer({ meshKey });
    const { port, url } = await s.listen();
    cleanups.push(() => s.close());
    const dead = new DerpServer();
    const deadPort = (await dead.listen()).port;
    await dead.close(); // nothing listens there any more
    const region = parseDerpMap({
      Regions: {
        '7': {
          RegionID: 7,
          RegionCode: 'x',
          Nodes: [
            { Name: '7a', RegionID: 7, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: deadPort },
            { Name: '7b', RegionID: 7, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: port },
          ],
        },
      },
    }).Regions['7']!;
    const watcher = new DerpClient({
      privateKey: NodePrivate.generate(),
      url,
      meshKey,
      watchConnectionChanges: true,
    });
    cleanups.push(() => watcher.close());
    const flags = new Map<string, number | undefined>();
    watcher.on('peerPresent', (peer, info) => flags.set(peer.toString(), info.flags));
    await watcher.connect();
    const c = new DerpClient({ privateKey: NodePrivate.generate(), region, useHttp: true });
    cleanups.push(() => c.close());
    await c.connect();
    await until('PeerPresent for the client', () => flags.has(c.publicKey.toString()));
    expect(flags.get(c.publicKey.toString())).toBe(PEER_PRESENT_FLAGS.NotIdeal);
  });

  it('closed while choosing the home region, it opens no connection afterwards', async () => {
    const { map, servers } = await regions(1);
    let release: () => void = () => {};
    const gate = new Promise<number>((r) => {
      release = () => r(1);
    });
    const m = manager({
      privateKey: NodePrivate.generate(),
      derpMap: map,
      useHttp: true,
      measure: () => gate,
    });
    const choosing = m.chooseHome();
    await m.close();
    release();
    expect(await choosing).toBeNull();
    await m.setHome(1);
    expect(m.connectedRegions).toEqual([]);
    expect(m.client(1)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(servers[0]?.counters.accepts).toBe(0);
  });

  it("parseDerpMap reads omitDefaultRegions under Go's JSON name and the field name", () => {
    for (const key of ['omitDefaultRegions', 'OmitDefaultRegions']) {
      expect(parseDerpMap({ Regions: {}, [key]: true }).OmitDefaultRegions).toBe(true);
    }
    expect(parseDerpMap({ Regions: {} }).OmitDefaultRegions).toBeUndefined();
  });

  it('probeLatency reads a status line that arrives in pieces, and refuses a non-2xx or endless one', async () => {
    const serve = (reply: (sock: import('node:net').Socket) => void) =>
      new Promise<number>((resolve) => {
        const srv = createServer((sock) => {
          sock.on('error', () => {});
          sock.once('data', () => reply(sock));
        });
        srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port));
        cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
      });
    const target = (port: number) => ({ protocol: 'http:' as const, hostname: '127.0.0.1', port });
    const split = await serve((sock) => {
      sock.write('HTTP/1.');
      setTimeout(() => sock.end('1 200 OK\r\nContent-Length: 0\r\n\r\n'), 30);
    });
    expect(await probeLatency(target(split))).toBeGreaterThanOrEqual(0);
    const refused = await serve((sock) => sock.end('HTTP/1.1 404 Not Found\r\n\r\n'));
    await expect(probeLatency(target(refused))).rejects.toMatchObject({ code: 'ERR_DERP_PROBE' });
    const endless = await serve((sock) => sock.write(Buffer.alloc(5000, 0x41)));
    await expect(probeLatency(target(endless))).rejects.toMatchObject({
      code: 'ERR_DERP_PROBE',
      message: expect.stringMatching(/no status line in the first 4096 bytes$/),
    });
  });

  it('probeLatency says so when the server closes before the status line ends (it waited for the timeout)', async () => {
    const srv = createServer((sock) => {
      sock.on('error', () => {});
      sock.once('data', () => sock.end('HTTP/1.1 2'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
    const port = (srv.address() as AddressInfo).port;
    await expect(probeLatency({ protocol: 'http:', hostname: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'ERR_DERP_PROBE',
      message: expect.stringMatching(/closed before the status line ended$/),
    });
  });
});
