import { describe, expect, it } from 'vitest';
import {
  emitGreeting,
  emitReply,
  emitRequest,
  emitUserPass,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  MAX_USERPASS_BYTES,
  parseGreeting,
  parseReply,
  parseRequest,
  parseUserPass,
  SOCKS5_COMMAND,
  SOCKS5_REPLY,
  type Socks5Address,
} from './socks5-wire.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('SOCKS5 wire (RFC 1928, RFC 1929)', () => {
  it('parses a greeting and needs more until NMETHODS methods are there', () => {
    const g = bytes('05 02 00 02');
    expect(parseGreeting(g)).toEqual({ methods: Uint8Array.from([0, 2]), length: 4 });
    for (let n = 0; n < g.length; n++) expect(parseGreeting(g.subarray(0, n))).toBeNull();
    expect(parseGreeting(bytes('04 01 00'))).toEqual({ error: 'bad-version', value: 4 });
    expect(parseGreeting(bytes('05 00'))).toEqual({ methods: new Uint8Array(0), length: 2 });
    expect(hex(emitGreeting([0, 2]))).toBe('05020002');
    expect(emitGreeting(Array(255).fill(2)).length).toBe(MAX_GREETING_BYTES);
    expect(() => emitGreeting(Array(256).fill(2))).toThrow(RangeError);
  });

  it('parses username/password (RFC 1929 §2), round trip, truncations and the longest message', () => {
    const m = emitUserPass('tsnet', 'secret');
    expect(hex(m)).toBe(`0105${hex(Buffer.from('tsnet'))}06${hex(Buffer.from('secret'))}`);
    const p = parseUserPass(m);
    expect(p).toMatchObject({ length: m.length });
    expect(p && 'username' in p && Buffer.from(p.username).toString()).toBe('tsnet');
    expect(p && 'password' in p && Buffer.from(p.password).toString()).toBe('secret');
    for (let n = 0; n < m.length; n++) expect(parseUserPass(m.subarray(0, n))).toBeNull();
    expect(parseUserPass(bytes('05 00 00'))).toEqual({ error: 'bad-version', value: 5 });
    expect(emitUserPass('u'.repeat(255), 'p'.repeat(255)).length).toBe(MAX_USERPASS_BYTES);
    expect(() => emitUserPass('u'.repeat(256), 'p')).toThrow(/username/);
  });

  it('parses the three address types of a request (RFC 1928 §4, §5)', () => {
    const cases: [string, Socks5Address][] = [
      ['05 01 00 01 64400005 0050', { type: 'ipv4', host: '100.64.0.5', port: 80 }],
      [
        '05 01 00 04 fd7a115ca1e000000000000000000005 1f90',
        { type: 'ipv6', host: 'fd7a:115c:a1e0::5', port: 8080 },
      ],
      ['05 01 00 03 0b 7765622e7461696c6e6574 ffff', { type: 'domain', host: 'web.tailnet', port: 65535 }],
    ];
    for (const [h, address] of cases) {
      const b = bytes(h);
      expect(parseRequest(b)).toEqual({ command: 1, address, length: b.length });
      expect(hex(emitRequest(SOCKS5_COMMAND.connect, address))).toBe(hex(b));
      for (let n = 0; n < b.length; n++) expect(parseRequest(b.subarray(0, n))).toBeNull();
      // Extra bytes after a request are not part of it.
      expect(parseRequest(Uint8Array.from([...b, 1, 2, 3]))).toMatchObject({ length: b.length });
    }
  });

  it('reports impossible requests: wrong version, unknown ATYP, an empty name', () => {
    expect(parseRequest(bytes('04 01 00 01'))).toEqual({ error: 'bad-version', value: 4 });
    expect(parseRequest(bytes('05 01 00 02 00'))).toEqual({ error: 'bad-address-type', value: 2 });
    expect(parseRequest(bytes('05 01 00 03 00 0050'))).toEqual({ error: 'empty-domain', value: 0 });
    const longest = emitRequest(1, { type: 'domain', host: 'a'.repeat(255), port: 1 });
    expect(longest.length).toBe(MAX_REQUEST_BYTES);
    expect(() => emitRequest(1, { type: 'domain', host: 'a'.repeat(256), port: 1 })).toThrow(RangeError);
    expect(() => emitRequest(1, { type: 'ipv4', host: '::1', port: 1 })).toThrow(RangeError);
    expect(() => emitRequest(1, { type: 'ipv4', host: '1.2.3.4', port: 65536 })).toThrow(/port/);
  });

  it('emits replies with 0.0.0.0:0 by default and parses them back', () => {
    expect(hex(emitReply(SOCKS5_REPLY.hostUnreachable))).toBe('05040001000000000000');
    const bind: Socks5Address = { type: 'ipv6', host: 'fd7a:115c:a1e0::1', port: 1234 };
    const r = emitReply(SOCKS5_REPLY.succeeded, bind);
    expect(parseReply(r)).toEqual({ reply: 0, address: bind, length: 22 });
    expect(parseReply(r.subarray(0, 21))).toBeNull();
  });
});
