/**
 * ICMPv4 (RFC 792): echo request/reply, destination unreachable (with the next-hop MTU of
 * RFC 1191 §4 for "fragmentation needed") and time exceeded. Other types parse as `'other'`.
 *
 * Layout: type(8) code(8) checksum(16) | rest of header(32) | data
 */
import { checksum } from './checksum.js';
import type { WireError } from './wire-error.js';

export const ICMPV4_HEADER_LEN = 8;
export const ICMPV4_TYPE = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
} as const;
/** Destination-unreachable codes this stack acts on (RFC 792, RFC 1191). */
export const ICMPV4_UNREACH = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4 } as const;

/** A validated view: at least the 8-byte header is present. */
export class Icmpv4Packet {
  private constructor(readonly buffer: Uint8Array) {}
  static newChecked(buf: Uint8Array): Icmpv4Packet | WireError {
    if (buf.length < ICMPV4_HEADER_LEN) return 'truncated';
    return new Icmpv4Packet(buf);
  }
  get type(): number {
    return this.buffer[0]!;
  }
  get code(): number {
    return this.buffer[1]!;
  }
  get data(): Uint8Array {
    return this.buffer.subarray(ICMPV4_HEADER_LEN);
  }
  verifyChecksum(): boolean {
    return checksum(this.buffer) === 0;
  }
}

export type Icmpv4Repr =
  | { type: 'echo-request' | 'echo-reply'; ident: number; seq: number; data: Uint8Array }
  /** `original` is the offending datagram's IP header and at least 8 bytes of its payload. */
  | { type: 'dest-unreachable'; code: number; nextHopMtu: number; original: Uint8Array }
  | { type: 'time-exceeded'; code: number; original: Uint8Array }
  | { type: 'other'; icmpType: number; code: number; data: Uint8Array };

export const Icmpv4Repr = {
  parse(pkt: Icmpv4Packet, verify = true): Icmpv4Repr | WireError {
    if (verify && !pkt.verifyChecksum()) return 'checksum';
    const b = pkt.buffer;
    const hi = (b[4]! << 8) | b[5]!;
    const lo = (b[6]! << 8) | b[7]!;
    switch (pkt.type) {
      case ICMPV4_TYPE.ECHO_REQUEST:
      case ICMPV4_TYPE.ECHO_REPLY:
        if (pkt.code !== 0) return 'malformed';
        return {
          type: pkt.type === ICMPV4_TYPE.ECHO_REQUEST ? 'echo-request' : 'echo-reply',
          ident: hi,
          seq: lo,
          data: pkt.data,
        };
      case ICMPV4_TYPE.DEST_UNREACHABLE:
        // RFC 792: the original IP header plus 64 bits of its data follow.
        if (pkt.data.length < 28) return 'truncated';
        return { type: 'dest-unreachable', code: pkt.code, nextHopMtu: lo, original: pkt.data };
      case ICMPV4_TYPE.TIME_EXCEEDED:
        if (pkt.data.length < 28) return 'truncated';
        return { type: 'time-exceeded', code: pkt.code, original: pkt.data };
      default:
        return { type: 'other', icmpType: pkt.type, code: pkt.code, data: pkt.data };
    }
  },

  bufferLen(repr: Icmpv4Repr): number {
    return (
      ICMPV4_HEADER_LEN +
      (repr.type === 'other' ? repr.data.length : 'data' in repr ? repr.data.length : repr.original.length)
    );
  },

  emit(repr: Icmpv4Repr, buf: Uint8Array): void {
    let type: number;
    let code = 0;
    let hi = 0;
    let lo = 0;
    let body: Uint8Array;
    switch (repr.type) {
      case 'echo-request':
      case 'echo-reply':
        type = repr.type === 'echo-request' ? ICMPV4_TYPE.ECHO_REQUEST : ICMPV4_TYPE.ECHO_REPLY;
        hi = repr.ident;
        lo = repr.seq;
        body = repr.data;
        break;
      case 'dest-unreachable':
        type = ICMPV4_TYPE.DEST_UNREACHABLE;
        code = repr.code;
        lo = repr.nextHopMtu;
        body = repr.original;
        break;
      case 'time-exceeded':
        type = ICMPV4_TYPE.TIME_EXCEEDED;
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
    buf[4] = hi >> 8;
    buf[5] = hi & 0xff;
    buf[6] = lo >> 8;
    buf[7] = lo & 0xff;
    buf.set(body, ICMPV4_HEADER_LEN);
    const end = ICMPV4_HEADER_LEN + body.length;
    const c = checksum(buf, 0, end);
    buf[2] = c >> 8;
    buf[3] = c & 0xff;
  },
};
