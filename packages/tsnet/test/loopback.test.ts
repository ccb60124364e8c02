// The loopback listener (Go tsnet's Server.Loopback) against clients nobody here wrote: curl as a
// SOCKS5 client (domain, IPv4 and IPv6 address types) and as a LocalAPI client, Go's net/http as a
// second SOCKS5 client when a Go toolchain is installed. The dial function stands in for the
// tailnet: it maps a few names to a local HTTP server, so every byte a client sees went through the
// proxy. Refusals (wrong password, no auth, BIND/UDP ASSOCIATE, unknown ATYP, garbage, silence)
// are checked by the client's own error and by the listener's counters.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { TsnetError } from '@tsnet/core';
import { createLocalApiHandler, newLocalApiCredential, type Status } from '@tsnet/localapi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TailnetDial } from '../src/http/dial.js';
import { type Loopback, type LoopbackOptions, startLoopback } from '../src/loopback/loopback.js';
import {
  emitGreeting,
  emitRequest,
  emitUserPass,
  parseReply,
  SOCKS5_COMMAND,
} from '../src/loopback/socks5-wire.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 20_000,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const curl = (args: string[]) => run('/usr/bin/curl', ['-sS', '--max-time', '15', ...args]);
const hasCurl = await run('/usr/bin/curl', ['--version']).then((r) => r.code === 0);

/** The HTTP server the proxied names lead to. */
let target: http.Server;
let targetPort: number;
/** A port where nothing listens (connection refused). */
let closedPort: number;

beforeAll(async () => {
  target = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${req.method} ${req.url} host=${req.headers.host}`);
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as net.AddressInfo).port;
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  closedPort = (tmp.address() as net.AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));
});
afterAll(async () => {
  target.closeAllConnections();
  await new Promise<void>((r) => target.close(() => r()));
});

const TARGET_NAMES = new Set(['web.tailnet', '100.64.0.5', 'fd7a:115c:a1e0::5']);

function connectLocal(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s)).once('error', reject);
  });
}

/** The stand-in tailnet: every call recorded. */
const dialed: string[] = [];
const dial: TailnetDial = (host, port, opts) => {
  dialed.push(`${host} ${port}`);
  if (TARGET_NAMES.has(host)) return connectLocal(targetPort);
  if (host === 'refused.tailnet') return connectLocal(closedPort);
  if (host === 'blackhole.tailnet') {
    return new Promise((_, reject) =>
      opts?.signal?.addEventListener('abort', () => reject(opts.signal?.reason)),
    );
  }
  return Promise.reject(new TsnetError('ENOTFOUND', `no peer named ${host}`));
};

/** Waits (bounded) until `cond()` holds: for effects that reach the two ends of a socket at different ticks. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => setTimeout(r, 10));
  }
}

const status = {
  Version: '1.102.3-tsnet',
  BackendState: 'Running',
  TailscaleIPs: ['100.64.0.1'],
} as unknown as Status;
// As the Server wires it (and Go's Loopback does): the handler requires the same credential the
// listener hands out, and the Sec-Tailscale header; the listener checks both first as well.
const localApiCredential = newLocalApiCredential();
const localApi = createLocalApiHandler({
  backend: { whoIs: () => null, status: () => status, prefs: () => ({}) as never },
  requiredPassword: localApiCredential,
  requireSecTailscaleHeader: true,
});

let lb: Loopback | undefined;
const open: net.Socket[] = [];
async function start(extra: Partial<LoopbackOptions> = {}): Promise<Loopback> {
  lb = await startLoopback({ dial, localApi, credential: { localApi: localApiCredential }, ...extra });
  return lb;
}
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await lb?.close();
  lb = undefined;
  dialed.length = 0;
});

/** A raw TCP client to the listener (for byte sequences no real client sends). */
function rawClient(
  l: Loopback,
): Promise<{ sock: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: l.port });
    open.push(sock);
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.once('connect', () => resolve({ sock, received: () => Buffer.concat(chunks), closed }));
    sock.once('error', reject);
  });
}

describe.skipIf(!hasCurl)('loopback SOCKS5 with curl', () => {
  it('curl --socks5-hostname reaches a name on the tailnet (ATYP domain)', async () => {
    const l = await start();
    const r = await curl([
      '--socks5-hostname',
      l.address,
      '--proxy-user',
      `tsnet:${l.proxyCredential}`,
      'http://web.tailnet:8080/x?y=1',
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'hello GET /x?y=1 host=web.tailnet:8080' });
    expect(dialed).toEqual(['web.tailnet 8080']);
    expect(l.stats.socks).toMatchObject({ sessions: 1, connected: 1, dialFailures: 0 });
  });

  it('curl --socks5 sends IPv4 and IPv6 addresses (ATYP 1 and 4)', async () => {
    const l = await start();
    const proxy = ['--socks5', l.address, '--proxy-user', `tsnet:${l.proxyCredential}`];
    const v4 = await curl([...proxy, 'http://100.64.0.5/four']);
    const v6 = await curl([...proxy, 'http://[fd7a:115c:a1e0::5]:81/six']);
    expect(v4).toMatchObject({ code: 0, stdout: 'hello GET /four host=100.64.0.5' });
    expect(v6).toMatchObject({ code: 0, stdout: 'hello GET /six host=[fd7a:115c:a1e0::5]:81' });
    expect(dialed).toEqual(['100.64.0.5 80', 'fd7a:115c:a1e0::5 81']);
  });

  it('carries a large body both ways and keeps the connection for several requests', async () => {
    const l = await start();
    const body = 'x'.repeat(3 << 20);
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-lb-'));
    try {
      const file = join(dir, 'body');
      writeFileSync(file, body);
      const r = await curl([
        '--socks5-hostname',
        l.address,
        '--proxy-user',
        `tsnet:${l.proxyCredential}`,
        '--data-binary',
        `@${file}`,
        'http://web.tailnet/upload',
        '--next',
        '--socks5-hostname',
        l.address,
        '--proxy-user',
        `tsnet:${l.proxyCredential}`,
        'http://web.tailnet/again',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('hello POST /upload host=web.tailnet' + 'hello GET /again host=web.tailnet');
      expect(l.stats.socks.connected).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a wrong password is refused (01 01) and counted; nothing is dialed', async () => {
    const l = await start();
    const r = await curl([
      '--socks5-hostname',
      l.address,
      '--proxy-user',
      'tsnet:wrong',
      'http://web.tailnet/',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rejected|auth/i);
    const r2 = await curl([
      '--socks5-hostname',
      l.address,
      '--proxy-user',
      `root:${l.proxyCredential}`,
      'http://web.tailnet/',
    ]);
    expect(r2.code).not.toBe(0);
    expect(l.stats.socks.refused['auth-failed']).toBe(2);
    expect(dialed).toEqual([]);
  });

  it('a client without credentials gets "no acceptable methods"', async () => {
    const l = await start();
    const r = await curl(['--socks5-hostname', l.address, 'http://web.tailnet/']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no authentication method was acceptable/i);
    expect(l.stats.socks.refused['no-acceptable-method']).toBe(1);
  });

  it('dial failures get their reply codes: refused (5), unknown name and timeout (4)', async () => {
    const l = await start({ dialTimeoutMs: 300 });
    const proxy = ['--socks5-hostname', l.address, '--proxy-user', `tsnet:${l.proxyCredential}`];
    const refused = await curl([...proxy, 'http://refused.tailnet/']);
    const unknown = await curl([...proxy, 'http://nobody.tailnet/']);
    const silent = await curl([...proxy, 'http://blackhole.tailnet/']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/\(5\)/);
    expect(unknown.stderr).toMatch(/\(4\)/);
    expect(silent.stderr).toMatch(/\(4\)/);
    expect(l.stats.socks).toMatchObject({ connected: 0, dialFailures: 3 });
    await until(() => l.connections === 0, 'the server side to close');
  });
});

describe.skipIf(!hasCurl)('loopback LocalAPI with curl', () => {
  it('serves /localapi/v0/status with Sec-Tailscale and the credential as Basic auth', async () => {
    const l = await start();
    const r = await curl([
      '-u',
      `:${l.localApiCredential}`,
      '-H',
      'Sec-Tailscale: localapi',
      `http://${l.address}/localapi/v0/status`,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ BackendState: 'Running', TailscaleIPs: ['100.64.0.1'] });
    expect(l.stats.localApi).toMatchObject({ requests: 1, refused: 0 });
  });

  it('answers as Go tsnet: 403 without the header, 401 without auth, 403 for a bad password or an Origin', async () => {
    const l = await start();
    const url = `http://${l.address}/localapi/v0/status`;
    const auth = ['-u', `:${l.localApiCredential}`];
    const sec = ['-H', 'Sec-Tailscale: localapi'];
    const status = (args: string[]) => curl(['-o', '/dev/null', '-w', '%{http_code}', ...args, url]);
    const body = (args: string[]) => curl([...args, url]);
    expect((await status(auth)).stdout).toBe('403');
    expect((await body(auth)).stdout).toBe("missing 'Sec-Tailscale: localapi' header");
    expect((await status(sec)).stdout).toBe('401');
    expect((await body(sec)).stdout).toBe('auth required\n');
    expect((await status([...sec, '-u', ':wrong'])).stdout).toBe('403');
    expect((await body([...sec, '-u', ':wrong'])).stdout).toBe('bad password\n');
    expect((await status([...sec, ...auth, '-H', 'Origin: http://evil.example'])).stdout).toBe('403');
    expect((await status([...sec, ...auth, '-H', 'Host: evil.example'])).stdout).toBe('403');
    expect(l.stats.localApi).toMatchObject({ requests: 0, refused: 8 });
  });

  it('one port serves both: a SOCKS5 session and a LocalAPI request at once', async () => {
    const l = await start();
    const [a, b] = await Promise.all([
      curl([
        '--socks5-hostname',
        l.address,
        '--proxy-user',
        `tsnet:${l.proxyCredential}`,
        'http://web.tailnet/',
      ]),
      curl(['-u', `:${l.localApiCredential}`, '-H', 'Sec-Tailscale: localapi', `http://${l.address}/`]),
    ]);
    expect(a.stdout).toBe('hello GET / host=web.tailnet');
    expect(b.stdout).toBe('tailscaled\n');
  });
});

describe('loopback refusals, bounds and close (raw bytes)', () => {
  const hello = (l: Loopback) => Buffer.concat([emitGreeting([2]), emitUserPass('tsnet', l.proxyCredential)]);

  it('BIND and UDP ASSOCIATE get "command not supported" (07), an unknown ATYP gets 08', async () => {
    const l = await start();
    const replies: number[] = [];
    for (const cmd of [SOCKS5_COMMAND.bind, SOCKS5_COMMAND.udpAssociate]) {
      const c = await rawClient(l);
      c.sock.write(
        Buffer.concat([hello(l), emitRequest(cmd, { type: 'ipv4', host: '100.64.0.5', port: 80 })]),
      );
      await c.closed;
      const r = parseReply(c.received().subarray(4));
      replies.push(r !== null && 'reply' in r ? r.reply : -1);
    }
    const c = await rawClient(l);
    c.sock.write(Buffer.concat([hello(l), Buffer.from([5, 1, 0, 9, 0, 0])]));
    await c.closed;
    expect(c.received().subarray(4)[1]).toBe(8);
    expect(replies).toEqual([7, 7]);
    expect(l.stats.socks.refused).toMatchObject({
      'command-not-supported': 2,
      'address-type-not-supported': 1,
    });
    expect(dialed).toEqual([]);
  });

  it('garbage is answered 400 (HTTP side) or closed (SOCKS side), counted, and the listener lives on', async () => {
    const l = await start();
    const g1 = await rawClient(l);
    g1.sock.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0xff, 0, 0, 13, 10, 13, 10]));
    await g1.closed;
    expect(g1.received().toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const g2 = await rawClient(l);
    g2.sock.write(Buffer.from([5, 2, 2, 0, 0xde, 0xad, 0xbe, 0xef]));
    await g2.closed;
    expect(l.stats.localApi.badRequests).toBe(1);
    expect(l.stats.socks.refused['bad-version']).toBe(1);
    if (hasCurl) {
      const ok = await curl([
        '--socks5-hostname',
        l.address,
        '--proxy-user',
        `tsnet:${l.proxyCredential}`,
        'http://web.tailnet/',
      ]);
      expect(ok.stdout).toBe('hello GET / host=web.tailnet');
    }
  });

  it('slowloris: silence, half a SOCKS5 greeting and half an HTTP request are closed and counted', async () => {
    const l = await start({ handshakeTimeoutMs: 200 });
    const silent = await rawClient(l);
    const half = await rawClient(l);
    half.sock.write(Buffer.from([5, 2]));
    const slowHttp = await rawClient(l);
    slowHttp.sock.write('GET /localapi/v0/status HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await Promise.all([silent.closed, half.closed, slowHttp.closed]);
    expect(l.stats.handshakeTimeouts).toBe(3);
    await until(() => l.connections === 0, 'the server side to close');
  });

  it('a client that half-closes before or during its handshake is closed at once', async () => {
    const l = await start();
    const mute = await rawClient(l);
    mute.sock.end();
    const partial = await rawClient(l);
    partial.sock.end(Buffer.from([5, 1]));
    await Promise.all([mute.closed, partial.closed]);
    await until(() => l.connections === 0, 'the server side to close');
    expect(l.stats.handshakeTimeouts).toBe(0);
  });

  it('at most maxPendingHandshakes wait at once; more are closed at accept', async () => {
    const l = await start({ maxPendingHandshakes: 2, handshakeTimeoutMs: 5_000 });
    const a = await rawClient(l);
    const b = await rawClient(l);
    await new Promise<void>((r) => setTimeout(r, 50));
    const c = await rawClient(l);
    await c.closed;
    expect(l.stats.busy).toBe(1);
    expect(a.sock.destroyed || b.sock.destroyed).toBe(false);
  });

  it('close() ends relayed connections, their targets and pending handshakes', async () => {
    const l = await start();
    const idle = await rawClient(l);
    const c = await rawClient(l);
    c.sock.write(
      Buffer.concat([hello(l), emitRequest(1, { type: 'domain', host: 'web.tailnet', port: 80 })]),
    );
    while (c.received().length < 4 + 10) await new Promise<void>((r) => setTimeout(r, 10));
    expect(c.received().subarray(4, 6)).toEqual(Buffer.from([5, 0]));
    expect(l.connections).toBe(2);
    await l.close();
    await Promise.all([idle.closed, c.closed]);
    await until(() => l.connections === 0, 'the server side to close');
    await l.close();
  });

  it('checks its options', async () => {
    await expect(startLoopback({ dial, localApi, host: '0.0.0.0' })).rejects.toThrow(/loopback/);
    await expect(startLoopback({ dial, localApi, port: 70000 })).rejects.toThrow(RangeError);
    await expect(startLoopback({ dial: undefined as never, localApi })).rejects.toThrow(TypeError);
    await expect(startLoopback({ dial, localApi, credential: { proxy: '' } })).rejects.toThrow(/credential/);
    const l = await startLoopback({ dial, localApi, credential: { proxy: 'p', localApi: 'q' } });
    lb = l;
    expect(l).toMatchObject({ proxyUsername: 'tsnet', proxyCredential: 'p', localApiCredential: 'q' });
    expect(l.address).toBe(`127.0.0.1:${l.port}`);
    const fresh = await startLoopback({ dial, localApi });
    expect(fresh.proxyCredential).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.localApiCredential).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.proxyCredential).not.toBe(fresh.localApiCredential);
    await fresh.close();
  });
});

// Go's net/http speaks SOCKS5 itself (socks5:// proxy URLs, RFC 1929 auth): a second client written
// by other people. Built once from the standard library only; skipped without a Go toolchain.
const GO_CLIENT = `package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	proxy, err := url.Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	for _, u := range os.Args[2:] {
		res, err := c.Get(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d %s\\n", res.StatusCode, b)
	}
}
`;

const hasGo = await run('go', ['version']).then((r) => r.code === 0);

describe.skipIf(!hasGo)('loopback SOCKS5 with Go net/http', () => {
  let dir: string;
  let bin: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsnet-gosocks-'));
    writeFileSync(join(dir, 'main.go'), GO_CLIENT);
    bin = join(dir, 'gosocks');
    const b = await run(
      'go',
      ['build', '-o', bin, join(dir, 'main.go')],
      { ...process.env, GOFLAGS: '', GOWORK: 'off' },
      180_000,
    );
    if (b.code !== 0) throw new Error(`go build failed: ${b.stderr}`);
  }, 200_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fetches through the proxy by name and by address; a wrong password fails', async () => {
    const l = await start();
    const proxy = `socks5://tsnet:${l.proxyCredential}@${l.address}`;
    const ok = await run(bin, [proxy, 'http://web.tailnet/go', 'http://[fd7a:115c:a1e0::5]:8080/go6']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(
      '200 hello GET /go host=web.tailnet\n200 hello GET /go6 host=[fd7a:115c:a1e0::5]:8080\n',
    );
    expect(dialed).toEqual(['web.tailnet 80', 'fd7a:115c:a1e0::5 8080']);
    const bad = await run(bin, [`socks5://tsnet:nope@${l.address}`, 'http://web.tailnet/']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/username\/password authentication failed/);
    expect(l.stats.socks.refused['auth-failed']).toBe(1);
  });
});
