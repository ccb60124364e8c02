import { getCryptoProvider, toBase64 } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { A_IP, B_IP, dataPacket, packetNumber } from '../test/helpers.js';
import { REJECT_AFTER_TIME_MS } from './constants.js';
import { DeviceCore } from './device-core.js';

/** Two sans-IO cores driven by hand: a queue for the wire, a loop on pollAt for time. */
function pair() {
  const c = getCryptoProvider();
  const wire: { to: 'a' | 'b'; data: Uint8Array }[] = [];
  const got: Record<'a' | 'b', Uint8Array[]> = { a: [], b: [] };
  let now = 0;
  const mk = (self: 'a' | 'b') =>
    new DeviceCore(
      { privateKey: c.randomBytes(32), wallNow: () => 1_700_000_000_000 + now, random: () => 0.5 },
      {
        sendDatagram: (data, to) => wire.push({ to: to as 'a' | 'b', data }),
        deliverPacket: (p) => got[self].push(p),
        event: () => {},
      },
    );
  const a = mk('a');
  const b = mk('b');
  a.addPeer({ publicKey: b.publicKey, endpoint: 'b', allowedIps: ['10.0.0.2/32'] }, now);
  b.addPeer({ publicKey: a.publicKey, endpoint: 'a', allowedIps: ['10.0.0.1/32'] }, now);
  const flush = () => {
    for (let m = wire.shift(); m !== undefined; m = wire.shift())
      (m.to === 'a' ? a : b).receiveDatagram(m.data, m.to === 'a' ? 'b' : 'a', now);
  };
  /** Advances time to `until`, waking each core at its pollAt. */
  const run = (until: number) => {
    for (;;) {
      const next = Math.min(a.pollAt(), b.pollAt());
      if (next > until) break;
      now = Math.max(now, next);
      a.expireTimers(now);
      b.expireTimers(now);
      flush();
    }
    now = until;
  };
  return { a, b, got, flush, run, wire, now: () => now };
}

describe('DeviceCore (sans-IO)', () => {
  it('is driven by bytes in, bytes out and pollAt alone', () => {
    const { a, b, got, flush, run, now } = pair();
    expect(a.pollAt()).toBe(Number.POSITIVE_INFINITY);
    expect(a.sendPacket(dataPacket(A_IP, B_IP, 1), now())).toBe(true);
    expect(a.pollAt()).toBeLessThan(Number.POSITIVE_INFINITY); // retransmit timer
    flush();
    expect(got.b.map(packetNumber)).toEqual([1]);
    // pollAt is a lower bound: waking early is harmless, and it never moves backwards past now.
    a.expireTimers(now());
    expect(a.pollAt()).toBeGreaterThan(now());
    // Let everything run out: keepalives, then key erasure, then no timers at all.
    run(10 * REJECT_AFTER_TIME_MS);
    expect(a.pollAt()).toBe(Number.POSITIVE_INFINITY);
    expect(b.pollAt()).toBe(Number.POSITIVE_INFINITY);
    expect(a.counters.internalErrors + b.counters.internalErrors).toBe(0);
    expect(a.peerStats(toBase64(b.publicKey))!.latestHandshake).toBe(1_700_000_000_000); // wallNow() when it completed (now = 0)
  });

  it('adding many peers costs no X25519: the static-static secret is computed at the first handshake', () => {
    const base = getCryptoProvider();
    let dh = 0;
    const counting = new Proxy(base, {
      get(t, prop) {
        const v = Reflect.get(t, prop, t);
        if (prop === 'x25519' && typeof v === 'function') {
          return (...args: Parameters<typeof base.x25519>) => {
            dh++;
            return base.x25519(...args);
          };
        }
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const core = new DeviceCore(
      { privateKey: base.randomBytes(32), crypto: counting },
      { sendDatagram: () => {}, deliverPacket: () => {}, event: () => {} },
    );
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const k = base.randomBytes(32);
      keys.push(k);
      core.addPeer({ publicKey: k, endpoint: 'x:1', allowedIps: [`10.${i >> 8}.${i & 0xff}.1/32`] }, 0);
    }
    expect(dh).toBe(0);
    core.initiateHandshake(keys[7]!, 0);
    expect(dh).toBe(2); // DH(e, S_r) and the precomputed DH(S_i, S_r)
  });

  it('close() erases keys and makes every input a no-op', () => {
    const { a, flush, now, wire } = pair();
    a.sendPacket(dataPacket(A_IP, B_IP, 1), now());
    flush();
    a.close();
    expect(a.sendPacket(dataPacket(A_IP, B_IP, 2), now())).toBe(false);
    a.receiveDatagram(new Uint8Array(148), 'b', now());
    expect(wire).toHaveLength(0);
    expect(a.pollAt()).toBe(Number.POSITIVE_INFINITY);
  });

  it('a peer add or update with a bad field changes nothing (all or nothing)', () => {
    const c = getCryptoProvider();
    const core = new DeviceCore(
      { privateKey: c.randomBytes(32) },
      { sendDatagram: () => {}, deliverPacket: () => {}, event: () => {} },
    );
    const k = c.randomBytes(32);
    expect(() =>
      core.addPeer(
        { publicKey: k, endpoint: 'x:1', allowedIps: ['10.0.0.1/32'], persistentKeepalive: -1 },
        0,
      ),
    ).toThrow(RangeError);
    expect(core.hasPeer(k)).toBe(false);
    expect(() => core.addPeer({ publicKey: k, endpoint: 'x:1', allowedIps: ['not-an-ip'] }, 0)).toThrow();
    expect(core.hasPeer(k)).toBe(false);
    core.addPeer({ publicKey: k, endpoint: 'x:1', allowedIps: ['10.0.0.1/32'], persistentKeepalive: 25 }, 0);
    expect(() =>
      core.updatePeer(k, { endpoint: 'y:2', allowedIps: ['10.0.0.9/32'], persistentKeepalive: 70000 }),
    ).toThrow(RangeError);
    const st = core.peerStats(k);
    expect(st?.endpoint).toBe('x:1');
    expect(st?.allowedIps.map(String)).toEqual(['10.0.0.1/32']);
    expect(st?.persistentKeepalive).toBe(25);
  });
});
