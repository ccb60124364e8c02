/**
 * Randomness the stack needs (initial sequence numbers, timestamp offsets, ephemeral ports),
 * injectable so simulations are reproducible. `seededRandom` is a small PRNG for tests only.
 */
import { randomBytes } from 'node:crypto';

/** Returns a uniformly random unsigned 32-bit integer. */
export type Random32 = () => number;

/** Cryptographically random u32 (RFC 6528 asks for unpredictable ISNs). */
export const cryptoRandom32: Random32 = () => randomBytes(4).readUInt32BE(0);

/** mulberry32: deterministic, fast, not secure; for tests and simulations. */
export function seededRandom(seed: number): Random32 {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
