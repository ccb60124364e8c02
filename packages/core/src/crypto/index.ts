/**
 * The crypto provider of @tsnet/core: the interface (`provider.ts`), its three backends (`noble.ts`,
 * `node.ts`, `sodium.ts`), selection (`select.ts`) and the protocol helpers built on it (nonces,
 * WireGuard's KDF, NaCl box framing). Read `provider.ts` first.
 */
export { BOX_SEAL_OVERHEAD, boxOpen, boxOpenShared, boxSeal, boxSealShared } from './box.js';
export { kdf1, kdf2, kdf3 } from './kdf.js';
export { nonceBE64, nonceLE64 } from './nonce.js';
export * from './provider.js';
export {
  availableCryptoBackends,
  CRYPTO_BACKENDS,
  createCryptoProvider,
  getCryptoProvider,
  TSNET_CRYPTO_ENV,
} from './select.js';
