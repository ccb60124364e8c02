/**
 * Vectors for the KDF and the handshake, each checked against a route independent of this package
 * and of @tsnet/core:
 * - the initial chaining key: the published value (it appears in every WireGuard implementation's
 *   test suite, e.g. the kernel's `noise.c` precomputation) and OpenSSL's BLAKE2s via node:crypto;
 * - BLAKE2s-256("abc"): RFC 7693 Appendix B, for the test's own keyed BLAKE2s;
 * - KDF1..3: the WireGuard paper §5.4 HKDF recomputed with OpenSSL HMAC-BLAKE2s;
 * - the initiation message: byte-identical to the one `independent-noise.ts` (paper §5.4.2 written
 *   out with node:crypto) builds from the same keys, ephemeral and timestamp;
 * - complete handshakes and transport messages between that independent initiator and our Device,
 *   with and without a preshared key, and between Devices on different crypto backends.
 */
import {
  availableCryptoBackends,
  type CryptoProvider,
  createCryptoProvider,
  FakeClock,
  getCryptoProvider,
  kdf1,
  kdf2,
  kdf3,
  toHex,
} from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import {
  CookieGenerator,
  createMessageInitiation,
  DeviceCore,
  Handshake,
  MESSAGE_RESPONSE_SIZE,
  NoiseIdentity,
  tai64n,
} from '../src/index.js';
import { A_IP, B_IP, dataPacket, makePair, packetNumber } from './helpers.js';
import {
  blake2sKeyed,
  CONSTRUCTION,
  hash,
  IDENTIFIER,
  IndependentInitiator,
  kdf,
  pub,
} from './independent-noise.js';

const backends = availableCryptoBackends();

/** A provider whose randomBytes returns the queued values first (deterministic ephemerals). */
function scripted(base: CryptoProvider, queue: Uint8Array[]): CryptoProvider {
  return new Proxy(base, {
    get(target, prop, recv) {
      if (prop === 'randomBytes')
        return (n: number) =>
          queue.length > 0 && queue[0]!.length === n ? queue.shift()! : target.randomBytes(n);
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const key = (b: number) => new Uint8Array(32).fill(b);

describe('vectors', () => {
  it('RFC 7693 Appendix B: BLAKE2s-256("abc") (checks the test’s own BLAKE2s)', () => {
    expect(blake2sKeyed(new Uint8Array(0), Buffer.from('abc'), 32).toString('hex')).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
    expect(blake2sKeyed(new Uint8Array(0), Buffer.from('abc'), 32)).toEqual(hash(Buffer.from('abc')));
  });

  it.each(backends)('initial chaining key and hash (%s)', (name) => {
    const id = new NoiseIdentity(createCryptoProvider(name), key(1));
    // Published constant: BLAKE2s("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s").
    expect(toHex(id.initialChainKey)).toBe(
      '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36',
    );
    expect(toHex(id.initialChainKey)).toBe(hash(CONSTRUCTION).toString('hex'));
    expect(toHex(id.initialHash)).toBe(hash(hash(CONSTRUCTION), IDENTIFIER).toString('hex'));
    expect(toHex(id.publicKey)).toBe(pub(key(1)).toString('hex'));
  });

  it.each(backends)('KDF1/2/3 match HKDF with OpenSSL HMAC-BLAKE2s (%s)', (name) => {
    const c = createCryptoProvider(name);
    for (let i = 0; i < 20; i++) {
      const ck = c.randomBytes(32);
      const input = c.randomBytes(i === 0 ? 0 : 32);
      const ref = kdf(3, ck, input).map((b) => b.toString('hex'));
      expect(toHex(kdf1(c, ck, input))).toBe(ref[0]);
      expect(kdf2(c, ck, input).map(toHex)).toEqual(ref.slice(0, 2));
      expect(kdf3(c, ck, input).map(toHex)).toEqual(ref);
    }
  });

  it.each(backends)('mac1 matches keyed BLAKE2s-128 (%s)', (name) => {
    const c = createCryptoProvider(name);
    const msg = c.randomBytes(148);
    new CookieGenerator(c, key(9)).addMacs(msg, 0);
    const mac1Key = hash(Buffer.from('mac1----'), key(9));
    expect(toHex(msg.subarray(116, 132))).toBe(
      blake2sKeyed(mac1Key, msg.subarray(0, 116), 16).toString('hex'),
    );
    expect(msg.subarray(132).every((x) => x === 0)).toBe(true); // no cookie: mac2 is zero
  });

  it.each(backends)('initiation bytes equal the independent construction (%s)', (name) => {
    const sPriv = key(0x11);
    const rPriv = key(0x22);
    const ePriv = new Uint8Array(32).map((_, i) => i + 1);
    const wall = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const c = scripted(createCryptoProvider(name), [new Uint8Array(ePriv)]);
    const id = new NoiseIdentity(c, sPriv);
    const rPub = pub(rPriv);
    const hs = new Handshake(id, rPub);
    const ours = createMessageInitiation(id, hs, 0x01020304, wall)!;
    new CookieGenerator(c, rPub).addMacs(ours, 0);
    const theirs = new IndependentInitiator(sPriv, rPub, ePriv).initiation(0x01020304, tai64n(wall));
    expect(toHex(ours)).toBe(theirs.toString('hex'));
  });

  for (const withPsk of [false, true]) {
    it.each(backends)(
      `independent initiator ↔ our responder, transport both ways${withPsk ? ', with PSK' : ''} (%s)`,
      (name) => {
        const c = createCryptoProvider(name);
        const psk = withPsk ? c.randomBytes(32) : undefined;
        const iPriv = c.randomBytes(32);
        const sent: Uint8Array[] = [];
        const delivered: Uint8Array[] = [];
        const clock = new FakeClock(0);
        const core = new DeviceCore(
          { privateKey: key(0x33), crypto: c, wallNow: () => clock.wallNow() },
          {
            sendDatagram: (d) => sent.push(d),
            deliverPacket: (p) => delivered.push(p),
            event: () => {},
          },
        );
        core.addPeer({ publicKey: pub(iPriv), allowedIps: ['10.0.0.1/32'], presharedKey: psk }, 0);
        const ini = new IndependentInitiator(iPriv, core.publicKey, c.randomBytes(32), psk);
        core.receiveDatagram(ini.initiation(77, tai64n(clock.wallNow())), 'peer:1', 0);
        expect(sent).toHaveLength(1);
        expect(sent[0]!.length).toBe(MESSAGE_RESPONSE_SIZE);
        expect(Buffer.from(sent[0]!).readUInt32LE(8)).toBe(77); // receiver = our sender index
        expect(ini.response(sent[0]!)).toBe(true);
        // Independent → ours (confirms the responder's keypair).
        core.receiveDatagram(ini.transport(0, dataPacket(A_IP, B_IP, 1234)), 'peer:1', 1);
        expect(delivered.map(packetNumber)).toEqual([1234]);
        // Ours → independent.
        expect(core.sendPacket(dataPacket(B_IP, A_IP, 4321), 2)).toBe(true);
        const reply = ini.open(sent.at(-1)!);
        expect(reply).not.toBeNull();
        expect(packetNumber(reply!)).toBe(4321);
        expect(core.counters.internalErrors).toBe(0);
      },
    );
  }

  it('a wrong preshared key on one side fails authentication of the response', () => {
    const c = getCryptoProvider();
    const iPriv = c.randomBytes(32);
    const sent: Uint8Array[] = [];
    const core = new DeviceCore(
      { privateKey: key(0x44), crypto: c },
      { sendDatagram: (d) => sent.push(d), deliverPacket: () => {}, event: () => {} },
    );
    core.addPeer({ publicKey: pub(iPriv), allowedIps: [], presharedKey: key(5) }, 0);
    const ini = new IndependentInitiator(iPriv, core.publicKey, c.randomBytes(32), key(6));
    core.receiveDatagram(ini.initiation(1, tai64n(Date.now())), 'p:1', 0);
    expect(ini.response(sent[0]!)).toBe(false);
  });

  const pairs = backends.flatMap((x) => backends.filter((y) => y !== x).map((y) => [x, y] as const));
  it.each(pairs)('Devices on different backends interoperate (%s ↔ %s)', async (x, y) => {
    const { clock, a, b, tunA, tunB } = await makePair({
      cryptoA: createCryptoProvider(x),
      cryptoB: createCryptoProvider(y),
    });
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    b.send(dataPacket(B_IP, A_IP, 2));
    clock.advance(10);
    expect(tunB.received.map(packetNumber)).toEqual([1]);
    expect(tunA.received.map(packetNumber)).toEqual([2]);
    await a.close();
    await b.close();
  });
});
