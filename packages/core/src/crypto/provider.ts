/**
 * The crypto provider: every primitive the tsnet packages need, behind one synchronous interface,
 * so that the fastest backend available can be chosen at run time and any one forced in tests.
 *
 * Backends: `noble` (@noble/*, pure TypeScript, runs everywhere: the reference and the browser
 * path), `node` (node:crypto where the primitive exists, noble for the rest), `sodium`
 * (sodium-native, an optional dependency: the lowest per-call cost on the packet path).
 *
 * Conventions for every method:
 * - Inputs are never modified unless the doc says "in place"; outputs go into a caller-provided
 *   buffer where the signature has `out`, so the packet path allocates nothing.
 * - AEAD `open` returns `false` (or `null`) on authentication failure and never throws for it:
 *   a forged packet is an ordinary event, not an exception. Wrong argument sizes are API misuse and
 *   throw `RangeError` naming the argument.
 * - Keys are raw 32-byte `Uint8Array`s here; the typed key classes live in `../key`.
 */

/** The name of a backend. */
export type CryptoBackendName = 'noble' | 'node' | 'sodium';

/** ChaCha20-Poly1305 key length in bytes (RFC 8439). */
export const CHACHA20POLY1305_KEY_SIZE = 32;
/** ChaCha20-Poly1305 nonce length in bytes (RFC 8439). */
export const CHACHA20POLY1305_NONCE_SIZE = 12;
/** XChaCha20-Poly1305 nonce length in bytes. */
export const XCHACHA20POLY1305_NONCE_SIZE = 24;
/** Poly1305 tag length in bytes, appended by every AEAD seal. */
export const AEAD_TAG_SIZE = 16;
/** Curve25519 (X25519) private and public key length in bytes (RFC 7748). */
export const X25519_KEY_SIZE = 32;
/** BLAKE2s-256 digest length in bytes (RFC 7693). */
export const BLAKE2S_SIZE = 32;
/** BLAKE2s-128 digest length in bytes (WireGuard's MAC1/MAC2). */
export const BLAKE2S_128_SIZE = 16;
/** NaCl `crypto_box` nonce length in bytes (XSalsa20-Poly1305). */
export const NACL_BOX_NONCE_SIZE = 24;
/** NaCl `crypto_box` overhead in bytes (the Poly1305 tag). */
export const NACL_BOX_OVERHEAD = 16;

/**
 * The cryptographic primitives WireGuard, disco and ts2021 need, from one backend (sodium-native,
 * `node:crypto` or noble). Get one with `getCryptoProvider()`.
 */
export interface CryptoProvider {
  /** Which backend this is: `sodium`, `node` or `noble`. */
  readonly name: CryptoBackendName;

  /**
   * ChaCha20-Poly1305 (RFC 8439) seal: writes `plaintext.length + 16` bytes (ciphertext then tag)
   * to `out` at offset 0 and returns that length. `out` may alias `plaintext` (same buffer, same
   * offset) for in-place sealing. `nonce` is 12 bytes (see `nonceLE64`/`nonceBE64`).
   */
  chacha20poly1305Seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): number;

  /**
   * ChaCha20-Poly1305 open: `ciphertext` includes the 16-byte tag. On success writes
   * `ciphertext.length - 16` bytes to `out` (which may alias `ciphertext`) and returns true; on
   * authentication failure returns false and leaves `out`'s first `ciphertext.length - 16`
   * bytes unspecified.
   */
  chacha20poly1305Open(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): boolean;

  /** XChaCha20-Poly1305 seal (24-byte nonce), as for `chacha20poly1305Seal`. Used by WireGuard cookies. */
  xchacha20poly1305Seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): number;

  /** XChaCha20-Poly1305 open, as for `chacha20poly1305Open`. */
  xchacha20poly1305Open(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): boolean;

  /** X25519 public key of a private key (the private key is clamped as RFC 7748 says). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;

  /**
   * X25519 Diffie-Hellman (RFC 7748). Returns the 32-byte shared secret, which is all zeros when
   * `publicKey` is a low-order point; callers that must reject that (WireGuard, Noise) check with
   * `isAllZero`. Never throws for a point given by the network.
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;

  /**
   * BLAKE2s (RFC 7693) of the concatenation of `data`, with an optional key (≤ 32 bytes) for the
   * keyed MAC mode, and an output length of 1..32 bytes (default 32).
   */
  blake2s(data: Uint8Array | readonly Uint8Array[], outLen?: number, key?: Uint8Array): Uint8Array;

  /** HMAC (RFC 2104) with BLAKE2s-256 as the hash, as WireGuard's KDF uses it. */
  hmacBlake2s(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Uint8Array;

  /** NaCl `crypto_box_beforenm`: the precomputed curve25519-xsalsa20-poly1305 shared key. */
  boxBeforeNm(publicKey: Uint8Array, privateKey: Uint8Array): Uint8Array;

  /** NaCl `crypto_box_afternm` (= secretbox with the precomputed key): returns tag‖ciphertext (NaCl's layout). */
  boxAfterNm(sharedKey: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;

  /** NaCl `crypto_box_open_afternm`: returns the plaintext, or `null` if authentication fails. */
  boxOpenAfterNm(sharedKey: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null;

  /** Cryptographically secure random bytes. */
  randomBytes(n: number): Uint8Array;
}
