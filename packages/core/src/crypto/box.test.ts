/** NaCl box framing (Tailscale's nonce ‖ box layout): round trips across every pair of backends, layout, forgeries. */
import { describe, expect, it } from 'vitest';
import { toHex } from '../bytes.js';
import { BOX_SEAL_OVERHEAD, boxOpen, boxOpenShared, boxSeal, boxSealShared } from './box.js';
import { availableCryptoBackends, createCryptoProvider } from './select.js';

const providers = availableCryptoBackends().map(createCryptoProvider);
const noble = createCryptoProvider('noble');
const alice = noble.randomBytes(32);
const bob = noble.randomBytes(32);
const alicePub = noble.x25519PublicKey(alice);
const bobPub = noble.x25519PublicKey(bob);
const message = new TextEncoder().encode('hello over DERP');

describe('boxSeal / boxOpen (Tailscale NodePrivate.SealTo / OpenFrom)', () => {
  it.each(providers.flatMap((a) => providers.map((b) => [a.name, b.name, a, b] as const)))(
    'sealed by %s opens with %s',
    (_a, _b, sealer, opener) => {
      const sealed = boxSeal(sealer, alice, bobPub, message);
      expect(sealed.length).toBe(message.length + BOX_SEAL_OVERHEAD);
      const opened = boxOpen(opener, bob, alicePub, sealed);
      expect(opened && toHex(opened)).toBe(toHex(message));
    },
  );

  it('is nonce(24) ‖ crypto_box_afternm(shared, nonce, message)', () => {
    const sealed = boxSeal(noble, alice, bobPub, message);
    const nonce = sealed.subarray(0, 24);
    const shared = noble.boxBeforeNm(bobPub, alice);
    expect(toHex(sealed.subarray(24))).toBe(toHex(noble.boxAfterNm(shared, nonce, message)));
  });

  it('uses a fresh nonce each time', () => {
    expect(toHex(boxSeal(noble, alice, bobPub, message))).not.toBe(
      toHex(boxSeal(noble, alice, bobPub, message)),
    );
  });

  it('returns null for a tampered, truncated or misaddressed box', () => {
    const sealed = boxSeal(noble, alice, bobPub, message);
    for (const i of [0, 23, 24, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i] = bad[i]! ^ 1;
      expect(boxOpen(noble, bob, alicePub, bad)).toBeNull();
    }
    for (const n of [0, 10, BOX_SEAL_OVERHEAD - 1])
      expect(boxOpen(noble, bob, alicePub, sealed.subarray(0, n))).toBeNull();
    expect(boxOpen(noble, alice, alicePub, sealed)).toBeNull();
  });

  it('throws RangeError naming the key arguments', () => {
    expect(() => boxSeal(noble, alice.subarray(1), bobPub, message)).toThrow(/^privateKey must be 32 bytes/);
    expect(() => boxOpen(noble, bob, alicePub.subarray(2), message)).toThrow(/^publicKey must be 32 bytes/);
  });
});

describe('boxSealShared / boxOpenShared (disco DiscoShared.Seal / Open)', () => {
  it.each(providers)('round-trips with a precomputed key on $name', (p) => {
    const shared = p.boxBeforeNm(bobPub, alice);
    const sealed = boxSealShared(p, shared, message);
    const opened = boxOpenShared(p, noble.boxBeforeNm(alicePub, bob), sealed);
    expect(opened && toHex(opened)).toBe(toHex(message));
    expect(boxOpenShared(p, shared, sealed.subarray(0, 39))).toBeNull();
  });
});
