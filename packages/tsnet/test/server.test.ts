// The public Server end to end in one process, against @tsnet/testcontrol (control, DERP, STUN):
// state that survives a restart, Go's auth precedence, the interactive login, TSNET_FORCE_LOGIN,
// typed errors for a wrong key and an unreachable control server, UDP both ways, and a node whose
// key expires. The same behaviours against headscale and real peers: server.interop.test.ts.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, promisify } from 'node:util';
import { TsnetError } from '@tsnet/core';
import { IPN_STATES, type Notify, NotifyWatchOpt } from '@tsnet/localapi';
import { TestTailnet } from '@tsnet/testcontrol';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Server, type ServerOptions, serveHttp } from '../src/index.js';
import { MemoryStore } from '../src/state/store.js';

const execFileP = promisify(execFile);
let tailnet: TestTailnet;
let root = '';
const servers: Server[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  tailnet = await TestTailnet.start();
  root = mkdtempSync(join(tmpdir(), 'tsnet-server-'));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const k of ['TS_AUTHKEY', 'TS_AUTH_KEY', 'TSNET_FORCE_LOGIN']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

afterAll(async () => {
  await tailnet?.close();
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

let seq = 0;
function server(opts: ServerOptions & { lines?: string[] }): Server {
  const { lines, ...rest } = opts;
  const s = new Server({
    controlUrl: tailnet.controlURL,
    listenAddress: '127.0.0.1',
    userLogf: (f, ...a) => lines?.push(format(f, ...a)),
    ...rest,
  });
  servers.push(s);
  return s;
}

function freshDir(): string {
  return join(root, `n${seq++}`);
}

function ephemeral(): Pick<ServerOptions, 'store' | 'ephemeral'> {
  return { store: new MemoryStore(), ephemeral: true };
}

describe('state', () => {
  it('a restart with the same dir keeps the identity and addresses without a key', async () => {
    const dir = freshDir();
    const a = server({ hostname: 'keeper', dir, authKey: tailnet.createAuthKey() });
    const st1 = await a.up({ timeoutMs: 30_000 });
    const ip = a.tailscaleIPs().ip4;
    const key = String(st1.Self?.PublicKey);
    expect(ip).toMatch(/^100\./);
    const nodesBefore = tailnet.nodes().length;
    await a.close();

    // Go's FileStore format: a JSON object of base64 values, mode 0600, in dir/tailscaled.state.
    const file = join(dir, 'tailscaled.state');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(Object.keys(state).sort()).toEqual(
      expect.arrayContaining(['_current-profile', '_machinekey', '_profiles']),
    );
    const current = Buffer.from(state['_current-profile'] ?? '', 'base64').toString();
    const prefs = JSON.parse(Buffer.from(state[current] ?? '', 'base64').toString());
    expect(prefs.Config.PrivateNodeKey).toMatch(/^privkey:[0-9a-f]{64}$/);
    expect(prefs.Hostname).toBe('keeper');

    const b = server({ hostname: 'keeper', dir });
    const st2 = await b.up({ timeoutMs: 30_000 });
    expect(b.tailscaleIPs().ip4).toBe(ip);
    expect(String(st2.Self?.PublicKey)).toBe(key);
    expect(key).toMatch(/^nodekey:/);
    expect(tailnet.nodes().length).toBe(nodesBefore);
  });

  it('an enrolled node ignores a new key (and says so); TSNET_FORCE_LOGIN=1 uses it', async () => {
    tailnet.createUser('carol@example.com', 'Carol');
    const dir = freshDir();
    const a = server({ hostname: 'forced', dir, authKey: tailnet.createAuthKey() });
    await a.up({ timeoutMs: 30_000 });
    const ip = a.tailscaleIPs().ip4 ?? '';
    const owner = () => tailnet.node(ip)?.user.loginName;
    const first = owner();
    await a.close();

    const lines: string[] = [];
    const carolKey = tailnet.createAuthKey({ user: 'carol@example.com', reusable: true });
    const b = server({ hostname: 'forced', dir, authKey: carolKey, lines });
    await b.up({ timeoutMs: 30_000 });
    expect(lines.some((l) => /Ignoring authkey.*TSNET_FORCE_LOGIN=1/.test(l))).toBe(true);
    expect(owner()).toBe(first);
    await b.close();

    process.env.TSNET_FORCE_LOGIN = '1';
    const c = server({ hostname: 'forced', dir, authKey: carolKey });
    await c.up({ timeoutMs: 30_000 });
    expect(c.tailscaleIPs().ip4).toBe(ip);
    expect(owner()).toBe('carol@example.com');
  });

  it('a user’s own store (async get/set over a Map) keeps the identity across a restart', async () => {
    const data = new Map<string, Uint8Array>();
    const writes: string[] = [];
    const store = {
      async get(key: string) {
        await new Promise((r) => setImmediate(r));
        return data.get(key);
      },
      async set(key: string, value: Uint8Array) {
        await new Promise((r) => setImmediate(r));
        writes.push(key);
        data.set(key, value);
      },
    };
    const a = server({ hostname: 'own-store', store, authKey: tailnet.createAuthKey() });
    await a.up({ timeoutMs: 30_000 });
    const ip = a.tailscaleIPs().ip4;
    await a.close();
    expect(writes).toEqual(expect.arrayContaining(['_machinekey', '_current-profile', '_profiles']));
    const b = server({ hostname: 'own-store', store });
    await b.up({ timeoutMs: 30_000 });
    expect(b.tailscaleIPs().ip4).toBe(ip);
  });

  it('advertiseTags are requested from control (Hostinfo.RequestTags)', async () => {
    const s = server({
      hostname: 'tagged',
      ...ephemeral(),
      authKey: tailnet.createAuthKey(),
      advertiseTags: ['tag:web'],
    });
    await s.up({ timeoutMs: 30_000 });
    expect(tailnet.node(s.tailscaleIPs().ip4 ?? '')?.tags).toEqual(['tag:web']);
    expect(s.certDomains()).toEqual([]);
  });

  it('a corrupt state file is a typed error naming the file, not a crash', async () => {
    const dir = freshDir();
    const a = server({ hostname: 'x', dir, authKey: 'k' });
    await a.start();
    await a.close();
    const file = join(dir, 'tailscaled.state');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, '{"_machinekey": 12');
    const b = server({ hostname: 'x', dir });
    await expect(b.start()).rejects.toMatchObject({
      code: 'ERR_STATE_STORE',
      message: expect.stringContaining(file),
    });
  });
});

describe('auth', () => {
  it('TS_AUTHKEY, then TS_AUTH_KEY, are used when no authKey is given; authKey wins over both', async () => {
    process.env.TS_AUTHKEY = tailnet.createAuthKey();
    const a = server({ hostname: 'env-a', ...ephemeral() });
    await a.up({ timeoutMs: 30_000 });
    expect(a.state).toBe('Running');

    delete process.env.TS_AUTHKEY;
    process.env.TS_AUTH_KEY = tailnet.createAuthKey();
    const b = server({ hostname: 'env-b', ...ephemeral() });
    await b.up({ timeoutMs: 30_000 });
    expect(b.state).toBe('Running');

    process.env.TS_AUTHKEY = 'tskey-auth-wrong';
    const c = server({ hostname: 'env-c', ...ephemeral(), authKey: tailnet.createAuthKey() });
    await c.up({ timeoutMs: 30_000 });
    expect(c.state).toBe('Running');
  });

  it('with no key, the login URL goes to userLogf and the node runs once the login is approved', async () => {
    const lines: string[] = [];
    const states: string[] = [];
    const s = server({ hostname: 'interactive', dir: freshDir(), lines });
    s.on('state', (st, info) => states.push(info.authURL !== undefined ? `${st} ${info.authURL}` : st));
    const up = s.up({ timeoutMs: 30_000 });
    up.catch(() => {}); // awaited below; a failed assertion first must not leave it unhandled
    const login = await tailnet.waitForLogin({ hostname: 'interactive', timeoutMs: 20_000 });
    // The URL reaches the node in control's answer, just after the login appears on control.
    if (s.state !== 'NeedsLogin') await withTimeout(once(s, 'state'), 10_000);
    const line = lines.find((l) =>
      l.startsWith('To start this tsnet server, restart with TS_AUTHKEY set, or go to:'),
    );
    expect(line).toContain(login.url);
    expect(s.state).toBe('NeedsLogin');
    expect(s.authURL).toBe(login.url);
    tailnet.approveLogin(login.url);
    await up;
    expect(states).toEqual(['Starting', `NeedsLogin ${login.url}`, 'Running']);
    expect(s.authURL).toBeUndefined();
  });

  it('watchIPNBus: the first message has the state and prefs, then the login URL, LoginFinished and Running; close() ends it', async () => {
    delete process.env.TS_AUTHKEY;
    delete process.env.TS_AUTH_KEY;
    const s = server({ hostname: 'watcher', ...ephemeral() });
    const lc = await s.localClient();
    const w = await lc.watchIPNBus(NotifyWatchOpt.InitialState | NotifyWatchOpt.InitialPrefs);
    const seen: Notify[] = [];
    const reading = (async () => {
      for await (const n of w) seen.push(n);
    })();
    const login = await tailnet.waitForLogin({ hostname: 'watcher', timeoutMs: 20_000 });
    const waitFor = async (what: string, f: (n: Notify) => boolean) => {
      const end = Date.now() + 20_000;
      while (!seen.some(f)) {
        if (Date.now() > end) throw new Error(`no ${what} on the bus: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor('login URL', (n) => n.BrowseToURL === login.url);
    tailnet.approveLogin(login.url);
    await waitFor('Running', (n) => n.State === IPN_STATES.indexOf('Running'));
    const first = seen[0];
    expect(first?.Version).toMatch(/tsnet/);
    expect(first?.SessionID).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof first?.State).toBe('number');
    expect(first?.Prefs?.Hostname).toBe('watcher');
    expect(seen.some((n) => n.LoginFinished != null)).toBe(true);
    // The status of an in-process client shows the URL only while it is needed.
    expect((await lc.status()).AuthURL).toBe('');
    await s.close();
    await withTimeout(reading, 5_000);
    expect(seen.at(-1)?.State).toBe(IPN_STATES.indexOf('Stopped'));
  });

  it('a wrong key is a ControlLoginError with the server’s words, and up() does not hang', async () => {
    const s = server({ hostname: 'wrong', ...ephemeral(), authKey: 'tskey-auth-nope' });
    const err = await s.up({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(TsnetError.is(err) && err.code).toBe('ERR_CONTROL_LOGIN');
    expect((err as { serverMessage?: string }).serverMessage).toBeTruthy();
    expect(s.state).not.toBe('Running');
  });

  it('an unreachable control server is a typed error, fast', async () => {
    const s = new Server({
      hostname: 'nowhere',
      controlUrl: 'http://127.0.0.1:9',
      authKey: 'k',
      ...ephemeral(),
      userLogf: () => {},
    });
    servers.push(s);
    const err = await s.up({ timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(TsnetError.is(err)).toBe(true);
    expect((err as TsnetError).code).not.toBe('ETIMEDOUT');
  });

  it('a key that control expires is seen: the state leaves Running', async () => {
    const s = server({ hostname: 'expiring', ...ephemeral(), authKey: tailnet.createAuthKey() });
    await s.up({ timeoutMs: 30_000 });
    const seen = new Promise<string>((resolve) => s.on('state', (st) => st !== 'Running' && resolve(st)));
    tailnet.expireNode(s.tailscaleIPs().ip4 ?? '');
    expect(await withTimeout(seen, 20_000)).toBe('NeedsLogin');
  });
});

describe('listen and dial', () => {
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    a = new Server({
      hostname: 'udp-a',
      controlUrl: tailnet.controlURL,
      listenAddress: '127.0.0.1',
      ...ephemeral(),
      userLogf: () => {},
    });
    b = new Server({
      hostname: 'udp-b',
      controlUrl: tailnet.controlURL,
      listenAddress: '127.0.0.1',
      ...ephemeral(),
      userLogf: () => {},
    });
    process.env.TS_AUTHKEY = tailnet.createAuthKey({ reusable: true });
    await Promise.all([a.up({ timeoutMs: 30_000 }), b.up({ timeoutMs: 30_000 })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('UDP flows both ways: listen("udp") accepts a flow per remote, dial("udp") by name', async () => {
    const ln = await a.listen('udp', ':5353');
    ln.on('connection', (conn) =>
      conn.on('data', (d: Buffer) => conn.write(Buffer.concat([Buffer.from('echo:'), d]))),
    );
    const conn = await b.dial('udp', 'udp-a:5353');
    const got: string[] = [];
    conn.on('data', (d: Buffer) => got.push(d.toString()));
    // Datagrams may be lost while the path comes up: send until three distinct answers arrive.
    for (let i = 0; i < 100 && new Set(got).size < 3; i++) {
      conn.write(`m${i % 3}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new Set(got)).toEqual(new Set(['echo:m0', 'echo:m1', 'echo:m2']));
    expect(ln.counters.flows).toBe(1);
    conn.destroy();
    ln.close();
  });

  it('listenPacket is a dgram-shaped socket on one of our IPs', async () => {
    const ipA = a.tailscaleIPs().ip4 ?? '';
    await expect(a.listenPacket('udp', ':7000')).rejects.toThrow(/IP address is required/);
    await expect(a.listenPacket('udp', '100.100.100.100:7000')).rejects.toMatchObject({
      code: 'EADDRNOTAVAIL',
    });
    const pc = await a.listenPacket('udp', `${ipA}:7000`);
    pc.on('message', (msg: Buffer, rinfo: { address: string; port: number }) =>
      pc.send(Buffer.from(msg.toString().toUpperCase()), rinfo.port, rinfo.address),
    );
    const conn = await b.dial('udp', `${ipA}:7000`);
    const got: string[] = [];
    conn.on('data', (d: Buffer) => got.push(d.toString()));
    for (let i = 0; i < 100 && got.length === 0; i++) {
      conn.write('hello');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(got[0]).toBe('HELLO');
    conn.destroy();
    pc.close();
  });

  it('TCP by short name and by MagicDNS name; the listener is async-iterable', async () => {
    const ln = await a.listen('tcp', ':8080');
    const served = (async () => {
      let n = 0;
      for await (const sock of ln) {
        sock.end(`hi ${++n}`);
        if (n === 2) break;
      }
      return n;
    })();
    const fqdn = (await a.status()).Self?.DNSName ?? '';
    expect(fqdn).toMatch(/^udp-a\./);
    for (const host of ['udp-a', fqdn]) {
      const sock = await b.dial('tcp', `${host}:8080`, { timeoutMs: 20_000 });
      const text = await new Promise<string>((resolve, reject) => {
        let t = '';
        sock.on('data', (d: Buffer) => (t += d.toString()));
        sock.on('end', () => resolve(t));
        sock.on('error', reject);
      });
      expect(text).toMatch(/^hi [12]$/);
    }
    expect(await served).toBe(2);
    ln.close();
  });

  it('fetch()/httpClient() go over the tailnet to a node:http server fed by serveHttp', async () => {
    const ln = await a.listen('tcp', ':80');
    const web = createServer((req, res) => res.end(`hello ${req.socket.remoteAddress} ${req.url}`));
    const serving = serveHttp(ln, web);
    try {
      expect(b.httpClient()).toBe(b.httpClient());
      const res = await b.fetch('http://udp-a/path?x=1', { signal: AbortSignal.timeout(20_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`hello ${b.tailscaleIPs().ip4} /path?x=1`);
      // By MagicDNS name and through the dispatcher, for undici's own API.
      const fqdn = (await a.status()).Self?.DNSName?.replace(/\.$/, '') ?? '';
      const r2 = await request(`http://${fqdn}/d`, { dispatcher: b.httpClient().dispatcher });
      expect(await r2.body.text()).toBe(`hello ${b.tailscaleIPs().ip4} /d`);
      // A peer that does not exist: fetch's usual TypeError, the dial error as its cause.
      const err = await b.fetch('http://no-such-node/').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { cause?: { code?: string } }).cause?.code).toBe('ENOTFOUND');
    } finally {
      await serving.close();
    }
  });

  it('loopback(): SOCKS5 with the proxy credential reaches a peer (curl), the LocalAPI answers with its own credential', async () => {
    const ln = await a.listen('tcp', ':81');
    const serving = serveHttp(
      ln,
      createServer((req, res) => res.end(`via socks ${req.socket.remoteAddress}`)),
    );
    try {
      const info = await b.loopback();
      expect(await b.loopback()).toEqual(info);
      expect(info.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(info.proxyCred).not.toBe(info.localApiCred);
      const curl = (...args: string[]) =>
        execFileP('curl', ['-sS', '--max-time', '20', ...args], { timeout: 25_000 }).then((r) => r.stdout);
      const body = await curl(
        '--socks5-hostname',
        info.address,
        '--proxy-user',
        `tsnet:${info.proxyCred}`,
        'http://udp-a:81/',
      );
      expect(body).toBe(`via socks ${b.tailscaleIPs().ip4}`);
      // The wrong password gets no connection.
      await expect(
        curl('--socks5-hostname', info.address, '--proxy-user', 'tsnet:wrong', 'http://udp-a:81/'),
      ).rejects.toThrow();
      // The LocalAPI on the same port: our status with the LocalAPI credential, 401/403 without it.
      const url = `http://${info.address}/localapi/v0/status`;
      const auth = (pw: string) => `Basic ${Buffer.from(`:${pw}`).toString('base64')}`;
      const ok = await fetch(url, {
        headers: { 'Sec-Tailscale': 'localapi', Authorization: auth(info.localApiCred) },
      });
      expect(ok.status).toBe(200);
      const st = (await ok.json()) as { Self?: { HostName?: string } };
      expect(st.Self?.HostName).toBe('udp-b');
      const bad = await fetch(url, {
        headers: { 'Sec-Tailscale': 'localapi', Authorization: auth(info.proxyCred) },
      });
      expect([401, 403]).toContain(bad.status);
      await bad.body?.cancel();
    } finally {
      await serving.close();
    }
  });

  it('close() shuts the loopback listener and the HTTP client', async () => {
    const c = new Server({
      hostname: 'loop-c',
      controlUrl: tailnet.controlURL,
      listenAddress: '127.0.0.1',
      ...ephemeral(),
      userLogf: () => {},
    });
    const info = await c.loopback();
    const port = Number(info.address.split(':')[1]);
    const f = c.httpClient();
    await c.close();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(Object.assign(new Error('connected'), { code: 'CONNECTED' }));
      });
      s.once('error', resolve);
    });
    expect(err.code).toBe('ECONNREFUSED');
    expect(f.dispatcher.destroyed).toBe(true);
    expect(() => c.httpClient()).toThrow(/closed/);
    await expect(c.loopback()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('LocalAPI ping: ICMP, disco and TSMP answer with a latency (disco with its path); PeerAPI says it is not supported', async () => {
    const lc = await b.localClient();
    const ip = a.tailscaleIPs().ip4 ?? '';
    const r = await lc.ping(ip, 'ICMP');
    expect(r.Err).toBe('');
    expect(r.LatencySeconds).toBeGreaterThan(0);
    expect(r.NodeName).toMatch(/^udp-a\./);
    expect(r.NodeIP).toBe(ip);
    const d = await lc.ping(ip, 'disco');
    expect(d.Err).toBe('');
    expect(d.LatencySeconds).toBeGreaterThan(0);
    // A path: a direct ip:port, or the DERP region that carried it.
    expect(d.Endpoint !== '' || d.DERPRegionID > 0).toBe(true);
    const t = await lc.ping(ip, 'TSMP');
    expect(t.Err).toBe('');
    expect(t.LatencySeconds).toBeGreaterThan(0);
    expect((await lc.ping(ip, 'peerapi')).Err).toMatch(/not supported/);
    expect((await lc.ping(b.tailscaleIPs().ip4 ?? '', 'ICMP')).IsLocalIP).toBe(true);
  });

  it('refuses to listen on an address that is not ours, and dialing an unknown name is ENOTFOUND', async () => {
    await expect(a.listen('tcp', '100.100.100.100:80')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    await expect(a.dial('tcp', 'no-such-node:80')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
