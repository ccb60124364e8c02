import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from './clock.js';

describe('FakeClock', () => {
  it('fires timers in deadline order, each at its own time, including timers set while firing', () => {
    const c = new FakeClock(1000);
    const seen: string[] = [];
    c.setTimeout(() => seen.push(`b@${c.now()}`), 20);
    c.setTimeout(() => {
      seen.push(`a@${c.now()}`);
      c.setTimeout(() => seen.push(`c@${c.now()}`), 5);
    }, 10);
    c.setTimeout(() => seen.push(`d@${c.now()}`), 20); // same deadline as b: set later, fires later
    expect(c.nextDeadline()).toBe(1010);
    c.advance(100);
    expect(seen).toEqual(['a@1010', 'c@1015', 'b@1020', 'd@1020']);
    expect(c.now()).toBe(1100);
    expect(c.pending).toBe(0);
  });

  it('does not fire cancelled or not-yet-due timers', () => {
    const c = new FakeClock();
    let fired = 0;
    const t = c.setTimeout(() => fired++, 10);
    c.setTimeout(() => fired++, 50);
    t.cancel();
    t.cancel();
    c.advance(49);
    expect(fired).toBe(0);
    c.advance(1);
    expect(fired).toBe(1);
  });

  it('keeps wall time and monotonic time apart', () => {
    const c = new FakeClock(0, 1_700_000_000_000);
    c.advance(1500);
    expect(c.wallNow()).toBe(1_700_000_001_500);
    c.setWall(0);
    expect(c.now()).toBe(1500);
    expect(c.wallNow()).toBe(0);
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.setTimeout(() => {}, Number.NaN)).toThrow(RangeError);
  });
});

describe('systemClock', () => {
  it('is monotonic and runs real timers', async () => {
    const t0 = systemClock.now();
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    expect(systemClock.now()).toBeGreaterThanOrEqual(t0 + 4);
    expect(Math.abs(systemClock.wallNow() - Date.now())).toBeLessThan(1000);
  });
});
