/**
 * Property test: every backend gives byte-identical results to the noble reference for every
 * primitive, on random keys, nonces, associated data and lengths from 0 to 2000 bytes (crossing
 * the 16-byte Poly1305 and 64-byte ChaCha/BLAKE2s block boundaries many times).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../src/bytes.js';
import { availableCryptoBackends, createCryptoProvider, kdf3 } from '../src/crypto/index.js';

const reference = createCryptoProvider('noble');
const others = availableCryptoBackends()
  .filter((n) => n !== 'noble')
  .map(createCryptoProvider);

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const payload = fc.uint8Array({ minLength: 0, maxLength: 2000 });
const maybeAd = fc.option(fc.uint8Array({ minLength: 0, maxLength: 64 }), { nil: undefined });
const RUNS = { numRuns: 100 };

describe('backends agree with noble on random inputs', () => {
  it('has something to compare (node at least)', () => {
    expect(others.map((p) => p.name)).toContain('node');
  });

  describe.each(others)('$name', (p) => {
    it.each([
      ['ChaCha20-Poly1305', 12, 'chacha20poly1305Seal', 'chacha20poly1305Open'],
      ['XChaCha20-Poly1305', 24, 'xchacha20poly1305Seal', 'xchacha20poly1305Open'],
    ] as const)('%s seal and open', (_label, nonceSize, sealName, openName) => {
      fc.assert(
        fc.property(bytes(32), bytes(nonceSize), payload, maybeAd, (key, nonce, pt, ad) => {
          const want = new Uint8Array(pt.length + 16);
          reference[sealName](key, nonce, pt, ad, want);
          const got = new Uint8Array(pt.length + 16);
          expect(p[sealName](key, nonce, pt, ad, got)).toBe(got.length);
          expect(toHex(got)).toBe(toHex(want));
          const opened = new Uint8Array(pt.length);
          expect(p[openName](key, nonce, want, ad, opened)).toBe(true);
          expect(toHex(opened)).toBe(toHex(pt));
          if (want.length > 0) {
            const bad = want.slice();
            bad[pt.length % want.length] = bad[pt.length % want.length]! ^ 0x10;
            expect(p[openName](key, nonce, bad, ad, opened)).toBe(false);
            expect(reference[openName](key, nonce, bad, ad, opened)).toBe(false);
          }
        }),
        RUNS,
      );
    });

    it('X25519 public keys and shared secrets (any 32 bytes as the peer key)', () => {
      fc.assert(
        fc.property(bytes(32), bytes(32), (priv, peer) => {
          expect(toHex(p.x25519PublicKey(priv))).toBe(toHex(reference.x25519PublicKey(priv)));
          expect(toHex(p.x25519(priv, peer))).toBe(toHex(reference.x25519(priv, peer)));
        }),
        RUNS,
      );
    });

    it('BLAKE2s with random lengths, keys and splits', () => {
      fc.assert(
        fc.property(
          payload,
          fc.integer({ min: 1, max: 32 }),
          fc.option(fc.uint8Array({ minLength: 0, maxLength: 32 }), { nil: undefined }),
          fc.nat(),
          (data, outLen, key, cut) => {
            const want = toHex(reference.blake2s(data, outLen, key));
            expect(toHex(p.blake2s(data, outLen, key))).toBe(want);
            const at = data.length === 0 ? 0 : cut % data.length;
            expect(toHex(p.blake2s([data.subarray(0, at), data.subarray(at)], outLen, key))).toBe(want);
            expect(toHex(p.blake2s(data))).toBe(toHex(reference.blake2s(data)));
          },
        ),
        RUNS,
      );
    });

    it('HMAC-BLAKE2s and the WireGuard KDF', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), payload, (key, data) => {
          expect(toHex(p.hmacBlake2s(key, data))).toBe(toHex(reference.hmacBlake2s(key, data)));
          expect(kdf3(p, key, data).map(toHex)).toEqual(kdf3(reference, key, data).map(toHex));
        }),
        RUNS,
      );
    });

    it('NaCl box beforenm, afternm and open_afternm', () => {
      fc.assert(
        fc.property(bytes(32), bytes(32), bytes(24), payload, (priv, peer, nonce, msg) => {
          const shared = reference.boxBeforeNm(peer, priv);
          expect(toHex(p.boxBeforeNm(peer, priv))).toBe(toHex(shared));
          const boxed = reference.boxAfterNm(shared, nonce, msg);
          expect(toHex(p.boxAfterNm(shared, nonce, msg))).toBe(toHex(boxed));
          const opened = p.boxOpenAfterNm(shared, nonce, boxed);
          expect(opened && toHex(opened)).toBe(toHex(msg));
          const bad = boxed.slice();
          bad[msg.length % boxed.length] = bad[msg.length % boxed.length]! ^ 1;
          expect(p.boxOpenAfterNm(shared, nonce, bad)).toBeNull();
        }),
        RUNS,
      );
    });
  });
});
