// Two magicsocks on loopback with one of our DERP servers: datagrams flow over DERP first, disco
// finds the direct UDP path and traffic moves to it; a DERP-only node never goes direct; the path
// falls back to DERP when the peer's UDP socket dies.
import { AddrPort, NodePrivate } from '@tsnet/core';
import { DerpServer, parseDerpMap } from '@tsnet/derp';
import { afterEach, describe, expect, it } from 'vitest';
import { Magicsock } from '../src/magicsock/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function derpMap() {
  const s = new DerpServer();
  const { port } = await s.listen();
  cleanups.push(() => s.close());
  return parseDerpMap({
    Regions: {
      '900': {
        RegionID: 900,
        RegionCode: 'loop',
        Nodes: [
          {
            Name: '900a',
            RegionID: 900,
            HostName: '127.0.0.1',
            IPv4: '127.0.0.1',
            IPv6: 'none',
            DERPPort: port,
          },
        ],
      },
    },
  });
}

interface Side {
  ms: Magicsock;
  key: NodePrivate;
  got: Array<{ data: string; from: string }>;
}

async function side(opts: { disableDirect?: boolean; listenAddress?: string } = {}): Promise<Side> {
  const key = NodePrivate.generate();
  const ms = new Magicsock({
    nodeKey: key,
    listenAddress: opts.listenAddress ?? '127.0.0.1',
    derpUseHttp: true,
    ...(process.env.MS_DEBUG
      ? { logf: (f: string, ...a: unknown[]) => void process.stderr.write(`${f} ${a.join(' ')}\n`) }
      : {}),
    ...(opts.disableDirect !== undefined ? { disableDirect: opts.disableDirect } : {}),
  });
  cleanups.push(() => ms.close());
  const got: Side['got'] = [];
  await ms.open((data, from) => got.push({ data: Buffer.from(data).toString(), from }));
  return { ms, key, got };
}

/** Two sides with one DERP server as their region 900, both connected to it. */
async function connectedPair(aOpts: { disableDirect?: boolean } = {}): Promise<{ a: Side; b: Side }> {
  const map = await derpMap();
  const a = await side(aOpts);
  const b = await side();
  a.ms.setDerpMap(map);
  b.ms.setDerpMap(map);
  await until(
    'derp connected',
    () => a.ms.derp?.client(900)?.state === 'connected' && b.ms.derp?.client(900)?.state === 'connected',
  );
  return { a, b };
}

function introduce(a: Side, b: Side): void {
  const peerOf = (s: Side) => ({
    nodeKey: s.key.public(),
    discoKey: s.ms.discoPublic,
    homeDerp: 900,
    endpoints: s.ms.endpoints().map((e) => e.addr),
  });
  a.ms.setPeers([peerOf(b)]);
  b.ms.setPeers([peerOf(a)]);
}

// A WireGuard-looking datagram (type 4 transport), so it is not mistaken for disco or STUN.
const wg = (s: string) => Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from(s)]);

describe('Magicsock', () => {
  it('advertises its loopback endpoint and reports a home region', async () => {
    const map = await derpMap();
    const a = await side();
    expect(a.ms.endpoints().map((e) => e.addr.toString())).toEqual([`127.0.0.1:${a.ms.localPort}`]);
    const home = new Promise<number>((r) => a.ms.once('home', r));
    a.ms.setDerpMap(map);
    expect(await home).toBe(900);
  });

  it('sends over DERP, then upgrades to the direct path found by disco', async () => {
    const map = await derpMap();
    const a = await side();
    const b = await side();
    a.ms.setDerpMap(map);
    b.ms.setDerpMap(map);
    await until('homes', () => a.ms.homeRegion === 900 && b.ms.homeRegion === 900);
    await until(
      'derp connected',
      () => a.ms.derp?.client(900)?.state === 'connected' && b.ms.derp?.client(900)?.state === 'connected',
    );
    introduce(a, b);
    const aKey = a.key.public().toString();
    const bKey = b.key.public().toString();
    // Datagrams may be lost (a DERP connection still settling): resend until one arrives.
    const resend = setInterval(() => a.ms.send(wg('first'), bKey), 200);
    a.ms.send(wg('first'), bKey);
    await until('first datagram', () => b.got.find((g) => g.data.endsWith('first'))).finally(() =>
      clearInterval(resend),
    );
    expect(b.got[0]?.from).toBe(aKey);
    await until('direct path', () => a.ms.peerPath(bKey)?.trusted);
    expect(a.ms.peerPath(bKey)?.direct).toBe(`127.0.0.1:${b.ms.localPort}`);
    const derpBefore = a.ms.peerPath(bKey)?.txDerp ?? 0;
    a.ms.send(wg('second'), bKey);
    await until('second datagram', () => b.got.find((g) => g.data.endsWith('second')));
    expect(a.ms.peerPath(bKey)?.txDerp).toBe(derpBefore);
    expect(b.ms.peerPath(aKey)?.rxDirect).toBeGreaterThan(0);
    expect(b.got.every((g) => g.from === aKey)).toBe(true);
  });

  it('a DERP-only node never goes direct but still delivers', async () => {
    const { a, b } = await connectedPair({ disableDirect: true });
    introduce(a, b);
    expect(a.ms.endpoints()).toEqual([]);
    const bKey = b.key.public().toString();
    for (let i = 0; i < 5; i++) {
      a.ms.send(wg(`m${i}`), bKey);
      await new Promise((r) => setTimeout(r, 100));
    }
    await until('five datagrams', () => b.got.length >= 5);
    expect(a.ms.peerPath(bKey)?.direct).toBeUndefined();
    expect(b.ms.peerPath(a.key.public().toString())?.trusted).toBe(false);
  });

  it('ignores disco from unknown keys and drops sends to unknown peers', async () => {
    const a = await side();
    const stranger = await side();
    // The stranger knows a; a does not know the stranger: its pings are dropped before any crypto.
    stranger.ms.setPeers([
      {
        nodeKey: a.key.public(),
        discoKey: a.ms.discoPublic,
        homeDerp: 0,
        endpoints: [AddrPort.parse(`127.0.0.1:${a.ms.localPort}`)],
      },
    ]);
    stranger.ms.send(wg('x'), a.key.public().toString());
    await until('the stranger ping dropped', () => a.ms.counters.dropDiscoUnknownPeer > 0);
    expect(a.ms.counters.rxDisco).toBe(0);
    expect(stranger.ms.peerPath(a.key.public().toString())?.trusted).toBe(false);
    a.ms.send(wg('x'), NodePrivate.generate().public().toString());
    expect(a.ms.counters.dropSendUnknownPeer).toBe(1);
  });

  it('the first handshake of a peer not yet in our netmap is held and replayed when the netmap names it', async () => {
    const { a, b } = await connectedPair();
    const aKey = a.key.public().toString();
    const bKey = b.key.public().toString();
    // b knows a; a's netmap does not name b yet (control is a moment behind).
    b.ms.setPeers([{ nodeKey: a.key.public(), discoKey: a.ms.discoPublic, homeDerp: 900, endpoints: [] }]);
    const init = Buffer.alloc(148, 7);
    init.writeUInt32LE(1, 0);
    b.ms.send(init, aKey);
    b.ms.send(wg('not held'), aKey);
    await until('both over DERP', () => a.got.length >= 2);
    expect(a.ms.counters.heldInitiations).toBe(1);
    expect(a.got.length).toBe(2);
    a.ms.setPeers([{ nodeKey: b.key.public(), discoKey: b.ms.discoPublic, homeDerp: 900, endpoints: [] }]);
    // Replayed synchronously, from b's key, byte for byte; only the initiation.
    expect(a.ms.counters.replayedInitiations).toBe(1);
    expect(a.got.length).toBe(3);
    expect(a.got[2]).toEqual({ data: init.toString(), from: bKey });
    a.ms.setPeers([{ nodeKey: b.key.public(), discoKey: b.ms.discoPublic, homeDerp: 900, endpoints: [] }]);
    expect(a.ms.counters.replayedInitiations).toBe(1);
  });

  it('packets to a peer with no home region yet are sent once the netmap gives it one', async () => {
    const { a, b } = await connectedPair({ disableDirect: true });
    const bKey = b.key.public().toString();
    const peerB = (homeDerp: number) => ({
      nodeKey: b.key.public(),
      discoKey: b.ms.discoPublic,
      homeDerp,
      endpoints: [],
    });
    a.ms.setPeers([peerB(0)]);
    a.ms.send(wg('before the region'), bKey);
    await new Promise((r) => setTimeout(r, 200));
    expect(b.got.length).toBe(0);
    a.ms.setPeers([peerB(900)]);
    await until('the held datagram', () => b.got.find((g) => g.data.endsWith('before the region')));
    expect(a.ms.peerPath(bKey)?.txDerp).toBe(1);
  });

  it('one dual-stack socket on "::" reaches an IPv4 peer and an IPv6 peer directly', async () => {
    const a = await side({ listenAddress: '::' });
    const b = await side({ listenAddress: '127.0.0.1' });
    const c = await side({ listenAddress: '::1' });
    const aKey = a.key.public().toString();
    const bKey = b.key.public().toString();
    const cKey = c.key.public().toString();
    // No DERP, so no CallMeMaybe: the only paths are the loopback endpoints given here.
    const peer = (s: Side, ep: string) => ({
      nodeKey: s.key.public(),
      discoKey: s.ms.discoPublic,
      homeDerp: 0,
      endpoints: [AddrPort.parse(ep)],
    });
    a.ms.setPeers([peer(b, `127.0.0.1:${b.ms.localPort}`), peer(c, `[::1]:${c.ms.localPort}`)]);
    b.ms.setPeers([peer(a, `127.0.0.1:${a.ms.localPort}`)]);
    c.ms.setPeers([peer(a, `[::1]:${a.ms.localPort}`)]);
    a.ms.send(wg('to v4'), bKey);
    a.ms.send(wg('to v6'), cKey);
    await until(
      'both datagrams',
      () => b.got.some((g) => g.data.endsWith('to v4')) && c.got.some((g) => g.data.endsWith('to v6')),
    );
    expect(a.ms.peerPath(bKey)?.direct).toBe(`127.0.0.1:${b.ms.localPort}`);
    expect(a.ms.peerPath(cKey)?.direct).toBe(`[::1]:${c.ms.localPort}`);
    expect(a.ms.counters.udpSendErrors).toBe(0);
    // IPv4 into the dual-stack socket arrives v4-mapped and is matched to its peer.
    b.ms.send(wg('back over v4'), aKey);
    await until('the reply', () => a.got.find((g) => g.data.endsWith('back over v4')));
    expect(a.got.find((g) => g.data.endsWith('back over v4'))?.from).toBe(bKey);
  });
});
