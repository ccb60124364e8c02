import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ControlProtocolError } from '../errors.js';
import { encodeMapFrame, MapFrameDecoder } from './frames.js';

const enc = (s: string) => encodeMapFrame(new TextEncoder().encode(s));

describe('map frames', () => {
  it('length is little-endian u32', () => {
    expect([...enc('{}').subarray(0, 4)]).toEqual([2, 0, 0, 0]);
    const big = encodeMapFrame(new Uint8Array(0x010203));
    expect([...big.subarray(0, 4)]).toEqual([3, 2, 1, 0]);
  });

  it('round trips any split of any messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 50 }),
        (msgs, step) => {
          const all = Buffer.concat(msgs.map(enc));
          const d = new MapFrameDecoder();
          const got: string[] = [];
          for (let i = 0; i < all.length; i += step) {
            for (const m of d.push(all.subarray(i, i + step))) got.push(new TextDecoder().decode(m));
          }
          expect(got).toEqual(msgs);
          expect(d.pending).toBe(0);
        },
      ),
    );
  });

  it('refuses zero-length and oversize frames before buffering them', () => {
    expect(() => new MapFrameDecoder().push(Uint8Array.of(0, 0, 0, 0))).toThrow(/zero-length/);
    const d = new MapFrameDecoder(1000);
    expect(() => d.push(Uint8Array.of(0xe9, 0x03, 0, 0))).toThrow(/exceeds max 1000/);
    expect(() => new MapFrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(
      ControlProtocolError,
    );
  });

  it('fuzz: random bytes give messages or ControlProtocolError, never more than the cap buffered', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
        const d = new MapFrameDecoder(4096);
        try {
          d.push(b);
          expect(d.pending).toBeLessThanOrEqual(4100);
        } catch (e) {
          expect(e).toBeInstanceOf(ControlProtocolError);
        }
      }),
    );
  });
});
