/**
 * IPv6 headers (RFC 8200 §3) and the walk over extension headers (§4): Hop-by-Hop, Routing,
 * Destination Options, Fragment (§4.5) and AH are stepped over until an upper-layer protocol is
 * found. `Ipv6Packet` is the checked view, `Ipv6Repr` the parsed value with `parse`/`emit`.
 *
 * Layout:
 *   0   version(4) traffic class(8) flow label(20)
 *   4   payload length(16) | next header(8) | hop limit(8)
 *   8   source address (16) | 24 destination address (16) | 40 extension headers, payload
 */
import { IP_PROTOCOL, type WireError } from './wire-error.js';

export const IPV6_HEADER_LEN = 40;
/** At most this many extension headers are walked; more is treated as malformed. */
const MAX_EXTENSION_HEADERS = 8;

/** A validated view over an IPv6 packet: the payload length fits in the buffer. */
export class Ipv6Packet {
  private constructor(readonly buffer: Uint8Array) {}

  static newChecked(buf: Uint8Array): Ipv6Packet | WireError {
    if (buf.length < IPV6_HEADER_LEN) return 'truncated';
    if (buf[0]! >> 4 !== 6) return 'malformed';
    const plen = (buf[4]! << 8) | buf[5]!;
    // A zero payload length with a Hop-by-Hop header would mean a jumbogram (RFC 2675): unsupported.
    if (plen === 0 && buf[6] === IP_PROTOCOL.HOP_BY_HOP) return 'unsupported';
    if (IPV6_HEADER_LEN + plen > buf.length) return 'truncated';
    return new Ipv6Packet(buf.subarray(0, IPV6_HEADER_LEN + plen));
  }

  get payloadLen(): number {
    return (this.buffer[4]! << 8) | this.buffer[5]!;
  }
  get nextHeader(): number {
    return this.buffer[6]!;
  }
  get hopLimit(): number {
    return this.buffer[7]!;
  }
  get src(): Uint8Array {
    return this.buffer.subarray(8, 24);
  }
  get dst(): Uint8Array {
    return this.buffer.subarray(24, 40);
  }
}

/** The Fragment header's fields (RFC 8200 §4.5). */
export interface Ipv6Fragment {
  /** Byte offset of this fragment's data in the original payload. */
  offset: number;
  more: boolean;
  ident: number;
  /** Offset in the packet of the fragmentable part (right after the Fragment header). */
  dataOffset: number;
  /** The Next Header value carried by the Fragment header. */
  nextHeader: number;
}

/** A parsed IPv6 header, with extension headers walked. */
export interface Ipv6Repr {
  src: Uint8Array;
  dst: Uint8Array;
  /** The upper-layer protocol after the extension headers (or after the Fragment header). */
  nextHeader: number;
  hopLimit: number;
  /** Offset of the upper-layer payload from the start of the packet. */
  payloadOffset: number;
  /** Length of the upper-layer payload. */
  payloadLen: number;
  /** Present when a Fragment header was found; the walk stops there. */
  fragment?: Ipv6Fragment;
}

export const Ipv6Repr = {
  parse(pkt: Ipv6Packet): Ipv6Repr | WireError {
    const b = pkt.buffer;
    let next = pkt.nextHeader;
    let off = IPV6_HEADER_LEN;
    for (let n = 0; ; n++) {
      if (n > MAX_EXTENSION_HEADERS) return 'malformed';
      switch (next) {
        case IP_PROTOCOL.HOP_BY_HOP:
        case IP_PROTOCOL.IPV6_ROUTING:
        case IP_PROTOCOL.IPV6_DEST_OPTS: {
          // RFC 8200 §4.1: Hop-by-Hop may only come first.
          if (next === IP_PROTOCOL.HOP_BY_HOP && off !== IPV6_HEADER_LEN) return 'malformed';
          if (off + 8 > b.length) return 'truncated';
          const len = (b[off + 1]! + 1) * 8;
          if (off + len > b.length) return 'truncated';
          next = b[off]!;
          off += len;
          continue;
        }
        case IP_PROTOCOL.AH: {
          // RFC 4302 §2.2: payload length in 4-byte units, minus 2.
          if (off + 8 > b.length) return 'truncated';
          const len = (b[off + 1]! + 2) * 4;
          if (off + len > b.length) return 'truncated';
          next = b[off]!;
          off += len;
          continue;
        }
        case IP_PROTOCOL.IPV6_FRAGMENT: {
          if (off + 8 > b.length) return 'truncated';
          const fo = (b[off + 2]! << 8) | b[off + 3]!;
          const fragment: Ipv6Fragment = {
            nextHeader: b[off]!,
            offset: fo & 0xfff8,
            more: (fo & 1) !== 0,
            ident: ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0,
            dataOffset: off + 8,
          };
          return {
            src: pkt.src,
            dst: pkt.dst,
            nextHeader: fragment.nextHeader,
            hopLimit: pkt.hopLimit,
            payloadOffset: off + 8,
            payloadLen: b.length - off - 8,
            fragment,
          };
        }
        default:
          return {
            src: pkt.src,
            dst: pkt.dst,
            nextHeader: next,
            hopLimit: pkt.hopLimit,
            payloadOffset: off,
            payloadLen: b.length - off,
          };
      }
    }
  },

  /** Header length `emit` writes (no extension headers). */
  headerLen(): number {
    return IPV6_HEADER_LEN;
  },

  /** Writes a 40-byte header at `buf[0..40)`; `payloadOffset` and `fragment` are ignored. */
  emit(repr: Ipv6Repr, buf: Uint8Array): void {
    if (repr.payloadLen > 0xffff) throw new RangeError(`payloadLen ${repr.payloadLen} needs a jumbogram`);
    buf[0] = 0x60;
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = 0;
    buf[4] = repr.payloadLen >> 8;
    buf[5] = repr.payloadLen & 0xff;
    buf[6] = repr.nextHeader;
    buf[7] = repr.hopLimit;
    buf.set(repr.src, 8);
    buf.set(repr.dst, 24);
  },
};
