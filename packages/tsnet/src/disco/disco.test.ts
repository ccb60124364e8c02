import { AddrPort, DiscoPrivate, getCryptoProvider } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { DiscoBox } from './box.js';
import { DISCO_MIN_LEN, type DiscoMessage, emitMessage, looksLikeDisco, parseMessage } from './disco.js';

const txId = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('disco messages', () => {
  it('encodes a Ping with a node key as type, version, TxID, key', () => {
    const nodeKey = Uint8Array.from({ length: 32 }, (_, i) => i);
    const b = emitMessage({ type: 'ping', txId, nodeKey, padding: 0 });
    expect(hex(b)).toBe(`0100${hex(txId)}${hex(nodeKey)}`);
    expect(parseMessage(b)).toEqual({ type: 'ping', txId, nodeKey, padding: 0 });
  });

  it('keeps the padding count of an MTU probe and accepts an old Ping without a key', () => {
    const b = emitMessage({ type: 'ping', txId, nodeKey: new Uint8Array(32), padding: 100 });
    expect(b.length).toBe(2 + 12 + 32 + 100);
    expect(parseMessage(b)).toMatchObject({ type: 'ping', padding: 100 });
    expect(parseMessage(b.subarray(0, 14))).toEqual({ type: 'ping', txId, nodeKey: undefined, padding: 0 });
  });

  it('encodes a Pong source as a v4-mapped IPv6 address and a big-endian port', () => {
    const b = emitMessage({ type: 'pong', txId, src: AddrPort.parse('1.2.3.4:1234') });
    expect(hex(b)).toBe(`0200${hex(txId)}00000000000000000000ffff01020304${'04d2'}`);
    const m = parseMessage(b);
    expect(m?.type === 'pong' && m.src.toString()).toBe('1.2.3.4:1234');
    const v6 = parseMessage(emitMessage({ type: 'pong', txId, src: AddrPort.parse('[::1]:41641') }));
    expect(v6?.type === 'pong' && v6.src.toString()).toBe('[::1]:41641');
  });

  it('encodes CallMeMaybe as a list of 18-byte endpoints', () => {
    const endpoints = [AddrPort.parse('127.0.0.1:41641'), AddrPort.parse('[fd00::1]:2')];
    const b = emitMessage({ type: 'callMeMaybe', endpoints });
    expect(b.length).toBe(2 + 36);
    const m = parseMessage(b);
    expect(m?.type === 'callMeMaybe' && m.endpoints.map(String)).toEqual(['127.0.0.1:41641', '[fd00::1]:2']);
    expect(parseMessage(b.subarray(0, 21))).toBeNull();
  });

  it('ignores trailing bytes in a Pong and refuses short or unknown messages', () => {
    const b = emitMessage({ type: 'pong', txId, src: AddrPort.parse('1.2.3.4:5') });
    const longer = new Uint8Array(b.length + 7);
    longer.set(b);
    expect(parseMessage(longer)?.type).toBe('pong');
    expect(parseMessage(b.subarray(0, b.length - 1))).toBeNull();
    expect(parseMessage(new Uint8Array([9, 0, 1, 2]))).toBeNull();
    expect(parseMessage(new Uint8Array([1]))).toBeNull();
  });
});

describe('DiscoBox', () => {
  const crypto = getCryptoProvider();
  const a = new DiscoBox(DiscoPrivate.generate(crypto), crypto);
  const b = new DiscoBox(DiscoPrivate.generate(crypto), crypto);

  it('seals a packet with the magic and sender key that the peer opens', () => {
    const msg: DiscoMessage = { type: 'ping', txId, nodeKey: new Uint8Array(32).fill(7), padding: 0 };
    const pkt = a.seal(b.publicKey, msg);
    expect(hex(pkt.subarray(0, 6))).toBe('5453f09f92ac');
    expect(looksLikeDisco(pkt)).toBe(true);
    const got = b.open(pkt);
    expect(got?.sender.equals(a.publicKey)).toBe(true);
    expect(got?.msg).toEqual(msg);
  });

  it('drops a packet sealed to someone else, or tampered with', () => {
    const c = new DiscoBox(DiscoPrivate.generate(crypto), crypto);
    const pkt = a.seal(c.publicKey, { type: 'callMeMaybe', endpoints: [] });
    expect(b.open(pkt)).toBeNull();
    const ok = a.seal(b.publicKey, { type: 'callMeMaybe', endpoints: [] });
    ok[ok.length - 1] = (ok[ok.length - 1] ?? 0) ^ 1;
    expect(b.open(ok)).toBeNull();
  });

  it('fuzz: random and mutated input never throws', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    const base = a.seal(b.publicKey, { type: 'pong', txId, src: AddrPort.parse('1.2.3.4:5') });
    for (let i = 0; i < 3000; i++) {
      const len = rnd() % 200;
      const buf =
        i % 2 === 0
          ? new Uint8Array(len).map(() => rnd() & 255)
          : base.slice(0, Math.min(len + 40, base.length));
      if (i % 2 === 1 && buf.length > 0) {
        const j = rnd() % buf.length;
        buf[j] = (buf[j] ?? 0) ^ (1 << (rnd() % 8));
      }
      expect(() => parseMessage(buf)).not.toThrow();
      expect(() => b.open(buf)).not.toThrow();
      if (buf.length < DISCO_MIN_LEN) expect(looksLikeDisco(buf)).toBe(false);
    }
  });
});
