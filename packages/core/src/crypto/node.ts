/**
 * The `node` backend: node:crypto (OpenSSL) where it has the primitive, noble for the rest.
 *
 * From node:crypto: ChaCha20-Poly1305 (RFC 8439, `createCipheriv('chacha20-poly1305')`), X25519
 * (RFC 7748, JWK KeyObjects + `diffieHellman`), unkeyed 32-byte BLAKE2s (`blake2s256`), HMAC-BLAKE2s
 * (`createHmac('blake2s256')`), random bytes. Node has no HChaCha20, keyed or short BLAKE2s, or
 * (X)Salsa20, so: XChaCha20-Poly1305 = noble's HChaCha20 subkey + node's ChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha §2.3), BLAKE2s with a key or another length = noble, NaCl box = node's
 * X25519 + noble's HSalsa20 and XSalsa20-Poly1305.
 *
 * node:crypto is reached through `process.getBuiltinModule` (Node ≥ 20.16), not a static import,
 * so that this module loads in a browser bundle too; there `loadNodeCrypto()` returns null and the
 * selection in `select.ts` falls back to noble.
 */

import type * as NodeCrypto from 'node:crypto';
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
  hchacha20,
  hsalsa20ZeroNonce,
  nobleBlake2sRaw,
  nobleBoxAfterNm,
  nobleBoxOpenAfterNm,
} from './noble.js';
import {
  AEAD_TAG_SIZE,
  BLAKE2S_SIZE,
  CHACHA20POLY1305_KEY_SIZE,
  CHACHA20POLY1305_NONCE_SIZE,
  type CryptoProvider,
  X25519_KEY_SIZE,
  XCHACHA20POLY1305_NONCE_SIZE,
} from './provider.js';

/** node:crypto, or null where there is no Node (a browser) or it lacks what we use. */
export function loadNodeCrypto(): typeof NodeCrypto | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  const nc = proc.getBuiltinModule('node:crypto') as typeof NodeCrypto | undefined;
  if (nc === undefined) return null;
  if (!nc.getCiphers().includes('chacha20-poly1305') || !nc.getHashes().includes('blake2s256')) return null;
  return nc;
}

/**
 * X25519 keys go into OpenSSL as JWKs (RFC 8037), which node turns into EVP_PKEY_new_raw_*_key
 * calls: about 50 µs for a private key, where the DER/PKCS#8 route costs 650 µs in OpenSSL 3's
 * decoder. For a private key the JWK parser insists on an `x` member but builds the key from `d`
 * alone (the public key is recomputed from it), so we pass an empty `x` rather than compute one.
 */
function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** A plain Uint8Array copy of a Buffer (never a view into Node's shared allocation pool). */
function own(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf);
}

/** The node:crypto primitives on raw bytes, arguments already checked. Internal: the sodium backend reuses them. */
export interface NodeRaw {
  chachaSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): void;
  chachaOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad: Uint8Array | undefined,
    out: Uint8Array,
  ): boolean;
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  blake2s(data: Uint8Array | readonly Uint8Array[], outLen: number, key: Uint8Array | undefined): Uint8Array;
  hmacBlake2s(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Uint8Array;
}

/** Builds the raw node:crypto primitives over a loaded node:crypto. */
export function nodeRaw(nc: typeof NodeCrypto): NodeRaw {
  const privateKeyObject = (privateKey: Uint8Array) =>
    nc.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(privateKey), x: '' }, format: 'jwk' });

  return {
    chachaSeal(key, nonce, plaintext, ad, out) {
      const c = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_SIZE });
      if (ad !== undefined) c.setAAD(ad, { plaintextLength: plaintext.length });
      // update() returns a new buffer, so out may alias plaintext.
      const ct = c.update(plaintext);
      c.final();
      out.set(ct, 0);
      out.set(c.getAuthTag(), plaintext.length);
    },
    chachaOpen(key, nonce, ciphertext, ad, out) {
      const n = ciphertext.length - AEAD_TAG_SIZE;
      const d = nc.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_SIZE });
      d.setAuthTag(ciphertext.subarray(n));
      if (ad !== undefined) d.setAAD(ad, { plaintextLength: n });
      const pt = d.update(ciphertext.subarray(0, n));
      try {
        d.final();
      } catch (err) {
        // OpenSSL reports a bad tag as "Unsupported state or unable to authenticate data".
        pt.fill(0); // no unauthenticated plaintext left behind
        if (err instanceof Error && /authenticate/.test(err.message)) return false;
        throw err;
      }
      out.set(pt, 0);
      return true;
    },
    x25519PublicKey(privateKey) {
      // OpenSSL clamps the scalar as RFC 7748 §5 says.
      const jwk = nc.createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' });
      return own(Buffer.from(jwk.x ?? '', 'base64url'));
    },
    x25519(privateKey, publicKey) {
      const pub = nc.createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) },
        format: 'jwk',
      });
      try {
        return own(nc.diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: pub }));
      } catch (err) {
        // OpenSSL refuses an all-zero result (a low-order point, RFC 7748 §6.1); the interface
        // returns the zeros instead, as the RFC computes them.
        if ((err as { code?: unknown }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION')
          return new Uint8Array(32);
        throw err;
      }
    },
    blake2s(data, outLen, key) {
      if (outLen !== BLAKE2S_SIZE || (key !== undefined && key.length > 0))
        return nobleBlake2sRaw(data, outLen, key);
      const h = nc.createHash('blake2s256');
      if (data instanceof Uint8Array) h.update(data);
      else for (const part of data) h.update(part);
      return own(h.digest());
    },
    hmacBlake2s(key, data) {
      const h = nc.createHmac('blake2s256', key);
      if (data instanceof Uint8Array) h.update(data);
      else for (const part of data) h.update(part);
      return own(h.digest());
    },
  };
}

/** XChaCha20-Poly1305 key and nonce → ChaCha20-Poly1305 key and nonce (draft-irtf-cfrg-xchacha §2.3). */
export function xchachaToChacha(key: Uint8Array, nonce: Uint8Array): [Uint8Array, Uint8Array] {
  const subkey = hchacha20(key, nonce.subarray(0, 16));
  const nonce12 = new Uint8Array(CHACHA20POLY1305_NONCE_SIZE);
  nonce12.set(nonce.subarray(16, 24), 4);
  return [subkey, nonce12];
}

function checkSealArgs(
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
  return n;
}

/** Checks open arguments; returns the plaintext length, or -1 when the ciphertext is shorter than a tag. */
function checkOpenArgs(
  nonceSize: number,
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array | undefined,
  out: Uint8Array,
): number {
  checkSize('key', key, CHACHA20POLY1305_KEY_SIZE);
  checkSize('nonce', nonce, nonceSize);
  checkBytes('ciphertext', ciphertext);
  checkOptionalBytes('ad', ad);
  if (ciphertext.length < AEAD_TAG_SIZE) return -1;
  const n = ciphertext.length - AEAD_TAG_SIZE;
  checkOut('out', out, n, ciphertext, 'ciphertext');
  return n;
}

/** Shared argument checks for the AEAD methods of the native backends (node, sodium). Internal. */
export const aeadChecks = { checkSealArgs, checkOpenArgs };

/**
 * Creates the node backend. Throws if node:crypto is not available (not Node, or an OpenSSL build
 * without ChaCha20-Poly1305 or BLAKE2s); use `createCryptoProvider('node')` for a clearer error.
 *
 * Internal: users call `createCryptoProvider('node')` or `getCryptoProvider()`.
 */
export function createNodeProvider(): CryptoProvider {
  const nc = loadNodeCrypto();
  if (nc === null)
    throw new Error('node:crypto with chacha20-poly1305 and blake2s256 is not available in this runtime');
  const raw = nodeRaw(nc);

  return {
    name: 'node',
    chacha20poly1305Seal(key, nonce, plaintext, ad, out) {
      const n = checkSealArgs(CHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out);
      raw.chachaSeal(key, nonce, plaintext, ad, out);
      return n;
    },
    chacha20poly1305Open(key, nonce, ciphertext, ad, out) {
      if (checkOpenArgs(CHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out) < 0) return false;
      return raw.chachaOpen(key, nonce, ciphertext, ad, out);
    },
    xchacha20poly1305Seal(key, nonce, plaintext, ad, out) {
      const n = checkSealArgs(XCHACHA20POLY1305_NONCE_SIZE, key, nonce, plaintext, ad, out);
      const [subkey, nonce12] = xchachaToChacha(key, nonce);
      raw.chachaSeal(subkey, nonce12, plaintext, ad, out);
      subkey.fill(0);
      return n;
    },
    xchacha20poly1305Open(key, nonce, ciphertext, ad, out) {
      if (checkOpenArgs(XCHACHA20POLY1305_NONCE_SIZE, key, nonce, ciphertext, ad, out) < 0) return false;
      const [subkey, nonce12] = xchachaToChacha(key, nonce);
      const ok = raw.chachaOpen(subkey, nonce12, ciphertext, ad, out);
      subkey.fill(0);
      return ok;
    },

    x25519PublicKey(privateKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      return raw.x25519PublicKey(privateKey);
    },
    x25519(privateKey, publicKey) {
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      return raw.x25519(privateKey, publicKey);
    },

    blake2s(data, outLen = BLAKE2S_SIZE, key) {
      checkData('data', data);
      checkBlake2sOptions(outLen, key);
      return raw.blake2s(data, outLen, key);
    },
    hmacBlake2s(key, data) {
      checkBytes('key', key);
      checkData('data', data);
      return raw.hmacBlake2s(key, data);
    },

    boxBeforeNm(publicKey, privateKey) {
      checkSize('publicKey', publicKey, X25519_KEY_SIZE);
      checkSize('privateKey', privateKey, X25519_KEY_SIZE);
      const shared = raw.x25519(privateKey, publicKey);
      const key = hsalsa20ZeroNonce(shared);
      shared.fill(0);
      return key;
    },
    boxAfterNm: nobleBoxAfterNm,
    boxOpenAfterNm: nobleBoxOpenAfterNm,

    randomBytes(n) {
      checkLength('n', n);
      return nc.randomFillSync(new Uint8Array(n));
    },
  };
}
