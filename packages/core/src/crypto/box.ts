/**
 * NaCl box with Tailscale's framing: 24-byte random nonce ‖ box (16-byte tag ‖ ciphertext), as
 * tailscale `types/key/node.go` (`NodePrivate.SealTo` / `OpenFrom`, used by DERP) and
 * `types/key/disco.go` (`DiscoShared.Seal` / `Open`, with a precomputed key) lay it out. The box is
 * crypto_box_curve25519xsalsa20poly1305 (golang.org/x/crypto/nacl/box).
 */

import { checkBytes, checkSize } from './check.js';
import { type CryptoProvider, NACL_BOX_NONCE_SIZE, NACL_BOX_OVERHEAD, X25519_KEY_SIZE } from './provider.js';

/**
 * Bytes `boxSeal` adds to a plaintext: the 24-byte nonce and the 16-byte tag.
 *
 * @example
 * ```ts
 * import { BOX_SEAL_OVERHEAD } from '@tsnet/core';
 * const maxPlaintext = 1500 - BOX_SEAL_OVERHEAD;
 * ```
 */
export const BOX_SEAL_OVERHEAD = NACL_BOX_NONCE_SIZE + NACL_BOX_OVERHEAD;

/**
 * Seals `plaintext` from `privateKey` to `publicKey`: a fresh random nonce ‖ box.
 *
 * @example
 * ```ts
 * import { boxOpen, boxSeal, getCryptoProvider } from '@tsnet/core';
 * const p = getCryptoProvider();
 * const a = p.randomBytes(32);
 * const b = p.randomBytes(32);
 * const sealed = boxSeal(p, a, p.x25519PublicKey(b), new Uint8Array([1, 2, 3]));
 * boxOpen(p, b, p.x25519PublicKey(a), sealed); // Uint8Array [1, 2, 3]
 * ```
 */
export function boxSeal(
  provider: CryptoProvider,
  privateKey: Uint8Array,
  publicKey: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  checkSize('privateKey', privateKey, X25519_KEY_SIZE);
  checkSize('publicKey', publicKey, X25519_KEY_SIZE);
  const shared = provider.boxBeforeNm(publicKey, privateKey);
  try {
    return boxSealShared(provider, shared, plaintext);
  } finally {
    shared.fill(0);
  }
}

/**
 * Opens what `boxSeal` (or Go's `SealTo`) made: the plaintext, or `null` when `sealed` is too
 * short or does not authenticate (untrusted input never throws).
 *
 * @example
 * ```ts
 * import { boxOpen, getCryptoProvider } from '@tsnet/core';
 * const p = getCryptoProvider();
 * boxOpen(p, p.randomBytes(32), p.randomBytes(32), new Uint8Array(10)); // null
 * ```
 */
export function boxOpen(
  provider: CryptoProvider,
  privateKey: Uint8Array,
  publicKey: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  checkSize('privateKey', privateKey, X25519_KEY_SIZE);
  checkSize('publicKey', publicKey, X25519_KEY_SIZE);
  checkBytes('sealed', sealed);
  if (sealed.length < BOX_SEAL_OVERHEAD) return null;
  const shared = provider.boxBeforeNm(publicKey, privateKey);
  try {
    return boxOpenShared(provider, shared, sealed);
  } finally {
    shared.fill(0);
  }
}

/**
 * As `boxSeal`, with a key precomputed by `provider.boxBeforeNm` (disco's `DiscoShared.Seal`).
 *
 * @example
 * ```ts
 * import { boxSealShared, getCryptoProvider } from '@tsnet/core';
 * const p = getCryptoProvider();
 * const shared = p.boxBeforeNm(p.x25519PublicKey(p.randomBytes(32)), p.randomBytes(32));
 * const sealed = boxSealShared(p, shared, new Uint8Array([1, 2, 3]));
 * ```
 */
export function boxSealShared(
  provider: CryptoProvider,
  sharedKey: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const nonce = provider.randomBytes(NACL_BOX_NONCE_SIZE);
  const boxed = provider.boxAfterNm(sharedKey, nonce, plaintext);
  const out = new Uint8Array(NACL_BOX_NONCE_SIZE + boxed.length);
  out.set(nonce);
  out.set(boxed, NACL_BOX_NONCE_SIZE);
  return out;
}

/**
 * As `boxOpen`, with a precomputed key (disco's `DiscoShared.Open`): the plaintext or `null`.
 *
 * @example
 * ```ts
 * import { boxOpenShared, getCryptoProvider } from '@tsnet/core';
 * const p = getCryptoProvider();
 * boxOpenShared(p, new Uint8Array(32), new Uint8Array(40)); // null
 * ```
 */
export function boxOpenShared(
  provider: CryptoProvider,
  sharedKey: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  checkBytes('sealed', sealed);
  if (sealed.length < BOX_SEAL_OVERHEAD) return null;
  return provider.boxOpenAfterNm(
    sharedKey,
    sealed.subarray(0, NACL_BOX_NONCE_SIZE),
    sealed.subarray(NACL_BOX_NONCE_SIZE),
  );
}
