/**
 * The STUN binding exchange a DERP region's STUN port answers (RFC 5389 §6, §15.2; tailscale
 * `net/stun/stun.go`): a request is a 20-byte header — type 0x0001, length, magic cookie
 * 0x2112A442, 12-byte transaction id — and attributes; the response is type 0x0101 with one
 * XOR-MAPPED-ADDRESS attribute (0x0020): 0 ‖ family (1 = IPv4, 2 = IPv6) ‖ port ^ 0x2112 ‖
 * address ^ (cookie ‖ transaction id).
 *
 * Tailscale's own server also insists on the SOFTWARE attribute "tailnode" and a FINGERPRINT; this
 * one answers any well-formed binding request (a deviation: it helps any STUN client).
 */

/** The STUN message header: type (2) ‖ length (2) ‖ magic cookie (4) ‖ transaction id (12), in bytes. */
export const STUN_HEADER_LEN = 20;
/** RFC 5389's magic cookie 0x2112A442, bytes 4–7 of every STUN message; also the XOR key of addresses. */
export const STUN_MAGIC_COOKIE: Uint8Array = new Uint8Array([0x21, 0x12, 0xa4, 0x42]);
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;

/** The 12-byte transaction id of a binding request, or null if `b` is not one. Never throws. */
export function parseStunBindingRequest(b: Uint8Array): Uint8Array | null {
  if (b.length < STUN_HEADER_LEN) return null;
  if ((b[0]! & 0xc0) !== 0) return null; // top two bits are zero in every STUN message
  if (((b[0]! << 8) | b[1]!) !== BINDING_REQUEST) return null;
  for (let i = 0; i < 4; i++) if (b[4 + i] !== STUN_MAGIC_COOKIE[i]) return null;
  const len = (b[2]! << 8) | b[3]!;
  if (len % 4 !== 0 || STUN_HEADER_LEN + len > b.length) return null;
  return b.slice(8, 20);
}

/**
 * A binding success response telling the client its address as we saw it. `ip` is 4 or 16 bytes
 * (an IPv4-mapped IPv6 address should be passed as its 4 bytes).
 */
export function stunBindingResponse(txId: Uint8Array, ip: Uint8Array, port: number): Uint8Array {
  if (txId.length !== 12) throw new RangeError(`txId must be 12 bytes, got ${txId.length}`);
  if (ip.length !== 4 && ip.length !== 16) throw new RangeError(`ip must be 4 or 16 bytes, got ${ip.length}`);
  const attrLen = 4 + ip.length;
  const out = new Uint8Array(STUN_HEADER_LEN + 4 + attrLen);
  out[0] = BINDING_SUCCESS >> 8;
  out[1] = BINDING_SUCCESS & 0xff;
  out[2] = (4 + attrLen) >> 8;
  out[3] = (4 + attrLen) & 0xff;
  out.set(STUN_MAGIC_COOKIE, 4);
  out.set(txId, 8);
  let o = STUN_HEADER_LEN;
  out[o++] = ATTR_XOR_MAPPED_ADDRESS >> 8;
  out[o++] = ATTR_XOR_MAPPED_ADDRESS & 0xff;
  out[o++] = attrLen >> 8;
  out[o++] = attrLen & 0xff;
  out[o++] = 0;
  out[o++] = ip.length === 4 ? 1 : 2;
  const xport = port ^ 0x2112;
  out[o++] = xport >> 8;
  out[o++] = xport & 0xff;
  for (let i = 0; i < ip.length; i++) out[o + i] = ip[i]! ^ (i < 4 ? STUN_MAGIC_COOKIE[i]! : txId[i - 4]!);
  return out;
}
