import { describe, expect, it } from 'vitest';
import { checksum, finish, ones, pseudoHeader } from './checksum.js';
import { Icmpv4Packet, Icmpv4Repr } from './icmpv4.js';
import { Icmpv6Packet, Icmpv6Repr } from './icmpv6.js';
import { formatIp, parseIp } from './ip-address.js';
import { Ipv4Packet, Ipv4Repr } from './ipv4.js';
import { Ipv6Packet, Ipv6Repr } from './ipv6.js';
import { emptyTcpRepr, TCP_FLAG, TcpPacket, TcpRepr } from './tcp.js';
import { UdpPacket, UdpRepr } from './udp.js';
import { isWireError } from './wire-error.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const A4 = parseIp('10.0.0.1')!;
const B4 = parseIp('10.0.0.2')!;
const A6 = parseIp('fd7a:115c:a1e0::1')!;
const B6 = parseIp('fd7a:115c:a1e0::2')!;

function ok<T>(x: T | string): T {
  if (isWireError(x)) throw new Error(`unexpected wire error ${x}`);
  return x as T;
}

describe('checksum', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    // 0001 f203 f4f5 f6f7 sums to ddf2 (folded); the checksum is its complement.
    expect(checksum(hex('0001f203f4f5f6f7'))).toBe(~0xddf2 & 0xffff);
  });
  it('pads an odd tail with zero', () => {
    expect(checksum(hex('01'))).toBe(~0x0100 & 0xffff);
  });
  it('verifies a real IPv4 header (Wikipedia example)', () => {
    const h = hex('450000730000400040110000c0a80001c0a800c7');
    const c = checksum(h);
    expect(c).toBe(0xb861);
    h[10] = c >> 8;
    h[11] = c & 0xff;
    expect(checksum(h)).toBe(0);
  });
  it('folds pseudo-headers of both families', () => {
    expect(finish(pseudoHeader(A4, B4, 6, 20))).toBe(finish(ones(hex('0a0000010a0000020006 0014'))));
    expect(pseudoHeader(A6, B6, 6, 70000)).toBeGreaterThan(0);
  });
});

describe('ip addresses', () => {
  it('parses and formats canonically (RFC 5952)', () => {
    for (const s of ['10.0.0.1', '::', '::1', 'fd7a:115c:a1e0::1', '2001:db8::1:0:0:1', '1:2:3:4:5:6:7:8']) {
      expect(formatIp(parseIp(s)!)).toBe(s);
    }
    expect(formatIp(parseIp('2001:0db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('::ffff:1.2.3.4')!)).toBe('::ffff:102:304');
  });
  it('refuses nonsense', () => {
    for (const s of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'g::1']) {
      expect(parseIp(s)).toBeNull();
    }
  });
});

describe('ipv4', () => {
  const repr: Ipv4Repr = {
    src: A4,
    dst: B4,
    protocol: 17,
    payloadLen: 4,
    ttl: 64,
    ident: 0x1234,
    dontFrag: true,
    moreFrags: false,
    fragOffset: 0,
  };
  it('emits, parses and round-trips', () => {
    const buf = new Uint8Array(24);
    Ipv4Repr.emit(repr, buf);
    buf.set([1, 2, 3, 4], 20);
    const pkt = ok(Ipv4Packet.newChecked(buf));
    expect(pkt.verifyChecksum()).toBe(true);
    expect(ok(Ipv4Repr.parse(pkt))).toEqual(repr);
    expect([...pkt.payload]).toEqual([1, 2, 3, 4]);
  });
  it('skips options by IHL and trims link padding', () => {
    const buf = new Uint8Array(40);
    Ipv4Repr.emit({ ...repr, payloadLen: 8 }, buf);
    // Rewrite as IHL 6 with one 4-byte option (NOP NOP NOP EOL); total length stays 28.
    const withOpt = new Uint8Array(40);
    withOpt.set(buf.subarray(0, 20));
    withOpt[0] = 0x46;
    withOpt.set([1, 1, 1, 0], 20);
    withOpt[10] = 0;
    withOpt[11] = 0;
    const c = checksum(withOpt, 0, 24);
    withOpt[10] = c >> 8;
    withOpt[11] = c & 0xff;
    const pkt = ok(Ipv4Packet.newChecked(withOpt));
    expect(pkt.buffer.length).toBe(28);
    expect(ok(Ipv4Repr.parse(pkt)).payloadLen).toBe(4);
  });
  it('refuses truncated and impossible lengths', () => {
    const buf = new Uint8Array(24);
    Ipv4Repr.emit(repr, buf);
    expect(Ipv4Packet.newChecked(buf.subarray(0, 19))).toBe('truncated');
    expect(Ipv4Packet.newChecked(buf.subarray(0, 23))).toBe('truncated');
    const bad = buf.slice();
    bad[0] = 0x44; // IHL 4
    expect(Ipv4Packet.newChecked(bad)).toBe('malformed');
    bad[0] = 0x4f; // IHL 60 > total length 24
    expect(Ipv4Packet.newChecked(bad)).toBe('malformed');
    bad[0] = 0x45;
    bad[3] = 10; // total < IHL
    expect(Ipv4Packet.newChecked(bad)).toBe('malformed');
    const v6 = buf.slice();
    v6[0] = 0x65;
    expect(Ipv4Packet.newChecked(v6)).toBe('malformed');
    const corrupt = buf.slice();
    corrupt[8] = 1;
    expect(Ipv4Repr.parse(ok(Ipv4Packet.newChecked(corrupt)))).toBe('checksum');
  });
  it('carries fragment fields', () => {
    const buf = new Uint8Array(24);
    Ipv4Repr.emit({ ...repr, dontFrag: false, moreFrags: true, fragOffset: 1480 }, buf);
    const r = ok(Ipv4Repr.parse(ok(Ipv4Packet.newChecked(buf))));
    expect([r.moreFrags, r.fragOffset, r.dontFrag]).toEqual([true, 1480, false]);
  });
});

describe('ipv6', () => {
  const repr: Ipv6Repr = { src: A6, dst: B6, nextHeader: 6, hopLimit: 64, payloadOffset: 40, payloadLen: 4 };
  it('emits, parses and round-trips', () => {
    const buf = new Uint8Array(44);
    Ipv6Repr.emit(repr, buf);
    expect(ok(Ipv6Repr.parse(ok(Ipv6Packet.newChecked(buf))))).toEqual(repr);
  });
  it('walks hop-by-hop, destination options and fragment headers', () => {
    const ext = hex(
      '3c00 0102 0000 0000' + // hop-by-hop -> dest opts (60), 8 bytes
        '2c00 0102 0000 0000' + // dest opts -> fragment (44), 8 bytes
        '1100 05a9 0000 abcd', // fragment -> UDP (17), offset 1448 (0x5a8), M=1, id 0xabcd
    );
    const buf = new Uint8Array(40 + ext.length + 8);
    Ipv6Repr.emit({ ...repr, nextHeader: 0, payloadLen: ext.length + 8 }, buf);
    buf.set(ext, 40);
    const r = ok(Ipv6Repr.parse(ok(Ipv6Packet.newChecked(buf))));
    expect(r.nextHeader).toBe(17);
    expect(r.payloadOffset).toBe(64);
    expect(r.payloadLen).toBe(8);
    expect(r.fragment).toEqual({ nextHeader: 17, offset: 1448, more: true, ident: 0xabcd, dataOffset: 64 });
  });
  it('refuses truncated, impossible and misplaced headers', () => {
    const buf = new Uint8Array(44);
    Ipv6Repr.emit(repr, buf);
    expect(Ipv6Packet.newChecked(buf.subarray(0, 39))).toBe('truncated');
    expect(Ipv6Packet.newChecked(buf.subarray(0, 43))).toBe('truncated');
    const v4 = buf.slice();
    v4[0] = 0x45;
    expect(Ipv6Packet.newChecked(v4)).toBe('malformed');
    // An extension header whose length runs past the payload.
    const ext = new Uint8Array(48);
    Ipv6Repr.emit({ ...repr, nextHeader: 60, payloadLen: 8 }, ext);
    ext.set([6, 4], 40);
    expect(Ipv6Repr.parse(ok(Ipv6Packet.newChecked(ext)))).toBe('truncated');
    // Hop-by-hop after another extension header.
    const hbh = new Uint8Array(56);
    Ipv6Repr.emit({ ...repr, nextHeader: 60, payloadLen: 16 }, hbh);
    hbh.set([0, 0], 40);
    hbh.set([6, 0], 48);
    expect(Ipv6Repr.parse(ok(Ipv6Packet.newChecked(hbh)))).toBe('malformed');
  });
});

describe('icmp', () => {
  it('v4 echo round-trips and verifies', () => {
    const r: Icmpv4Repr = { type: 'echo-request', ident: 7, seq: 9, data: hex('deadbeef') };
    const buf = new Uint8Array(Icmpv4Repr.bufferLen(r));
    Icmpv4Repr.emit(r, buf);
    expect(checksum(buf)).toBe(0);
    expect(ok(Icmpv4Repr.parse(ok(Icmpv4Packet.newChecked(buf))))).toEqual(r);
    expect(Icmpv4Packet.newChecked(buf.subarray(0, 7))).toBe('truncated');
    buf[5]! ^= 1;
    expect(Icmpv4Repr.parse(ok(Icmpv4Packet.newChecked(buf)))).toBe('checksum');
  });
  it('v4 dest-unreachable carries the original datagram and the next-hop MTU', () => {
    const r: Icmpv4Repr = {
      type: 'dest-unreachable',
      code: 4,
      nextHopMtu: 1200,
      original: new Uint8Array(28),
    };
    const buf = new Uint8Array(Icmpv4Repr.bufferLen(r));
    Icmpv4Repr.emit(r, buf);
    expect(ok(Icmpv4Repr.parse(ok(Icmpv4Packet.newChecked(buf))))).toEqual(r);
    const short: Icmpv4Repr = {
      type: 'dest-unreachable',
      code: 3,
      nextHopMtu: 0,
      original: new Uint8Array(10),
    };
    const sb = new Uint8Array(Icmpv4Repr.bufferLen(short));
    Icmpv4Repr.emit(short, sb);
    expect(Icmpv4Repr.parse(ok(Icmpv4Packet.newChecked(sb)))).toBe('truncated');
  });
  it('v6 echo and packet-too-big round-trip with the pseudo-header', () => {
    for (const r of [
      { type: 'echo-reply', ident: 1, seq: 2, data: hex('00ff') },
      { type: 'packet-too-big', mtu: 1280, original: new Uint8Array(48) },
      { type: 'dest-unreachable', code: 4, original: new Uint8Array(48) },
    ] as Icmpv6Repr[]) {
      const buf = new Uint8Array(Icmpv6Repr.bufferLen(r));
      Icmpv6Repr.emit(r, A6, B6, buf);
      expect(ok(Icmpv6Repr.parse(ok(Icmpv6Packet.newChecked(buf)), A6, B6))).toEqual(r);
      expect(
        Icmpv6Repr.parse(
          ok(Icmpv6Packet.newChecked(buf)),
          B6,
          A6.map((x) => x ^ 1),
        ),
      ).toBe('checksum');
    }
    const tiny: Icmpv6Repr = { type: 'packet-too-big', mtu: 1000, original: new Uint8Array(48) };
    const buf = new Uint8Array(Icmpv6Repr.bufferLen(tiny));
    Icmpv6Repr.emit(tiny, A6, B6, buf);
    expect(Icmpv6Repr.parse(ok(Icmpv6Packet.newChecked(buf)), A6, B6)).toBe('malformed');
  });
});

describe('udp', () => {
  it('round-trips over both families', () => {
    for (const [s, d] of [
      [A4, B4],
      [A6, B6],
    ] as const) {
      const r: UdpRepr = { srcPort: 1234, dstPort: 53, payload: hex('0102030405') };
      const buf = new Uint8Array(UdpRepr.bufferLen(r));
      UdpRepr.emit(r, s, d, buf);
      expect(ok(UdpRepr.parse(ok(UdpPacket.newChecked(buf)), s, d))).toEqual(r);
      buf[9]! ^= 0x40;
      expect(UdpRepr.parse(ok(UdpPacket.newChecked(buf)), s, d)).toBe('checksum');
    }
  });
  it('accepts a zero checksum over IPv4 only', () => {
    const buf = hex('04d20035000a0000abcd');
    expect(ok(UdpRepr.parse(ok(UdpPacket.newChecked(buf)), A4, B4)).payload.length).toBe(2);
    expect(UdpRepr.parse(ok(UdpPacket.newChecked(buf)), A6, B6)).toBe('checksum');
  });
  it('refuses truncated and impossible lengths', () => {
    expect(UdpPacket.newChecked(new Uint8Array(7))).toBe('truncated');
    expect(UdpPacket.newChecked(hex('04d200350004000000'))).toBe('malformed');
    expect(UdpPacket.newChecked(hex('04d20035002000000000'))).toBe('truncated');
  });
});

describe('tcp', () => {
  const syn: TcpRepr = {
    ...emptyTcpRepr(),
    srcPort: 40000,
    dstPort: 80,
    seq: 0xfffffff0,
    ack: 0,
    flags: TCP_FLAG.SYN,
    window: 65535,
    mss: 1240,
    windowShift: 7,
    sackPermitted: true,
    tsVal: 0x01020304,
    tsEcr: 0,
  };
  it('round-trips a SYN with every option, over both families', () => {
    for (const [s, d] of [
      [A4, B4],
      [A6, B6],
    ] as const) {
      const buf = new Uint8Array(TcpRepr.bufferLen(syn));
      TcpRepr.emit(syn, s, d, buf);
      expect(buf.length).toBe(40);
      expect(ok(TcpRepr.parse(ok(TcpPacket.newChecked(buf)), s, d))).toEqual(syn);
    }
  });
  it('round-trips data with SACK blocks and timestamps, and without timestamps', () => {
    const seg: TcpRepr = {
      ...emptyTcpRepr(),
      srcPort: 1,
      dstPort: 2,
      seq: 100,
      ack: 200,
      flags: TCP_FLAG.ACK | TCP_FLAG.PSH,
      window: 512,
      sack: [300, 400, 500, 600, 700, 800],
      tsVal: 5,
      tsEcr: 6,
      payload: hex('68656c6c6f'),
    };
    for (const r of [
      seg,
      { ...seg, tsVal: undefined, tsEcr: undefined, sackPermitted: true, sack: [1, 2] },
    ]) {
      const buf = new Uint8Array(TcpRepr.bufferLen(r));
      TcpRepr.emit(r, A4, B4, buf);
      expect(ok(TcpRepr.parse(ok(TcpPacket.newChecked(buf)), A4, B4))).toEqual(r);
    }
  });
  it('parses a Linux SYN byte for byte (MSS, SACK-perm, TS, NOP, WS)', () => {
    // Options as Linux orders them: 0204 05b4 0402 080a <ts> <ecr> 0103 0307.
    const buf = hex(
      'a0c2 0050 00000001 00000000 a002 faf0 0000 0000' + '020405b4 0402 080a 0000000a 00000000 01 030307',
    );
    const r = ok(TcpRepr.parse(ok(TcpPacket.newChecked(buf)), A4, B4, false));
    expect([r.mss, r.sackPermitted, r.tsVal, r.tsEcr, r.windowShift]).toEqual([1460, true, 10, 0, 7]);
    expect(r.flags).toBe(TCP_FLAG.SYN);
  });
  it('skips unknown options and stops at EOL', () => {
    const buf = hex('0001 0002 00000001 00000000 6000 0000 0000 0000 fe04abcd 00000000 02040200');
    const r = ok(TcpRepr.parse(ok(TcpPacket.newChecked(buf)), A4, B4, false));
    expect(r.mss).toBeUndefined();
  });
  it('refuses truncated headers and impossible option lengths', () => {
    const buf = new Uint8Array(TcpRepr.bufferLen(syn));
    TcpRepr.emit(syn, A4, B4, buf);
    expect(TcpPacket.newChecked(buf.subarray(0, 19))).toBe('truncated');
    expect(TcpPacket.newChecked(buf.subarray(0, 30))).toBe('truncated');
    const low = buf.slice();
    low[12] = 0x40;
    expect(TcpPacket.newChecked(low)).toBe('malformed');
    for (const opt of ['0201 0000', '0205 0000', '0403 0000', '0803 0000', '050a 00000000 0000']) {
      const o = hex(opt);
      const b = new Uint8Array(20 + o.length);
      b.set(buf.subarray(0, 20));
      b[12] = ((20 + o.length) / 4) << 4;
      b.set(o, 20);
      expect(TcpRepr.parse(ok(TcpPacket.newChecked(b)), A4, B4, false)).toBe('malformed');
    }
    const synFin = buf.slice();
    synFin[13] = TCP_FLAG.SYN | TCP_FLAG.FIN;
    expect(TcpRepr.parse(ok(TcpPacket.newChecked(synFin)), A4, B4, false)).toBe('malformed');
    const corrupt = buf.slice();
    corrupt[30]! ^= 1;
    expect(TcpRepr.parse(ok(TcpPacket.newChecked(corrupt)), A4, B4)).toBe('checksum');
  });
});
