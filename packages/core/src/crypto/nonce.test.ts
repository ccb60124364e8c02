/** nonceLE64 / nonceBE64 against a naive DataView + bigint model, and their argument checks. */
import { describe, expect, it } from 'vitest';
import { toHex } from '../bytes.js';
import { nonceBE64, nonceLE64 } from './nonce.js';

/** The naive model: a DataView with a bigint, which the real code avoids on the packet path. */
function model(counter: number, littleEndian: boolean): string {
  const b = new Uint8Array(12);
  new DataView(b.buffer).setBigUint64(4, BigInt(counter), littleEndian);
  return toHex(b);
}

const counters = [
  0,
  1,
  255,
  256,
  0xffff_ffff,
  0x1_0000_0000,
  0x1_2345_6789,
  2 ** 52 + 3,
  Number.MAX_SAFE_INTEGER,
];

describe('nonceLE64 (WireGuard)', () => {
  it.each(counters)('%d: 4 zero bytes ‖ little-endian u64', (c) => {
    expect(toHex(nonceLE64(c))).toBe(model(c, true));
  });
  it('lays out 1 as WireGuard does', () => {
    expect(toHex(nonceLE64(1))).toBe('000000000100000000000000');
  });
  it('writes into out and returns it, clearing stale bytes', () => {
    const out = new Uint8Array(12).fill(0xff);
    expect(nonceLE64(2, out)).toBe(out);
    expect(toHex(out)).toBe('000000000200000000000000');
  });
});

describe('nonceBE64 (control protocol)', () => {
  it.each(counters)('%d: 4 zero bytes ‖ big-endian u64', (c) => {
    expect(toHex(nonceBE64(c))).toBe(model(c, false));
  });
  it('lays out 1 as controlbase does', () => {
    expect(toHex(nonceBE64(1))).toBe('000000000000000000000001');
  });
});

describe.each([
  ['nonceLE64', nonceLE64],
  ['nonceBE64', nonceBE64],
] as const)('%s argument checks', (_name, fn) => {
  it.each([-1, 1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY])(
    'rejects counter %d with a RangeError naming it',
    (c) => {
      expect(() => fn(c)).toThrow(/^counter must be an integer from 0 to 2\^53 - 1/);
    },
  );
  it('rejects an out that is not 12 bytes', () => {
    expect(() => fn(0, new Uint8Array(24))).toThrow(/^out must be 12 bytes, got 24$/);
  });
});
