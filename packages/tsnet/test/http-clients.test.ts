// HTTP clients whose connections go through the tailnet dialer: createFetch (undici fetch: http,
// https, HTTP/2 by ALPN, streaming, errors), createDispatcher with undici.request, http.request with
// tailnetCreateConnection. Two netstack Stacks over an in-memory pipe on the real clock stand in
// for the tailnet; the servers are Node's own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { TsnetError } from '@tsnet/core';
import { createPipe, Stack } from '@tsnet/netstack';
import { request as undiciRequest } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tailnetCreateConnection } from '../src/http/agent.js';
import type { TailnetDial } from '../src/http/dial.js';
import { createDispatcher, createFetch } from '../src/http/fetch.js';
import { serveHttp } from '../src/http/serve.js';

const SERVER_IP = '100.64.0.1';
const SERVER_IP6 = 'fd7a:115c:a1e0::1';
const NAMES: Record<string, string> = { 'web.tailnet': SERVER_IP };

/** Every dial, as `host port`. */
const dialed: string[] = [];

function tailnetLink() {
  const pipe = createPipe({ mtu: 1280 });
  const server = new Stack({ link: pipe.a, addresses: [SERVER_IP, SERVER_IP6] });
  const client = new Stack({ link: pipe.b, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::2'] });
  const dial: TailnetDial = (host, port) =>
    new Promise<Duplex>((resolve, reject) => {
      dialed.push(`${host} ${port}`);
      const ip = NAMES[host] ?? host;
      if (!/^[\d.]+$|:/.test(ip)) {
        reject(new TsnetError('ENOTFOUND', `no peer named ${host}`));
        return;
      }
      const s = client.connect({ host: ip, port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
  const close = () => {
    server.close();
    client.close();
  };
  return { server, client, dial, close };
}

let link: ReturnType<typeof tailnetLink>;
const cleanups: (() => unknown)[] = [];
let cert: { key: string; cert: string } | undefined;
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(() => {
  link = tailnetLink();
  // Plain HTTP on :80: echoes method, path, body size and the caller's tailnet address.
  const plain = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
    });
    req.on('end', () => {
      if (req.url === '/stream') {
        res.write('one,');
        setTimeout(() => res.end('two'), 20);
        return;
      }
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://[${SERVER_IP6}]/landed` }).end();
        return;
      }
      res.setHeader('x-peer', req.socket.remoteAddress ?? '');
      res.end(`${req.method} ${req.url} ${n} host=${req.headers.host}`);
    });
  });
  const ln80 = serveHttp(link.server.listen({ port: 80 }), plain);
  cleanups.push(() => ln80.close());
  if (hasOpenssl) {
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-cert-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '2',
          '-subj',
          '/CN=web.tailnet',
          '-addext',
          `subjectAltName=DNS:web.tailnet,IP:${SERVER_IP}`,
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore', timeout: 30_000 },
      );
      cert = {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const secure = https.createServer({ ...cert }, (req, res) =>
      res.end(`https ${req.url} alpn=${(req.socket as import('node:tls').TLSSocket).alpnProtocol}`),
    );
    const ln443 = serveHttp(link.server.listen({ port: 443 }), secure);
    const h2 = http2.createSecureServer({ ...cert, allowHTTP1: true }, (req, res) =>
      res.end(`h2 ${req.url} version=${req.httpVersion}`),
    );
    const ln8443 = serveHttp(link.server.listen({ port: 8443 }), h2);
    cleanups.push(
      () => ln443.close(),
      () => ln8443.close(),
    );
  }
});
afterEach(() => {
  dialed.length = 0;
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  link.close();
});

describe('createFetch (undici) over the tailnet', () => {
  it('GET and POST by name and by IPv6 address; the server sees our tailnet address', async () => {
    const tsFetch = createFetch(link.dial);
    try {
      const a = await tsFetch('http://web.tailnet/hello?x=1');
      expect(a.status).toBe(200);
      expect(a.headers.get('x-peer')).toBe('100.64.0.2');
      expect(await a.text()).toBe('GET /hello?x=1 0 host=web.tailnet');
      const b = await tsFetch(`http://[${SERVER_IP6}]/post`, {
        method: 'POST',
        body: new Uint8Array(300_000),
      });
      expect(await b.text()).toBe(`POST /post 300000 host=[${SERVER_IP6}]`);
      expect(b.headers.get('x-peer')).toBe('fd7a:115c:a1e0::2');
      expect(dialed).toEqual(['web.tailnet 80', `${SERVER_IP6} 80`]);
    } finally {
      await tsFetch.close();
    }
  });

  it('streams a response body and follows a redirect through the dialer', async () => {
    const tsFetch = createFetch(link.dial);
    try {
      const res = await tsFetch('http://web.tailnet/stream');
      const parts: string[] = [];
      const dec = new TextDecoder();
      for await (const chunk of res.body ?? []) parts.push(dec.decode(chunk as Uint8Array));
      expect(parts.join('')).toBe('one,two');
      const r = await tsFetch('http://web.tailnet/redirect');
      expect(r.redirected).toBe(true);
      expect(await r.text()).toBe(`GET /landed 0 host=[${SERVER_IP6}]`);
    } finally {
      await tsFetch.close();
    }
  });

  it('reuses connections for sequential requests (keep-alive)', async () => {
    const tsFetch = createFetch(link.dial);
    try {
      for (let i = 0; i < 6; i++) await (await tsFetch(`http://web.tailnet/${i}`)).text();
      // undici's pool may open a second connection while the first drains (it does so on plain
      // TCP too); what matters is that connections are kept and reused.
      expect(dialed.length).toBeLessThanOrEqual(2);
    } finally {
      await tsFetch.close();
    }
  });

  it('a dial error rejects with fetch failed and the dialer’s error as cause', async () => {
    const tsFetch = createFetch(link.dial);
    try {
      const err = await tsFetch('http://nobody.tailnet/').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { cause?: { code?: string } }).cause?.code).toBe('ENOTFOUND');
      const refused = await tsFetch('http://web.tailnet:81/').catch((e: unknown) => e);
      expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    } finally {
      await tsFetch.close();
    }
  });

  it.skipIf(!hasOpenssl)('https: TLS by undici over the dialed stream, with the given CA', async () => {
    const tsFetch = createFetch(link.dial, { connect: { ca: cert?.cert } });
    const untrusted = createFetch(link.dial);
    try {
      expect(await (await tsFetch('https://web.tailnet/sec')).text()).toBe('https /sec alpn=http/1.1');
      expect(await (await tsFetch(`https://${SERVER_IP}/ip`)).text()).toBe('https /ip alpn=http/1.1');
      const err = await untrusted('https://web.tailnet/').catch((e: unknown) => e);
      expect(String((err as { cause?: unknown }).cause)).toMatch(/self.signed|certificate/i);
    } finally {
      await tsFetch.close();
      await untrusted.close();
    }
  });

  it.skipIf(!hasOpenssl)('HTTP/2 by ALPN with allowH2', async () => {
    const tsFetch = createFetch(link.dial, { allowH2: true, connect: { ca: cert?.cert } });
    try {
      const all = await Promise.all(
        ['/x', '/y'].map(async (p) => (await tsFetch(`https://web.tailnet:8443${p}`)).text()),
      );
      expect(all).toEqual(['h2 /x version=2.0', 'h2 /y version=2.0']);
    } finally {
      await tsFetch.close();
    }
  });
});

describe('createDispatcher and http.request', () => {
  it('undici.request with the tailnet dispatcher', async () => {
    const dispatcher = createDispatcher(link.dial);
    try {
      const { statusCode, body } = await undiciRequest('http://web.tailnet/undici', { dispatcher });
      expect(statusCode).toBe(200);
      expect(await body.text()).toBe('GET /undici 0 host=web.tailnet');
    } finally {
      await dispatcher.close();
    }
  });

  it('http.request with tailnetCreateConnection (and no agent) dials the tailnet; errors reach the request', async () => {
    const createConnection = tailnetCreateConnection(link.dial);
    const get = (url: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get(url, { createConnection }, (res) => {
            let s = '';
            res.on('data', (d: Buffer) => {
              s += d;
            });
            res.on('end', () => resolve(s));
          })
          .on('error', reject);
      });
    // Without an agent Node writes the port into Host even when it is the default.
    expect(await get('http://web.tailnet/cc')).toBe('GET /cc 0 host=web.tailnet:80');
    expect(await get(`http://[${SERVER_IP6}]/cc6`)).toBe(`GET /cc6 0 host=[${SERVER_IP6}]:80`);
    await expect(get('http://nobody.tailnet/')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dialed).toEqual(['web.tailnet 80', `${SERVER_IP6} 80`, 'nobody.tailnet 80']);
  });

  it.skipIf(!hasOpenssl)(
    'https.request with tailnetCreateConnection({ tls: true }) and an explicit port',
    async () => {
      const createConnection = tailnetCreateConnection(link.dial, { tls: true });
      const body = await new Promise<string>((resolve, reject) => {
        // Without an agent Node defaults the port to 80 even for https (and a URL drops :443): give it.
        https
          .get('https://web.tailnet/cc', { createConnection, ca: cert?.cert, port: 443 }, (res) => {
            let s = '';
            res.on('data', (d: Buffer) => {
              s += d;
            });
            res.on('end', () => resolve(s));
          })
          .on('error', reject);
      });
      expect(body).toBe('https /cc alpn=false');
    },
  );

  it('checks its arguments', () => {
    expect(() => createFetch(undefined as never)).toThrow(TypeError);
    expect(() => tailnetCreateConnection('x' as never)).toThrow(TypeError);
    expect(() => serveHttp({} as never, http.createServer())).toThrow(TypeError);
  });
});
