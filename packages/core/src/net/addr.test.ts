import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError, TsnetError } from '../errors.js';
import { AddrPort, IPAddr, IPPrefix } from './addr.js';

// Expected forms follow Go's net/netip (tailscale's JSON uses them); the valid/invalid cases are
// those of Go's netip_test.go ParseAddr/ParsePrefix/ParseAddrPort tables, re-derived by hand.
describe('IPAddr', () => {
  it.each([
    ['100.64.0.1', '100.64.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['fd7a:115c:a1e0::1', 'fd7a:115c:a1e0::1'],
    ['FD7A:115C:A1E0:0:0:0:0:1', 'fd7a:115c:a1e0::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (RFC 5952 §4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::102:304'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1::', '1::'],
  ])('parses %s as %s', (input, want) => {
    expect(IPAddr.parse(input).toString()).toBe(want);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.04',
    '1.2.3.256',
    '1.2..4',
    '1.2.3.4%eth0',
    '%eth0',
    'fe80::1%',
    ':::',
    '1:::2',
    '1::2::3',
    ':1:2',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '1:2:3:4:5:6:7:8::',
    '1.2.3.4:80',
    'g::1',
    '::1.2.3',
    '1:2:3:4:5:1.2.3.4',
    'localhost',
  ])('rejects %j with a ParseError that shows the input', (input) => {
    let err: unknown;
    try {
      IPAddr.parse(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect(TsnetError.is(err)).toBe(true);
    expect((err as ParseError).code).toBe('ERR_PARSE');
    expect((err as Error).message).toContain(JSON.stringify(input));
    expect(IPAddr.tryParse(input)).toBeNull();
  });

  it('knows families and unmaps IPv4-in-IPv6', () => {
    const a = IPAddr.parse('::ffff:10.1.2.3');
    expect(a.is6()).toBe(true);
    expect(a.is4In6()).toBe(true);
    expect(a.unmap().toString()).toBe('10.1.2.3');
    expect(a.unmap().is4()).toBe(true);
    expect(IPAddr.parse('1.2.3.4').bitLen).toBe(32);
    expect(IPAddr.parse('::').bitLen).toBe(128);
  });

  it('compares like Go: IPv4 before IPv6, then bytes, then zone', () => {
    const sorted = ['::1', '1.2.3.4', 'fe80::1%b', '0.0.0.1', 'fe80::1%a', '::']
      .map((s) => IPAddr.parse(s))
      .sort((x, y) => x.compare(y))
      .map(String);
    expect(sorted).toEqual(['0.0.0.1', '1.2.3.4', '::', '::1', 'fe80::1%a', 'fe80::1%b']);
  });

  it('round-trips random addresses, and formats IPv6 as RFC 5952 (cross-checked with WHATWG URL)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, sparse) => {
        if (sparse) for (let i = 0; i < 16; i++) if (bytes[i]! % 3 !== 0) bytes[i] = 0;
        const a = IPAddr.fromBytes(bytes);
        const text = a.toString();
        expect(IPAddr.parse(text).equals(a)).toBe(true);
        expect(isIPv6(text)).toBe(true);
        if (!a.is4In6() && !(bytes.subarray(0, 12).every((b) => b === 0) && text.includes('.'))) {
          expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const a = IPAddr.fromBytes(bytes);
        expect(IPAddr.parse(a.toString()).equals(a)).toBe(true);
      }),
    );
  });

  it('fuzz: random strings give a value or a ParseError, never another exception', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.%[]/ -x'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 50 })), (s) => {
        for (const parse of [IPAddr.parse, IPPrefix.parse, AddrPort.parse]) {
          try {
            const v = parse(s);
            expect(parse(v.toString()).toString()).toBe(v.toString());
          } catch (e) {
            expect(e).toBeInstanceOf(ParseError);
          }
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects misuse with TypeError/RangeError naming the argument', () => {
    expect(() => IPAddr.fromBytes(new Uint8Array(5))).toThrow(/bytes must be 4 or 16/);
    expect(() => IPAddr.fromBytes(new Uint8Array(4), 'eth0')).toThrow(TypeError);
    expect(() => IPAddr.parse(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('IPPrefix', () => {
  it.each([
    ['100.64.0.0/10', '100.64.0.0/10'],
    ['100.64.0.1/32', '100.64.0.1/32'],
    ['fd7a:115c:a1e0::/48', 'fd7a:115c:a1e0::/48'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::/0', '::/0'],
    ['1.2.3.4/24', '1.2.3.4/24'], // not masked, as Go
  ])('parses %s', (input, want) => {
    expect(IPPrefix.parse(input).toString()).toBe(want);
  });

  it.each([
    '1.2.3.4',
    '1.2.3.4/33',
    '::/129',
    '1.2.3.4/08',
    '1.2.3.4/+8',
    '1.2.3.4/',
    'fe80::1%eth0/64',
    '/8',
    '1.2.3.4/-1',
  ])('rejects %j', (input) => {
    expect(() => IPPrefix.parse(input)).toThrow(ParseError);
  });

  it('masks and tests containment like Go', () => {
    const p = IPPrefix.parse('100.64.1.7/10');
    expect(p.masked().toString()).toBe('100.64.0.0/10');
    expect(p.contains(IPAddr.parse('100.127.255.255'))).toBe(true);
    expect(p.contains(IPAddr.parse('100.128.0.0'))).toBe(false);
    expect(p.contains(IPAddr.parse('::ffff:100.64.0.1'))).toBe(false); // families must match
    const v6 = IPPrefix.parse('fd7a:115c:a1e0::/48');
    expect(v6.contains(IPAddr.parse('fd7a:115c:a1e0:ab12::1'))).toBe(true);
    expect(v6.contains(IPAddr.parse('fd7a:115c:a1e1::1'))).toBe(false);
    expect(v6.contains(IPAddr.parse('fd7a:115c:a1e0::1%eth0'))).toBe(false);
    expect(IPPrefix.parse('0.0.0.0/0').contains(IPAddr.parse('9.9.9.9'))).toBe(true);
    expect(IPPrefix.parse('1.2.3.4/32').isSingleIP()).toBe(true);
    expect(IPPrefix.parse('fd00::7/121').masked().toString()).toBe('fd00::/121');
  });
});

describe('AddrPort', () => {
  it.each([
    ['1.2.3.4:80', '1.2.3.4:80'],
    ['[::1]:41641', '[::1]:41641'],
    ['[fd7a:115c:a1e0::1]:41641', '[fd7a:115c:a1e0::1]:41641'],
    ['[fe80::1%eth0]:0', '[fe80::1%eth0]:0'],
    ['[::ffff:1.2.3.4]:5', '[::ffff:1.2.3.4]:5'],
    ['1.2.3.4:0080', '1.2.3.4:80'],
  ])('parses %s', (input, want) => {
    expect(AddrPort.parse(input).toString()).toBe(want);
  });

  it.each([
    '1.2.3.4',
    '1.2.3.4:',
    ':80',
    '[1.2.3.4]:80',
    '::1:80',
    '[::1]80',
    '[::1:80',
    '1.2.3.4:65536',
    '1.2.3.4:-1',
    '1.2.3.4:8a',
  ])('rejects %j', (input) => {
    expect(() => AddrPort.parse(input)).toThrow(ParseError);
  });

  it('serializes to JSON as Go does', () => {
    expect(JSON.stringify({ a: AddrPort.parse('[::1]:1'), p: IPPrefix.parse('10.0.0.0/8') })).toBe(
      '{"a":"[::1]:1","p":"10.0.0.0/8"}',
    );
    expect(() => new AddrPort(IPAddr.parse('::1'), 70000)).toThrow(RangeError);
  });
});
