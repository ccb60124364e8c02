/** Helpers for simulations: two stacks over a pipe on a fake clock, and a loop that runs it. */
import { FakeClock } from '../src/clock.js';
import { createPipe, type PipeOptions } from '../src/link/pipe.js';
import { seededRandom } from '../src/random.js';
import { Stack, type StackOptions } from '../src/stack.js';

export const A4 = '10.0.0.1';
export const B4 = '10.0.0.2';
export const A6 = 'fd7a:115c:a1e0::1';
export const B6 = 'fd7a:115c:a1e0::2';

export function twoStacks(
  opts: { pipe?: PipeOptions; a?: Partial<StackOptions>; b?: Partial<StackOptions>; seed?: number } = {},
) {
  const clock = new FakeClock();
  const pipe = createPipe({ clock, delayMs: 5, ...opts.pipe });
  const seed = opts.seed ?? 1;
  const a = new Stack({ link: pipe.a, addresses: [A4, A6], clock, random: seededRandom(seed), ...opts.a });
  const b = new Stack({
    link: pipe.b,
    addresses: [B4, B6],
    clock,
    random: seededRandom(seed + 1000),
    ...opts.b,
  });
  return { clock, pipe, a, b };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Runs the fake clock (letting Node's ticks settle between timers) until `done()` or a time limit. */
export async function runUntil(clock: FakeClock, done: () => boolean, maxSimMs = 600_000): Promise<void> {
  const start = clock.now();
  for (;;) {
    await tick();
    if (done()) return;
    if (clock.now() - start > maxSimMs) throw new Error(`simulation did not finish within ${maxSimMs} ms`);
    if (!clock.runNext()) {
      await tick();
      if (done()) return;
      if (!clock.runNext()) throw new Error('simulation stalled: no timers pending');
    }
  }
}

/** Runs the clock for `ms` of simulated time. */
export async function runFor(clock: FakeClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  for (;;) {
    await tick();
    const next = clock.nextAt();
    if (next > end) break;
    clock.runNext();
  }
  clock.advance(end - clock.now());
  await tick();
}
