/**
 * Backend selection: which providers this runtime can offer, the fastest one as the default
 * (sodium > node > noble), and a way to force any one — by name in code, or with the
 * `TSNET_CRYPTO=noble|node|sodium` environment variable for a whole process (tests, benchmarks,
 * bisecting a suspected backend bug).
 *
 * The only module-level state in the crypto provider is the memoised default: providers are
 * stateless, so sharing one between several `Server`s in a process is safe.
 */

import { createNobleProvider } from './noble.js';
import { createNodeProvider, loadNodeCrypto } from './node.js';
import type { CryptoBackendName, CryptoProvider } from './provider.js';
import { createSodiumProvider, loadSodium } from './sodium.js';

/**
 * Every backend name, fastest first: the order `getCryptoProvider` tries them in.
 *
 * @example
 * ```ts
 * import { CRYPTO_BACKENDS } from '@tsnet/core';
 * CRYPTO_BACKENDS; // ['sodium', 'node', 'noble']
 * ```
 */
export const CRYPTO_BACKENDS: readonly CryptoBackendName[] = Object.freeze([
  'sodium',
  'node',
  'noble',
] as const);

/**
 * The environment variable that forces a backend for `getCryptoProvider`.
 *
 * @example
 * ```ts
 * // TSNET_CRYPTO=noble npx vitest run   (every default provider in the process is noble)
 * import { TSNET_CRYPTO_ENV } from '@tsnet/core';
 * process.env[TSNET_CRYPTO_ENV]; // 'noble'
 * ```
 */
export const TSNET_CRYPTO_ENV = 'TSNET_CRYPTO';

function isBackendName(name: unknown): name is CryptoBackendName {
  return name === 'noble' || name === 'node' || name === 'sodium';
}

function isAvailable(name: CryptoBackendName): boolean {
  switch (name) {
    case 'noble':
      return true;
    case 'node':
      return loadNodeCrypto() !== null;
    case 'sodium':
      return loadNodeCrypto() !== null && loadSodium() !== null;
  }
}

/**
 * The backends this runtime can create, fastest first. `noble` is always there; `node` wherever
 * node:crypto is; `sodium` when the optional sodium-native is installed and loads.
 *
 * @example
 * ```ts
 * import { availableCryptoBackends } from '@tsnet/core';
 * availableCryptoBackends(); // e.g. ['sodium', 'node', 'noble']
 * ```
 */
export function availableCryptoBackends(): CryptoBackendName[] {
  return CRYPTO_BACKENDS.filter(isAvailable);
}

/**
 * Creates the named backend. Throws `RangeError` for an unknown name and `Error` saying why when
 * that backend cannot run here (sodium-native not installed, no node:crypto).
 *
 * @example
 * ```ts
 * import { createCryptoProvider } from '@tsnet/core';
 * const noble = createCryptoProvider('noble'); // always works, also in a browser
 * ```
 */
export function createCryptoProvider(name: CryptoBackendName): CryptoProvider {
  if (!isBackendName(name)) {
    throw new RangeError(`name must be one of ${CRYPTO_BACKENDS.join(', ')}, got ${JSON.stringify(name)}`);
  }
  if (!isAvailable(name)) {
    const why =
      name === 'sodium'
        ? 'sodium-native (an optional dependency of @tsnet/core) is not installed or does not load on this platform'
        : 'node:crypto with chacha20-poly1305 and blake2s256 is not available in this runtime';
    throw new Error(`crypto backend '${name}' is unavailable: ${why}`);
  }
  switch (name) {
    case 'noble':
      return createNobleProvider();
    case 'node':
      return createNodeProvider();
    case 'sodium':
      return createSodiumProvider();
  }
}

let defaultProvider: CryptoProvider | undefined;

/**
 * The default provider: the backend named by `TSNET_CRYPTO` if that is set (throws if it names an
 * unknown or unavailable backend, so a forced run never silently tests another one), else the
 * fastest available. Chosen once per process and memoised.
 *
 * @example
 * ```ts
 * import { getCryptoProvider, nonceLE64 } from '@tsnet/core';
 * const crypto = getCryptoProvider();
 * const key = crypto.randomBytes(32);
 * const packet = new Uint8Array(5 + 16);
 * packet.set([1, 2, 3, 4, 5]);
 * crypto.chacha20poly1305Seal(key, nonceLE64(0), packet.subarray(0, 5), undefined, packet);
 * ```
 */
export function getCryptoProvider(): CryptoProvider {
  if (defaultProvider !== undefined) return defaultProvider;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const forced = env?.[TSNET_CRYPTO_ENV];
  if (forced !== undefined && forced !== '') {
    if (!isBackendName(forced)) {
      throw new RangeError(
        `${TSNET_CRYPTO_ENV} must be one of ${CRYPTO_BACKENDS.join(', ')}, got ${JSON.stringify(forced)}`,
      );
    }
    defaultProvider = createCryptoProvider(forced);
  } else {
    const [fastest = 'noble'] = availableCryptoBackends();
    defaultProvider = createCryptoProvider(fastest);
  }
  return defaultProvider;
}
