import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecvBuffer, SendBuffer } from './buffer.js';
import { SackScoreboard } from './sack.js';

describe('RecvBuffer against a naive model', () => {
  it('reassembles arbitrary overlapping, out-of-order segments exactly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 100_000 }), // past 16 KiB the storage grows while data is held
        fc.array(fc.tuple(fc.nat(200_000), fc.integer({ min: 1, max: 6000 }), fc.boolean()), {
          maxLength: 200,
        }),
        (capacity, ops) => {
          const buf = new RecvBuffer(capacity);
          const stream = (i: number) => (i * 7 + 3) & 0xff;
          let consumed = 0; // bytes read by the app
          let nxt = 0; // stream offset of the first unreceived byte (RCV.NXT)
          const have = new Set<number>(); // model: stream offsets received above nxt
          const out: number[] = [];
          for (const [pos, len, read] of ops) {
            if (read) {
              const d = buf.read(1 + (pos % 9000));
              for (const x of d) out.push(x);
              consumed += d.length;
              continue;
            }
            // A segment somewhere in [nxt, nxt + free): trim it to the window as TCP does.
            const free = buf.free;
            if (free === 0) continue;
            const start = nxt + (pos % free);
            const end = Math.min(start + len, nxt + free);
            const data = Uint8Array.from({ length: end - start }, (_, i) => stream(start + i));
            const n = buf.write(start - nxt, data);
            if (n < 0) continue;
            for (let i = start; i < end; i++) have.add(i);
            let m = nxt;
            while (have.has(m)) have.delete(m++);
            expect(n).toBe(m - nxt);
            nxt = m;
            expect(buf.length).toBe(nxt - consumed);
          }
          const rest = buf.read(1 << 20);
          for (const x of rest) out.push(x);
          expect(out.length).toBe(nxt);
          for (let i = 0; i < out.length; i++) if (out[i] !== stream(i)) throw new Error(`byte ${i}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('storage starts small and grows on demand up to the capacity', () => {
    const b = new SendBuffer(1 << 20);
    expect(b.allocated).toBe(16 * 1024);
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => i & 0xff);
    b.push(data.subarray(0, 10_000));
    b.consume(9_000); // head now mid-storage, so growth must re-linearise
    b.push(data.subarray(10_000));
    expect(b.allocated).toBe(128 * 1024);
    const out = new Uint8Array(b.length);
    b.copyOut(0, b.length, out);
    expect(Buffer.from(out).equals(Buffer.from(data.subarray(9_000)))).toBe(true);
  });

  it('SendBuffer wraps around and returns what was pushed', () => {
    const b = new SendBuffer(10);
    expect(b.push(Uint8Array.of(1, 2, 3, 4, 5, 6, 7))).toBe(7);
    b.consume(5);
    expect(b.push(Uint8Array.of(8, 9, 10, 11, 12, 13, 14, 15, 16))).toBe(8);
    const out = new Uint8Array(10);
    b.copyOut(0, 10, out);
    expect([...out]).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(b.view(0, 10)).toBeNull();
  });
});

describe('SackScoreboard against a Set of SACKed sequence numbers', () => {
  it('tracks ranges, totals, holes and the IsLost boundary', () => {
    const base = 0xffffff00; // crosses the 2^32 wrap
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 1, max: 200 })), { maxLength: 40 }),
        fc.nat(2000),
        (blocks, ackAt) => {
          const sb = new SackScoreboard();
          const una = base;
          const max = (base + 2200) >>> 0;
          const model = new Set<number>();
          for (const [off, len] of blocks) {
            const s = (base + 1 + off) >>> 0;
            const e = (s + len) >>> 0;
            sb.update([s, e], una, max);
            // Blocks reaching past SND.MAX are invalid and ignored (RFC 2018 §5 via update()).
            if (1 + off + len <= 2200) for (let i = 1 + off; i < 1 + off + len; i++) model.add(i);
          }
          if (sb.ranges.length / 2 >= 64) return; // past the range cap the model diverges by design
          expect(sb.sacked).toBe(model.size);
          for (let i = 0; i < 2200; i += 37) expect(sb.isSacked((base + i) >>> 0)).toBe(model.has(i));
          const hole = sb.firstHole(una, max);
          let want = 0;
          while (model.has(want)) want++;
          expect(hole).toBe((base + want) >>> 0);
          // Cumulative ACK: everything below is forgotten.
          const ack = (base + ackAt) >>> 0;
          sb.advance(ack);
          let rest = 0;
          for (const x of model) if (x >= ackAt) rest++;
          expect(sb.sacked).toBe(rest);
        },
      ),
      { numRuns: 500 },
    );
  });
});
