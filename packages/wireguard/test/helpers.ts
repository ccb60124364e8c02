/**
 * Test helpers: hand-built IPv4/ICMP packets with real checksums (RFC 791, RFC 792), and a pair of
 * Devices over a ChannelNetwork on a FakeClock.
 */
import { type CryptoProvider, FakeClock, getCryptoProvider, toBase64 } from '@tsnet/core';
import { Device, type DeviceOptions } from '../src/index.js';
import {
  type ChannelBind,
  ChannelNetwork,
  type ChannelNetworkOptions,
  ChannelTun,
} from '../src/testing/index.js';

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2 === 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(
  src: readonly number[],
  dst: readonly number[],
  proto: number,
  payload: Uint8Array,
  id = 1,
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[4] = id >> 8;
  p[5] = id & 0xff;
  p[6] = 0x40; // DF
  p[8] = 64;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  const c = inetChecksum(p.subarray(0, 20));
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(payload, 20);
  return p;
}

/** ICMP echo request (type 8) or reply (type 0) with identifier, sequence and data. */
export function icmpEcho(type: 0 | 8, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[4] = ident >> 8;
  m[5] = ident & 0xff;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  const c = inetChecksum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** A UDP-in-IPv4 packet (checksum 0 = none, allowed for IPv4) carrying `n`. */
export function dataPacket(src: readonly number[], dst: readonly number[], n: number, size = 64): Uint8Array {
  const payload = new Uint8Array(Math.max(12, size - 20));
  payload[0] = 0x30;
  payload[1] = 0x39;
  payload[2] = 0x30;
  payload[3] = 0x39;
  payload[4] = payload.length >> 8;
  payload[5] = payload.length & 0xff;
  new DataView(payload.buffer).setUint32(8, n);
  return ipv4(src, dst, 17, payload, n & 0xffff);
}

export function packetNumber(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(28);
}

export const A_IP = [10, 0, 0, 1] as const;
export const B_IP = [10, 0, 0, 2] as const;

export interface Pair {
  clock: FakeClock;
  net: ChannelNetwork;
  a: Device;
  b: Device;
  tunA: ChannelTun;
  tunB: ChannelTun;
  bindA: ChannelBind;
  bindB: ChannelBind;
  aKey: string;
  bKey: string;
  crypto: CryptoProvider;
}

/** Two devices A (10.0.0.1, endpoint a:1) and B (10.0.0.2, endpoint b:1) that know each other. */
export async function makePair(
  opts: {
    net?: ChannelNetworkOptions;
    a?: Partial<DeviceOptions>;
    b?: Partial<DeviceOptions>;
    cryptoA?: CryptoProvider;
    cryptoB?: CryptoProvider;
    psk?: Uint8Array;
    bKnowsAEndpoint?: boolean;
  } = {},
): Promise<Pair> {
  const crypto = getCryptoProvider();
  const clock = new FakeClock(1000);
  const net = new ChannelNetwork({ clock, latencyMs: 1, ...opts.net });
  const tunA = new ChannelTun();
  const tunB = new ChannelTun();
  const privA = crypto.randomBytes(32);
  const privB = crypto.randomBytes(32);
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 0x1_0000_0000;
  };
  const bindA = net.bind('a:1');
  const bindB = net.bind('b:1');
  const a = new Device({
    privateKey: privA,
    bind: bindA,
    tun: tunA,
    clock,
    random,
    crypto: opts.cryptoA ?? crypto,
    ...opts.a,
  });
  const b = new Device({
    privateKey: privB,
    bind: bindB,
    tun: tunB,
    clock,
    random,
    crypto: opts.cryptoB ?? crypto,
    ...opts.b,
  });
  const aKey = toBase64(a.publicKey);
  const bKey = toBase64(b.publicKey);
  a.addPeer({ publicKey: bKey, endpoint: 'b:1', allowedIps: ['10.0.0.2/32'], presharedKey: opts.psk });
  b.addPeer({
    publicKey: aKey,
    endpoint: opts.bKnowsAEndpoint ? 'a:1' : undefined,
    allowedIps: ['10.0.0.1/32'],
    presharedKey: opts.psk,
  });
  await a.up();
  await b.up();
  return { clock, net, a, b, tunA, tunB, bindA, bindB, aKey, bKey, crypto };
}

/** An IPv6 packet (RFC 8200) with hop limit 64. */
export function ipv6(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

/** ICMPv6 echo request (128) or reply (129), checksummed over the RFC 8200 §8.1 pseudo-header. */
export function icmpv6Echo(
  type: 128 | 129,
  src: Uint8Array,
  dst: Uint8Array,
  ident: number,
  seq: number,
  data: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[4] = ident >> 8;
  m[5] = ident & 0xff;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  const pseudo = new Uint8Array(40 + m.length);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  new DataView(pseudo.buffer).setUint32(32, m.length);
  pseudo[39] = 58;
  pseudo.set(m, 40);
  const c = inetChecksum(pseudo);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/**
 * If `p` is an ICMP echo request (IPv4) or ICMPv6 echo request, the matching echo reply (addresses
 * swapped, checksums recomputed); otherwise null. This is how a test "answers a ping" through a TUN.
 */
export function echoReplyFor(p: Uint8Array): Uint8Array | null {
  if (p[0]! >> 4 === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    if (p[9] !== 1 || p[ihl] !== 8) return null;
    const icmp = p.subarray(ihl);
    const ident = (icmp[4]! << 8) | icmp[5]!;
    const seq = (icmp[6]! << 8) | icmp[7]!;
    return ipv4(
      [...p.subarray(16, 20)],
      [...p.subarray(12, 16)],
      1,
      icmpEcho(0, ident, seq, icmp.subarray(8)),
      (p[4]! << 8) | p[5]!,
    );
  }
  if (p[0]! >> 4 === 6) {
    if (p[6] !== 58 || p[40] !== 128) return null;
    const icmp = p.subarray(40);
    const src = p.subarray(24, 40);
    const dst = p.subarray(8, 24);
    return ipv6(
      src,
      dst,
      58,
      icmpv6Echo(129, src, dst, (icmp[4]! << 8) | icmp[5]!, (icmp[6]! << 8) | icmp[7]!, icmp.subarray(8)),
    );
  }
  return null;
}

/** Polls `cond` every 20 ms (real time) until true, or throws after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
