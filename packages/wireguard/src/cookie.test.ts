import { createCryptoProvider, getCryptoProvider } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { COOKIE_REFRESH_TIME_MS } from './constants.js';
import { CookieChecker, CookieGenerator } from './cookie.js';

describe('cookies and MACs', () => {
  const c = getCryptoProvider();
  const responderPub = c.x25519PublicKey(c.randomBytes(32));
  const src = new TextEncoder().encode('192.0.2.1:51820');

  it('mac1 is checked; any change to the message breaks it', () => {
    const gen = new CookieGenerator(c, responderPub);
    const chk = new CookieChecker(c, responderPub);
    const msg = c.randomBytes(148);
    gen.addMacs(msg, 0);
    expect(chk.checkMAC1(msg)).toBe(true);
    msg[10] = msg[10]! ^ 1;
    expect(chk.checkMAC1(msg)).toBe(false);
    // A checker for another key rejects it.
    const other = new CookieChecker(c, c.x25519PublicKey(c.randomBytes(32)));
    msg[10] = msg[10]! ^ 1;
    expect(other.checkMAC1(msg)).toBe(false);
    expect(chk.checkMAC1(new Uint8Array(31))).toBe(false);
  });

  it('cookie reply round trip: mac2 valid for that source only, until COOKIE_REFRESH_TIME', () => {
    const gen = new CookieGenerator(c, responderPub);
    const chk = new CookieChecker(c, responderPub);
    const msg = c.randomBytes(148);
    gen.addMacs(msg, 0);
    expect(chk.checkMAC2(msg, src, 0)).toBe(false); // no cookie yet: mac2 = zeros
    expect(msg.subarray(132).every((x) => x === 0)).toBe(true);
    const reply = chk.createReply(msg, 1234, src, 0);
    expect(reply.length).toBe(64);
    expect(reply[0]).toBe(3);
    expect(gen.consumeReply(reply, 10)).toBe(true);
    const again = c.randomBytes(148);
    gen.addMacs(again, 20);
    expect(chk.checkMAC2(again, src, 20)).toBe(true);
    expect(chk.checkMAC2(again, new TextEncoder().encode('192.0.2.2:51820'), 20)).toBe(false);
    // The checker's secret expires after COOKIE_REFRESH_TIME.
    expect(chk.checkMAC2(again, src, COOKIE_REFRESH_TIME_MS + 1)).toBe(false);
    // The generator stops using its cookie after COOKIE_REFRESH_TIME too.
    const late = c.randomBytes(148);
    gen.addMacs(late, 10 + COOKIE_REFRESH_TIME_MS + 1);
    expect(late.subarray(132).every((x) => x === 0)).toBe(true);
  });

  it('a cookie reply must match our last mac1 and authenticate', () => {
    const gen = new CookieGenerator(c, responderPub);
    const chk = new CookieChecker(c, responderPub);
    const msg = c.randomBytes(148);
    const reply0 = chk.createReply(msg, 1, src, 0);
    expect(gen.consumeReply(reply0, 0)).toBe(false); // nothing sent yet
    gen.addMacs(msg, 0);
    const other = c.randomBytes(148);
    new CookieGenerator(c, responderPub).addMacs(other, 0);
    expect(gen.consumeReply(chk.createReply(other, 1, src, 0), 0)).toBe(false); // another message's mac1
    const reply = chk.createReply(msg, 1, src, 0);
    reply[40] = reply[40]! ^ 1;
    expect(gen.consumeReply(reply, 0)).toBe(false);
    expect(gen.hasCookie(0)).toBe(false);
  });

  it('XChaCha20-Poly1305 cookies agree across backends', () => {
    const n = createCryptoProvider('noble');
    const gen = new CookieGenerator(n, responderPub);
    const chk = new CookieChecker(createCryptoProvider('node'), responderPub);
    const msg = n.randomBytes(148);
    gen.addMacs(msg, 0);
    expect(gen.consumeReply(chk.createReply(msg, 9, src, 0), 0)).toBe(true);
  });
});
