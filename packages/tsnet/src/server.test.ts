import { describe, expect, it } from 'vitest';
import { Server, splitHostPort } from './server.js';

describe('splitHostPort', () => {
  it.each([
    [':80', '', 80],
    ['100.64.0.1:22', '100.64.0.1', 22],
    ['[fd7a:115c:a1e0::1]:443', 'fd7a:115c:a1e0::1', 443],
    ['gopeer:7', 'gopeer', 7],
  ])('%s', (addr, host, port) => {
    expect(splitHostPort(addr)).toEqual({ host, port });
  });

  it('refuses what is not host:port', () => {
    expect(() => splitHostPort('nope')).toThrow(TypeError);
    expect(() => splitHostPort(':99999')).toThrow(RangeError);
  });
});

describe('Server options', () => {
  it('names the field that is wrong', () => {
    expect(() => new Server({ hostname: 'bad name' })).toThrow(/hostname/);
    expect(() => new Server({ hostname: 'ok', port: 70000 })).toThrow(/port/);
    expect(() => new Server({ hostname: 'ok', controlUrl: 'not a url' })).toThrow(/controlUrl/);
  });

  it('refuses networks it does not support yet, and use after close', async () => {
    const s = new Server({ hostname: 'ok', controlUrl: 'http://127.0.0.1:9' });
    await expect(s.listen('udp' as 'tcp', ':1')).rejects.toThrow(/not supported/);
    await s.close();
    await expect(s.up()).rejects.toThrow(/closed/);
  });
});
