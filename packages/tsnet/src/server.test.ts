import { TsnetError } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultStateDir, programName, ServerOptionError, userConfigDir } from './options.js';
import { Server, splitHostPort } from './server.js';
import { MemoryStore } from './state/store.js';

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
  // Every option, given a wrong value, is refused with an error that names it.
  it.each<[string, Record<string, unknown>]>([
    ['hostname', { hostname: 'bad name' }],
    ['hostname', { hostname: '-dash' }],
    ['hostname', { hostname: 42 }],
    ['dir', { dir: '' }],
    ['dir', { dir: 7 }],
    ['store', { store: {} }],
    ['store', { store: { get() {} } }],
    ['authKey', { authKey: 12 }],
    ['ephemeral', { ephemeral: 'yes' }],
    ['controlUrl', { controlUrl: 'not a url' }],
    ['controlUrl', { controlUrl: 'ftp://example.com' }],
    ['advertiseTags', { advertiseTags: 'tag:x' }],
    ['advertiseTags.1', { advertiseTags: ['tag:ok', 'nottag'] }],
    ['logf', { logf: 'console' }],
    ['userLogf', { userLogf: {} }],
    ['port', { port: 70000 }],
    ['port', { port: 1.5 }],
    ['port', { port: -1 }],
    ['clientSecret', { clientSecret: 1 }],
    ['clientId', { clientId: true }],
    ['idToken', { idToken: [] }],
    ['audience', { audience: {} }],
    ['listenAddress', { listenAddress: 'localhost' }],
    ['derpUseHttp', { derpUseHttp: 1 }],
    ['hostnme', { hostnme: 'typo' }],
    ['options', null as unknown as Record<string, unknown>],
  ])('%s: %j', (field, opts) => {
    let err: unknown;
    try {
      new Server(opts as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ServerOptionError);
    expect((err as ServerOptionError).field).toBe(field);
    expect((err as ServerOptionError).code).toBe('ERR_INVALID_OPTION');
    expect((err as Error).message).toContain(`Server option ${field}:`);
  });

  it('accepts every option with a right value and freezes them', () => {
    const logf = () => {};
    const s = new Server({
      hostname: 'ok-1',
      dir: '/tmp/x',
      authKey: 'tskey-auth-x',
      ephemeral: true,
      controlUrl: 'http://127.0.0.1:9/',
      advertiseTags: ['tag:a'],
      logf,
      userLogf: logf,
      port: 0,
      listenAddress: '127.0.0.1',
      derpUseHttp: true,
    });
    expect(Object.isFrozen(s.options)).toBe(true);
    expect(Object.isFrozen(s.options.advertiseTags)).toBe(true);
    expect(s.controlUrl).toBe('http://127.0.0.1:9');
    expect(s.hostname).toBe('ok-1');
    expect(s.state).toBe('NoState');
  });

  it('refuses an in-memory store for a node that is not ephemeral (as Go)', () => {
    expect(() => new Server({ store: new MemoryStore() })).toThrow(/only supported for ephemeral/);
    expect(() => new Server({ store: new MemoryStore(), ephemeral: true })).not.toThrow();
  });

  it('defaults as Go: hostname from the program, dir under the user config dir', () => {
    expect(new Server({}).hostname).toBe(programName());
    expect(programName()).toMatch(/^[a-z0-9-]+$/);
    expect(defaultStateDir()).toBe(`${userConfigDir()}/tsnet-${programName()}`);
  });
});

describe('Server auth precedence (Go tsnet, protocol-map §10.3)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of [
      'TS_AUTHKEY',
      'TS_AUTH_KEY',
      'TS_CLIENT_SECRET',
      'TS_CLIENT_ID',
      'TS_ID_TOKEN',
      'TS_AUDIENCE',
    ]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const base = { controlUrl: 'http://127.0.0.1:9', store: new MemoryStore(), ephemeral: true };

  it('OAuth client secrets say "not supported yet" rather than being ignored', async () => {
    for (const opts of [{ clientSecret: 'tskey-client-abc' }, { authKey: 'tskey-client-abc' }]) {
      const s = new Server({ ...base, store: new MemoryStore(), ...opts });
      await expect(s.start()).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', message: /OAuth/ });
      await s.close();
    }
    process.env.TS_CLIENT_SECRET = 'tskey-client-env';
    const s = new Server({ ...base, store: new MemoryStore() });
    await expect(s.start()).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    await s.close();
  });

  it('workload identity says "not supported yet"', async () => {
    const s = new Server({ ...base, store: new MemoryStore(), clientId: 'id', idToken: 'tok' });
    await expect(s.start()).rejects.toMatchObject({
      code: 'ERR_NOT_SUPPORTED',
      message: /workload identity/,
    });
    await s.close();
    process.env.TS_AUDIENCE = 'aud';
    const s2 = new Server({ ...base, store: new MemoryStore() });
    await expect(s2.start()).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    await s2.close();
  });

  it('an auth key wins over OAuth fields, and the user is told those are ignored', async () => {
    const lines: string[] = [];
    const s = new Server({
      ...base,
      store: new MemoryStore(),
      authKey: 'tskey-auth-x',
      clientSecret: 'tskey-client-y',
      userLogf: (f, ...a) => lines.push(`${f} ${a.join(' ')}`),
    });
    // start() gets past auth (control at :9 refuses; that error comes later, from up()).
    await s.start();
    expect(lines.some((l) => l.includes('clientSecret'))).toBe(true);
    await s.close();
  });

  it('use after close is ERR_CLOSED; bad networks are TypeErrors', async () => {
    const s = new Server({ ...base, store: new MemoryStore() });
    await expect(s.listen('sctp' as 'tcp', ':1')).rejects.toThrow(TypeError);
    await s.close();
    await expect(s.up()).rejects.toSatisfy((e) => TsnetError.is(e) && e.code === 'ERR_CLOSED');
    await expect(s.dial('tcp', 'x:1')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
