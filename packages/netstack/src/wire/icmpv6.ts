/**
 * ICMPv6 (RFC 4443): echo request/reply (§4), destination unreachable (§3.1), packet too big
 * (§3.2), time exceeded (§3.3). The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3), so
 * `parse` and `emit` take the addresses. Neighbor Discovery is not implemented (see README).
 */
import { finish, ones, pseudoHeader } from './checksum.js';
import { IP_PROTOCOL, type WireError } from './wire-error.js';

export const ICMPV6_HEADER_LEN = 8;
export const ICMPV6_TYPE = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;
/** Destination-unreachable codes (RFC 4443 §3.1). */
export const ICMPV6_UNREACH = { NO_ROUTE: 0, ADMIN: 1, ADDRESS: 3, PORT: 4 } as const;

export class Icmpv6Packet {
  private constructor(readonly buffer: Uint8Array) {}
  static newChecked(buf: Uint8Array): Icmpv6Packet | WireError {
    if (buf.length < ICMPV6_HEADER_LEN) return 'truncated';
    return new Icmpv6Packet(buf);
  }
  get type(): number {
    return this.buffer[0]!;
  }
  get code(): number {
    return this.buffer[1]!;
  }
  get data(): Uint8Array {
    return this.buffer.subarray(ICMPV6_HEADER_LEN);
  }
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    const acc = pseudoHeader(src, dst, IP_PROTOCOL.ICMPV6, this.buffer.length);
    return finish(ones(this.buffer, 0, this.buffer.length, acc)) === 0;
  }
}

export type Icmpv6Repr =
  | { type: 'echo-request' | 'echo-reply'; ident: number; seq: number; data: Uint8Array }
  | { type: 'dest-unreachable'; code: number; original: Uint8Array }
  | { type: 'packet-too-big'; mtu: number; original: Uint8Array }
  | { type: 'time-exceeded'; code: number; original: Uint8Array }
  | { type: 'other'; icmpType: number; code: number; data: Uint8Array };

export const Icmpv6Repr = {
  parse(pkt: Icmpv6Packet, src: Uint8Array, dst: Uint8Array, verify = true): Icmpv6Repr | WireError {
    if (verify && !pkt.verifyChecksum(src, dst)) return 'checksum';
    const b = pkt.buffer;
    const hi = (b[4]! << 8) | b[5]!;
    const lo = (b[6]! << 8) | b[7]!;
    switch (pkt.type) {
      case ICMPV6_TYPE.ECHO_REQUEST:
      case ICMPV6_TYPE.ECHO_REPLY:
        if (pkt.code !== 0) return 'malformed';
        return {
          type: pkt.type === ICMPV6_TYPE.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
          ident: hi,
          seq: lo,
          data: pkt.data,
        };
      case ICMPV6_TYPE.DEST_UNREACHABLE:
        if (pkt.data.length < 48) return 'truncated';
        return { type: 'dest-unreachable', code: pkt.code, original: pkt.data };
      case ICMPV6_TYPE.PACKET_TOO_BIG: {
        if (pkt.data.length < 48) return 'truncated';
        const mtu = ((hi << 16) | lo) >>> 0;
        // RFC 8200 §5: the IPv6 minimum link MTU is 1280.
        if (mtu < 1280) return 'malformed';
        return { type: 'packet-too-big', mtu, original: pkt.data };
      }
      case ICMPV6_TYPE.TIME_EXCEEDED:
        if (pkt.data.length < 48) return 'truncated';
        return { type: 'time-exceeded', code: pkt.code, original: pkt.data };
      default:
        return { type: 'other', icmpType: pkt.type, code: pkt.code, data: pkt.data };
    }
  },

  bufferLen(repr: Icmpv6Repr): number {
    return ICMPV6_HEADER_LEN + ('data' in repr ? repr.data.length : repr.original.length);
  },

  emit(repr: Icmpv6Repr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): void {
    let type: number;
    let code = 0;
    let word = 0;
    let body: Uint8Array;
    switch (repr.type) {
      case 'echo-request':
      case 'echo-reply':
        type = repr.type === 'echo-request' ? ICMPV6_TYPE.ECHO_REQUEST : ICMPV6_TYPE.ECHO_REPLY;
        word = ((repr.ident << 16) | repr.seq) >>> 0;
        body = repr.data;
        break;
      case 'dest-unreachable':
        type = ICMPV6_TYPE.DEST_UNREACHABLE;
        code = repr.code;
        body = repr.original;
        break;
      case 'packet-too-big':
        type = ICMPV6_TYPE.PACKET_TOO_BIG;
        word = repr.mtu;
        body = repr.original;
        break;
      case 'time-exceeded':
        type = ICMPV6_TYPE.TIME_EXCEEDED;
        code = repr.code;
        body = repr.original;
        break;
      case 'other':
        type = repr.icmpType;
        code = repr.code;
        body = repr.data;
        break;
    }
    buf[0] = type;
    buf[1] = code;
    buf[2] = 0;
    buf[3] = 0;
    buf[4] = word >>> 24;
    buf[5] = (word >>> 16) & 0xff;
    buf[6] = (word >>> 8) & 0xff;
    buf[7] = word & 0xff;
    buf.set(body, ICMPV6_HEADER_LEN);
    const end = ICMPV6_HEADER_LEN + body.length;
    const c = finish(ones(buf, 0, end, pseudoHeader(src, dst, IP_PROTOCOL.ICMPV6, end)));
    buf[2] = c >> 8;
    buf[3] = c & 0xff;
  },
};
