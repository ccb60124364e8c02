// Fuzz: the frame reader and parser take any bytes, never throw, and never hold more than one
// frame's worth of memory.

import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_TYPE,
  FrameReader,
  isReaderFailure,
  openClientInfo,
  parseClientInfo,
  parseFrame,
  parseServerInfo,
} from '../src/index.js';

const MAX = 4096;

describe('fuzz: frame stream', () => {
  it('random chunks: no throw, memory bounded by one frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 30 }), (chunks) => {
        const r = new FrameReader({ maxFrameLen: MAX });
        for (const c of chunks) {
          r.push(c);
          for (let f = r.next(); f !== null; f = r.next()) {
            if (isReaderFailure(f)) break;
            const parsed = parseFrame(f.frameType, f.payload);
            expect(typeof parsed.type).toBe('string');
          }
          expect(r.buffered).toBeLessThanOrEqual(MAX + 5);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('frames with plausible headers and random bodies: parse never throws', () => {
    const types = Object.values(FRAME_TYPE);
    fc.assert(
      fc.property(
        fc.constantFrom(...types, 0x00, 0x0b, 0x16, 0xff),
        fc.uint8Array({ maxLength: 200 }),
        (t, p) => {
          const f = parseFrame(t, p);
          expect(f.type).not.toBe(undefined);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('handshake bodies: random bytes never throw', () => {
    const crypto = getCryptoProvider();
    const server = NodePrivate.generate();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        parseClientInfo(b);
        parseServerInfo(b);
        const r = openClientInfo(crypto, server.raw, b);
        expect('error' in r).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
