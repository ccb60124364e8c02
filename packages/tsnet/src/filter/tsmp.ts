/**
 * TSMP, the Tailscale Message Protocol (IP protocol 99; tailscale `net/packet/tsmp.go`), as far as
 * a node must speak it (protocol-map §8.5): answer Ping `'p'` with Pong `'o'` (and send Pings of
 * our own, `buildTsmpPing`, matching their Pongs), accept disco-key
 * advertisements `'a'`, note rejects `'!'`, and build a reject for a SYN our filter dropped so the
 * dialer fails fast. Everything else is ignored and counted.
 */
import { IPPROTO_TSMP, type ParsedPacket, parsePacket } from './packet.js';

/** TSMP (IP protocol 99) messages handled. */
export interface TsmpCounters {
  /** TSMP pings answered with a pong (`tailscale ping --tsmp`). */
  pings: number;
  /** Disco-key advertisements (`'a'`) received. */
  discoAdverts: number;
  /** Rejects received (a peer's filter refused our connection). */
  rejectsReceived: number;
  /** Pongs received for our own TSMP pings. */
  pongs: number;
  /** Anything else (unknown types, malformed), counted and dropped. */
  ignored: number;
}

export interface TsmpResult {
  /** A packet to send back into the tunnel, if any. */
  reply?: Uint8Array;
  /** A disco key the sender advertised (32 bytes). */
  discoKey?: Uint8Array;
  /** The sender refused a connection of ours: our port, its port, the IP protocol and reason. */
  rejected?: { proto: number; ourPort: number; theirPort: number; reason: string };
  /** A Pong (`'o'`) answering a ping of ours: the 8 bytes the ping carried. */
  pong?: Uint8Array;
}

/** A TSMP Ping (`'p'` and 8 bytes the Pong echoes) from `src` to `dst`, as `tailscale ping --tsmp`. */
export function buildTsmpPing(src: Uint8Array, dst: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length !== 8) throw new RangeError('data must be 8 bytes');
  const body = new Uint8Array(9);
  body[0] = 0x70;
  body.set(data, 1);
  return buildTsmpPacket(src, dst, body);
}

function checksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += ((b[off + i] ?? 0) << 8) | (b[off + i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IP packet from `src` to `dst` (both 4 or both 16 bytes) carrying `payload` with protocol 99. */
export function buildTsmpPacket(src: Uint8Array, dst: Uint8Array, payload: Uint8Array): Uint8Array {
  if (src.length === 4) {
    const out = new Uint8Array(20 + payload.length);
    out[0] = 0x45;
    out[2] = out.length >> 8;
    out[3] = out.length & 0xff;
    out[8] = 64;
    out[9] = IPPROTO_TSMP;
    out.set(src, 12);
    out.set(dst, 16);
    const c = checksum(out, 0, 20);
    out[10] = c >> 8;
    out[11] = c & 0xff;
    out.set(payload, 20);
    return out;
  }
  const out = new Uint8Array(40 + payload.length);
  out[0] = 0x60;
  out[4] = payload.length >> 8;
  out[5] = payload.length & 0xff;
  out[6] = IPPROTO_TSMP;
  out[7] = 64;
  out.set(src, 8);
  out.set(dst, 24);
  out.set(payload, 40);
  return out;
}

/** Handles a TSMP packet the filter accepted. */
export function handleTsmp(pkt: Uint8Array, counters: TsmpCounters, peerApiPort = 0): TsmpResult {
  const p = parsePacket(pkt);
  if (p === null || p.proto !== IPPROTO_TSMP) {
    counters.ignored++;
    return {};
  }
  const body = pkt.subarray(p.payloadOffset, p.length);
  const t = body[0];
  if (t === 0x70 && body.length >= 9) {
    counters.pings++;
    const pong = new Uint8Array(11);
    pong[0] = 0x6f;
    pong.set(body.subarray(1, 9), 1);
    pong[9] = peerApiPort >> 8;
    pong[10] = peerApiPort & 0xff;
    return { reply: buildTsmpPacket(p.dst, p.src, pong) };
  }
  if (t === 0x6f && body.length >= 9) {
    counters.pongs++;
    return { pong: body.slice(1, 9) };
  }
  if (t === 0x61 && body.length >= 33) {
    counters.discoAdverts++;
    return { discoKey: body.slice(1, 33) };
  }
  if (t === 0x21 && body.length >= 7) {
    counters.rejectsReceived++;
    return {
      rejected: {
        proto: body[1] ?? 0,
        reason: String.fromCharCode(body[2] ?? 0x3f),
        // The header names the original connection: its source was us, its destination them.
        ourPort: ((body[3] ?? 0) << 8) | (body[4] ?? 0),
        theirPort: ((body[5] ?? 0) << 8) | (body[6] ?? 0),
      },
    };
  }
  counters.ignored++;
  return {};
}

/** A TSMP reject (`'!'`, reason `'A'` for ACL) answering a TCP SYN our filter dropped. */
export function buildTsmpReject(dropped: ParsedPacket): Uint8Array {
  const m = new Uint8Array(7);
  m[0] = 0x21;
  m[1] = dropped.proto;
  m[2] = 0x41;
  m[3] = dropped.srcPort >> 8;
  m[4] = dropped.srcPort & 0xff;
  m[5] = dropped.dstPort >> 8;
  m[6] = dropped.dstPort & 0xff;
  return buildTsmpPacket(dropped.dst, dropped.src, m);
}
