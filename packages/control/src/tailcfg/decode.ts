/**
 * Decoding untrusted JSON from the control server into the zod schemas, with errors that name the
 * field (`MapResponse.Peers[3].Key: invalid node public key ...`) and a size cap.
 */
import type { z } from 'zod';
import { ControlProtocolError } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: false });

function pathText(root: string, path: readonly PropertyKey[]): string {
  let s = root;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return s;
}

/**
 * Parses `input` (text or UTF-8 bytes) as JSON and validates it with `schema`. `what` is the type
 * name used in errors (`'MapResponse'`). Throws `ControlProtocolError` naming the first bad field.
 */
export function decodeJSON<S extends z.ZodType>(
  schema: S,
  input: string | Uint8Array,
  what: string,
  maxBytes = 64 << 20,
): z.output<S> {
  if (input.length > maxBytes) {
    throw new ControlProtocolError(`${what}: ${input.length} bytes exceeds the limit of ${maxBytes}`);
  }
  const text = typeof input === 'string' ? input : decoder.decode(input);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ControlProtocolError(`${what}: invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  return validate(schema, raw, what);
}

/** Validates an already-parsed value; see `decodeJSON`. */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue === undefined ? what : pathText(what, issue.path);
  throw new ControlProtocolError(`${field}: ${issue?.message ?? 'invalid'}`, { cause: r.error, field });
}
