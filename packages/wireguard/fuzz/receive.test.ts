/**
 * Fuzzing the receive path: random, truncated, oversized and mutated datagrams, wrong MACs, stale
 * counters and unknown indices are fed to an established Device. Each must be dropped and counted,
 * never throw, and change no state: the session keeps working afterwards and the peer's keys,
 * counters, endpoint and statistics are as before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Device } from '../src/index.js';
import {
  messageType,
  parseMessageCookieReply,
  parseMessageInitiation,
  parseMessageResponse,
  parseMessageTransport,
} from '../src/index.js';
import { A_IP, B_IP, dataPacket, makePair, packetNumber } from '../test/helpers.js';

function snapshot(dev: Device, key: string) {
  const p = dev.core.debugPeer(key);
  const kps = p.keypairs;
  return {
    stats: dev.peerStats(key),
    current: kps.current && {
      idx: kps.current.localIndex,
      nonce: kps.current.sendNonce,
      key: Buffer.from(kps.current.recvKey).toString('hex'),
    },
    previous: kps.previous?.localIndex,
    next: kps.next?.localIndex,
    hsState: p.handshake.state,
    hsIndex: p.handshake.localIndex,
    lastTs: Buffer.from(p.handshake.lastTimestamp).toString('hex'),
    timers: { ...p.timers },
    staged: p.staged.length,
    rxData: dev.counters.rxDataPackets,
    rxKa: dev.counters.rxKeepalives,
    tx: dev.counters.txDatagrams,
  };
}

const dropKeys = [
  'dropTooShort',
  'dropUnknownType',
  'dropBadLength',
  'dropBadMac1',
  'dropInvalidInitiation',
  'dropInvalidResponse',
  'dropInvalidCookieReply',
  'dropUnknownIndex',
  'dropExpiredKeypair',
  'dropDecryptFailed',
  'dropReplay',
  'dropCounterLimit',
] as const;

function drops(dev: Device): number {
  return dropKeys.reduce((s, k) => s + dev.counters[k], 0);
}

describe('fuzz: bad datagrams at the Bind', () => {
  it('parsers never throw on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        messageType(b);
        parseMessageInitiation(b);
        parseMessageResponse(b);
        parseMessageCookieReply(b);
        parseMessageTransport(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('random, truncated, oversized and mutated datagrams are dropped, counted, and change nothing', async () => {
    const { clock, net, a, b, tunB, bindB, aKey } = await makePair();
    net.record = true;
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    b.send(dataPacket(B_IP, A_IP, 2));
    clock.advance(10);
    a.send(dataPacket(A_IP, B_IP, 3));
    clock.advance(10);
    const valid = net.log.filter((d) => d.to === 'b:1').map((d) => d.data);
    const transport = valid.filter((d) => d[0] === 4);
    const idx = Buffer.from(transport.at(-1)!).readUInt32LE(4);
    expect(valid.length).toBeGreaterThanOrEqual(3);
    const before = snapshot(b, aKey);
    const receivedBefore = tunB.received.length;
    const dropsBefore = drops(b);

    // Generators: each produces a datagram that must be rejected.
    const header = (type: number, len: number, index?: number) =>
      fc.uint8Array({ minLength: len, maxLength: len }).map((x) => {
        x[0] = type;
        x[1] = x[2] = x[3] = 0;
        if (index !== undefined) Buffer.from(x.buffer, x.byteOffset).writeUInt32LE(index, 4);
        return x;
      });
    const mutate = fc
      .tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 }))
      .map(([d, pos, x]) => {
        const m = new Uint8Array(d);
        m[pos % m.length] = m[pos % m.length]! ^ x;
        return m;
      });
    const truncate = fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([d, n]) => d.slice(0, n % d.length));
    const extend = fc
      .tuple(
        fc.constantFrom(...valid.filter((d) => d[0] !== 4)),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
      )
      .map(([d, x]) => Buffer.concat([d, x]));
    const oversized = fc.integer({ min: 65_536, max: 70_000 }).map((n) => {
      const x = new Uint8Array(n);
      x[0] = 4;
      return x;
    });
    const stale = fc.constantFrom(...transport).map((d) => new Uint8Array(d)); // replays: stale counters
    const futureCounter = fc
      .tuple(fc.constantFrom(...transport), fc.integer({ min: 0, max: 0xffffffff }))
      .map(([d, hi]) => {
        const m = new Uint8Array(d);
        Buffer.from(m.buffer).writeUInt32LE(hi, 12); // counter changed: tag fails or limit hit
        return m;
      });
    const gen = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      header(1, 148),
      header(2, 92),
      header(3, 64),
      header(3, 64, idx),
      header(4, 32),
      header(4, 100, idx),
      header(4, 100),
      header(5, 100),
      mutate,
      truncate,
      extend,
      oversized,
      stale,
      futureCounter,
    );
    let n = 0;
    fc.assert(
      fc.property(gen, (d) => {
        n++;
        expect(() => bindB.deliver(new Uint8Array(d), 'a:1')).not.toThrow();
      }),
      { numRuns: 1500 },
    );
    expect(b.counters.internalErrors).toBe(0);
    expect(drops(b) - dropsBefore).toBe(n);
    clock.advance(1); // nothing scheduled differently
    const after = snapshot(b, aKey);
    expect(after).toEqual(before);
    expect(tunB.received.length).toBe(receivedBefore);
    // The session still works both ways.
    a.send(dataPacket(A_IP, B_IP, 4));
    clock.advance(10);
    expect(tunB.received.map(packetNumber).at(-1)).toBe(4);
    await a.close();
    await b.close();
  });

  it('forged datagrams from other addresses do not move the endpoint or start handshakes', async () => {
    const { clock, a, b, bindB, aKey } = await makePair();
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    const tx = b.counters.txDatagrams;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 200 }), fc.constantFrom(1, 2, 3, 4), (d, t) => {
        d[0] = t;
        d[1] = d[2] = d[3] = 0;
        bindB.deliver(d, 'evil:9');
      }),
      { numRuns: 500 },
    );
    expect(b.peerStats(aKey)!.endpoint).toBe('a:1');
    expect(b.counters.txDatagrams).toBe(tx);
    expect(b.counters.internalErrors).toBe(0);
    await a.close();
    await b.close();
  });
});
