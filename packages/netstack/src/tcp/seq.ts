/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Compare with these, never with `<`:
 * `a` is "before" `b` when the signed 32-bit difference is negative.
 */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqGt = (a: number, b: number): boolean => ((a - b) | 0) > 0;
export const seqGe = (a: number, b: number): boolean => ((a - b) | 0) >= 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
/** `a - b` as a signed distance. */
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqMax = (a: number, b: number): number => (seqGt(a, b) ? a : b);
export const seqMin = (a: number, b: number): number => (seqLt(a, b) ? a : b);
