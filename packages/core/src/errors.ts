/**
 * Errors. Operational failures are `TsnetError`s: a `code` (Node errno names for socket errors:
 * `ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`; `ERR_*` names otherwise) and an optional `cause`.
 * API misuse throws the built-in `TypeError`/`RangeError` naming the argument instead.
 *
 * `instanceof` fails when two copies of this package are installed, so the class carries a brand
 * registered with `Symbol.for`; use `TsnetError.is(e)` to test for one across copies.
 */

const BRAND: unique symbol = Symbol.for('@tsnet/core.TsnetError') as never;

/**
 * An operational failure with a stable `code` and an optional `cause` (see the file header). Test for one
 * with `TsnetError.is(e)`.
 */
export class TsnetError extends Error {
  /** A stable, machine-readable error code. */
  readonly code: string;
  /** The brand that `TsnetError.is` checks (registered with `Symbol.for`, so it works across copies). */
  readonly [BRAND] = true;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any TsnetError, including one made by another installed copy of this package. */
  static is(value: unknown): value is TsnetError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Text that could not be parsed as the value asked for (a key, an address, a prefix...). */
export class ParseError extends TsnetError {
  /** What was being parsed, e.g. `'IP address'`. */
  readonly what: string;

  constructor(what: string, message: string) {
    super('ERR_PARSE', message);
    this.what = what;
  }
}

/** Quotes user input for an error message, cut to `max` characters so a huge input cannot flood logs. */
export function quoteInput(text: string, max = 80): string {
  return text.length <= max
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, max))}… (${text.length} chars)`;
}
