/**
 * JSON in Go's forms for the LocalAPI responses we serve: `Date` as Go marshals a `time.Time`
 * (RFC 3339, no fractional part when zero, Go's zero time for "never"); addresses, prefixes and keys
 * through their `toJSON` text forms; `Map`s as objects with string keys; `undefined` fields left out.
 * Indented with a tab as tailscaled's `json.Encoder.SetIndent("", "\t")`, with a trailing newline.
 */
import { formatGoTime } from '@tsnet/control';

function replacer(this: unknown, key: string, value: unknown): unknown {
  // toJSON has already run on `value`; the holder still has the original.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Date) return Number.isNaN(original.getTime()) ? null : formatGoTime(original);
  if (value instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of value) o[String(k)] = v;
    return o;
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** Serialises `value` as tailscaled would send it (tab-indented, newline-terminated). */
export function toGoJSON(value: unknown, indent: string | number = '\t'): string {
  return `${JSON.stringify(value, replacer, indent)}\n`;
}
