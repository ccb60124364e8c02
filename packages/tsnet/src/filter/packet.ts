/**
 * Just enough IP parsing for the packet filter (tailscale `net/packet.Parsed`): version, protocol,
 * addresses, ports, TCP flags, ICMP type, and whether the packet is a fragment. Parsing is total:
 * anything malformed gives `null`.
 */

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;
/** TSMP, Tailscale's in-tunnel message protocol (IANA "any private encryption scheme"). */
export const IPPROTO_TSMP = 99;

export const TCP_SYN = 0x02;
export const TCP_ACK = 0x10;

export interface ParsedPacket {
  version: 4 | 6;
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** 0 for protocols without ports. */
  srcPort: number;
  dstPort: number;
  /** TCP flags (0 otherwise). */
  tcpFlags: number;
  /** ICMP/ICMPv6 type and code (−1 otherwise). */
  icmpType: number;
  icmpCode: number;
  /** Not the first fragment: no transport header to look at. */
  laterFragment: boolean;
  /** Offset of the transport payload (the TSMP message, the UDP header…). */
  payloadOffset: number;
  /** Length of the whole IP packet from its header. */
  length: number;
}

function transport(p: ParsedPacket, b: Uint8Array, off: number, end: number): ParsedPacket | null {
  p.payloadOffset = off;
  if (p.laterFragment) return p;
  const avail = end - off;
  switch (p.proto) {
    case IPPROTO_TCP:
      if (avail < 20) return null;
      p.srcPort = ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
      p.dstPort = ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0);
      p.tcpFlags = b[off + 13] ?? 0;
      return p;
    case IPPROTO_UDP:
    case IPPROTO_SCTP:
      if (avail < 8) return null;
      p.srcPort = ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
      p.dstPort = ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0);
      return p;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (avail < 4) return null;
      p.icmpType = b[off] ?? 0;
      p.icmpCode = b[off + 1] ?? 0;
      return p;
    default:
      return p;
  }
}

/** Parses an IPv4 or IPv6 packet header and its transport ports; null when malformed. */
export function parsePacket(b: Uint8Array): ParsedPacket | null {
  if (b.length < 1) return null;
  const v = (b[0] ?? 0) >> 4;
  if (v === 4) {
    if (b.length < 20) return null;
    const ihl = ((b[0] ?? 0) & 0x0f) * 4;
    const total = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    if (ihl < 20 || total < ihl || total > b.length) return null;
    const fragOff = (((b[6] ?? 0) & 0x1f) << 8) | (b[7] ?? 0);
    const p: ParsedPacket = {
      version: 4,
      proto: b[9] ?? 0,
      src: b.subarray(12, 16),
      dst: b.subarray(16, 20),
      srcPort: 0,
      dstPort: 0,
      tcpFlags: 0,
      icmpType: -1,
      icmpCode: -1,
      laterFragment: fragOff !== 0,
      payloadOffset: ihl,
      length: total,
    };
    return transport(p, b, ihl, total);
  }
  if (v === 6) {
    if (b.length < 40) return null;
    const total = 40 + (((b[4] ?? 0) << 8) | (b[5] ?? 0));
    if (total > b.length) return null;
    let next = b[6] ?? 0;
    let off = 40;
    let laterFragment = false;
    // Extension headers: hop-by-hop, routing, fragment, destination options.
    for (let i = 0; i < 8; i++) {
      if (next === 0 || next === 43 || next === 60) {
        if (off + 8 > total) return null;
        const n = b[off] ?? 0;
        off += ((b[off + 1] ?? 0) + 1) * 8;
        next = n;
      } else if (next === 44) {
        if (off + 8 > total) return null;
        const fragOff = (((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >> 3;
        laterFragment = fragOff !== 0;
        next = b[off] ?? 0;
        off += 8;
      } else break;
    }
    if (off > total) return null;
    const p: ParsedPacket = {
      version: 6,
      proto: next,
      src: b.subarray(8, 24),
      dst: b.subarray(24, 40),
      srcPort: 0,
      dstPort: 0,
      tcpFlags: 0,
      icmpType: -1,
      icmpCode: -1,
      laterFragment,
      payloadOffset: off,
      length: total,
    };
    return transport(p, b, off, total);
  }
  return null;
}

/** ICMP messages always let in: echo replies and errors (tailscale `IsEchoResponse`, `IsError`). */
export function isIcmpReplyOrError(p: ParsedPacket): boolean {
  if (p.proto === IPPROTO_ICMP)
    return p.icmpType === 0 || p.icmpType === 3 || p.icmpType === 11 || p.icmpType === 12;
  if (p.proto === IPPROTO_ICMPV6) return p.icmpType === 129 || (p.icmpType >= 1 && p.icmpType <= 4);
  return false;
}
