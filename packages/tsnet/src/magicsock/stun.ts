/**
 * The client side of a STUN binding exchange (RFC 5389; tailscale `net/stun`): the request we send
 * to a DERP region's STUN port and the parse of the answer's (XOR-)MAPPED-ADDRESS, which is our
 * address as the server saw it. Parsing is total: bad input gives null.
 */
import { AddrPort, IPAddr } from '@tsnet/core';

const COOKIE = [0x21, 0x12, 0xa4, 0x42];
const ATTR_MAPPED = 0x0001;
const ATTR_XOR_MAPPED = 0x0020;

/** A binding request with the 12-byte transaction ID `txId`. */
export function stunRequest(txId: Uint8Array): Uint8Array {
  const b = new Uint8Array(20);
  b[1] = 0x01;
  b.set(COOKIE, 4);
  b.set(txId.subarray(0, 12), 8);
  return b;
}

/** True if `b` looks like a STUN binding success response (type 0x0101 and the cookie). */
export function isStunResponse(b: Uint8Array): boolean {
  return b.length >= 20 && b[0] === 0x01 && b[1] === 0x01 && COOKIE.every((c, i) => b[4 + i] === c);
}

/** The transaction ID and mapped address of a binding success response, or null. */
export function parseStunResponse(b: Uint8Array): { txId: Uint8Array; addr: AddrPort } | null {
  if (!isStunResponse(b)) return null;
  const len = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
  if (20 + len > b.length) return null;
  const txId = b.slice(8, 20);
  let mapped: AddrPort | null = null;
  let off = 20;
  while (off + 4 <= 20 + len) {
    const type = ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
    const alen = ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0);
    const v = b.subarray(off + 4, off + 4 + alen);
    if (v.length < alen) return null;
    if ((type === ATTR_XOR_MAPPED || type === ATTR_MAPPED) && alen >= 8) {
      const xor = type === ATTR_XOR_MAPPED;
      const fam = v[1];
      let port = ((v[2] ?? 0) << 8) | (v[3] ?? 0);
      if (xor) port ^= 0x2112;
      const ipLen = fam === 1 ? 4 : fam === 2 ? 16 : 0;
      if (ipLen !== 0 && alen >= 4 + ipLen) {
        const ip = v.slice(4, 4 + ipLen);
        if (xor) {
          const mask = [...COOKIE, ...txId];
          for (let i = 0; i < ip.length; i++) ip[i] = (ip[i] ?? 0) ^ (mask[i] ?? 0);
        }
        const a = new AddrPort(IPAddr.fromBytes(ip), port);
        if (xor || mapped === null) mapped = a;
      }
    }
    off += 4 + ((alen + 3) & ~3);
  }
  return mapped === null ? null : { txId, addr: mapped };
}
