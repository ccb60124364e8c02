import { describe, expect, it } from 'vitest';
import {
  emitMessageCookieReply,
  emitMessageInitiation,
  emitMessageResponse,
  emitMessageTransport,
  messageType,
  parseMessageCookieReply,
  parseMessageInitiation,
  parseMessageResponse,
  parseMessageTransport,
  readU64LE,
  writeU64LE,
} from './messages.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('messages', () => {
  it('initiation: emit, parse, round trip, exact layout', () => {
    const m = {
      sender: 0xdeadbeef,
      ephemeral: fill(32, 1),
      static: fill(48, 2),
      timestamp: fill(28, 3),
      mac1: fill(16, 4),
      mac2: fill(16, 5),
    };
    const b = emitMessageInitiation(m);
    expect(b.length).toBe(148);
    expect([...b.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    expect(b[8]).toBe(1);
    expect(b[40]).toBe(2);
    expect(b[88]).toBe(3);
    expect(b[116]).toBe(4);
    expect(b[147]).toBe(5);
    const p = parseMessageInitiation(b)!;
    expect(p.sender).toBe(0xdeadbeef);
    expect(emitMessageInitiation(p)).toEqual(b);
    expect(parseMessageInitiation(b.subarray(0, 147))).toBeNull();
    expect(parseMessageInitiation(new Uint8Array(149))).toBeNull();
    const wrong = new Uint8Array(b);
    wrong[1] = 1; // non-zero reserved byte
    expect(parseMessageInitiation(wrong)).toBeNull();
    expect(messageType(wrong)).toBe(0);
    expect(() => emitMessageInitiation({ ...m, ephemeral: fill(31, 0) })).toThrow(RangeError);
  });

  it('response: 92 bytes, round trip', () => {
    const m = {
      sender: 7,
      receiver: 0xffffffff,
      ephemeral: fill(32, 9),
      empty: fill(16, 8),
      mac1: fill(16, 7),
      mac2: fill(16, 6),
    };
    const b = emitMessageResponse(m);
    expect(b.length).toBe(92);
    expect([...b.subarray(0, 12)]).toEqual([2, 0, 0, 0, 7, 0, 0, 0, 255, 255, 255, 255]);
    const p = parseMessageResponse(b)!;
    expect(p.receiver).toBe(0xffffffff);
    expect(emitMessageResponse(p)).toEqual(b);
    expect(parseMessageResponse(b.subarray(1))).toBeNull();
    expect(
      parseMessageResponse(
        emitMessageInitiation(
          parseMessageInitiation(new Uint8Array(148).fill(0).map((_, i) => (i === 0 ? 1 : 0)))!,
        ),
      ),
    ).toBeNull();
  });

  it('cookie reply: 64 bytes, round trip', () => {
    const b = emitMessageCookieReply({ receiver: 1, nonce: fill(24, 1), cookie: fill(32, 2) });
    expect(b.length).toBe(64);
    expect(b[0]).toBe(3);
    const p = parseMessageCookieReply(b)!;
    expect(p.nonce).toEqual(fill(24, 1));
    expect(emitMessageCookieReply(p)).toEqual(b);
    expect(parseMessageCookieReply(new Uint8Array(63))).toBeNull();
  });

  it('transport: 32 + n, little-endian 64-bit counter', () => {
    const b = emitMessageTransport({
      receiver: 0x01020304,
      counter: 2 ** 40 + 5,
      content: fill(16 + 3, 0xaa),
    });
    expect(b.length).toBe(32 + 3);
    expect([...b.subarray(0, 16)]).toEqual([4, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0, 0, 1, 0, 0]);
    const p = parseMessageTransport(b)!;
    expect(p.counter).toBe(2 ** 40 + 5);
    expect(p.receiver).toBe(0x01020304);
    expect(p.content.length).toBe(19);
    expect(parseMessageTransport(b.subarray(0, 31))).toBeNull();
    expect(parseMessageTransport(b.subarray(0, 32))).not.toBeNull();
  });

  it('u64 helpers are exact up to 2^53', () => {
    const b = new Uint8Array(8);
    for (const v of [0, 1, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      writeU64LE(b, 0, v);
      expect(readU64LE(b, 0)).toBe(v);
    }
  });
});
