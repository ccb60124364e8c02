import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../bytes.js';
import { availableCryptoBackends, createCryptoProvider } from '../crypto/index.js';
import { ParseError } from '../errors.js';
import {
  ChallengePublic,
  DiscoPrivate,
  DiscoPublic,
  MachinePrivate,
  MachinePublic,
  NodePrivate,
  NodePublic,
} from './keys.js';

// RFC 7748 §6.1: Alice's private key and the public key it must give.
const ALICE_PRIV = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUB = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';

describe('key types', () => {
  it('derive the RFC 7748 public key on every backend', () => {
    const priv = NodePrivate.parse(`privkey:${ALICE_PRIV}`);
    for (const name of availableCryptoBackends()) {
      expect(priv.public(createCryptoProvider(name)).toString()).toBe(`nodekey:${ALICE_PUB}`);
    }
    expect(MachinePrivate.parse(`privkey:${ALICE_PRIV}`).public().toString()).toBe(`mkey:${ALICE_PUB}`);
    expect(DiscoPrivate.fromBytes(Buffer.from(ALICE_PRIV, 'hex')).public().toString()).toBe(
      `discokey:${ALICE_PUB}`,
    );
  });

  it('use the Tailscale text forms, print lowercase and parse either case', () => {
    const pub = NodePublic.parse(`nodekey:${ALICE_PUB.toUpperCase()}`);
    expect(pub.toString()).toBe(`nodekey:${ALICE_PUB}`);
    expect(JSON.stringify({ NodeKey: pub })).toBe(`{"NodeKey":"nodekey:${ALICE_PUB}"}`);
    expect(pub.untypedHex()).toBe(ALICE_PUB);
    expect(MachinePublic.parse(`mkey:${ALICE_PUB}`).untypedHex()).toBe(ALICE_PUB);
    expect(DiscoPublic.parse(`discokey:${ALICE_PUB}`).toString()).toBe(`discokey:${ALICE_PUB}`);
    expect(ChallengePublic.parse(`chalpub:${ALICE_PUB}`).toString()).toBe(`chalpub:${ALICE_PUB}`);
    expect(NodePublic.fromBase64(pub.toBase64()).equals(pub)).toBe(true);
    expect(pub.toBase64()).toBe(Buffer.from(ALICE_PUB, 'hex').toString('base64'));
  });

  it('represent the zero key', () => {
    const z = NodePublic.zero();
    expect(z.isZero()).toBe(true);
    expect(z.toString()).toBe(`nodekey:${'0'.repeat(64)}`);
    expect(NodePublic.parse(z.toString()).isZero()).toBe(true);
    expect(NodePrivate.zero().isZero()).toBe(true);
    expect(NodePrivate.generate().isZero()).toBe(false);
  });

  it('reject malformed text with a ParseError that shows public input and hides private input', () => {
    for (const bad of [
      '',
      'nodekey:',
      `nodekey:${ALICE_PUB.slice(2)}`,
      `nodekey:${ALICE_PUB}00`,
      `mkey:${ALICE_PUB}`,
      `nodekey:${'g'.repeat(64)}`,
    ]) {
      expect(() => NodePublic.parse(bad)).toThrow(ParseError);
      expect(() => NodePublic.parse(bad)).toThrow(JSON.stringify(bad).slice(0, 20));
    }
    const secret = `privkey:${ALICE_PRIV.slice(0, 63)}`;
    let msg = '';
    try {
      NodePrivate.parse(secret);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('redacted');
    expect(msg).not.toContain(ALICE_PRIV.slice(0, 16));
    expect(() => NodePublic.fromBase64('not base64!')).toThrow(ParseError);
    expect(() => NodePublic.fromBytes(new Uint8Array(31))).toThrow(RangeError);
  });

  it('never print private keys through toString, inspect, JSON or template strings', () => {
    for (const k of [
      NodePrivate.parse(`privkey:${ALICE_PRIV}`),
      MachinePrivate.parse(`privkey:${ALICE_PRIV}`),
    ]) {
      const b64 = toBase64(k.raw);
      for (const out of [String(k), `${k}`, inspect(k), inspect({ nested: { k } }), JSON.stringify({ k })]) {
        expect(out).not.toContain(ALICE_PRIV);
        expect(out).not.toContain(ALICE_PRIV.toUpperCase());
        expect(out).not.toContain(b64);
        expect(out).toContain('redacted');
      }
      expect(k.marshalText()).toBe(`privkey:${ALICE_PRIV}`);
    }
    const wg = NodePrivate.fromBase64(Buffer.from(ALICE_PRIV, 'hex').toString('base64'));
    expect(wg.marshalBase64()).toBe(Buffer.from(ALICE_PRIV, 'hex').toString('base64'));
  });

  it('generate clamped keys, compare in constant time, and zero themselves on destroy', () => {
    const k = NodePrivate.generate();
    expect(k.raw[0]! & 7).toBe(0);
    expect(k.raw[31]! & 128).toBe(0);
    expect(k.raw[31]! & 64).toBe(64);
    const again = NodePrivate.parse(k.marshalText());
    expect(again.equals(k)).toBe(true);
    expect(again.public().equals(k.public())).toBe(true);
    expect(NodePrivate.generate().equals(k)).toBe(false);
    k.destroy();
    expect(k.isZero()).toBe(true);
  });

  it('round-trip every public key type through text (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        for (const T of [NodePublic, MachinePublic, DiscoPublic, ChallengePublic] as const) {
          const k = T.fromBytes(b);
          expect(T.parse(k.toString()).equals(k as never)).toBe(true);
          expect(k.toString().endsWith(toHex(b))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fuzz: random text gives a key or a ParseError, never another exception', () => {
    const hexish = fc.string({
      unit: fc.constantFrom(...'0123456789abcdefABCDEFg:nodekyprivmsc'.split('')),
      maxLength: 80,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          hexish,
          hexish.map((s) => `nodekey:${s}`),
        ),
        (s) => {
          for (const parse of [
            NodePublic.parse,
            NodePrivate.parse,
            MachinePublic.parse,
            DiscoPublic.parse,
            NodePublic.fromBase64,
          ]) {
            try {
              parse(s);
            } catch (e) {
              expect(e).toBeInstanceOf(ParseError);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
