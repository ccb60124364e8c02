import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_TYPE, MAX_FRAME_LEN } from './constants.js';
import { emitFrame, writeFrameHeader } from './frames.js';
import { FrameReader, isReaderFailure, type RawFrame } from './reader.js';

/** Feeds `chunks` and collects every frame (copied, since payloads alias). */
function readAll(
  r: FrameReader,
  chunks: readonly Uint8Array[],
): Array<{ frameType: number; payload: Uint8Array }> {
  const out: Array<{ frameType: number; payload: Uint8Array }> = [];
  for (const c of chunks) {
    r.push(c);
    for (let f = r.next(); f !== null; f = r.next()) {
      if (isReaderFailure(f)) throw new Error(`reader failed: ${f.error}`);
      out.push({ frameType: f.frameType, payload: f.payload.slice() });
    }
  }
  return out;
}

function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  writeFrameHeader(out, 0, type, payload.length);
  out.set(payload, 5);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Splits `b` at the given cut points. */
function split(b: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(b.slice(prev, p));
    prev = p;
  }
  out.push(b.slice(prev));
  return out;
}

describe('FrameReader', () => {
  it('reads whole frames from one chunk without copying', () => {
    const chunk = concat([
      emitFrame({ type: 'KeepAlive' }),
      frame(FRAME_TYPE.Ping, new Uint8Array(8).fill(7)),
    ]);
    const r = new FrameReader();
    r.push(chunk);
    const a = r.next() as RawFrame;
    expect(a.frameType).toBe(FRAME_TYPE.KeepAlive);
    const b = r.next() as RawFrame;
    expect(b.frameType).toBe(FRAME_TYPE.Ping);
    expect(b.payload.buffer).toBe(chunk.buffer); // a view, not a copy
    expect(r.next()).toBeNull();
    expect(r.buffered).toBe(0);
  });

  it('assembles frames split at every byte', () => {
    const frames = [
      frame(
        FRAME_TYPE.SendPacket,
        new Uint8Array(40).map((_, i) => i),
      ),
      frame(FRAME_TYPE.KeepAlive, new Uint8Array(0)),
      frame(0x77, new Uint8Array(3).fill(1)),
    ];
    const stream = concat(frames);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    const got = readAll(new FrameReader(), chunks);
    expect(got.map((f) => f.frameType)).toEqual([FRAME_TYPE.SendPacket, FRAME_TYPE.KeepAlive, 0x77]);
    expect(got[0]?.payload).toEqual(new Uint8Array(40).map((_, i) => i));
  });

  it('keeps data when pushed again before draining', () => {
    const r = new FrameReader();
    const a = frame(1, new Uint8Array([1]));
    const b = frame(2, new Uint8Array([2]));
    r.push(concat([a, b.subarray(0, 2)]));
    r.push(b.subarray(2));
    const got: number[] = [];
    for (let f = r.next(); f !== null; f = r.next()) if (!isReaderFailure(f)) got.push(f.frameType);
    expect(got).toEqual([1, 2]);
  });

  it('payloads stay valid until the next push, even when a frame was assembled (regression)', () => {
    // The first frame of a chunk completes in the reader's buffer, and the chunk ends in a partial
    // frame that must not overwrite it while the caller still holds the first payload.
    const f1 = frame(5, new Uint8Array(100).fill(1));
    const f2 = frame(5, new Uint8Array(50).fill(2));
    const f3 = frame(5, new Uint8Array(100).fill(3));
    const stream = concat([f1, f2, f3]);
    const r = new FrameReader();
    r.push(stream.subarray(0, 60));
    expect(r.next()).toBeNull();
    r.push(stream.subarray(60, f1.length + f2.length + 20));
    const held: Uint8Array[] = [];
    for (let f = r.next(); f !== null; f = r.next()) if (!isReaderFailure(f)) held.push(f.payload);
    expect(held.map((p) => p[0])).toEqual([1, 2]);
    expect(held[0]).toEqual(new Uint8Array(100).fill(1));
    r.push(stream.subarray(f1.length + f2.length + 20));
    const last = r.next();
    expect(last !== null && !isReaderFailure(last) && last.payload).toEqual(new Uint8Array(100).fill(3));
  });

  it('fails for good on a frame over the limit, without buffering it', () => {
    const r = new FrameReader({ maxFrameLen: 100 });
    const hdr = new Uint8Array(5);
    writeFrameHeader(hdr, 0, FRAME_TYPE.SendPacket, 101);
    r.push(hdr);
    const f = r.next();
    expect(f !== null && isReaderFailure(f) && f.length === 101).toBe(true);
    r.push(new Uint8Array(1000));
    expect(r.buffered).toBe(0);
    expect(r.next()).toEqual(f);
  });

  it('the default limit is 1 MiB: exactly 1 MiB passes, one more byte fails', () => {
    const big = frame(FRAME_TYPE.Health, new Uint8Array(MAX_FRAME_LEN));
    expect(readAll(new FrameReader(), split(big, [3, 70_000]))[0]?.payload.length).toBe(MAX_FRAME_LEN);
    const hdr = new Uint8Array(5);
    writeFrameHeader(hdr, 0, FRAME_TYPE.Health, MAX_FRAME_LEN + 1);
    const r = new FrameReader();
    r.push(hdr.subarray(0, 2));
    expect(r.next()).toBeNull();
    r.push(hdr.subarray(2));
    const f = r.next();
    expect(f !== null && isReaderFailure(f)).toBe(true);
  });

  it('any split of a frame sequence gives the same frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 255 }), p: fc.uint8Array({ maxLength: 300 }) }), {
          maxLength: 12,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cuts) => {
          const stream = concat(frames.map((f) => frame(f.t, f.p)));
          const got = readAll(new FrameReader(), split(stream, cuts));
          expect(got).toEqual(frames.map((f) => ({ frameType: f.t, payload: f.p })));
        },
      ),
    );
  });
});
