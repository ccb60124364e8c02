import { describe, expect, it } from 'vitest';
import { ZSTD_MAX_BLOCK, zstdRawFrame } from './zstd.js';

/** A decoder for exactly what zstdRawFrame emits (raw blocks), written from RFC 8878 §3.1.1. */
function decodeRaw(f: Uint8Array): Uint8Array {
  expect([...f.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
  expect(f[4]).toBe(0xa0);
  const size = new DataView(f.buffer, f.byteOffset).getUint32(5, true);
  const parts: Uint8Array[] = [];
  let off = 9;
  for (;;) {
    const hdr = f[off]! | (f[off + 1]! << 8) | (f[off + 2]! << 16);
    const last = hdr & 1;
    expect((hdr >> 1) & 3).toBe(0);
    const len = hdr >>> 3;
    expect(len).toBeLessThanOrEqual(ZSTD_MAX_BLOCK);
    parts.push(f.subarray(off + 3, off + 3 + len));
    off += 3 + len;
    if (last) break;
  }
  expect(off).toBe(f.length);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  expect(out.length).toBe(size);
  return out;
}

describe('zstdRawFrame', () => {
  it('frames empty, small and multi-block inputs', () => {
    for (const n of [0, 1, 100, ZSTD_MAX_BLOCK, ZSTD_MAX_BLOCK + 1, 3 * ZSTD_MAX_BLOCK + 7]) {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = (i * 31) & 0xff;
      expect(Buffer.from(decodeRaw(zstdRawFrame(data))).equals(data)).toBe(true);
    }
  });
  it('matches the bytes of a known frame', () => {
    // "hi" as one raw last block: header (2 << 3) | 1 = 0x11.
    expect([...zstdRawFrame(new TextEncoder().encode('hi'))]).toEqual([
      0x28, 0xb5, 0x2f, 0xfd, 0xa0, 2, 0, 0, 0, 0x11, 0, 0, 0x68, 0x69,
    ]);
  });
});
