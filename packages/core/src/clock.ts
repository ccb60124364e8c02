/**
 * Time. Protocol cores never read the clock or set timers themselves: drivers do, through an
 * injected `Clock`, so that tests run on a `FakeClock` deterministically and fast.
 *
 * `now()` is monotonic milliseconds from an arbitrary origin (it never jumps with the wall clock);
 * `wallNow()` is Unix-epoch milliseconds, for the few protocol fields that need real time
 * (WireGuard's TAI64N timestamps, key expiry).
 */

/** A pending timer; `cancel()` is idempotent. */
export interface ClockTimer {
  /** Cancels the timer; calling it again, or after it fired, does nothing. */
  cancel(): void;
  /** Lets the process exit while this timer is pending (Node's `unref`). No-op on fake clocks. */
  unref(): void;
}

/** The time source protocol drivers use: `systemClock` in production, `FakeClock` in tests. */
export interface Clock {
  /** Monotonic milliseconds (fractional), arbitrary origin. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch. */
  wallNow(): number;
  /** Calls `fn` once after `ms` milliseconds (0 or more). */
  setTimeout(fn: () => void, ms: number): ClockTimer;
}

/** The real clock: `performance.now()`, `Date.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return {
      cancel: () => clearTimeout(t),
      unref: () => {
        t.unref();
      },
    };
  },
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. Timers fire in deadline order (ties in the order they were
 * set) during `advance`, each seeing `now()` equal to its own deadline.
 *
 * ```ts
 * const clock = new FakeClock();
 * clock.setTimeout(() => console.log(clock.now()), 500);
 * clock.advance(1000); // prints 500
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #wallOffset: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  /** `start` is the initial monotonic time; `wallStart` the initial Unix time in milliseconds. */
  constructor(start = 0, wallStart = Date.UTC(2026, 0, 1)) {
    this.#now = start;
    this.#wallOffset = wallStart - start;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    if (!Number.isFinite(ms)) throw new RangeError(`ms must be a finite number, got ${ms}`);
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
      unref: () => {},
    };
  }

  /** Number of timers not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** The deadline of the next pending timer, or `undefined`. */
  nextDeadline(): number | undefined {
    return this.#next()?.at;
  }

  #next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, including ones set meanwhile. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ms must be >= 0, got ${ms}`);
    const end = this.#now + ms;
    for (;;) {
      const t = this.#next();
      if (t === undefined || t.at > end) break;
      t.cancelled = true;
      this.#timers = this.#timers.filter((x) => !x.cancelled);
      this.#now = t.at;
      t.fn();
    }
    this.#now = end;
  }

  /** Sets the wall clock (as if the system time changed) without moving monotonic time. */
  setWall(unixMs: number): void {
    this.#wallOffset = unixMs - this.#now;
  }
}
