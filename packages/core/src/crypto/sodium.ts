/**
 * The `sodium` backend: libsodium through the optional `sodium-native` addon, the lowest per-call
 * cost on the packet path (ChaCha20-Poly1305, XChaCha20-Poly1305, X25519, NaCl secretbox, random).
 * libsodium has no BLAKE2s (its generichash is BLAKE2b) and sodium-native exposes neither
 * `crypto_box_beforenm` nor HSalsa20, so BLAKE2s and HMAC-BLAKE2s come from node:crypto (as in the
 * `node` backend) and the box key is libsodium's X25519 + noble's HSalsa20.
 *
 * sodium-native is an optional dependency, pinned to the 4.3.x line: it loads on Node 20 from its
 * bundled prebuilds (no install script), while 5.x declares only a `bare` engine and pulls in the
 * Bare runtime's helper packages. It is loaded lazily with `createRequire` on first use, so
 * installing and running without it is fine: `loadSodium()` returns null and selection skips it.
 */

import type * as NodeModule from 'node:module';
import { checkBytes, checkLength, checkSize } from './check.js';
import { hsalsa20ZeroNonce } from './noble.js';
import { aeadChecks, createNodeProvider } from './node.js';
import {
  CHACHA20POLY1305_NONCE_SIZE,
  type CryptoProvider,
  NACL_BOX_NONCE_SIZE,
  NACL_BOX_OVERHEAD,
  X25519_KEY_SIZE,
  XCHACHA20POLY1305_NONCE_SIZE,
} from './provider.js';

/** The part of sodium-native this backend calls (its functions throw on failure unless noted). */
export interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  /** Returns false when the tag does not verify. */
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
  randombytes_buf(buf: Uint8Array): void;
}

/** sodium-native, or null when it is not installed or does not load on this platform. */
export function loadSodium(): SodiumNative | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  const mod = proc.getBuiltinModule('node:module') as typeof NodeModule | undefined;
  if (mod === undefined) return null;
  try {
    const sodium = mod.createRequire(import.meta.url)('sodium-native') as Partial<SodiumNative>;
    return typeof sodium.crypto_aead_chacha20poly1305_ietf_encrypt === 'function'
      ? (sodium as SodiumNative)
      : null;
  } catch {
    // Not installed (an optional dependency), or no prebuilt binary for this platform: the
    // backend is simply unavailable. `createCryptoProvider('sodium')` reports it as such.
    return null;
  }
}

/** True for sodium-native's "could not verify data" (a bad tag), which is not an exception here. */
function isVerifyError(err: unknown): boolean {
  return err instanceof Error && /verify/.test(err.message);
}

/**
 * Creates the sodium backend. Throws if sodium-native cannot be loaded (use
 * `availableCryptoBackends()` to ask first, or `createCryptoProvider('sodium')` for a clearer error).
 *
 * Internal: users call `createCryptoProvider('sodium')` or `getCryptoProvider()`.
 */
export function createSodiumProvider(): CryptoProvider {
  const s = loadSodium();
  if (s === null) throw new Error('sodium-native is not installed or does not load on this platform');
  const node = createNodeProvider();
  const { checkSealArgs, checkOpenArgs } = aeadChecks;

  const x25519 = (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array => {
    const q = new Uint8Array(32);
    try {
      s.crypto_scalarmult(q, privateKey, publicKey);
    } catch (err) {
      // libsodium refuses low-order points (RFC 7748 §6.1 all-zero output); return the zeros.
      if (err instanceof Error && /shared secret/.test(err.message)) return q.fill(0);
      throw err;
    }
    return q;
  };

  return {
    name: 'sodium',
    chacha20poly1305Seal(key, nonce, plaintext, ad, out) {
      const n = checkSealArgs(CHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out);
      s.crypto_aead_chacha20poly1305_ietf_encrypt(
        out.subarray(0, n),
        plaintext,
        ad ?? null,
        null,
        nonce,
        key,
      );
      return n;
    },
    chacha20poly1305Open(key, nonce, ciphertext, ad, out) {
      const n = checkOpenArgs(CHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out);
      if (n < 0) return false;
      try {
        s.crypto_aead_chacha20poly1305_ietf_decrypt(
          out.subarray(0, n),
          null,
          ciphertext,
          ad ?? null,
          nonce,
          key,
        );
        return true;
      } catch (err) {
        if (isVerifyError(err)) return false;
        throw err;
      }
    },
    xchacha20poly1305Seal(key, nonce, plaintext, ad, out) {
      const n = checkSealArgs(XCHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out);
      s.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.subarray(0, n),
        plaintext,
        ad ?? null,
        null,
        nonce,
        key,
      );
      return n;
    },
    xchacha20poly1305Open(key, nonce, ciphertext, ad, out) {
      const n = checkOpenArgs(XCHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out);
      if (n < 0) return false;
      try {
        s.crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.subarray(0, n),
          null,
          ciphertext,
          ad ?? null,
          nonce,
          key,
        );
        return true;
      } catch (err) {
        if (isVerifyError(err)) return false;
        throw err;
      }
    },

    x25519PublicKey(privateKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      const q = new Uint8Array(32);
      s.crypto_scalarmult_base(q, privateKey);
      return q;
    },
    x25519(privateKey, publicKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      return x25519(privateKey, publicKey);
    },

    blake2s: node.blake2s,
    hmacBlake2s: node.hmacBlake2s,

    boxBeforeNm(publicKey, privateKey) {
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      const shared = x25519(privateKey, publicKey);
      const key = hsalsa20ZeroNonce(shared);
      shared.fill(0);
      return key;
    },
    boxAfterNm(sharedKey, nonce, plaintext) {
      checkSize('sharedKey', sharedKey, 32);
      checkSize('nonce', nonce, NACL_BOX_NONCE_SIZE);
      checkBytes('plaintext', plaintext);
      const boxed = new Uint8Array(plaintext.length + NACL_BOX_OVERHEAD);
      s.crypto_secretbox_easy(boxed, plaintext, nonce, sharedKey);
      return boxed;
    },
    boxOpenAfterNm(sharedKey, nonce, boxed) {
      checkSize('sharedKey', sharedKey, 32);
      checkSize('nonce', nonce, NACL_BOX_NONCE_SIZE);
      checkBytes('boxed', boxed);
      if (boxed.length < NACL_BOX_OVERHEAD) return null;
      const plaintext = new Uint8Array(boxed.length - NACL_BOX_OVERHEAD);
      return s.crypto_secretbox_open_easy(plaintext, boxed, nonce, sharedKey) ? plaintext : null;
    },

    randomBytes(n) {
      checkLength('n', n);
      const buf = new Uint8Array(n);
      if (n > 0) s.randombytes_buf(buf);
      return buf;
    },
  };
}
