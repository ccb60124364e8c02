import { getCryptoProvider } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_INITIATION_RATE_MS } from '../constants.js';
import {
  beginSymmetricSession,
  commitInitiation,
  consumeMessageInitiation,
  consumeMessageResponse,
  createMessageInitiation,
  createMessageResponse,
  Handshake,
  NoiseIdentity,
} from './handshake.js';

const c = getCryptoProvider();

function setup(psk?: Uint8Array) {
  const i = new NoiseIdentity(c, c.randomBytes(32));
  const r = new NoiseIdentity(c, c.randomBytes(32));
  const hsI = new Handshake(i, r.publicKey, psk);
  const hsR = new Handshake(r, i.publicKey, psk);
  const lookup = (pk: Uint8Array) =>
    pk.every((x, k) => x === i.publicKey[k]) ? { peer: 'I', hs: hsR } : undefined;
  return { i, r, hsI, hsR, lookup };
}

describe('Noise IKpsk2 handshake', () => {
  it('completes and derives matching transport keys', () => {
    const { i, r, hsI, hsR, lookup } = setup(c.randomBytes(32));
    const m1 = createMessageInitiation(i, hsI, 11, Date.now())!;
    expect(hsI.state).toBe('initiation-created');
    const ci = consumeMessageInitiation(r, m1, lookup, 1000, HANDSHAKE_INITIATION_RATE_MS)!;
    expect(ci.peer).toBe('I');
    expect(hsR.state).toBe('zeroed'); // consume changes nothing until committed
    commitInitiation(ci, 1000);
    expect(hsR.state).toBe('initiation-consumed');
    const m2 = createMessageResponse(r, hsR, 22)!;
    expect(consumeMessageResponse(i, hsI, m2)).toBe(true);
    const kI = beginSymmetricSession(i, hsI)!;
    const kR = beginSymmetricSession(r, hsR)!;
    expect(kI.sendKey).toEqual(kR.recvKey);
    expect(kI.recvKey).toEqual(kR.sendKey);
    expect(kI.sendKey).not.toEqual(kI.recvKey);
    expect([kI.isInitiator, kR.isInitiator]).toEqual([true, false]);
    expect([kI.localIndex, kI.remoteIndex, kR.localIndex, kR.remoteIndex]).toEqual([11, 22, 22, 11]);
    expect(hsI.state).toBe('zeroed');
    expect(hsI.chainKey.every((x) => x === 0)).toBe(true);
    expect(beginSymmetricSession(i, hsI)).toBeNull();
  });

  it('rejects a replayed initiation (TAI64N not newer) and a flood (within 1/50 s)', () => {
    const { i, r, hsI, lookup } = setup();
    const wall = Date.now();
    const m1 = createMessageInitiation(i, hsI, 1, wall)!;
    commitInitiation(consumeMessageInitiation(r, m1, lookup, 1000, HANDSHAKE_INITIATION_RATE_MS)!, 1000);
    expect(consumeMessageInitiation(r, m1, lookup, 5000, HANDSHAKE_INITIATION_RATE_MS)).toBeNull(); // replay
    const m2 = createMessageInitiation(i, hsI, 2, wall + 1000)!;
    expect(
      consumeMessageInitiation(
        r,
        m2,
        lookup,
        1000 + HANDSHAKE_INITIATION_RATE_MS,
        HANDSHAKE_INITIATION_RATE_MS,
      ),
    ).toBeNull(); // flood
    expect(
      consumeMessageInitiation(
        r,
        m2,
        lookup,
        1000 + HANDSHAKE_INITIATION_RATE_MS + 1,
        HANDSHAKE_INITIATION_RATE_MS,
      ),
    ).not.toBeNull();
  });

  it('rejects unknown initiators, tampering, and responses in the wrong state', () => {
    const { i, r, hsI, hsR, lookup } = setup();
    const m1 = createMessageInitiation(i, hsI, 1, Date.now())!;
    expect(consumeMessageInitiation(r, m1, () => undefined, 0, 20)).toBeNull();
    for (const pos of [8, 40, 100]) {
      const t = new Uint8Array(m1);
      t[pos] = t[pos]! ^ 1;
      expect(consumeMessageInitiation(r, t, lookup, 0, 20)).toBeNull();
    }
    expect(createMessageResponse(r, hsR, 2)).toBeNull(); // nothing consumed yet
    commitInitiation(consumeMessageInitiation(r, m1, lookup, 0, 20)!, 0);
    const m2 = createMessageResponse(r, hsR, 2)!;
    const t = new Uint8Array(m2);
    t[50] = t[50]! ^ 1;
    expect(consumeMessageResponse(i, hsI, t)).toBe(false);
    expect(hsI.state).toBe('initiation-created');
    expect(consumeMessageResponse(i, hsI, m2)).toBe(true);
    expect(consumeMessageResponse(i, hsI, m2)).toBe(false); // already consumed
  });

  it('refuses a peer whose static key is a low-order point', () => {
    const i = new NoiseIdentity(c, c.randomBytes(32));
    const hs = new Handshake(i, new Uint8Array(32)); // the all-zero point
    expect(createMessageInitiation(i, hs, 1, Date.now())).toBeNull();
  });
});
