import { describe, expect, it } from 'vitest';
import { ParseError, quoteInput, TsnetError } from './errors.js';
import { lineLogf, prefixLogf } from './log.js';

describe('TsnetError', () => {
  it('carries a code and a cause, and is recognised by its brand across copies', () => {
    const cause = new Error('socket hang up');
    const e = new TsnetError('ECONNRESET', 'connection reset by peer', { cause });
    expect(e.code).toBe('ECONNRESET');
    expect(e.cause).toBe(cause);
    expect(e.name).toBe('TsnetError');
    expect(TsnetError.is(e)).toBe(true);
    // An error from another installed copy of the package: a different class, the same registered brand.
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@tsnet/core.TsnetError')]: true });
    expect(TsnetError.is(foreign)).toBe(true);
    expect(TsnetError.is(new Error('plain'))).toBe(false);
    expect(TsnetError.is(null)).toBe(false);
    const p = new ParseError('IP address', 'bad');
    expect(p.name).toBe('ParseError');
    expect(p).toBeInstanceOf(TsnetError);
  });

  it('quotes input cut to a bound', () => {
    expect(quoteInput('abc')).toBe('"abc"');
    expect(quoteInput('x'.repeat(1000))).toMatch(/… \(1000 chars\)$/);
    expect(quoteInput('x'.repeat(1000)).length).toBeLessThan(110);
  });
});

describe('Logf helpers', () => {
  it('format printf-style lines with a prefix', () => {
    const lines: string[] = [];
    const logf = prefixLogf(
      lineLogf((l) => lines.push(l)),
      'wg: ',
    );
    logf('peer %s: %d bytes', 'abc', 42);
    expect(lines).toEqual(['wg: peer abc: 42 bytes\n']);
  });
});
