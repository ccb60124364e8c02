/**
 * Logging. Every component takes an injected `Logf` (printf-style, as Go's `logger.Logf`); nothing
 * in the packages writes to the console by itself. Secrets are never passed to a Logf.
 */
import { formatWithOptions } from 'node:util';

/** A printf-style logging function: `%s`, `%d`, `%j`, `%o` as `util.format` understands them. */
export type Logf = (format: string, ...args: unknown[]) => void;

/** A Logf that discards everything. */
export const discardLogf: Logf = () => {};

/** A Logf that prefixes every line with `prefix` and passes it to `logf`. */
export function prefixLogf(logf: Logf, prefix: string): Logf {
  return (format, ...args) => logf(prefix + format, ...args);
}

/** A Logf that formats with `util.format` and hands complete lines to `write` (e.g. `process.stderr.write`). */
export function lineLogf(write: (line: string) => void): Logf {
  return (format, ...args) => write(`${formatWithOptions({ colors: false }, format, ...args)}\n`);
}
