// Helpers for `*.interop.test.ts` files: skip (or, under CI=true, fail) when a prerequisite is
// missing, and print the fixtures' logs when a test fails.
import { afterEach, describe, it } from 'vitest';
import { type InteropWhat, interopAvailable } from './status.js';

export const isCI = process.env.CI === 'true' || process.env.CI === '1';

/** What of `needs` is missing here, or null when everything is available. */
export function missingPrerequisites(needs: readonly InteropWhat[]): string | null {
  const missing: string[] = [];
  for (const n of needs) {
    const a = interopAvailable(n);
    if (!a.ok) missing.push(`${n}: ${a.missing}`);
  }
  return missing.length === 0 ? null : missing.join('; ');
}

/**
 * `describe` when every prerequisite is available. Otherwise the suite is skipped with a line naming
 * what is missing; under CI=true it fails instead, with the same message.
 */
export function describeInterop(name: string, needs: readonly InteropWhat[], fn: () => void): void {
  const missing = missingPrerequisites(needs);
  if (missing === null) {
    describe(name, fn);
  } else if (isCI) {
    describe(name, () => {
      it('has its prerequisites', () => {
        throw new Error(`interop prerequisites missing under CI=true: ${missing}`);
      });
    });
  } else {
    console.warn(`[interop] skipping "${name}": missing ${missing}`);
    describe.skip(`${name} (skipped, missing ${missing})`, fn);
  }
}

export interface LogSource {
  logs(): string;
}

/**
 * Registers an afterEach that prints the logs of the given fixtures when the test failed. `get` is
 * called after the test, so fixtures started in beforeAll can be passed lazily.
 */
export function printLogsOnFailure(
  get: () => Record<string, LogSource | null | undefined>,
  maxChars = 20_000,
): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [name, src] of Object.entries(get())) {
      if (src === null || src === undefined) continue;
      const text = src.logs();
      const shown = text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
      console.log(`\n===== logs of ${name} (${ctx.task.name}) =====\n${shown}\n===== end of ${name} =====`);
    }
  });
}
