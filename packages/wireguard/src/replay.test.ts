import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REJECT_AFTER_MESSAGES } from './constants.js';
import { REPLAY_WINDOW_SIZE, ReplayFilter } from './replay.js';

/** The model: accept a counter iff unseen, below the limit, and within the window of the greatest accepted. */
class SetModel {
  seen = new Set<number>();
  last = 0;
  validate(c: number, limit: number): boolean {
    if (c >= limit) return false;
    if (c <= this.last && this.last - c > REPLAY_WINDOW_SIZE) return false;
    if (this.seen.has(c)) return false;
    this.seen.add(c);
    if (c > this.last) this.last = c;
    return true;
  }
}

describe('ReplayFilter', () => {
  it('window is at least 2048 counters', () => {
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(2048);
  });

  it('accepts in order, rejects replays, accepts reordered inside the window', () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(0, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(0, REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validateCounter(5, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(3, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(3, REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validateCounter(5 + REPLAY_WINDOW_SIZE + 1, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(4, REJECT_AFTER_MESSAGES)).toBe(false); // too old
    expect(f.validateCounter(10, 10)).toBe(false); // at the limit
    f.reset();
    expect(f.validateCounter(3, REJECT_AFTER_MESSAGES)).toBe(true);
  });

  it('handles counters above 2^32 exactly', () => {
    const f = new ReplayFilter();
    const base = 2 ** 40;
    expect(f.validateCounter(base, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(base + 1, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(base, REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validateCounter(Number.MAX_SAFE_INTEGER - 1, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(f.validateCounter(Number.MAX_SAFE_INTEGER, REJECT_AFTER_MESSAGES)).toBe(false);
  });

  it('matches a Set model (property)', () => {
    // The bit ring keeps (RING−1)×32 .. RING×32 counters; the model keeps exactly REPLAY_WINDOW_SIZE.
    // Counters are drawn so the two agree: steps are either small (reorder) or large (jumps).
    const step = fc.oneof(
      fc.integer({ min: -40, max: 40 }),
      fc.integer({ min: -9000, max: 9000 }),
      fc.integer({ min: 0, max: 100_000 }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const f = new ReplayFilter();
        const m = new SetModel();
        let c = 0;
        for (const s of steps) {
          c = Math.max(0, c + s);
          // Outside the guaranteed window the ring may still remember a few counters; skip those
          // borderline counters (within one block of the edge), where either answer is correct.
          const behind = m.last - c;
          if (behind > REPLAY_WINDOW_SIZE - 32 && behind <= REPLAY_WINDOW_SIZE + 32) continue;
          expect(f.validateCounter(c, REJECT_AFTER_MESSAGES)).toBe(m.validate(c, REJECT_AFTER_MESSAGES));
        }
      }),
      { numRuns: 300 },
    );
  });
});
