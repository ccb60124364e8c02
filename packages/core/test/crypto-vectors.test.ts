/**
 * Every backend against every published vector (see vectors/README.md for the sources). The loop
 * runs over `availableCryptoBackends()`, and the first tests make sure that list is what it should
 * be, so a backend cannot be skipped silently.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../src/bytes.js';
import { availableCryptoBackends, createCryptoProvider, kdf1, kdf2, kdf3 } from '../src/crypto/index.js';
import { hex, loadVectors, sodiumInstalled } from './crypto-helpers.js';

interface AeadVector {
  name: string;
  key: string;
  nonce: string;
  ad: string;
  plaintext: string;
  ciphertext: string;
}
interface X25519Vectors {
  scalarmult: { name: string; scalar: string; u: string; output: string }[];
  iterated: { start: string; after: { iterations: number; k: string }[] };
  dh: { alicePrivate: string; alicePublic: string; bobPrivate: string; bobPublic: string; shared: string };
  lowOrder: { points: string[] };
}
interface Blake2sVector {
  name: string;
  input: string;
  key: string;
  outLen: number;
  hash: string;
}
interface HmacVector {
  name: string;
  key: string;
  data: string;
  mac: string;
}
interface KdfVector {
  name: string;
  chainKey: string;
  input: string;
  outputs: [string, string, string];
}
interface BoxVectors {
  alicePrivate: string;
  alicePublic: string;
  bobPrivate: string;
  bobPublic: string;
  sharedKey: string;
  nonce: string;
  message: string;
  boxed: string;
}

const chacha = loadVectors<{ vectors: AeadVector[] }>('chacha20poly1305').vectors;
const xchacha = loadVectors<{ vectors: AeadVector[] }>('xchacha20poly1305').vectors;
const x25519 = loadVectors<X25519Vectors>('x25519');
const blake2s = loadVectors<{ vectors: Blake2sVector[] }>('blake2s').vectors;
const hmacs = loadVectors<{ vectors: HmacVector[] }>('hmac-blake2s').vectors;
const kdfs = loadVectors<{ vectors: KdfVector[] }>('wireguard-kdf').vectors;
const box = loadVectors<BoxVectors>('nacl-box');

describe('backend availability', () => {
  it('always has noble and node, so neither is skipped silently', () => {
    expect(availableCryptoBackends()).toContain('noble');
    expect(availableCryptoBackends()).toContain('node');
  });
  it('has sodium exactly when sodium-native is installed', () => {
    expect(availableCryptoBackends().includes('sodium')).toBe(sodiumInstalled());
  });
});

describe.each(availableCryptoBackends())('%s backend', (name) => {
  const p = createCryptoProvider(name);

  it('reports its name', () => {
    expect(p.name).toBe(name);
  });

  describe.each([
    ['ChaCha20-Poly1305', chacha, p.chacha20poly1305Seal.bind(p), p.chacha20poly1305Open.bind(p)],
    ['XChaCha20-Poly1305', xchacha, p.xchacha20poly1305Seal.bind(p), p.xchacha20poly1305Open.bind(p)],
  ] as const)('%s', (_label, vectors, seal, open) => {
    it.each(vectors)('$name: seal', (v) => {
      const pt = hex(v.plaintext);
      const out = new Uint8Array(pt.length + 16);
      expect(seal(hex(v.key), hex(v.nonce), pt, hex(v.ad), out)).toBe(out.length);
      expect(toHex(out)).toBe(v.ciphertext);
    });
    it.each(vectors)('$name: open', (v) => {
      const ct = hex(v.ciphertext);
      const out = new Uint8Array(ct.length - 16);
      expect(open(hex(v.key), hex(v.nonce), ct, hex(v.ad), out)).toBe(true);
      expect(toHex(out)).toBe(v.plaintext);
    });
    it.each(vectors)('$name: open refuses a flipped bit in each part', (v) => {
      const ct = hex(v.ciphertext);
      const out = new Uint8Array(ct.length - 16);
      for (const i of [0, ct.length - 17, ct.length - 1]) {
        const bad = ct.slice();
        bad[i] = bad[i]! ^ 0x01;
        expect(open(hex(v.key), hex(v.nonce), bad, hex(v.ad), out)).toBe(false);
      }
      const ad = hex(v.ad);
      ad[0] = ad[0]! ^ 0x80;
      expect(open(hex(v.key), hex(v.nonce), ct, ad, out)).toBe(false);
    });
  });

  it.each(x25519.scalarmult)('X25519 $name', (v) => {
    expect(toHex(p.x25519(hex(v.scalar), hex(v.u)))).toBe(v.output);
  });

  it('X25519 RFC 7748 §5.2 iterated (1 and 1,000 iterations)', () => {
    let k = hex(x25519.iterated.start);
    let u = hex(x25519.iterated.start);
    let done = 0;
    for (const { iterations, k: want } of x25519.iterated.after) {
      for (; done < iterations; done++) {
        const next = p.x25519(k, u);
        u = k;
        k = next;
      }
      expect(toHex(k)).toBe(want);
    }
  });

  it('X25519 RFC 7748 §6.1 Diffie-Hellman', () => {
    const { alicePrivate, alicePublic, bobPrivate, bobPublic, shared } = x25519.dh;
    expect(toHex(p.x25519PublicKey(hex(alicePrivate)))).toBe(alicePublic);
    expect(toHex(p.x25519PublicKey(hex(bobPrivate)))).toBe(bobPublic);
    expect(toHex(p.x25519(hex(alicePrivate), hex(bobPublic)))).toBe(shared);
    expect(toHex(p.x25519(hex(bobPrivate), hex(alicePublic)))).toBe(shared);
  });

  it.each(x25519.lowOrder.points)('X25519 low-order point %s gives all zeros, without throwing', (point) => {
    expect(toHex(p.x25519(hex(x25519.dh.alicePrivate), hex(point)))).toBe('00'.repeat(32));
  });

  it.each(blake2s)('BLAKE2s $name', (v) => {
    const key = v.key === '' ? undefined : hex(v.key);
    expect(toHex(p.blake2s(hex(v.input), v.outLen, key))).toBe(v.hash);
    // The same input split into parts hashes the same.
    const input = hex(v.input);
    const mid = input.length >> 1;
    expect(
      toHex(p.blake2s([input.subarray(0, mid), new Uint8Array(0), input.subarray(mid)], v.outLen, key)),
    ).toBe(v.hash);
  });

  it.each(hmacs)('HMAC-BLAKE2s $name', (v) => {
    expect(toHex(p.hmacBlake2s(hex(v.key), hex(v.data)))).toBe(v.mac);
    // A third implementation, OpenSSL through node:crypto, agrees with the derived value.
    expect(createHmac('blake2s256', hex(v.key)).update(hex(v.data)).digest('hex')).toBe(v.mac);
  });

  it.each(kdfs)('WireGuard KDF $name', (v) => {
    const [t1, t2, t3] = v.outputs;
    expect(toHex(kdf1(p, hex(v.chainKey), hex(v.input)))).toBe(t1);
    expect(kdf2(p, hex(v.chainKey), hex(v.input)).map(toHex)).toEqual([t1, t2]);
    expect(kdf3(p, hex(v.chainKey), hex(v.input)).map(toHex)).toEqual([t1, t2, t3]);
  });

  it('NaCl box: beforenm gives the shared key from both sides', () => {
    expect(toHex(p.boxBeforeNm(hex(box.bobPublic), hex(box.alicePrivate)))).toBe(box.sharedKey);
    expect(toHex(p.boxBeforeNm(hex(box.alicePublic), hex(box.bobPrivate)))).toBe(box.sharedKey);
  });

  it('NaCl box: afternm seals the 131-byte message to the known box', () => {
    expect(toHex(p.boxAfterNm(hex(box.sharedKey), hex(box.nonce), hex(box.message)))).toBe(box.boxed);
  });

  it('NaCl box: open_afternm opens it, and refuses it with any bit flipped', () => {
    const boxed = hex(box.boxed);
    const opened = p.boxOpenAfterNm(hex(box.sharedKey), hex(box.nonce), boxed);
    expect(opened === null ? null : toHex(opened)).toBe(box.message);
    for (const i of [0, 15, 16, boxed.length - 1]) {
      const bad = boxed.slice();
      bad[i] = bad[i]! ^ 0x01;
      expect(p.boxOpenAfterNm(hex(box.sharedKey), hex(box.nonce), bad)).toBeNull();
    }
  });
});
