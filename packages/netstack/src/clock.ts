/**
 * The clock a stack runs on: `now()` in milliseconds and a `setTimeout`-like scheduler. The stack
 * owns one timer at a time. `systemClock` uses the real ones; `FakeClock` is for tests and
 * simulations, where time moves only when told to.
 */

/** An opaque timer handle: whatever the clock's `setTimeout` returned, only for its `clearTimeout`. */
export type TimerHandle =
  | {
      /** A marker only; real handles are Node `Timeout`s or `FakeClock` records. */
      readonly __timer: true;
    }
  | object;

/** Time as the stack sees it: `systemClock` in production, `FakeClock` in tests and simulations. */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from `now()`; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a pending timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The process's clock: `performance.now()` and the global timers (unref'd so they never hold the process open). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A deterministic clock: timers run in (time, creation) order when `advance`, `runDue` or
 * `runNext` is called.
 *
 * @example
 * const clock = new FakeClock();
 * clock.setTimeout(() => console.log('fired at', clock.now()), 10);
 * clock.advance(10);
 */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private heap: FakeTimer[] = [];

  /** The fake time in milliseconds: 0 at construction, moved only by `advance` and `runNext`. */
  now(): number {
    return this.t;
  }

  /** Queues `fn` to run at `now() + ms` (negative `ms` counts as 0); nothing runs until time is moved. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  /** Cancels a timer created by this clock; idempotent. */
  clearTimeout(handle: TimerHandle): void {
    (handle as FakeTimer).cancelled = true;
  }

  /** Number of live timers. */
  get pending(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  /** The time of the next live timer, or Infinity. */
  nextAt(): number {
    this.dropCancelled();
    return this.heap[0]?.at ?? Number.POSITIVE_INFINITY;
  }

  /** Runs every timer due at the current time; returns how many ran. */
  runDue(): number {
    let n = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.at > this.t) return n;
      this.pop();
      n++;
      top.fn();
    }
  }

  /** Moves time to the next timer (if any) and runs everything due then. */
  runNext(): boolean {
    const at = this.nextAt();
    if (at === Number.POSITIVE_INFINITY) return false;
    if (at > this.t) this.t = at;
    this.runDue();
    return true;
  }

  /** Moves time forward by `ms`, running timers in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const at = this.nextAt();
      if (at > target) break;
      if (at > this.t) this.t = at;
      this.runDue();
    }
    this.t = target;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(x: FakeTimer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): FakeTimer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
