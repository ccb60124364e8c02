/**
 * The provider contract, backend by backend: in-place operation, forgeries returning false/null
 * rather than throwing, API misuse throwing TypeError/RangeError that names the argument, and
 * RFC 7748's low-order rule. Published vectors are in ../../test/crypto-vectors.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isAllZero, toHex } from '../bytes.js';
import { availableCryptoBackends, createCryptoProvider } from './select.js';

const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const nonce12 = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
const nonce24 = Uint8Array.from({ length: 24 }, (_, i) => 0xb0 + i);
const ad = Uint8Array.of(1, 2, 3, 4, 5);
const message = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

describe.each(availableCryptoBackends())('%s backend', (name) => {
  const p = createCryptoProvider(name);
  const aeads = [
    {
      label: 'ChaCha20-Poly1305',
      nonce: nonce12,
      seal: p.chacha20poly1305Seal,
      open: p.chacha20poly1305Open,
    },
    {
      label: 'XChaCha20-Poly1305',
      nonce: nonce24,
      seal: p.xchacha20poly1305Seal,
      open: p.xchacha20poly1305Open,
    },
  ];

  describe.each(aeads)('$label', ({ nonce, seal, open }) => {
    const sealed = new Uint8Array(message.length + 16);
    seal(key, nonce, message, ad, sealed);

    it('seals and opens in place (out aliases the input)', () => {
      const buf = new Uint8Array(message.length + 16);
      buf.set(message);
      expect(seal(key, nonce, buf.subarray(0, message.length), ad, buf)).toBe(buf.length);
      expect(toHex(buf)).toBe(toHex(sealed));
      expect(open(key, nonce, buf, ad, buf)).toBe(true);
      expect(toHex(buf.subarray(0, message.length))).toBe(toHex(message));
    });

    it('works in place at an offset inside a larger buffer (packet headroom)', () => {
      const packet = new Uint8Array(16 + message.length + 16 + 5);
      packet.set(message, 16);
      const body = packet.subarray(16, 16 + message.length);
      const out = packet.subarray(16);
      expect(seal(key, nonce, body, ad, out)).toBe(message.length + 16);
      expect(toHex(out.subarray(0, message.length + 16))).toBe(toHex(sealed));
      expect(open(key, nonce, packet.subarray(16, 16 + message.length + 16), ad, out)).toBe(true);
      expect(toHex(body)).toBe(toHex(message));
    });

    it('treats a missing and an empty associated data alike', () => {
      const a = new Uint8Array(message.length + 16);
      const b = new Uint8Array(message.length + 16);
      seal(key, nonce, message, undefined, a);
      seal(key, nonce, message, new Uint8Array(0), b);
      expect(toHex(a)).toBe(toHex(b));
    });

    it('seals and opens an empty plaintext (tag only)', () => {
      const out = new Uint8Array(16);
      expect(seal(key, nonce, new Uint8Array(0), ad, out)).toBe(16);
      expect(open(key, nonce, out, ad, new Uint8Array(0))).toBe(true);
    });

    it('returns false, never throws, for a tampered tag, ciphertext or ad, a wrong key or nonce', () => {
      const out = new Uint8Array(message.length);
      for (const i of [0, 100, message.length - 1, message.length, sealed.length - 1]) {
        const bad = sealed.slice();
        bad[i] = bad[i]! ^ 0x40;
        expect(open(key, nonce, bad, ad, out)).toBe(false);
      }
      expect(open(key, nonce, sealed, Uint8Array.of(1, 2, 3, 4, 6), out)).toBe(false);
      expect(open(key, nonce, sealed, undefined, out)).toBe(false);
      const otherKey = key.slice();
      otherKey[31] = otherKey[31]! ^ 1;
      expect(open(otherKey, nonce, sealed, ad, out)).toBe(false);
      const otherNonce = nonce.slice();
      otherNonce[0] = otherNonce[0]! ^ 1;
      expect(open(key, otherNonce, sealed, ad, out)).toBe(false);
    });

    it('returns false for a ciphertext shorter than a tag (untrusted input)', () => {
      for (const n of [0, 1, 15])
        expect(open(key, nonce, new Uint8Array(n), ad, new Uint8Array(0))).toBe(false);
    });

    it('throws RangeError naming key, nonce and out for wrong sizes', () => {
      const out = new Uint8Array(message.length + 16);
      expect(() => seal(key.subarray(1), nonce, message, ad, out)).toThrow(/^key must be 32 bytes, got 31$/);
      expect(() => seal(key, nonce.subarray(1), message, ad, out)).toThrow(RangeError);
      expect(() => seal(key, nonce.subarray(1), message, ad, out)).toThrow(/^nonce must be/);
      expect(() => seal(key, nonce, message, ad, out.subarray(1))).toThrow(/^out must be at least/);
      expect(() => open(key.subarray(1), nonce, sealed, ad, out)).toThrow(/^key /);
      expect(() => open(key, new Uint8Array(nonce.length + 1), sealed, ad, out)).toThrow(/^nonce /);
      expect(() => open(key, nonce, sealed, ad, new Uint8Array(message.length - 1))).toThrow(/^out /);
    });

    it('throws RangeError when out partially overlaps the input', () => {
      const buf = new Uint8Array(message.length + 40);
      expect(() => seal(key, nonce, buf.subarray(0, message.length), ad, buf.subarray(4))).toThrow(
        /^out must either alias plaintext exactly/,
      );
      expect(() => open(key, nonce, buf.subarray(0, 100), ad, buf.subarray(1))).toThrow(
        /^out must either alias ciphertext/,
      );
    });

    it('throws TypeError naming the argument for a value that is not a Uint8Array', () => {
      const out = new Uint8Array(message.length + 16);
      expect(() => seal(key, nonce, 'hello' as unknown as Uint8Array, ad, out)).toThrow(TypeError);
      expect(() => seal(key, nonce, 'hello' as unknown as Uint8Array, ad, out)).toThrow(
        /^plaintext must be a Uint8Array/,
      );
      expect(() => seal(key, nonce, message, [1] as unknown as Uint8Array, out)).toThrow(
        /^ad must be a Uint8Array/,
      );
      expect(() => open(key, nonce, sealed, ad, null as unknown as Uint8Array)).toThrow(
        /^out must be a Uint8Array, got null/,
      );
    });

    it('accepts Buffers as well as Uint8Arrays', () => {
      const out = Buffer.alloc(message.length + 16);
      seal(Buffer.from(key), Buffer.from(nonce), Buffer.from(message), Buffer.from(ad), out);
      expect(toHex(out)).toBe(toHex(sealed));
    });
  });

  describe('X25519', () => {
    it('clamps the private key (RFC 7748 §5): the bits clamping clears do not matter', () => {
      const raw = key.slice();
      const clamped = key.slice();
      clamped[0] = clamped[0]! & 248;
      clamped[31] = (clamped[31]! & 127) | 64;
      raw[0] = raw[0]! | 7;
      raw[31] = raw[31]! | 128;
      expect(toHex(p.x25519PublicKey(raw))).toBe(toHex(p.x25519PublicKey(clamped)));
    });

    it('agrees both ways on random keys', () => {
      const a = p.randomBytes(32);
      const b = p.randomBytes(32);
      const ab = p.x25519(a, p.x25519PublicKey(b));
      expect(toHex(ab)).toBe(toHex(p.x25519(b, p.x25519PublicKey(a))));
      expect(isAllZero(ab)).toBe(false);
    });

    it('ignores the top bit of the public key (RFC 7748 §5)', () => {
      const pub = p.x25519PublicKey(key);
      const high = pub.slice();
      high[31] = high[31]! | 0x80;
      expect(toHex(p.x25519(key, high))).toBe(toHex(p.x25519(key, pub)));
    });

    it('throws RangeError naming privateKey / publicKey for wrong sizes', () => {
      expect(() => p.x25519PublicKey(new Uint8Array(31))).toThrow(/^privateKey must be 32 bytes, got 31$/);
      expect(() => p.x25519(new Uint8Array(33), key)).toThrow(/^privateKey /);
      expect(() => p.x25519(key, new Uint8Array(0))).toThrow(/^publicKey must be 32 bytes, got 0$/);
    });
  });

  describe('BLAKE2s and HMAC', () => {
    it('takes an empty list as the empty input', () => {
      expect(toHex(p.blake2s([]))).toBe(toHex(p.blake2s(new Uint8Array(0))));
      expect(toHex(p.hmacBlake2s(key, []))).toBe(toHex(p.hmacBlake2s(key, new Uint8Array(0))));
    });

    it('treats an empty key as no key', () => {
      expect(toHex(p.blake2s(message, 32, new Uint8Array(0)))).toBe(toHex(p.blake2s(message)));
    });

    it('gives outLen bytes, a different hash for each length (not a truncation)', () => {
      const h16 = p.blake2s(message, 16, key);
      expect(h16.length).toBe(16);
      expect(toHex(h16)).not.toBe(toHex(p.blake2s(message, 32, key).subarray(0, 16)));
      expect(p.blake2s(message, 1).length).toBe(1);
    });

    it('throws RangeError naming outLen and key', () => {
      for (const bad of [0, 33, 1.5, Number.NaN])
        expect(() => p.blake2s(message, bad)).toThrow(/^outLen must be an integer from 1 to 32/);
      expect(() => p.blake2s(message, 32, new Uint8Array(33))).toThrow(
        /^key must be at most 32 bytes, got 33$/,
      );
      expect(() => p.blake2s('abc' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => p.blake2s([message, 'x' as unknown as Uint8Array])).toThrow(
        /^data\[1\] must be a Uint8Array/,
      );
      expect(() => p.hmacBlake2s(undefined as unknown as Uint8Array, message)).toThrow(
        /^key must be a Uint8Array/,
      );
    });

    it('returns plain Uint8Arrays that own their memory', () => {
      for (const out of [p.blake2s(message), p.hmacBlake2s(key, message), p.x25519PublicKey(key)]) {
        expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
        expect(out.byteOffset).toBe(0);
        expect(out.buffer.byteLength).toBe(out.length);
      }
    });
  });

  describe('NaCl box', () => {
    const shared = p.boxBeforeNm(p.x25519PublicKey(key), key);

    it('round-trips, and returns null for tampering or a box shorter than its tag', () => {
      const boxed = p.boxAfterNm(shared, nonce24, message);
      expect(boxed.length).toBe(message.length + 16);
      const opened = p.boxOpenAfterNm(shared, nonce24, boxed);
      expect(opened && toHex(opened)).toBe(toHex(message));
      const bad = boxed.slice();
      bad[20] = bad[20]! ^ 1;
      expect(p.boxOpenAfterNm(shared, nonce24, bad)).toBeNull();
      for (const n of [0, 15]) expect(p.boxOpenAfterNm(shared, nonce24, new Uint8Array(n))).toBeNull();
      expect(p.boxOpenAfterNm(shared, nonce24, p.boxAfterNm(shared, nonce24, new Uint8Array(0)))).toEqual(
        new Uint8Array(0),
      );
    });

    it('derives a key from a low-order point without throwing (as NaCl and Go do)', () => {
      expect(p.boxBeforeNm(new Uint8Array(32), key).length).toBe(32);
    });

    it('throws RangeError naming sharedKey, nonce, publicKey, privateKey', () => {
      expect(() => p.boxAfterNm(new Uint8Array(31), nonce24, message)).toThrow(/^sharedKey must be 32 bytes/);
      expect(() => p.boxAfterNm(shared, nonce12, message)).toThrow(/^nonce must be 24 bytes, got 12$/);
      expect(() => p.boxOpenAfterNm(shared, nonce12, message)).toThrow(/^nonce /);
      expect(() => p.boxBeforeNm(new Uint8Array(1), key)).toThrow(/^publicKey /);
      expect(() => p.boxBeforeNm(key, new Uint8Array(1))).toThrow(/^privateKey /);
    });
  });

  describe('randomBytes', () => {
    it('returns n bytes, 0 and more than 64 KiB included', () => {
      expect(p.randomBytes(0).length).toBe(0);
      expect(p.randomBytes(100_000).length).toBe(100_000);
      expect(isAllZero(p.randomBytes(32))).toBe(false);
      expect(toHex(p.randomBytes(32))).not.toBe(toHex(p.randomBytes(32)));
    });

    it('throws RangeError naming n', () => {
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
        expect(() => p.randomBytes(bad)).toThrow(/^n must be a non-negative integer/);
    });
  });
});
