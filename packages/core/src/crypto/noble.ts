/**
 * The `noble` backend: every primitive from @noble/ciphers, @noble/curves and @noble/hashes, pure
 * TypeScript with no Node API, so it runs everywhere (browsers included) and is the reference the
 * other backends are cross-checked against. The slowest backend (see README "Crypto provider").
 *
 * Specs: RFC 8439 (ChaCha20-Poly1305), draft-irtf-cfrg-xchacha (XChaCha20-Poly1305), RFC 7748
 * (X25519), RFC 7693 (BLAKE2s), RFC 2104 (HMAC), NaCl crypto_box (curve25519xsalsa20poly1305).
 * Read `provider.ts` first for the contract; argument checks live in `check.ts`.
 */

import { chacha20poly1305, hchacha, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { blake2s as nobleBlake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import {
  checkBlake2sOptions,
  checkBytes,
  checkData,
  checkLength,
  checkOptionalBytes,
  checkOut,
  checkSize,
} from './check.js';
import {
  AEAD_TAG_SIZE,
  BLAKE2S_SIZE,
  CHACHA20POLY1305_KEY_SIZE,
  CHACHA20POLY1305_NONCE_SIZE,
  type CryptoProvider,
  NACL_BOX_NONCE_SIZE,
  NACL_BOX_OVERHEAD,
  X25519_KEY_SIZE,
  XCHACHA20POLY1305_NONCE_SIZE,
} from './provider.js';

/** "expand 32-byte k", the ChaCha/Salsa constant, as four words over little-endian bytes. */
const ZERO16 = new Uint32Array(4);

/** Copies `length` bytes into a fresh, aligned word array (noble's core functions take words over LE bytes). */
function words(bytes: Uint8Array, length: number): Uint32Array {
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(0, length));
  return new Uint32Array(copy.buffer);
}

const SIGMA32 = words(new TextEncoder().encode('expand 32-byte k'), 16);

/**
 * HSalsa20(key, 0^16): turns an X25519 shared secret into NaCl's box key (`crypto_box_beforenm`).
 * Internal, shared by the backends that lack HSalsa20.
 */
export function hsalsa20ZeroNonce(shared: Uint8Array): Uint8Array {
  const out = new Uint32Array(8);
  hsalsa(SIGMA32, words(shared, 32), ZERO16, out);
  return new Uint8Array(out.buffer);
}

/**
 * HChaCha20(key, nonce[0..16]): the XChaCha20 subkey (draft-irtf-cfrg-xchacha §2.2). Internal,
 * used by the node backend to run XChaCha20-Poly1305 on node's ChaCha20-Poly1305.
 */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const out = new Uint32Array(8);
  hchacha(SIGMA32, words(key, 32), words(nonce16, 16), out);
  return new Uint8Array(out.buffer);
}

/** True for the error noble throws when a tag does not verify; anything else is a bug to surface. */
function isTagError(err: unknown): boolean {
  return err instanceof Error && /tag/i.test(err.message);
}

/** X25519 that returns all zeros for low-order points (noble throws for them). */
export function nobleX25519Shared(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  try {
    return nobleX25519.getSharedSecret(privateKey, publicKey);
  } catch (err) {
    // noble rejects low-order points before the ladder (RFC 7748 §6.1 allows either); the
    // interface says "all zeros" so that every backend answers alike.
    if (err instanceof Error && /invalid private or public key/.test(err.message)) return new Uint8Array(32);
    throw err;
  }
}

/** BLAKE2s with noble, any output length and key. Internal; arguments already checked. */
export function nobleBlake2sRaw(
  data: Uint8Array | readonly Uint8Array[],
  outLen: number,
  key: Uint8Array | undefined,
): Uint8Array {
  const opts = key !== undefined && key.length > 0 ? { dkLen: outLen, key } : { dkLen: outLen };
  if (data instanceof Uint8Array) return nobleBlake2s(data, opts);
  const h = nobleBlake2s.create(opts);
  for (const part of data) h.update(part);
  return h.digest();
}

/** HMAC-BLAKE2s with noble. Internal; arguments already checked. */
export function nobleHmacBlake2sRaw(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (data instanceof Uint8Array) return hmac(nobleBlake2s, key, data);
  const h = hmac.create(nobleBlake2s, key);
  for (const part of data) h.update(part);
  return h.digest();
}

/** NaCl secretbox seal (tag‖ciphertext) with noble. Internal; arguments already checked. */
export function nobleSecretboxSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  // noble needs 32 bytes of scratch in front and returns the last length + 16 bytes.
  const buf = new Uint8Array(plaintext.length + 32);
  return xsalsa20poly1305(key, nonce).encrypt(plaintext, buf);
}

/** NaCl secretbox open with noble: the plaintext or null. Internal; arguments already checked. */
export function nobleSecretboxOpen(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
  if (boxed.length < NACL_BOX_OVERHEAD) return null;
  const buf = new Uint8Array(boxed.length + 32);
  try {
    return xsalsa20poly1305(key, nonce).decrypt(boxed, buf);
  } catch (err) {
    if (isTagError(err)) return null;
    throw err;
  }
}

/** Fills `out` from the platform CSPRNG (`crypto.getRandomValues`, at most 64 KiB per call). */
/** `CryptoProvider.boxAfterNm` on noble's XSalsa20-Poly1305, argument-checked (the node backend uses it too). */
export function nobleBoxAfterNm(sharedKey: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkSize('sharedKey', sharedKey, 32);
  checkSize('nonce', nonce, NACL_BOX_NONCE_SIZE);
  checkBytes('plaintext', plaintext);
  return nobleSecretboxSeal(sharedKey, nonce, plaintext);
}

/** `CryptoProvider.boxOpenAfterNm` on noble's XSalsa20-Poly1305, argument-checked. */
export function nobleBoxOpenAfterNm(
  sharedKey: Uint8Array,
  nonce: Uint8Array,
  boxed: Uint8Array,
): Uint8Array | null {
  checkSize('sharedKey', sharedKey, 32);
  checkSize('nonce', nonce, NACL_BOX_NONCE_SIZE);
  checkBytes('boxed', boxed);
  return nobleSecretboxOpen(sharedKey, nonce, boxed);
}

function fillRandom(out: Uint8Array): Uint8Array {
  const cr = globalThis.crypto;
  if (typeof cr?.getRandomValues !== 'function') {
    throw new Error('crypto.getRandomValues is not available in this runtime');
  }
  for (let off = 0; off < out.length; off += 65536) {
    cr.getRandomValues(out.subarray(off, Math.min(out.length, off + 65536)));
  }
  return out;
}

/** Validates and runs an AEAD seal with a noble cipher constructor. */
function aeadSeal(
  cipher: typeof chacha20poly1305,
  nonceSize: number,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array | undefined,
  out: Uint8Array,
): number {
  checkSize('key', key, CHACHA20POLY1305_KEY_SIZE);
  checkSize('nonce', nonce, nonceSize);
  checkBytes('plaintext', plaintext);
  checkOptionalBytes('ad', ad);
  const n = plaintext.length + AEAD_TAG_SIZE;
  checkOut('out', out, n, plaintext, 'plaintext');
  // noble copies plaintext into out first (a no-op when they alias), then encrypts in place.
  cipher(key, nonce, ad).encrypt(plaintext, out.subarray(0, n));
  return n;
}

/** Validates and runs an AEAD open with a noble cipher constructor. */
function aeadOpen(
  cipher: typeof chacha20poly1305,
  nonceSize: number,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array | undefined,
  out: Uint8Array,
): boolean {
  checkSize('key', key, CHACHA20POLY1305_KEY_SIZE);
  checkSize('nonce', nonce, nonceSize);
  checkBytes('ciphertext', ciphertext);
  checkOptionalBytes('ad', ad);
  if (ciphertext.length < AEAD_TAG_SIZE) return false; // shorter than a tag: a forgery, not misuse
  const n = ciphertext.length - AEAD_TAG_SIZE;
  checkOut('out', out, n, ciphertext, 'ciphertext');
  try {
    cipher(key, nonce, ad).decrypt(ciphertext, out.subarray(0, n));
    return true;
  } catch (err) {
    if (isTagError(err)) return false;
    throw err;
  }
}

/**
 * Creates the noble backend. Always available.
 *
 * Internal: users call `createCryptoProvider('noble')` or `getCryptoProvider()`.
 */
export function createNobleProvider(): CryptoProvider {
  return {
    name: 'noble',
    chacha20poly1305Seal: (key, nonce, plaintext, ad, out) =>
      aeadSeal(chacha20poly1305, CHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out),
    chacha20poly1305Open: (key, nonce, ciphertext, ad, out) =>
      aeadOpen(chacha20poly1305, CHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out),
    xchacha20poly1305Seal: (key, nonce, plaintext, ad, out) =>
      aeadSeal(xchacha20poly1305, XCHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out),
    xchacha20poly1305Open: (key, nonce, ciphertext, ad, out) =>
      aeadOpen(xchacha20poly1305, XCHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out),

    x25519PublicKey(privateKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      return nobleX25519.getPublicKey(privateKey);
    },
    x25519(privateKey, publicKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      return nobleX25519Shared(privateKey, publicKey);
    },

    blake2s(data, outLen = BLAKE2S_SIZE, key) {
      checkData('data', data);
      checkBlake2sOptions(outLen, key);
      return nobleBlake2sRaw(data, outLen, key);
    },
    hmacBlake2s(key, data) {
      checkBytes('key', key);
      checkData('data', data);
      return nobleHmacBlake2sRaw(key, data);
    },

    boxBeforeNm(publicKey, privateKey) {
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      return hsalsa20ZeroNonce(nobleX25519Shared(privateKey, publicKey));
    },
    boxAfterNm: nobleBoxAfterNm,
    boxOpenAfterNm: nobleBoxOpenAfterNm,

    randomBytes(n) {
      checkLength('n', n);
      return fillRandom(new Uint8Array(n));
    },
  };
}
