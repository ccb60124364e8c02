/**
 * The whole receive path under hostile input: random bytes, and real packets captured from a live
 * connection then mutated (bit flips, truncation, header rewrites with fixed checksums), fed to a
 * stack with a listener. Nothing may throw, and the stack's state must stay bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../src/clock.js';
import type { LinkEndpoint } from '../src/link/link.js';
import { seededRandom } from '../src/random.js';
import { Stack } from '../src/stack.js';
import { finish, ones, pseudoHeader } from '../src/wire/checksum.js';
import { A4, B4, runUntil, twoStacks } from '../test/sim.js';

/** Captures what a real exchange puts on the wire, to mutate. */
async function capture(): Promise<Uint8Array[]> {
  const { clock, a, b, pipe } = twoStacks();
  const seen: Uint8Array[] = [];
  for (const end of [pipe.a, pipe.b]) {
    const orig = end.writePacket.bind(end);
    end.writePacket = (p: Uint8Array) => {
      seen.push(p.slice());
      orig(p);
    };
  }
  a.listen({ port: 80 }, (s) => s.pipe(s));
  const sock = b.connect({ host: A4, port: 80 });
  let got = 0;
  sock.on('data', (d: Buffer) => {
    got += d.length;
  });
  sock.end(Buffer.alloc(20_000, 3));
  await runUntil(clock, () => got === 20_000);
  let pinged = false;
  b.ping(A4).then(() => {
    pinged = true;
  });
  await runUntil(clock, () => pinged);
  const u = b.createUdpSocket('udp6');
  u.send('x', 1, 'fd7a:115c:a1e0::1');
  clock.advance(200_000);
  return seen;
}

/** Recomputes IPv4 header and TCP/UDP checksums so mutations get past the checksum. */
function fixChecksums(p: Uint8Array): void {
  if (p.length < 20 || p[0]! >> 4 !== 4) return;
  const ihl = (p[0]! & 15) * 4;
  if (ihl < 20 || ihl > p.length) return;
  p[10] = 0;
  p[11] = 0;
  const c = finish(ones(p, 0, ihl));
  p[10] = c >> 8;
  p[11] = c & 0xff;
  const proto = p[9]!;
  const body = p.subarray(ihl);
  const at = proto === 6 ? 16 : proto === 17 ? 6 : -1;
  if (at < 0 || body.length < at + 2) return;
  body[at] = 0;
  body[at + 1] = 0;
  const s = finish(
    ones(body, 0, body.length, pseudoHeader(p.subarray(12, 16), p.subarray(16, 20), proto, body.length)),
  );
  body[at] = s >> 8;
  body[at + 1] = s & 0xff;
}

function victim() {
  const clock = new FakeClock();
  let out = 0;
  const link: LinkEndpoint = { mtu: 1280, writePacket: () => void out++, attach: () => {} };
  const stack = new Stack({
    link,
    addresses: [A4, 'fd7a:115c:a1e0::1'],
    clock,
    random: seededRandom(5),
    maxConnections: 64,
  });
  stack.listen({ port: 80, backlog: 16 }, (s) => s.on('error', () => {}));
  const u = stack.createUdpSocket('udp4');
  u.bind(53);
  return { clock, stack, sent: () => out };
}

describe('receive path fuzz', () => {
  it('random bytes never throw', () => {
    const { stack, clock } = victim();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1500 }),
        fc.constantFrom(0x45, 0x46, 0x60, 0x00),
        (bytes, first) => {
          if (bytes.length > 0) bytes[0] = first;
          stack.deliverPacket(bytes);
          clock.advance(1);
        },
      ),
      { numRuns: 5000 },
    );
    expect(stack.counters.packetsIn).toBe(5000);
  });

  it('mutated real packets never throw and state stays bounded', async () => {
    const corpus = await capture();
    expect(corpus.length).toBeGreaterThan(20);
    const { stack, clock } = victim();
    fc.assert(
      fc.property(
        fc.nat(corpus.length - 1),
        fc.array(fc.tuple(fc.nat(1500), fc.nat(255)), { maxLength: 3 }),
        fc.option(fc.nat(1500), { nil: undefined }),
        fc.integer({ min: 0, max: 9 }),
        (i, flips, cut, fixDie) => {
          const fix = fixDie < 8;
          let p = corpus[i]!.slice();
          // Aim at our own address so the packet reaches the transport layer.
          if (p[0]! >> 4 === 4) p.set([10, 0, 0, 1], 16);
          for (const [at, v] of flips) if (p.length > 0) p[at % p.length] = v;
          if (cut !== undefined) p = p.subarray(0, cut % (p.length + 1));
          if (fix) fixChecksums(p);
          stack.deliverPacket(p);
          clock.advance(3);
        },
      ),
      { numRuns: 20_000 },
    );
    // Let every timer run out: half-open connections expire, reassembly frees its memory.
    clock.advance(10 * 60 * 1000);
    expect(stack.connectionCount).toBeLessThanOrEqual(64);
    expect(stack.counters.packetsIn).toBe(20_000);
    // Most mutations must get through to the transport layer, or the test proves little.
    expect(stack.counters.tcpSegmentsIn).toBeGreaterThan(1500);
  });

  it('a SYN flood from many ports stays within the backlog and maxConnections', () => {
    const { stack, clock } = victim();
    const src = new Uint8Array([10, 0, 0, 2]);
    for (let port = 1000; port < 3000; port++) {
      const p = new Uint8Array(40);
      p.set([0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, ...src, 10, 0, 0, 1]);
      p.set([port >> 8, port & 0xff, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
      fixChecksums(p);
      stack.deliverPacket(p);
    }
    expect(stack.connectionCount).toBe(16);
    expect(stack.counters.dropped['syn-queue-full']).toBe(2000 - 16);
    clock.advance(10 * 60 * 1000);
    expect(stack.connectionCount).toBe(0);
  });

  it('fragment floods stay within the reassembly limits', () => {
    const { stack, clock } = victim();
    for (let id = 0; id < 500; id++) {
      const p = new Uint8Array(20 + 1024);
      p.set([
        0x45,
        0,
        (1044 >> 8) & 0xff,
        1044 & 0xff,
        id >> 8,
        id & 0xff,
        0x20,
        0,
        64,
        17,
        0,
        0,
        ...[10, 0, 0, 2],
        10,
        0,
        0,
        1,
      ]);
      fixChecksums(p);
      stack.deliverPacket(p);
    }
    const c = stack.counters;
    expect(c.dropped['fragment-limit']).toBeGreaterThan(0);
    expect(c.fragmentsHeld).toBeGreaterThan(0);
    // Every fragment is accounted for: held or refused; the held ones are dropped at the timeout.
    expect(c.fragmentsHeld + c.dropped['fragment-limit']).toBe(500);
    expect(c.dropped['fragment-timeout']).toBe(0);
    clock.advance(61_000);
    expect(c.dropped['fragment-timeout']).toBe(c.fragmentsHeld);
    expect(c.dropped.fragment).toBe(0);
    void B4;
  });
});
