/**
 * TAI64N timestamps (https://cr.yp.to/libtai/tai64.html), as the handshake initiation carries them
 * (WireGuard paper §5.4.2; wireguard-go `tai64n/tai64n.go`).
 *
 * 12 bytes, big-endian: 8 bytes of seconds since 1970 TAI plus 2^62 (and the 10 s TAI−UTC offset of
 * 1970, as wireguard-go adds), then 4 bytes of nanoseconds. The nanoseconds are rounded down to a
 * multiple of 2^24 ns (~16.8 ms), as wireguard-go's "whitener" does, so an initiation does not leak
 * the sender's precise clock. A responder accepts an initiation only if its timestamp is strictly
 * greater than the greatest it has seen from that peer (replay protection).
 */
import { TAI64N_SIZE } from './constants.js';

/** 2^62 + 10, split as two u32 halves. */
const BASE_HI = 0x4000_0000;
const BASE_LO = 10;
/** Nanoseconds are masked with ~(2^24 − 1). */
const WHITENER_MASK = 0x00ff_ffff;

/** The TAI64N label of `ms` milliseconds since the Unix epoch, written to `out` (or a new array). */
export function tai64n(ms: number, out: Uint8Array = new Uint8Array(TAI64N_SIZE)): Uint8Array {
  if (out.length < TAI64N_SIZE) throw new RangeError(`out must be at least ${TAI64N_SIZE} bytes`);
  const secs = Math.floor(ms / 1000);
  const nanos = (((ms - secs * 1000) * 1_000_000) & ~WHITENER_MASK) >>> 0;
  const lo = secs + BASE_LO;
  const loU32 = lo >>> 0;
  const hi = BASE_HI + Math.floor(lo / 0x1_0000_0000);
  const dv = new DataView(out.buffer, out.byteOffset, TAI64N_SIZE);
  dv.setUint32(0, hi >>> 0);
  dv.setUint32(4, loU32);
  dv.setUint32(8, nanos);
  return out;
}

/** True if timestamp `a` is strictly later than `b` (a lexicographic comparison of the 12 bytes). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TAI64N_SIZE; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return false;
}
