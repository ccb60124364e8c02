import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  constantTimeEqual,
  isAllZero,
  parseBase64,
  parseHex,
  toBase64,
  toHex,
} from './bytes.js';

describe('bytes', () => {
  it('hex round-trips and accepts either case', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(parseHex(toHex(b))).toEqual(b);
        expect(parseHex(toHex(b).toUpperCase())).toEqual(b);
        expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
      }),
    );
    expect(parseHex('abc')).toBeNull();
    expect(parseHex('zz')).toBeNull();
  });

  it('base64 round-trips and rejects what is not strict standard base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(parseBase64(toBase64(b))).toEqual(b);
      }),
    );
    for (const bad of ['abc', 'ab=c', 'a-_b', 'YQ', ' YWJj', 'YWJj\n']) expect(parseBase64(bad)).toBeNull();
  });

  it('compares and tests for zero', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(false);
    expect(isAllZero(new Uint8Array(32))).toBe(true);
    expect(isAllZero(new Uint8Array([0, 0, 1]))).toBe(false);
    expect(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });
});
