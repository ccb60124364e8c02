import { IPAddr, IPPrefix } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { type FilterRuleInput, PacketFilter, parseIpSet } from './filter.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_TSMP, IPPROTO_UDP, parsePacket } from './packet.js';
import { buildTsmpPacket, buildTsmpPing, buildTsmpReject, handleTsmp } from './tsmp.js';

function ip(s: string): Uint8Array {
  return IPAddr.parse(s).bytes;
}

/** A minimal IPv4/IPv6 packet with a transport header. */
function pkt(
  proto: number,
  src: string,
  dst: string,
  o: { sport?: number; dport?: number; flags?: number; icmpType?: number; fragOff?: number } = {},
): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const tl = proto === IPPROTO_TCP ? 20 : proto === IPPROTO_UDP ? 8 : 8;
  const th = new Uint8Array(tl);
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
    th[0] = (o.sport ?? 1000) >> 8;
    th[1] = (o.sport ?? 1000) & 255;
    th[2] = (o.dport ?? 80) >> 8;
    th[3] = (o.dport ?? 80) & 255;
    if (proto === IPPROTO_TCP) {
      th[12] = 0x50;
      th[13] = o.flags ?? 0x02;
    }
  } else {
    th[0] = o.icmpType ?? 8;
  }
  if (s.length === 4) {
    const b = new Uint8Array(20 + tl);
    b[0] = 0x45;
    b[2] = b.length >> 8;
    b[3] = b.length & 255;
    b[6] = ((o.fragOff ?? 0) >> 8) & 0x1f;
    b[7] = (o.fragOff ?? 0) & 255;
    b[8] = 64;
    b[9] = proto;
    b.set(s, 12);
    b.set(d, 16);
    b.set(th, 20);
    return b;
  }
  const b = new Uint8Array(40 + tl);
  b[0] = 0x60;
  b[5] = tl;
  b[6] = proto === IPPROTO_ICMP ? 58 : proto;
  b[7] = 64;
  b.set(s, 8);
  b.set(d, 24);
  b.set(th, 40);
  return b;
}

const ME4 = '100.64.0.1';
const ME6 = 'fd7a:115c:a1e0::1';
const PEER = '100.64.0.2';
const OTHER = '100.64.0.3';

function filter(rules: FilterRuleInput[] | undefined): PacketFilter {
  return new PacketFilter({ localAddresses: [IPAddr.parse(ME4), IPAddr.parse(ME6)], rules });
}

const allowPeerPort80: FilterRuleInput = {
  SrcIPs: [PEER, 'fd7a:115c:a1e0::2'],
  DstPorts: [
    { IP: '*', Ports: { First: 80, Last: 80 } },
    { IP: '*', Ports: { First: 8000, Last: 8010 } },
  ],
};

describe('parseIpSet', () => {
  it.each([
    ['*', 2],
    ['100.64.0.0/10', 1],
    ['100.64.0.1', 1],
    ['100.64.0.1-100.64.0.9', 1],
    ['fd7a:115c:a1e0::/48', 1],
    ['nonsense', 0],
    ['100.64.0.9-100.64.0.1', 0],
  ])('%s gives %i ranges', (text, n) => {
    expect(parseIpSet(text, undefined).length).toBe(n);
  });

  it('resolves cap: sources through the callback', () => {
    expect(parseIpSet('cap:x', undefined, () => [IPPrefix.parse('100.64.0.5/32')]).length).toBe(1);
  });
});

describe('PacketFilter.runIn', () => {
  const f = filter([allowPeerPort80]);
  it.each([
    [
      'TCP SYN from an allowed source to an allowed port',
      pkt(IPPROTO_TCP, PEER, ME4, { dport: 80 }),
      'accept',
    ],
    ['TCP SYN to a port in an allowed range', pkt(IPPROTO_TCP, PEER, ME4, { dport: 8005 }), 'accept'],
    ['TCP SYN over IPv6', pkt(IPPROTO_TCP, 'fd7a:115c:a1e0::2', ME6, { dport: 80 }), 'accept'],
    ['TCP SYN to a denied port', pkt(IPPROTO_TCP, PEER, ME4, { dport: 22 }), 'drop'],
    ['TCP SYN from another source', pkt(IPPROTO_TCP, OTHER, ME4, { dport: 80 }), 'drop'],
    [
      'TCP non-SYN segment to a denied port',
      pkt(IPPROTO_TCP, OTHER, ME4, { dport: 22, flags: 0x10 }),
      'accept',
    ],
    ['TCP SYN-ACK (a reply)', pkt(IPPROTO_TCP, OTHER, ME4, { dport: 22, flags: 0x12 }), 'accept'],
    ['TCP to an address that is not ours', pkt(IPPROTO_TCP, PEER, OTHER, { dport: 80 }), 'drop'],
    ['UDP to an allowed port', pkt(IPPROTO_UDP, PEER, ME4, { dport: 80 }), 'accept'],
    ['UDP to a denied port', pkt(IPPROTO_UDP, PEER, ME4, { dport: 53 }), 'drop'],
    ['ICMP echo from a source with any allowed port', pkt(IPPROTO_ICMP, PEER, ME4), 'accept'],
    ['ICMP echo from another source', pkt(IPPROTO_ICMP, OTHER, ME4), 'drop'],
    ['ICMP echo reply from anyone', pkt(IPPROTO_ICMP, OTHER, ME4, { icmpType: 0 }), 'accept'],
    ['ICMP unreachable from anyone', pkt(IPPROTO_ICMP, OTHER, ME4, { icmpType: 3 }), 'accept'],
    [
      'TSMP from anyone',
      buildTsmpPacket(ip(OTHER), ip(ME4), new Uint8Array([0x70, 1, 2, 3, 4, 5, 6, 7, 8])),
      'tsmp',
    ],
    ['a later fragment', pkt(IPPROTO_TCP, OTHER, ME4, { dport: 22, fragOff: 100 }), 'accept'],
    ['an unknown protocol without an all-ports rule', pkt(47, PEER, ME4), 'drop'],
    ['garbage', new Uint8Array([0x45, 1, 2]), 'drop'],
  ])('%s: %s', (_name, p, want) => {
    expect(f.runIn(p)).toBe(want);
  });

  it('counts drops by reason', () => {
    const g = filter([allowPeerPort80]);
    g.runIn(pkt(IPPROTO_TCP, PEER, ME4, { dport: 22 }));
    g.runIn(pkt(IPPROTO_TCP, PEER, OTHER, { dport: 80 }));
    g.runIn(new Uint8Array(3));
    expect(g.counters).toMatchObject({ dropNoRule: 1, dropNotLocal: 1, dropBadPacket: 1 });
  });

  it('denies everything before control sent a filter, and with an empty one', () => {
    expect(filter(undefined).runIn(pkt(IPPROTO_TCP, PEER, ME4, { dport: 80 }))).toBe('drop');
    expect(filter([]).runIn(pkt(IPPROTO_TCP, PEER, ME4, { dport: 80 }))).toBe('drop');
  });

  it('honours IPProto: a UDP-only rule does not let TCP in', () => {
    const g = filter([
      { SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }], IPProto: [IPPROTO_UDP] },
    ]);
    expect(g.runIn(pkt(IPPROTO_UDP, OTHER, ME4, { dport: 9 }))).toBe('accept');
    expect(g.runIn(pkt(IPPROTO_TCP, OTHER, ME4, { dport: 9 }))).toBe('drop');
  });

  it('lets other protocols in only with an all-ports rule naming them', () => {
    const g = filter([
      { SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }], IPProto: [47] },
    ]);
    expect(g.runIn(pkt(47, OTHER, ME4))).toBe('accept');
  });

  it('accepts replies to our own UDP flows (and only those)', () => {
    const g = filter([]);
    const reply = pkt(IPPROTO_UDP, PEER, ME4, { sport: 53, dport: 40000 });
    expect(g.runIn(reply)).toBe('drop');
    g.runOut(pkt(IPPROTO_UDP, ME4, PEER, { sport: 40000, dport: 53 }));
    expect(g.runIn(reply)).toBe('accept');
    expect(g.runIn(pkt(IPPROTO_UDP, PEER, ME4, { sport: 54, dport: 40000 }))).toBe('drop');
  });

  it('keeps the flow table bounded', () => {
    const g = filter([]);
    for (let i = 0; i < 2000; i++) g.runOut(pkt(IPPROTO_UDP, ME4, PEER, { sport: 1 + i, dport: 53 }));
    expect(g.flowCount).toBe(512);
  });

  it('keeps CapGrant rules for WhoIs and grants no packets with them', () => {
    const g = filter([
      {
        SrcIPs: [PEER],
        CapGrant: [{ Dsts: [IPPrefix.parse(`${ME4}/32`)], CapMap: { 'example.com/cap/x': [{ k: 'v' }] } }],
      },
    ]);
    expect(g.runIn(pkt(IPPROTO_TCP, PEER, ME4, { dport: 80 }))).toBe('drop');
    expect(g.capsFor(IPAddr.parse(PEER), IPAddr.parse(ME4))).toEqual({ 'example.com/cap/x': [{ k: 'v' }] });
    expect(g.capsFor(IPAddr.parse(OTHER), IPAddr.parse(ME4))).toEqual({});
  });

  it('fuzz: random and mutated packets never throw', () => {
    const g = filter([allowPeerPort80]);
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    const bases = [
      pkt(IPPROTO_TCP, PEER, ME4),
      pkt(IPPROTO_UDP, 'fd7a:115c:a1e0::2', ME6),
      pkt(IPPROTO_ICMP, PEER, ME4),
    ];
    for (let i = 0; i < 5000; i++) {
      const base = bases[i % 3] ?? new Uint8Array();
      const b =
        i % 4 === 0
          ? new Uint8Array(rnd() % 80).map(() => rnd() & 255)
          : base.slice(0, rnd() % (base.length + 1));
      if (b.length > 0) {
        const j = rnd() % b.length;
        b[j] = (b[j] ?? 0) ^ (1 << (rnd() % 8));
      }
      expect(() => g.runIn(b)).not.toThrow();
      expect(() => g.runOut(b)).not.toThrow();
      expect(() =>
        handleTsmp(b, { pings: 0, discoAdverts: 0, rejectsReceived: 0, pongs: 0, ignored: 0 }),
      ).not.toThrow();
    }
  });
});

describe('TSMP', () => {
  it('answers a ping with a pong carrying the same data, addresses swapped', () => {
    const c = { pings: 0, discoAdverts: 0, rejectsReceived: 0, pongs: 0, ignored: 0 };
    const ping = buildTsmpPacket(ip(PEER), ip(ME4), new Uint8Array([0x70, 1, 2, 3, 4, 5, 6, 7, 8]));
    const r = handleTsmp(ping, c);
    const p = r.reply === undefined ? null : parsePacket(r.reply);
    expect(p?.proto).toBe(IPPROTO_TSMP);
    expect(Buffer.from(p?.src ?? []).equals(Buffer.from(ip(ME4)))).toBe(true);
    expect([...(r.reply?.subarray(20) ?? [])]).toEqual([0x6f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    expect(c.pings).toBe(1);
    // Our own ping's pong comes back with the same 8 bytes.
    const ours = buildTsmpPing(ip(ME4), ip(PEER), new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]));
    expect([...ours.subarray(20)]).toEqual([0x70, 9, 8, 7, 6, 5, 4, 3, 2]);
    const answer = handleTsmp(ours, c).reply;
    if (answer === undefined) throw new Error('no pong');
    expect([...(handleTsmp(answer, c).pong ?? [])]).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(c.pongs).toBe(1);
    expect(() => buildTsmpPing(ip(ME4), ip(PEER), new Uint8Array(7))).toThrow(RangeError);
  });

  it('takes a disco key advertisement and builds a reject for a dropped SYN', () => {
    const c = { pings: 0, discoAdverts: 0, rejectsReceived: 0, pongs: 0, ignored: 0 };
    const adv = new Uint8Array(33).fill(9);
    adv[0] = 0x61;
    expect(handleTsmp(buildTsmpPacket(ip(PEER), ip(ME4), adv), c).discoKey?.length).toBe(32);
    const syn = parsePacket(pkt(IPPROTO_TCP, PEER, ME4, { sport: 1234, dport: 22 }));
    if (syn === null) throw new Error('parse');
    const rej = buildTsmpReject(syn);
    expect([...rej.subarray(20)]).toEqual([0x21, 6, 0x41, 0x04, 0xd2, 0, 22]);
    expect(parsePacket(rej)?.dst).toEqual(ip(PEER));
  });
});
