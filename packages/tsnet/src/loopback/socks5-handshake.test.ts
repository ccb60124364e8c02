import { describe, expect, it } from 'vitest';
import { Socks5Handshake, type Socks5Step, secretBytesEqual } from './socks5-handshake.js';
import { emitGreeting, emitRequest, emitUserPass, SOCKS5_COMMAND } from './socks5-wire.js';

const creds = { username: 'tsnet', password: 'c0ffee' };
const hex = (b: Uint8Array[]) => b.map((x) => Buffer.from(x).toString('hex')).join(' ');
const target = { type: 'domain', host: 'web.tailnet', port: 80 } as const;
const good = () => [emitGreeting([0, 2]), emitUserPass('tsnet', 'c0ffee'), emitRequest(1, target)];
const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

/** Feeds `input` split at `cuts`, collecting output until a final decision. */
function feed(
  input: Uint8Array,
  cuts: number[],
): { out: Uint8Array[]; last: Socks5Step['decision']; unfed: Uint8Array } {
  const hs = new Socks5Handshake(creds);
  const out: Uint8Array[] = [];
  let last: Socks5Step['decision'] = { kind: 'need-more' };
  let at = 0;
  for (const end of [...cuts, input.length]) {
    const step = hs.receive(input.subarray(at, end));
    out.push(...step.output);
    last = step.decision;
    at = end;
    if (last.kind !== 'need-more') break;
  }
  return { out, last, unfed: input.subarray(at) };
}

describe('Socks5Handshake', () => {
  it('selects username/password, accepts the credentials and decides CONNECT', () => {
    const { out, last } = feed(concat(good()), []);
    expect(hex(out)).toBe('0502 0100');
    expect(last).toEqual({ kind: 'connect', target, rest: new Uint8Array(0) });
  });

  it('gives the same answers however the bytes are split, and hands over early data', () => {
    const input = concat([...good(), Uint8Array.from([7, 8, 9])]);
    for (let cut = 0; cut <= input.length; cut++) {
      const { out, last, unfed } = feed(input, [cut]);
      expect(hex(out)).toBe('0502 0100');
      expect(last.kind === 'connect' && [...last.rest, ...unfed]).toEqual([7, 8, 9]);
    }
  });

  it('refuses a client that offers no authentication only (05 FF)', () => {
    const { out, last } = feed(emitGreeting([0]), []);
    expect(hex(out)).toBe('05ff');
    expect(last).toMatchObject({ kind: 'refuse', reason: 'no-acceptable-method' });
  });

  it('refuses a wrong password and a wrong username alike (01 01)', () => {
    for (const [u, p] of [
      ['tsnet', 'wrong'],
      ['root', 'c0ffee'],
      ['', ''],
    ] as const) {
      const { out, last } = feed(concat([emitGreeting([2]), emitUserPass(u, p), emitRequest(1, target)]), []);
      expect(hex(out)).toBe('0502 0101');
      expect(last).toMatchObject({ kind: 'refuse', reason: 'auth-failed' });
    }
  });

  it('answers BIND and UDP ASSOCIATE with "command not supported" (07)', () => {
    for (const cmd of [SOCKS5_COMMAND.bind, SOCKS5_COMMAND.udpAssociate, 0, 9]) {
      const { out, last } = feed(
        concat([emitGreeting([2]), emitUserPass('tsnet', 'c0ffee'), emitRequest(cmd, target)]),
        [],
      );
      expect(hex(out)).toBe('0502 0100 05070001000000000000');
      expect(last).toMatchObject({ kind: 'refuse', reason: 'command-not-supported' });
    }
  });

  it('answers an unknown address type with "address type not supported" (08)', () => {
    const req = Uint8Array.from([5, 1, 0, 2, 1, 2, 3, 4, 0, 80]);
    const { out, last } = feed(concat([emitGreeting([2]), emitUserPass('tsnet', 'c0ffee'), req]), []);
    expect(hex(out)).toBe('0502 0100 05080001000000000000');
    expect(last).toMatchObject({ kind: 'refuse', reason: 'address-type-not-supported' });
  });

  it('refuses a sub-negotiation with a wrong version', () => {
    const { out, last } = feed(concat([emitGreeting([2]), Uint8Array.from([5, 1, 0x61, 1, 0x62])]), []);
    expect(hex(out)).toBe('0502 0101');
    expect(last).toMatchObject({ kind: 'refuse', reason: 'bad-version' });
  });

  it('refuses more bytes after its decision, and checks its arguments', () => {
    const hs = new Socks5Handshake(creds);
    hs.receive(emitGreeting([0]));
    expect(hs.state).toBe('closed');
    expect(hs.receive(Uint8Array.of(1)).decision.kind).toBe('refuse');
    expect(() => new Socks5Handshake({ username: 'tsnet', password: '' })).toThrow(RangeError);
    expect(() => new Socks5Handshake({} as never)).toThrow(TypeError);
  });

  it('compares secrets of any lengths', () => {
    const b = (s: string) => Buffer.from(s);
    expect(secretBytesEqual(b('abc'), b('abc'))).toBe(true);
    expect(secretBytesEqual(b('abc'), b('abd'))).toBe(false);
    expect(secretBytesEqual(b('abc'), b('abcd'))).toBe(false);
    expect(secretBytesEqual(b(''), b(''))).toBe(true);
  });
});
