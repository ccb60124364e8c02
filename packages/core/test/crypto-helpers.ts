/**
 * Test helpers for the crypto provider: loading the vector files in `vectors/` and hex decoding
 * that fails loudly (a typo in a vector file must not turn into an empty array).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseHex } from '../src/bytes.js';

/** Parses the JSON vector file `vectors/<name>.json`. */
export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}.json`, import.meta.url), 'utf8')) as T;
}

/** Hex to bytes; throws on anything that is not hex. */
export function hex(text: string): Uint8Array {
  const bytes = parseHex(text);
  if (bytes === null) throw new Error(`bad hex in a test vector: ${text}`);
  return bytes;
}

/** True when sodium-native can be required from @tsnet/core (installed and loadable). */
export function sodiumInstalled(): boolean {
  try {
    createRequire(new URL('../src/crypto/sodium.ts', import.meta.url))('sodium-native');
    return true;
  } catch {
    // not installed, or no binary for this platform
    return false;
  }
}
