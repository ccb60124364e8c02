/**
 * IPv4 headers (RFC 791 §3.1). `Ipv4Packet` is the checked view over the bytes: construct it with
 * `Ipv4Packet.newChecked`, which validates the lengths once so every accessor is safe afterwards.
 * `Ipv4Repr` is the parsed value with `parse`/`emit`. Options are skipped (their length is honoured,
 * their content ignored), as RFC 1122 §3.2.1.8 allows for options a host does not implement.
 *
 * Layout:
 *   0       version(4) ihl(4) | dscp/ecn(8) | total length(16)
 *   4       identification(16) | flags(3) fragment offset(13)
 *   8       ttl(8) | protocol(8) | header checksum(16)
 *   12      source address | 16 destination address | 20 options...
 */
import { checksum } from './checksum.js';
import type { WireError } from './wire-error.js';

export const IPV4_HEADER_LEN = 20;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

/** A validated view over an IPv4 packet: header length and total length fit in the buffer. */
export class Ipv4Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /**
   * Validates version, IHL and total length against the buffer. Bytes past the total length
   * (link padding) are excluded from `packet.buffer`.
   */
  static newChecked(buf: Uint8Array): Ipv4Packet | WireError {
    if (buf.length < IPV4_HEADER_LEN) return 'truncated';
    if (buf[0]! >> 4 !== 4) return 'malformed';
    const ihl = (buf[0]! & 0x0f) * 4;
    if (ihl < IPV4_HEADER_LEN) return 'malformed';
    const total = (buf[2]! << 8) | buf[3]!;
    if (total < ihl) return 'malformed';
    if (total > buf.length || ihl > buf.length) return 'truncated';
    return new Ipv4Packet(buf.subarray(0, total));
  }

  get headerLen(): number {
    return (this.buffer[0]! & 0x0f) * 4;
  }
  get totalLen(): number {
    return (this.buffer[2]! << 8) | this.buffer[3]!;
  }
  get ident(): number {
    return (this.buffer[4]! << 8) | this.buffer[5]!;
  }
  get dontFrag(): boolean {
    return (((this.buffer[6]! << 8) | this.buffer[7]!) & FLAG_DF) !== 0;
  }
  get moreFrags(): boolean {
    return (((this.buffer[6]! << 8) | this.buffer[7]!) & FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragOffset(): number {
    return (((this.buffer[6]! << 8) | this.buffer[7]!) & 0x1fff) * 8;
  }
  get ttl(): number {
    return this.buffer[8]!;
  }
  get protocol(): number {
    return this.buffer[9]!;
  }
  get src(): Uint8Array {
    return this.buffer.subarray(12, 16);
  }
  get dst(): Uint8Array {
    return this.buffer.subarray(16, 20);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen);
  }
  verifyChecksum(): boolean {
    return checksum(this.buffer, 0, this.headerLen) === 0;
  }
}

/** A parsed IPv4 header. Addresses are 4-byte arrays (views into the packet after `parse`). */
export interface Ipv4Repr {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  /** Length of the payload that follows the header. */
  payloadLen: number;
  ttl: number;
  ident: number;
  dontFrag: boolean;
  moreFrags: boolean;
  /** Byte offset of this fragment in the original datagram. */
  fragOffset: number;
}

export const Ipv4Repr = {
  /** Parses a checked view; verifies the header checksum unless `verify` is false. */
  parse(pkt: Ipv4Packet, verify = true): Ipv4Repr | WireError {
    if (verify && !pkt.verifyChecksum()) return 'checksum';
    return {
      src: pkt.src,
      dst: pkt.dst,
      protocol: pkt.protocol,
      payloadLen: pkt.totalLen - pkt.headerLen,
      ttl: pkt.ttl,
      ident: pkt.ident,
      dontFrag: pkt.dontFrag,
      moreFrags: pkt.moreFrags,
      fragOffset: pkt.fragOffset,
    };
  },

  /** Header length `emit` writes (no options). */
  headerLen(): number {
    return IPV4_HEADER_LEN;
  },

  /** Writes a 20-byte header with a valid checksum at `buf[0..20)`. */
  emit(repr: Ipv4Repr, buf: Uint8Array): void {
    const total = IPV4_HEADER_LEN + repr.payloadLen;
    if (total > 0xffff) throw new RangeError(`payloadLen ${repr.payloadLen} does not fit an IPv4 packet`);
    buf[0] = 0x45;
    buf[1] = 0;
    buf[2] = total >> 8;
    buf[3] = total & 0xff;
    buf[4] = repr.ident >> 8;
    buf[5] = repr.ident & 0xff;
    const frag =
      (repr.dontFrag ? FLAG_DF : 0) | (repr.moreFrags ? FLAG_MF : 0) | ((repr.fragOffset / 8) & 0x1fff);
    buf[6] = frag >> 8;
    buf[7] = frag & 0xff;
    buf[8] = repr.ttl;
    buf[9] = repr.protocol;
    buf[10] = 0;
    buf[11] = 0;
    buf.set(repr.src, 12);
    buf.set(repr.dst, 16);
    const c = checksum(buf, 0, IPV4_HEADER_LEN);
    buf[10] = c >> 8;
    buf[11] = c & 0xff;
  },
};
