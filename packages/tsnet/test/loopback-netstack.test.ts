// The loopback SOCKS5 proxy in front of a real user-space TCP path: the proxy's dial opens netstack
// connections over an in-memory link to an HTTP server on the other stack (what a Server does on a
// tailnet). Clients: curl and undici's Socks5ProxyAgent, neither of them ours.
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { TsnetError } from '@tsnet/core';
import { createLocalApiHandler, newLocalApiCredential } from '@tsnet/localapi';
import { createPipe, Stack } from '@tsnet/netstack';
import { Socks5ProxyAgent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TailnetDial } from '../src/http/dial.js';
import { type HttpServing, serveHttp } from '../src/http/serve.js';
import { type Loopback, startLoopback } from '../src/loopback/loopback.js';

const SERVER_IP = '100.64.0.1';
const NAMES: Record<string, string> = { 'web.tailnet': SERVER_IP };

const pipe = createPipe({ mtu: 1280 });
const serverStack = new Stack({ link: pipe.a, addresses: [SERVER_IP, 'fd7a:115c:a1e0::1'] });
const clientStack = new Stack({ link: pipe.b, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::2'] });
const dial: TailnetDial = (host, port) =>
  new Promise<Duplex>((resolve, reject) => {
    const ip = NAMES[host] ?? host;
    if (!/^[\d.]+$|:/.test(ip)) {
      reject(new TsnetError('ENOTFOUND', `no peer named ${host}`));
      return;
    }
    const s = clientStack.connect({ host: ip, port });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/curl',
      ['-sS', '--max-time', '15', ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      },
    );
  });
}
const hasCurl = await curl(['--version']).then((r) => r.code === 0);

let lb: Loopback;
let serving: HttpServing;
beforeAll(async () => {
  const web = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
    });
    req.on('end', () => res.end(`netstack ${req.method} ${req.url} ${n} from ${req.socket.remoteAddress}`));
  });
  serving = serveHttp(serverStack.listen({ port: 80 }), web);
  const cred = newLocalApiCredential();
  lb = await startLoopback({
    dial,
    localApi: createLocalApiHandler({
      backend: { whoIs: () => null, status: () => ({}) as never, prefs: () => ({}) as never },
      requiredPassword: cred,
      requireSecTailscaleHeader: true,
    }),
    credential: { localApi: cred },
  });
});
afterAll(async () => {
  await lb.close();
  await serving.close();
  serverStack.close();
  clientStack.close();
});

describe('loopback SOCKS5 onto netstack', () => {
  it.skipIf(!hasCurl)(
    'curl reaches an HTTP server on the other stack; a closed port is "connection refused"',
    async () => {
      const proxy = ['--socks5-hostname', lb.address, '--proxy-user', `tsnet:${lb.proxyCredential}`];
      const ok = await curl([...proxy, '--data-binary', 'x'.repeat(100_000), 'http://web.tailnet/curl']);
      expect(ok).toMatchObject({ code: 0, stdout: 'netstack POST /curl 100000 from 100.64.0.2' });
      const refused = await curl([...proxy, 'http://web.tailnet:81/']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/\(5\)/);
    },
  );

  it("undici's Socks5ProxyAgent (username/password) fetches through the proxy", async () => {
    const agent = new Socks5ProxyAgent(`socks5://${lb.address}`, {
      username: lb.proxyUsername,
      password: lb.proxyCredential,
    });
    try {
      const res = await undiciFetch('http://web.tailnet/undici', { dispatcher: agent });
      expect(await res.text()).toBe('netstack GET /undici 0 from 100.64.0.2');
      const wrong = new Socks5ProxyAgent(`socks5://${lb.address}`, { username: 'tsnet', password: 'nope' });
      await expect(undiciFetch('http://web.tailnet/', { dispatcher: wrong })).rejects.toThrow();
      await wrong.close();
      expect(lb.stats.socks.refused['auth-failed']).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.close();
    }
  });
});
