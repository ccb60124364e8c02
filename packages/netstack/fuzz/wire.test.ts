import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Icmpv4Packet, Icmpv4Repr } from '../src/wire/icmpv4.js';
import { Icmpv6Packet, Icmpv6Repr } from '../src/wire/icmpv6.js';
import { Ipv4Packet, Ipv4Repr } from '../src/wire/ipv4.js';
import { Ipv6Packet, Ipv6Repr } from '../src/wire/ipv6.js';
import { emptyTcpRepr, TCP_FLAG, TcpPacket, TcpRepr } from '../src/wire/tcp.js';
import { UdpPacket, UdpRepr } from '../src/wire/udp.js';
import { isWireError } from '../src/wire/wire-error.js';

const A = new Uint8Array([10, 0, 0, 1]);
const B = new Uint8Array([10, 0, 0, 2]);
const bytes = fc.uint8Array({ maxLength: 200 });

describe('wire parsers never throw on random bytes', () => {
  it('ipv4, ipv6, icmp, udp, tcp', () => {
    fc.assert(
      fc.property(bytes, fc.boolean(), (buf, verify) => {
        const v4 = Ipv4Packet.newChecked(buf);
        if (!isWireError(v4)) Ipv4Repr.parse(v4, verify);
        const v6 = Ipv6Packet.newChecked(buf);
        if (!isWireError(v6)) Ipv6Repr.parse(v6);
        const i4 = Icmpv4Packet.newChecked(buf);
        if (!isWireError(i4)) Icmpv4Repr.parse(i4, verify);
        const i6 = Icmpv6Packet.newChecked(buf);
        if (!isWireError(i6)) Icmpv6Repr.parse(i6, A, B, verify);
        const u = UdpPacket.newChecked(buf);
        if (!isWireError(u)) UdpRepr.parse(u, A, B, verify);
        const t = TcpPacket.newChecked(buf);
        if (!isWireError(t)) TcpRepr.parse(t, A, B, verify);
      }),
      { numRuns: 5000 },
    );
  });
  it('ipv6 extension chains built from random headers', () => {
    fc.assert(
      fc.property(bytes, fc.constantFrom(0, 43, 44, 51, 60, 59, 6), (tail, nh) => {
        const buf = new Uint8Array(40 + tail.length);
        buf[0] = 0x60;
        buf[4] = tail.length >> 8;
        buf[5] = tail.length & 0xff;
        buf[6] = nh;
        buf.set(tail, 40);
        const p = Ipv6Packet.newChecked(buf);
        if (!isWireError(p)) {
          const r = Ipv6Repr.parse(p);
          if (!isWireError(r)) expect(r.payloadOffset + r.payloadLen).toBeLessThanOrEqual(buf.length);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('tcp parse(emit(x)) == x', () => {
  it('for arbitrary option combinations', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(
        fc.record({
          seq: u32,
          ack: u32,
          flags: fc.constantFrom(
            TCP_FLAG.ACK,
            TCP_FLAG.SYN,
            TCP_FLAG.SYN | TCP_FLAG.ACK,
            TCP_FLAG.ACK | TCP_FLAG.FIN,
          ),
          window: fc.integer({ min: 0, max: 0xffff }),
          mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
          windowShift: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
          sackPermitted: fc.boolean(),
          ts: fc.option(fc.tuple(u32, u32), { nil: undefined }),
          sackBlocks: fc.integer({ min: 0, max: 2 }),
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        (x) => {
          const r: TcpRepr = {
            ...emptyTcpRepr(),
            srcPort: 5,
            dstPort: 6,
            seq: x.seq,
            ack: x.ack,
            flags: x.flags,
            window: x.window,
            mss: x.mss,
            windowShift: x.windowShift,
            sackPermitted: x.sackPermitted,
            tsVal: x.ts?.[0],
            tsEcr: x.ts?.[1],
            sack: Array.from({ length: x.sackBlocks * 2 }, (_, i) => (x.seq + i * 100) >>> 0),
            payload: x.payload,
          };
          const buf = new Uint8Array(TcpRepr.bufferLen(r));
          TcpRepr.emit(r, A, B, buf);
          const p = TcpPacket.newChecked(buf);
          expect(isWireError(p)).toBe(false);
          expect(TcpRepr.parse(p as TcpPacket, A, B)).toEqual(r);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
