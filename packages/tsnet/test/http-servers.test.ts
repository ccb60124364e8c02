// Real Node HTTP servers and frameworks served on a tailnet listener with serveHttp: node:http,
// node:https, node:http2 (h2c and TLS), Express, Fastify, Hono (@hono/node-server) and a `ws`
// WebSocketServer. The link is two netstack Stacks over an in-memory pipe on the real clock, so the
// listener and the dialer are real user-space TCP, as on a tailnet; the clients are Node's own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { createAdaptorServer } from '@hono/node-server';
import { TsnetError } from '@tsnet/core';
import { createPipe, Stack } from '@tsnet/netstack';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { httpAgent, httpsAgent, tailnetCreateConnection } from '../src/http/agent.js';
import type { TailnetDial } from '../src/http/dial.js';
import { type HttpServing, serveHttp } from '../src/http/serve.js';

const SERVER_IP = '100.64.0.1';
const SERVER_IP6 = 'fd7a:115c:a1e0::1';
const NAMES: Record<string, string> = { 'web.tailnet': SERVER_IP };

/** Two netstacks joined by an in-memory link; `dial` connects from the client stack by name or IP. */
function tailnetLink() {
  const pipe = createPipe({ mtu: 1280 });
  const server = new Stack({ link: pipe.a, addresses: [SERVER_IP, SERVER_IP6] });
  const client = new Stack({ link: pipe.b, addresses: ['100.64.0.2', 'fd7a:115c:a1e0::2'] });
  const dial: TailnetDial = (host, port) =>
    new Promise<Duplex>((resolve, reject) => {
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
beforeAll(() => {
  link = tailnetLink();
});
afterAll(() => link.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Serves `server` on the tailnet port `port`; closed after the test. */
function serveOn(port: number, server: Parameters<typeof serveHttp>[1]): HttpServing {
  const serving = serveHttp(link.server.listen({ port }), server);
  cleanups.push(() => serving.close());
  return serving;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function collect(res: http.IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (d: Buffer) => chunks.push(d));
    res.on('error', reject);
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
    );
  });
}

/** http.request over the tailnet with createConnection (no agent). */
function request(url: string, opts: http.RequestOptions = {}, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { createConnection: tailnetCreateConnection(link.dial), ...opts }, (res) =>
      collect(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

// A self-signed certificate for web.tailnet and the server's IP, made by openssl for this run.
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
  if (!hasOpenssl) return;
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
});

describe('serveHttp on a netstack listener', () => {
  it('node:http: a 1 MB upload and the caller’s tailnet address, over IPv4 and IPv6', async () => {
    const server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => res.end(`${req.method} ${req.url} ${n} from ${req.socket.remoteAddress}`));
    });
    const serving = serveOn(80, server);
    const big = Buffer.alloc(1 << 20, 7);
    const v4 = await request('http://web.tailnet/up', { method: 'POST' }, big);
    const v6 = await request(`http://[${SERVER_IP6}]/six`);
    expect(v4).toMatchObject({ status: 200, body: `POST /up ${1 << 20} from 100.64.0.2` });
    expect(v6).toMatchObject({ status: 200, body: 'GET /six 0 from fd7a:115c:a1e0::2' });
    expect(serving.accepted).toBe(2);
  });

  it('node:http with a keep-alive httpAgent: three requests, one connection', async () => {
    const serving = serveOn(
      81,
      http.createServer((req, res) => res.end(`hi ${req.url}`)),
    );
    const agent = httpAgent(link.dial, { keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = (path: string) =>
      new Promise<Reply>((resolve, reject) => {
        http
          .get({ host: 'web.tailnet', port: 81, path, agent }, (res) => collect(res).then(resolve, reject))
          .on('error', reject);
      });
    const out = [];
    for (const p of ['/1', '/2', '/3']) out.push((await get(p)).body);
    expect(out).toEqual(['hi /1', 'hi /2', 'hi /3']);
    expect(serving.accepted).toBe(1);
  });

  it.skipIf(!hasOpenssl)('node:https with a self-signed certificate, checked by name and by IP', async () => {
    const server = https.createServer({ ...cert }, (req, res) =>
      res.end(`secure ${req.url} ${(req.socket as tls.TLSSocket).getProtocol()}`),
    );
    serveOn(443, server);
    const agent = httpsAgent(link.dial, { ca: cert?.cert });
    cleanups.push(() => agent.destroy());
    const get = (host: string) =>
      new Promise<Reply>((resolve, reject) => {
        https
          .get({ host, path: '/s', agent }, (res) => collect(res).then(resolve, reject))
          .on('error', reject);
      });
    expect((await get('web.tailnet')).body).toBe('secure /s TLSv1.3');
    expect((await get(SERVER_IP)).body).toBe('secure /s TLSv1.3');
    // An untrusted certificate is refused by the client, as with any https.Agent.
    const strict = httpsAgent(link.dial);
    cleanups.push(() => strict.destroy());
    await expect(
      new Promise((resolve, reject) =>
        https.get({ host: 'web.tailnet', agent: strict }, resolve).on('error', reject),
      ),
    ).rejects.toThrow(/self.signed|certificate/i);
  });

  it('node:http2 without TLS (h2c): several streams on one session', async () => {
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`h2c ${headers[':path']}`);
    });
    const serving = serveOn(8080, server);
    const sock = await link.dial('web.tailnet', 8080);
    const session = http2.connect('http://web.tailnet:8080', { createConnection: () => sock });
    cleanups.push(() => session.destroy());
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': path });
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d: string) => {
          body += d;
        });
        req.on('end', () => resolve(body));
        req.on('error', reject);
      });
    expect(await Promise.all(['/a', '/b', '/c'].map(get))).toEqual(['h2c /a', 'h2c /b', 'h2c /c']);
    expect(serving.accepted).toBe(1);
  });

  it.skipIf(!hasOpenssl)('node:http2 secure server: ALPN h2 over TLS over the tailnet', async () => {
    const server = http2.createSecureServer({ ...cert });
    server.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${headers[':path']}`);
    });
    serveOn(8443, server);
    const sock = await link.dial('web.tailnet', 8443);
    const session = http2.connect('https://web.tailnet:8443', {
      createConnection: () =>
        tls.connect({ socket: sock, servername: 'web.tailnet', ca: cert?.cert, ALPNProtocols: ['h2'] }),
    });
    cleanups.push(() => session.destroy());
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/tls' });
      let b = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        b += d;
      });
      req.on('end', () => resolve(b));
      req.on('error', reject);
    });
    expect(body).toBe('h2 /tls');
  });

  it('Express: routing, JSON bodies, status codes', async () => {
    const app = express();
    app.use(express.json());
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id, from: req.socket.remoteAddress });
    });
    app.post('/echo', (req, res) => {
      res.status(201).json({ got: req.body });
    });
    serveOn(3000, http.createServer(app));
    const user = await request('http://web.tailnet:3000/users/42');
    expect(user.status).toBe(200);
    expect(JSON.parse(user.body)).toEqual({ id: '42', from: '100.64.0.2' });
    const posted = await request(
      'http://web.tailnet:3000/echo',
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      JSON.stringify({ a: [1, 2] }),
    );
    expect(posted.status).toBe(201);
    expect(JSON.parse(posted.body)).toEqual({ got: { a: [1, 2] } });
    expect((await request('http://web.tailnet:3000/nope')).status).toBe(404);
  });

  it('Fastify: serverFactory + ready(), then its server fed by serveHttp', async () => {
    const app = Fastify({ serverFactory: (handler) => http.createServer(handler) });
    app.get('/hello/:name', async (req) => ({ hello: (req.params as { name: string }).name, ip: req.ip }));
    await app.ready();
    cleanups.push(() => app.close());
    serveOn(3001, app.server);
    const r = await request('http://web.tailnet:3001/hello/tailnet');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(r.body)).toEqual({ hello: 'tailnet', ip: '100.64.0.2' });
  });

  it('Hono (@hono/node-server createAdaptorServer): fetch-style handler on the tailnet', async () => {
    const app = new Hono();
    app.get('/hono/:x', (c) => c.text(`hono ${c.req.param('x')} ${c.req.header('host')}`));
    app.post('/json', async (c) => c.json({ len: JSON.stringify(await c.req.json()).length }, 202));
    serveOn(3002, createAdaptorServer({ fetch: app.fetch }) as http.Server);
    expect((await request('http://web.tailnet:3002/hono/yes')).body).toBe('hono yes web.tailnet:3002');
    const j = await request(
      'http://web.tailnet:3002/json',
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      '{"k":"v"}',
    );
    expect(j).toMatchObject({ status: 202, body: '{"len":9}' });
  });

  it('ws: a WebSocketServer on a served http.Server, and a ws client through httpAgent', async () => {
    const server = http.createServer((_req, res) => res.end('plain'));
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.send(`welcome ${req.socket.remoteAddress}`);
      ws.on('message', (m, binary) => ws.send(binary ? m : `echo ${String(m)}`));
    });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    serveOn(9000, server);
    const agent = httpAgent(link.dial);
    const ws = new WebSocket('ws://web.tailnet:9000/chat', { agent });
    cleanups.push(() => ws.terminate());
    const messages: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (m, binary) => {
        messages.push(binary ? `binary ${(m as Buffer).length}` : String(m));
        if (messages.length === 1) ws.send('ping');
        else if (messages.length === 2) ws.send(Buffer.alloc(200_000, 1));
        else resolve();
      });
    });
    await done;
    expect(messages).toEqual(['welcome 100.64.0.2', 'echo ping', 'binary 200000']);
  });
});
