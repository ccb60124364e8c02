/**
 * UDP (RFC 768). The checksum covers the pseudo-header; over IPv4 a zero checksum means "none"
 * (RFC 768), over IPv6 it is mandatory (RFC 8200 §8.1) and a zero one is dropped.
 *
 * Layout: source port(16) | destination port(16) | length(16) | checksum(16) | data
 */
import { finish, ones, pseudoHeader } from './checksum.js';
import { IP_PROTOCOL, type WireError } from './wire-error.js';

export const UDP_HEADER_LEN = 8;

export class UdpPacket {
  private constructor(readonly buffer: Uint8Array) {}
  /** Validates the length field against the buffer; trailing bytes beyond it are excluded. */
  static newChecked(buf: Uint8Array): UdpPacket | WireError {
    if (buf.length < UDP_HEADER_LEN) return 'truncated';
    const len = (buf[4]! << 8) | buf[5]!;
    if (len < UDP_HEADER_LEN) return 'malformed';
    if (len > buf.length) return 'truncated';
    return new UdpPacket(buf.subarray(0, len));
  }
  get srcPort(): number {
    return (this.buffer[0]! << 8) | this.buffer[1]!;
  }
  get dstPort(): number {
    return (this.buffer[2]! << 8) | this.buffer[3]!;
  }
  get checksumField(): number {
    return (this.buffer[6]! << 8) | this.buffer[7]!;
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(UDP_HEADER_LEN);
  }
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    if (this.checksumField === 0) return src.length === 4;
    const acc = pseudoHeader(src, dst, IP_PROTOCOL.UDP, this.buffer.length);
    return finish(ones(this.buffer, 0, this.buffer.length, acc)) === 0;
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export const UdpRepr = {
  parse(pkt: UdpPacket, src: Uint8Array, dst: Uint8Array, verify = true): UdpRepr | WireError {
    if (pkt.dstPort === 0) return 'malformed';
    if (verify && !pkt.verifyChecksum(src, dst)) return 'checksum';
    return { srcPort: pkt.srcPort, dstPort: pkt.dstPort, payload: pkt.payload };
  },
  bufferLen(repr: UdpRepr): number {
    return UDP_HEADER_LEN + repr.payload.length;
  },
  /** Writes header, payload and checksum; `src`/`dst` select the pseudo-header family. */
  emit(repr: UdpRepr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): void {
    const len = UDP_HEADER_LEN + repr.payload.length;
    if (len > 0xffff)
      throw new RangeError(`payload of ${repr.payload.length} bytes does not fit a UDP datagram`);
    buf[0] = repr.srcPort >> 8;
    buf[1] = repr.srcPort & 0xff;
    buf[2] = repr.dstPort >> 8;
    buf[3] = repr.dstPort & 0xff;
    buf[4] = len >> 8;
    buf[5] = len & 0xff;
    buf[6] = 0;
    buf[7] = 0;
    buf.set(repr.payload, UDP_HEADER_LEN);
    let c = finish(ones(buf, 0, len, pseudoHeader(src, dst, IP_PROTOCOL.UDP, len)));
    // RFC 768: a computed zero is sent as all ones, since zero means "no checksum".
    if (c === 0) c = 0xffff;
    buf[6] = c >> 8;
    buf[7] = c & 0xff;
  },
};
