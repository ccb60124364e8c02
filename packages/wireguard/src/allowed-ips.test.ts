import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllowedIps } from './allowed-ips.js';
import { formatIp, maskPrefix, parseIp, parsePrefix } from './ip.js';

describe('ip text forms', () => {
  it('parses and formats IPv4 and IPv6', () => {
    expect(formatIp(parseIp('10.1.2.3')!)).toBe('10.1.2.3');
    expect(formatIp(parseIp('fd7a:115c:a1e0::1')!)).toBe('fd7a:115c:a1e0::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('::ffff:1.2.3.4')!)).toBe('::ffff:102:304');
    expect(formatIp(parseIp('[2001:db8::1]')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('1:0:0:1:0:0:0:1')!)).toBe('1:0:0:1::1');
    for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', ':::', '12345::', 'g::1', '']) {
      expect(parseIp(bad)).toBeNull();
    }
    expect(parsePrefix('10.1.2.3/8')).toEqual({ addr: new Uint8Array([10, 0, 0, 0]), bits: 8 });
    expect(parsePrefix('10.1.2.3/33')).toBeNull();
    expect(parsePrefix('::1/129')).toBeNull();
    expect(parsePrefix('::1')!.bits).toBe(128);
  });
});

describe('AllowedIps', () => {
  it('longest-prefix match, both families', () => {
    const t = new AllowedIps<string>();
    t.insert('10.0.0.0/8', 'a');
    t.insert('10.1.0.0/16', 'b');
    t.insert('10.1.2.3/32', 'c');
    t.insert('0.0.0.0/0', 'default');
    t.insert('fd00::/8', 'v6');
    t.insert('fd00:1::/32', 'v6b');
    expect(t.lookup(parseIp('10.1.2.3')!)).toBe('c');
    expect(t.lookup(parseIp('10.1.2.4')!)).toBe('b');
    expect(t.lookup(parseIp('10.2.0.1')!)).toBe('a');
    expect(t.lookup(parseIp('192.168.0.1')!)).toBe('default');
    expect(t.lookup(parseIp('fd00:1::5')!)).toBe('v6b');
    expect(t.lookup(parseIp('fd00:2::5')!)).toBe('v6');
    expect(t.lookup(parseIp('2001::1')!)).toBeUndefined();
    expect(t.lookup(new Uint8Array(5))).toBeUndefined();
    t.removeByPeer('b');
    expect(t.lookup(parseIp('10.1.2.4')!)).toBe('a');
    expect(t.prefixesForPeer('c')).toEqual(['10.1.2.3/32']);
    expect(t.remove('10.1.2.3/32')).toBe(true);
    expect(t.remove('10.1.2.3/32')).toBe(false);
    expect(t.lookup(parseIp('10.1.2.3')!)).toBe('a');
    t.insert('10.0.0.0/8', 'z'); // re-insert moves ownership
    expect(t.prefixesForPeer('a')).toEqual([]);
    expect(t.prefixesForPeer('v6')).toEqual(['fd00::/8']);
    expect(() => t.insert('nonsense', 'x')).toThrow(TypeError);
  });

  it('holds 10,000 peers with a host route in each family (a large tailnet)', () => {
    const t = new AllowedIps<number>();
    for (let i = 0; i < 10_000; i++) {
      t.insert(`100.64.${i >> 8}.${i & 0xff}/32`, i);
      t.insert(`fd7a:115c:a1e0::${i.toString(16)}/128`, i);
    }
    t.insert('100.64.0.0/10', -1); // a subnet route under the hosts
    expect(t.lookup(parseIp('100.64.39.15')!)).toBe((39 << 8) | 15);
    expect(t.lookup(parseIp('fd7a:115c:a1e0::2710')!)).toBeUndefined(); // 10000 = 0x2710: not inserted
    expect(t.lookup(parseIp('fd7a:115c:a1e0::270f')!)).toBe(9999);
    expect(t.lookup(parseIp('100.127.0.1')!)).toBe(-1);
    expect(t.prefixesForPeer(42)).toEqual(['100.64.0.42/32', 'fd7a:115c:a1e0::2a/128']);
    t.removeByPeer(42);
    expect(t.lookup(parseIp('100.64.0.42')!)).toBe(-1);
  });

  it('matches a linear scan (property)', () => {
    const v4 = fc.record({
      addr: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      bits: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constant(32)), // host routes take another path: draw them often
    });
    const v6 = fc.record({
      addr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      bits: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.constant(128)),
    });
    // Bias addresses towards a few shared leading bytes so prefixes overlap.
    const near = (a: Uint8Array) => {
      const o = new Uint8Array(a);
      o[0] = o[0]! & 0x3;
      return o;
    };
    const entry = fc.record({
      prefix: fc.oneof(v4, v6),
      peer: fc.integer({ min: 0, max: 5 }),
      op: fc.constantFrom('ins', 'ins', 'ins', 'rmPeer', 'rm'),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 60 }),
        fc.array(
          fc.oneof(
            fc.uint8Array({ minLength: 4, maxLength: 4 }),
            fc.uint8Array({ minLength: 16, maxLength: 16 }),
          ),
          { maxLength: 40 },
        ),
        (ops, probes) => {
          const t = new AllowedIps<number>();
          let model: { addr: Uint8Array; bits: number; peer: number }[] = [];
          for (const o of ops) {
            const addr = maskPrefix(near(o.prefix.addr), o.prefix.bits);
            if (o.op === 'ins') {
              t.insert({ addr, bits: o.prefix.bits }, o.peer);
              model = model.filter(
                (m) =>
                  !(
                    m.bits === o.prefix.bits &&
                    m.addr.length === addr.length &&
                    m.addr.every((x, i) => x === addr[i])
                  ),
              );
              model.push({ addr, bits: o.prefix.bits, peer: o.peer });
            } else if (o.op === 'rm') {
              const same = (m: { addr: Uint8Array; bits: number }) =>
                m.bits === o.prefix.bits &&
                m.addr.length === addr.length &&
                m.addr.every((x, i) => x === addr[i]);
              expect(t.remove({ addr, bits: o.prefix.bits })).toBe(model.some(same));
              model = model.filter((m) => !same(m));
            } else {
              t.removeByPeer(o.peer);
              model = model.filter((m) => m.peer !== o.peer);
            }
          }
          // Random addresses, and every inserted prefix's own address (to hit host routes exactly).
          for (const p of [...probes.map(near), ...model.map((m) => m.addr)]) {
            let best: { bits: number; peer: number } | undefined;
            for (const m of model) {
              if (m.addr.length !== p.length) continue;
              const masked = maskPrefix(p, m.bits);
              if (!masked.every((x, i) => x === m.addr[i])) continue;
              if (best === undefined || m.bits > best.bits) best = m;
            }
            expect(t.lookup(p)).toBe(best?.peer);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
