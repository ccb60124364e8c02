// LocalClient transports: tsnet's loopback LocalAPI on 127.0.0.1 with its credential (Sec-Tailscale
// header, Basic auth, Host/Origin checks), a unix socket in a temporary folder, a backend object in
// process; and the typed errors for refused connections, missing sockets and silent servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuthPassword,
  checkRequest,
  newLocalApiCredential,
  secretsEqual,
  validHost,
} from '../src/auth.js';
import { LocalClient } from '../src/client.js';
import { AccessDeniedError, LocalApiConnectError } from '../src/errors.js';
import { createLocalApiHandler } from '../src/handler.js';
import { ALICE_IP, sampleBackend } from './fixture.js';

const CRED = 'a3f1c0ffee0123456789abcdef012345';

function listen(
  server: Server | NetServer,
  where: { port: 0; host: string } | { path: string },
): Promise<void> {
  return new Promise((resolve) => server.listen(where, () => resolve()));
}

function close(server: Server | NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A raw request to the loopback listener with exactly the given headers. */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

describe('loopback LocalAPI (127.0.0.1, credential)', () => {
  let server: Server;
  let port = 0;
  const handler = createLocalApiHandler({
    backend: sampleBackend(),
    requiredPassword: CRED,
    requireSecTailscaleHeader: true,
  });
  beforeAll(async () => {
    server = createServer(handler);
    await listen(server, { port: 0, host: '127.0.0.1' });
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => close(server));

  it('LocalClient with the URL and credential works', async () => {
    const lc = new LocalClient({ url: `http://127.0.0.1:${port}`, credential: CRED });
    expect((await lc.whoIs(ALICE_IP)).UserProfile.LoginName).toBe('alice@example.com');
    expect((await lc.status()).BackendState).toBe('Running');
  });

  it('a wrong credential is 403 "bad password" → AccessDeniedError ERR_ACCESS_DENIED', async () => {
    const lc = new LocalClient({ url: `http://127.0.0.1:${port}`, credential: 'wrong' });
    const e = await lc.status().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AccessDeniedError);
    expect(e).toMatchObject({
      code: 'ERR_ACCESS_DENIED',
      status: 403,
      message: 'Access denied: bad password',
    });
  });

  it('refuses requests without the header, without auth, from a browser, or for another Host', async () => {
    const auth = `Basic ${Buffer.from(`:${CRED}`).toString('base64')}`;
    const ok = { 'Sec-Tailscale': 'localapi', Authorization: auth };
    expect((await rawGet(port, '/localapi/v0/status', ok)).status).toBe(200);
    expect(await rawGet(port, '/localapi/v0/status', { Authorization: auth })).toEqual({
      status: 403,
      body: "missing 'Sec-Tailscale: localapi' header\n",
    });
    expect(await rawGet(port, '/localapi/v0/status', { 'Sec-Tailscale': 'localapi' })).toEqual({
      status: 401,
      body: 'auth required\n',
    });
    for (const extra of [
      { Origin: 'https://evil.example' },
      { Referer: 'https://evil.example/' },
      { Host: 'evil.example:80' },
    ]) {
      const r = await rawGet(port, '/localapi/v0/status', { ...ok, ...extra });
      expect(r, JSON.stringify(extra)).toEqual({ status: 403, body: 'invalid localapi request\n' });
    }
    expect((await rawGet(port, '/localapi/v0/status', { ...ok, Host: `localhost:${port}` })).status).toBe(
      200,
    );
    expect(
      (
        await rawGet(port, '/localapi/v0/status', {
          ...ok,
          Authorization: `Basic ${Buffer.from(`tsnet:${CRED}`).toString('base64')}`,
        })
      ).status,
    ).toBe(200);
    expect(handler.stats.invalidRequests).toBeGreaterThanOrEqual(5);
  });

  it('an in-process handler without a password refuses Host headers other than local-tailscaled.sock', () => {
    expect(
      checkRequest(
        { host: '127.0.0.1:9' },
        { requireSecTailscaleHeader: false, requiredPassword: undefined },
      ),
    ).toEqual({
      status: 403,
      message: 'invalid localapi request',
    });
    expect(
      checkRequest(
        { host: 'local-tailscaled.sock' },
        { requireSecTailscaleHeader: false, requiredPassword: undefined },
      ),
    ).toBeNull();
  });
});

describe('auth helpers', () => {
  it('newLocalApiCredential is 32 hex digits, fresh each time', () => {
    const a = newLocalApiCredential();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newLocalApiCredential()).not.toBe(a);
  });
  it('secretsEqual compares any lengths', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
  });
  it('basicAuthPassword follows Go Request.BasicAuth', () => {
    const b = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(basicAuthPassword(b(':pw'))).toBe('pw');
    expect(basicAuthPassword(b('u:p:w'))).toBe('p:w');
    expect(basicAuthPassword(`bAsIc ${Buffer.from(':x').toString('base64')}`)).toBe('x');
    expect(basicAuthPassword(b('nocolon'))).toBeNull();
    expect(basicAuthPassword('Bearer abc')).toBeNull();
    expect(basicAuthPassword('Basic !!!')).toBeNull();
    expect(basicAuthPassword(undefined)).toBeNull();
  });
  it('validHost follows localapi.go validHost', () => {
    expect(validHost(undefined, false)).toBe(true);
    expect(validHost('local-tailscaled.sock', false)).toBe(true);
    expect(validHost('localhost:1', false)).toBe(false);
    expect(validHost('localhost:1', true)).toBe(true);
    expect(validHost('127.0.0.2:1', true)).toBe(true);
    expect(validHost('[::1]:1', true)).toBe(true);
    expect(validHost('[::2]:1', true)).toBe(false);
    expect(validHost('10.0.0.1:1', true)).toBe(false);
    expect(validHost('127.0.0.1', true)).toBe(false);
    expect(validHost('evil.example:1', true)).toBe(false);
  });
});

describe('unix socket transport', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsnet-localapi-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('talks to a LocalAPI served on a unix socket, with Host local-tailscaled.sock and Tailscale-Cap', async () => {
    const path = join(dir, 'a.sock');
    const seen: Record<string, unknown>[] = [];
    const inner = createLocalApiHandler({ backend: sampleBackend() });
    const server = createServer((req, res) => {
      seen.push({ ...req.headers });
      inner(req, res);
    });
    await listen(server, { path });
    try {
      const lc = new LocalClient({ socketPath: path });
      expect((await lc.whoIs(ALICE_IP)).Node.ID).toBe(2);
      expect(seen[0]).toMatchObject({ host: 'local-tailscaled.sock', 'tailscale-cap': '142' });
      expect(seen[0]).not.toHaveProperty('authorization');
    } finally {
      await close(server);
    }
  });

  it('a missing socket is LocalApiConnectError ENOENT', async () => {
    const lc = new LocalClient({ socketPath: join(dir, 'missing.sock') });
    const e = await lc.status().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LocalApiConnectError);
    expect(e).toMatchObject({ code: 'ENOENT' });
    expect((e as Error).message).toContain(
      'Failed to connect to local Tailscale daemon for /localapi/v0/status',
    );
  });

  it('a server that never answers is ETIMEDOUT after timeoutMs', async () => {
    const path = join(dir, 'silent.sock');
    const sockets: Socket[] = [];
    const silent = createNetServer((s) => {
      sockets.push(s);
    });
    await listen(silent, { path });
    try {
      const lc = new LocalClient({ socketPath: path, timeoutMs: 200 });
      await expect(lc.status()).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    } finally {
      for (const s of sockets) s.destroy();
      await close(silent);
    }
  });
});

describe('loopback transport errors and argument checks', () => {
  it('a closed port is LocalApiConnectError ECONNREFUSED', async () => {
    const s = createNetServer();
    await listen(s, { port: 0, host: '127.0.0.1' });
    const port = (s.address() as { port: number }).port;
    await close(s);
    const lc = new LocalClient({ url: `http://127.0.0.1:${port}`, credential: CRED });
    await expect(lc.status()).rejects.toMatchObject({ code: 'ECONNREFUSED', name: 'LocalApiConnectError' });
  });

  it('names the bad argument', () => {
    expect(() => new LocalClient({ socketPath: '' })).toThrow(/socketPath/);
    expect(() => new LocalClient({ url: 'https://x', credential: '' })).toThrow(/http:/);
    expect(() => new LocalClient({ socketPath: '/x', timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new LocalClient({} as never)).toThrow(/socketPath/);
    const lc = new LocalClient({ backend: sampleBackend() });
    expect(() => lc.whoIs('')).toThrow(/addr/);
    expect(() => lc.peerByID(0)).toThrow(/id/);
  });

  it('a backend object in process (no socket)', async () => {
    const lc = new LocalClient({ backend: sampleBackend() });
    expect((await lc.statusWithoutPeers()).Self?.HostName).toBe('self');
  });

  it('a response that is not the expected shape is ERR_LOCALAPI_DECODE naming the field', async () => {
    const lc = new LocalClient({
      transport: async () => ({
        status: 200,
        statusText: 'OK',
        headers: {},
        body: Buffer.from('{"Node":{"ID":1,"Key":"nope"},"UserProfile":{"ID":1}}'),
      }),
    });
    await expect(lc.whoIs('100.64.0.1')).rejects.toMatchObject({
      code: 'ERR_LOCALAPI_DECODE',
      message: expect.stringContaining('Node.Key'),
    });
  });
});
