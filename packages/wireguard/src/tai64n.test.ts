import { describe, expect, it } from 'vitest';
import { tai64n, tai64nAfter } from './tai64n.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('tai64n', () => {
  it('encodes the epoch as 2^62 + 10 seconds', () => {
    // TAI64 label of 1970-01-01 00:00:00 UTC (+10 s TAI offset, as wireguard-go adds).
    expect(hex(tai64n(0))).toBe('400000000000000a00000000');
  });
  it('encodes seconds big-endian and whitens nanoseconds to 2^24 ns', () => {
    // 1_700_000_000.5 s: 1_700_000_010 = 0x6553f10a; 500_000_000 & ~0xffffff = 0x1d000000.
    expect(hex(tai64n(1_700_000_000_500))).toBe('400000006553f10a1d000000');
    expect(hex(tai64n(1_700_000_000_001))).toBe('400000006553f10a00000000');
  });
  it('orders timestamps', () => {
    expect(tai64nAfter(tai64n(2000), tai64n(1000))).toBe(true);
    expect(tai64nAfter(tai64n(1000), tai64n(1000))).toBe(false);
    expect(tai64nAfter(tai64n(1000), tai64n(2000))).toBe(false);
    // Within one whitening step (16.7 ms) two stamps are equal, so not "after".
    expect(tai64nAfter(tai64n(1005), tai64n(1000))).toBe(false);
    expect(tai64nAfter(tai64n(1020), tai64n(1000))).toBe(true);
  });
});
