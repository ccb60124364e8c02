/**
 * The Internet checksum (RFC 1071) and the pseudo-headers that TCP, UDP and ICMPv6 fold into it
 * (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). Read `ones` first: every other function feeds it.
 *
 * The running sum is kept as an unfolded 32-bit-ish accumulator (a JS number, exact well past
 * 2^32), folded once at the end, so callers can add several regions cheaply.
 */

/** Adds the 16-bit big-endian words of `buf[start, end)` to `acc`; an odd tail byte is padded with zero. */
export function ones(buf: Uint8Array, start = 0, end = buf.length, acc = 0): number {
  let sum = acc;
  let i = start;
  const even = end - ((end - start) & 1);
  for (; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  // Fold now and then so the accumulator never loses precision on huge inputs.
  return sum > 0xffffffff ? (sum % 0xffff) + 0xffff : sum;
}

/** Folds an accumulator to 16 bits and complements it: the value to store in a header. */
export function finish(acc: number): number {
  let sum = acc;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The Internet checksum of `buf[start, end)`. */
export function checksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return finish(ones(buf, start, end));
}

/**
 * The pseudo-header sum for an upper-layer protocol over IPv4 (RFC 9293 §3.1) or IPv6
 * (RFC 8200 §8.1): both addresses, the protocol number and the upper-layer length.
 * `src` and `dst` are 4 or 16 bytes each.
 */
export function pseudoHeader(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let acc = ones(src);
  acc = ones(dst, 0, dst.length, acc);
  return acc + protocol + (length >>> 16) + (length & 0xffff);
}

/** True when `buf[start, end)` plus `acc` sums to all-ones, i.e. a received checksum verifies. */
export function verifies(buf: Uint8Array, start: number, end: number, acc: number): boolean {
  return finish(ones(buf, start, end, acc)) === 0;
}
