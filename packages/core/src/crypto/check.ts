/**
 * Argument checks shared by every backend, so that API misuse fails the same way whichever backend
 * runs: `TypeError` for a value of the wrong type, `RangeError` for a wrong size, each naming the
 * argument. Internal: not exported from the package.
 *
 * Untrusted sizes (a ciphertext shorter than its tag) are not checked here: `open` returns false
 * for them, as for any other forgery.
 */

/** Throws unless `value` is a `Uint8Array` (a `Buffer` is one). */
export function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
}

/** Throws unless `value` is a `Uint8Array` of exactly `size` bytes. */
export function checkSize(name: string, value: unknown, size: number): asserts value is Uint8Array {
  checkBytes(name, value);
  if (value.length !== size) {
    throw new RangeError(`${name} must be ${size} bytes, got ${value.length}`);
  }
}

/** Throws unless `ad` is `undefined` or a `Uint8Array`. */
export function checkOptionalBytes(name: string, value: unknown): asserts value is Uint8Array | undefined {
  if (value !== undefined) checkBytes(name, value);
}

/**
 * Checks an output buffer: at least `needed` bytes, and either the very same bytes as `input`
 * (same buffer, same offset: in place) or not overlapping it at all. A partial overlap would make
 * the result depend on the backend, so it is refused.
 */
export function checkOut(
  name: string,
  out: unknown,
  needed: number,
  input: Uint8Array,
  inputName: string,
): asserts out is Uint8Array {
  checkBytes(name, out);
  if (out.length < needed) {
    throw new RangeError(`${name} must be at least ${needed} bytes, got ${out.length}`);
  }
  if (
    out.buffer === input.buffer &&
    out.byteOffset !== input.byteOffset &&
    out.byteOffset < input.byteOffset + input.length &&
    input.byteOffset < out.byteOffset + needed
  ) {
    throw new RangeError(`${name} must either alias ${inputName} exactly (same offset) or not overlap it`);
  }
}

/** `data` as the hash functions take it: one array or a list of arrays. */
export function checkData(name: string, data: unknown): asserts data is Uint8Array | readonly Uint8Array[] {
  if (data instanceof Uint8Array) return;
  if (!Array.isArray(data)) {
    throw new TypeError(`${name} must be a Uint8Array or an array of them, got ${describe(data)}`);
  }
  for (let i = 0; i < data.length; i++) checkBytes(`${name}[${i}]`, data[i]);
}

/** Checks BLAKE2s options: `outLen` an integer in 1..32, `key` at most 32 bytes. */
export function checkBlake2sOptions(outLen: unknown, key: unknown): void {
  if (typeof outLen !== 'number' || !Number.isInteger(outLen) || outLen < 1 || outLen > 32) {
    throw new RangeError(`outLen must be an integer from 1 to 32, got ${String(outLen)}`);
  }
  if (key !== undefined) {
    checkBytes('key', key);
    if (key.length > 32) throw new RangeError(`key must be at most 32 bytes, got ${key.length}`);
  }
}

/** Checks a byte count for `randomBytes`. */
export function checkLength(name: string, n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(n)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
