/**
 * WireGuard's KDF (whitepaper §5.2 "HKDF", wireguard-go `device/noise-helpers.go` KDF1/KDF2/KDF3):
 * HKDF (RFC 5869) with HMAC-BLAKE2s, the chaining key as salt, and 1, 2 or 3 outputs of 32 bytes.
 *
 *   τ0 = HMAC(C, input)
 *   τ1 = HMAC(τ0, 0x1)
 *   τ2 = HMAC(τ0, τ1 ‖ 0x2)
 *   τ3 = HMAC(τ0, τ2 ‖ 0x3)
 */

import { checkBytes } from './check.js';
import type { CryptoProvider } from './provider.js';

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

function prk(provider: CryptoProvider, chainKey: Uint8Array, input: Uint8Array): Uint8Array {
  checkBytes('chainKey', chainKey);
  checkBytes('input', input);
  return provider.hmacBlake2s(chainKey, input);
}

/**
 * KDF1: τ1.
 *
 * @example
 * ```ts
 * import { getCryptoProvider, kdf1 } from '@tsnet/core';
 * const chainKey = kdf1(getCryptoProvider(), new Uint8Array(32), new Uint8Array(32));
 * ```
 */
export function kdf1(provider: CryptoProvider, chainKey: Uint8Array, input: Uint8Array): Uint8Array {
  const t0 = prk(provider, chainKey, input);
  const t1 = provider.hmacBlake2s(t0, ONE);
  t0.fill(0);
  return t1;
}

/**
 * KDF2: [τ1, τ2].
 *
 * @example
 * ```ts
 * import { getCryptoProvider, kdf2 } from '@tsnet/core';
 * const [chainKey, key] = kdf2(getCryptoProvider(), new Uint8Array(32), new Uint8Array(32));
 * ```
 */
export function kdf2(
  provider: CryptoProvider,
  chainKey: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array] {
  const t0 = prk(provider, chainKey, input);
  const t1 = provider.hmacBlake2s(t0, ONE);
  const t2 = provider.hmacBlake2s(t0, [t1, TWO]);
  t0.fill(0);
  return [t1, t2];
}

/**
 * KDF3: [τ1, τ2, τ3].
 *
 * @example
 * ```ts
 * import { getCryptoProvider, kdf3 } from '@tsnet/core';
 * const [chainKey, tau, key] = kdf3(getCryptoProvider(), new Uint8Array(32), new Uint8Array(32));
 * ```
 */
export function kdf3(
  provider: CryptoProvider,
  chainKey: Uint8Array,
  input: Uint8Array,
): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = prk(provider, chainKey, input);
  const t1 = provider.hmacBlake2s(t0, ONE);
  const t2 = provider.hmacBlake2s(t0, [t1, TWO]);
  const t3 = provider.hmacBlake2s(t0, [t2, THREE]);
  t0.fill(0);
  return [t1, t2, t3];
}
