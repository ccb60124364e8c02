/** WireGuard's KDF on every backend against the whitepaper's construction written out with node:crypto's HMAC. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatBytes, toHex } from '../bytes.js';
import { kdf1, kdf2, kdf3 } from './kdf.js';
import { availableCryptoBackends, createCryptoProvider } from './select.js';

/** The WireGuard KDF written out with node:crypto's HMAC, as the whitepaper states it. */
function model(chainKey: Uint8Array, input: Uint8Array): string[] {
  const hmac = (k: Uint8Array, d: Uint8Array) =>
    new Uint8Array(createHmac('blake2s256', k).update(d).digest());
  const t0 = hmac(chainKey, input);
  const t1 = hmac(t0, Uint8Array.of(1));
  const t2 = hmac(t0, concatBytes(t1, Uint8Array.of(2)));
  const t3 = hmac(t0, concatBytes(t2, Uint8Array.of(3)));
  return [t1, t2, t3].map(toHex);
}

describe.each(availableCryptoBackends())('WireGuard KDF on %s', (name) => {
  const p = createCryptoProvider(name);
  it('matches the whitepaper construction for several input lengths', () => {
    for (const n of [0, 1, 32, 64, 65, 200]) {
      const ck = p.randomBytes(32);
      const input = p.randomBytes(n);
      const want = model(ck, input);
      expect(toHex(kdf1(p, ck, input))).toBe(want[0]);
      expect(kdf2(p, ck, input).map(toHex)).toEqual(want.slice(0, 2));
      expect(kdf3(p, ck, input).map(toHex)).toEqual(want);
    }
  });
  it('throws TypeError naming chainKey / input', () => {
    expect(() => kdf1(p, 'x' as unknown as Uint8Array, new Uint8Array(0))).toThrow(
      /^chainKey must be a Uint8Array/,
    );
    expect(() => kdf2(p, new Uint8Array(32), null as unknown as Uint8Array)).toThrow(
      /^input must be a Uint8Array/,
    );
  });
});
