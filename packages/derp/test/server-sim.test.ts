// The server on in-memory transports and a fake clock: deterministic checks of queues and drops,
// timeouts, rate limiting, keep-alives, mesh watchers and duplicate keys, and of the bytes it writes.
import { FakeClock, getCryptoProvider, NodePrivate, type NodePublic } from '@tsnet/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ClientEvent,
  ClientProtocol,
  DerpServer,
  type DerpServerOptions,
  emitFrame,
  encodeSendPacket,
  generateMeshKey,
  PEER_PRESENT_FLAGS,
} from '../src/index.js';
import { payload, payloadIndex } from './helpers.js';
import { MemoryTransport } from './memory-transport.js';

const crypto = getCryptoProvider();
const flush = () => new Promise((r) => setImmediate(r));

interface SimClient {
  key: NodePrivate;
  pub: NodePublic;
  /** The client's end of the pipe. */
  t: MemoryTransport;
  /** The server's end (stall it to simulate a client that does not read). */
  serverSide: MemoryTransport;
  events: ClientEvent[];
  packets: Uint8Array[];
  closed: boolean;
  send(dst: NodePublic, p: Uint8Array): void;
  raw(frame: Uint8Array): void;
}

function connect(
  server: DerpServer,
  opts: { meshKey?: string; key?: NodePrivate; handshake?: boolean } = {},
): SimClient {
  const key = opts.key ?? NodePrivate.generate();
  const [t, serverSide] = MemoryTransport.pair();
  const info: { version: number; canAckPings: boolean; meshKey?: string } = { version: 2, canAckPings: true };
  if (opts.meshKey !== undefined) info.meshKey = opts.meshKey;
  const proto = new ClientProtocol({ crypto, privateKey: key.raw, publicKey: key.public().raw, info });
  const c: SimClient = {
    key,
    pub: key.public(),
    t,
    serverSide,
    events: [],
    packets: [],
    closed: false,
    send: (dst, p) => t.writeBatch([encodeSendPacket(dst.raw, p)]),
    raw: (frame) => t.writeBatch([frame]),
  };
  t.setHandlers({
    onData: (chunk) => {
      if (opts.handshake === false) return;
      const evs = proto.receive(chunk);
      if (proto.outbox.length > 0) t.writeBatch(proto.outbox.splice(0));
      for (const e of evs) {
        if (e.type === 'packet') c.packets.push(e.packet.slice());
        c.events.push(e.type === 'packet' ? { ...e, packet: e.packet.slice() } : e);
      }
    },
    onDrain: () => {},
    onClose: () => {
      c.closed = true;
    },
  });
  server.accept(serverSide);
  return c;
}

const servers: DerpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function newServer(opts: DerpServerOptions = {}): { server: DerpServer; clock: FakeClock } {
  const clock = new FakeClock();
  const server = new DerpServer({ clock, ...opts });
  servers.push(server);
  return { server, clock };
}

describe('server on in-memory transports', () => {
  it('speaks first: ServerKey (magic, key), then ServerInfo sealed to the client after ClientInfo', async () => {
    const { server } = newServer();
    const a = connect(server);
    await flush();
    const first = a.serverSide.written[0]![0]!;
    expect([...first.subarray(0, 13)]).toEqual([
      1, 0, 0, 0, 40, 0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91,
    ]);
    expect(first.subarray(13)).toEqual(server.publicKey.raw);
    expect(a.events.map((e) => e.type)).toEqual(['ready', 'serverInfo']);
    expect(server.isConnected(a.pub)).toBe(true);
  });

  it('a client that does not read: each queue holds 32, the oldest are dropped and counted', async () => {
    const { server } = newServer();
    const a = connect(server);
    const b = connect(server);
    await flush();
    b.serverSide.stalled = true;
    for (let i = 0; i < 40; i++) a.send(b.pub, payload(i, 100));
    await flush();
    // One batch went out before the transport reported backpressure? No: stalled from the start,
    // so all 40 wait in the queue of 32.
    expect(server.counters.dropsByReason.queue_head).toBe(8);
    b.serverSide.unstall();
    await flush();
    expect(b.packets.map(payloadIndex)).toEqual(Array.from({ length: 32 }, (_, i) => i + 8));
    expect(server.counters.packetsDropped).toBe(8);
  });

  it('closes a client that has not read for the write timeout (2 s)', async () => {
    const { server, clock } = newServer();
    const a = connect(server);
    const b = connect(server);
    await flush();
    b.serverSide.stalled = true;
    a.send(b.pub, payload(1, 10));
    await flush();
    clock.advance(1999);
    expect(server.counters.writeTimeouts).toBe(0);
    clock.advance(1);
    expect(server.counters.writeTimeouts).toBe(1);
    expect(server.isConnected(b.pub)).toBe(false);
  });

  it('a connection that sends no ClientInfo is closed after 10 s; a wrong first frame at once', async () => {
    const { server, clock } = newServer();
    const silent = connect(server, { handshake: false });
    await flush();
    clock.advance(9999);
    expect(silent.serverSide.closed).toBe(false);
    clock.advance(1);
    expect(silent.serverSide.closed).toBe(true);
    const rude = connect(server, { handshake: false });
    rude.raw(emitFrame({ type: 'KeepAlive' }));
    await flush();
    expect(rude.serverSide.closed).toBe(true);
    expect(server.counters.handshakeFailures).toBe(2);
  });

  it('rate limit: reading pauses when over budget and resumes on time; ServerInfo advertises it', async () => {
    const { server, clock } = newServer({ rateLimit: { bytesPerSecond: 1000, burstBytes: 2100 } });
    const a = connect(server);
    const b = connect(server);
    await flush();
    const si = a.events.find((e) => e.type === 'serverInfo');
    expect(si?.type === 'serverInfo' && si.info.tokenBucketBytesPerSecond).toBe(1000);
    for (let i = 0; i < 4; i++) a.send(b.pub, payload(i, 1000));
    await flush();
    expect(b.packets.length).toBe(3); // the third frame went over budget and paused reading
    expect(server.counters.rateLimitWaits).toBe(1);
    clock.advance(1200);
    await flush();
    expect(b.packets.map(payloadIndex)).toEqual([0, 1, 2, 3]);
    expect(server.counters.packetsDropped).toBe(0);
  });

  it('keep-alive every 60 s (+ up to 5 s jitter)', async () => {
    const { server, clock } = newServer();
    const a = connect(server);
    await flush();
    clock.advance(59_999);
    await flush();
    expect(a.events.some((e) => e.type === 'keepAlive')).toBe(false);
    clock.advance(5001);
    await flush();
    expect(a.events.filter((e) => e.type === 'keepAlive').length).toBe(1);
    expect(server.counters.keepAlivesSent).toBe(1);
  });

  it('a keep-alive dropped by a full control queue counts as dropped, not as sent', async () => {
    const { server, clock } = newServer();
    const a = connect(server);
    await flush();
    // 4096 control frames queued in this turn (no flush yet): the queue is full when the keep-alive is due.
    for (let i = 0; i < 4096; i++) server.setHealth(a.pub, 'x');
    clock.advance(65_000);
    expect(server.counters.controlFramesDropped).toBe(1);
    expect(server.counters.keepAlivesSent).toBe(0);
    await flush();
    clock.advance(65_000);
    expect(server.counters.keepAlivesSent).toBe(1);
  });

  it('keep-alive jitter comes from the crypto provider (it used Math.random)', async () => {
    // All-ones randomness: the largest jitter, 4999 ms. Math.random would say 0.
    const ones = { ...crypto, randomBytes: (n: number) => new Uint8Array(n).fill(0xff) };
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      const { server, clock } = newServer({ crypto: ones });
      const a = connect(server);
      await flush();
      clock.advance(64_998);
      await flush();
      expect(server.counters.keepAlivesSent).toBe(0);
      clock.advance(1);
      await flush();
      expect(a.events.filter((e) => e.type === 'keepAlive').length).toBe(1);
    } finally {
      random.mockRestore();
    }
  });

  it('a closed connection whose client never finishes the close is destroyed after 1 s of the server clock', async () => {
    const { server, clock } = newServer();
    const a = connect(server);
    await flush();
    a.serverSide.ignoreEnd = true;
    server.closeClient(a.pub);
    await flush();
    clock.advance(999);
    expect(a.serverSide.closed).toBe(false);
    clock.advance(1);
    expect(a.serverSide.closed).toBe(true);
  });

  it('skips unknown frames; closes on a malformed NotePreferred, as Go does', async () => {
    const { server } = newServer();
    const a = connect(server);
    await flush();
    a.raw(emitFrame({ type: 'Unknown', frameType: 0x42, payload: new Uint8Array(5) }));
    a.raw(emitFrame({ type: 'NotePreferred', preferred: true }));
    await flush();
    expect(server.counters.unknownFrames).toBe(1);
    expect(server.counters.currentHomeClients).toBe(1);
    const bad = new Uint8Array([0x07, 0, 0, 0, 2, 1, 1]);
    a.raw(bad);
    await flush();
    expect(server.counters.protocolErrors).toBe(1);
    expect(server.counters.currentHomeClients).toBe(0);
  });

  it('mesh watchers get PeerPresent for everyone and PeerGone when one leaves; others may not watch', async () => {
    const meshKey = generateMeshKey();
    const { server } = newServer({ meshKey });
    const a = connect(server);
    const watcher = connect(server, { meshKey });
    await flush();
    watcher.raw(emitFrame({ type: 'WatchConns' }));
    await flush();
    const b = connect(server);
    await flush();
    const present = watcher.events.filter((e) => e.type === 'peerPresent');
    const keys = present.map((e) => (e.type === 'peerPresent' ? e.peer.toString() : ''));
    expect(keys).toContain(a.pub.toString());
    expect(keys).toContain(b.pub.toString());
    const pb = present.find((e) => e.type === 'peerPresent' && e.peer.equals(b.pub));
    expect(pb?.type === 'peerPresent' && pb.flags).toBe(PEER_PRESENT_FLAGS.IsRegular);
    expect(pb?.type === 'peerPresent' && pb.port).toBe(40001);
    b.t.destroy();
    await flush();
    expect(watcher.events.some((e) => e.type === 'peerGone' && e.peer.equals(b.pub))).toBe(true);
    a.raw(emitFrame({ type: 'WatchConns' }));
    await flush();
    expect(a.closed).toBe(true);
  });

  it('a mesh peer can ForwardPacket and ClosePeer', async () => {
    const meshKey = generateMeshKey();
    const { server } = newServer({ meshKey });
    const mesh = connect(server, { meshKey });
    const a = connect(server);
    const b = connect(server);
    await flush();
    mesh.raw(emitFrame({ type: 'ForwardPacket', src: a.pub.raw, dst: b.pub.raw, packet: payload(7, 20) }));
    await flush();
    expect(b.events.some((e) => e.type === 'packet' && e.src.equals(a.pub))).toBe(true);
    mesh.raw(emitFrame({ type: 'ClosePeer', peer: b.pub.raw }));
    await flush();
    await flush();
    expect(b.closed).toBe(true);
  });

  it('duplicate connections: the newest is active; when it leaves the older one takes over', async () => {
    const { server } = newServer();
    const key = NodePrivate.generate();
    const a = connect(server);
    const old = connect(server, { key });
    await flush();
    const fresh = connect(server, { key });
    await flush();
    expect(server.counters.duplicateClientKeys).toBe(1);
    a.send(key.public(), payload(1, 10));
    await flush();
    expect(fresh.packets.length).toBe(1);
    expect(old.packets.length).toBe(0);
    fresh.t.destroy();
    await flush();
    a.send(key.public(), payload(2, 10));
    await flush();
    expect(old.packets.map(payloadIndex)).toEqual([2]);
    expect(server.counters.duplicateClientKeys).toBe(0);
  });

  it('a client frame over 256 KiB ends the connection without being buffered', async () => {
    const { server } = newServer();
    const a = connect(server);
    await flush();
    const hdr = new Uint8Array([0x04, 0, 0x04, 0, 1]); // SendPacket of 256 KiB + 1
    a.raw(hdr);
    await flush();
    expect(a.closed).toBe(true);
    expect(server.counters.protocolErrors).toBe(1);
  });

  it('Health and Restarting frames reach clients', async () => {
    const { server } = newServer();
    const a = connect(server);
    await flush();
    server.setHealth(a.pub, 'duplicate connection');
    server.broadcastRestarting(500, 3000);
    await flush();
    expect(a.events).toContainEqual({ type: 'health', problem: 'duplicate connection' });
    expect(a.events).toContainEqual({ type: 'restarting', reconnectInMs: 500, tryForMs: 3000 });
  });
});
