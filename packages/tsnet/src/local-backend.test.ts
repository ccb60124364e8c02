// Go tsnet's "Identifying callers" in one process: a TestTailnet (control, DERP, STUN) and three of
// our Servers: A serves node:http on the tailnet and greets each caller by `localClient().whoIs` of
// the connection's remote address; B (bob's node) and C (tagged tag:ci) call it.
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { PeerNotFoundError } from '@tsnet/localapi';
import { TestTailnet } from '@tsnet/testcontrol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server } from './server.js';
import { MemoryStore } from './state/store.js';

/** GET `/` over an open tailnet stream: no `agent` (node:http then uses `createConnection`). */
function httpGetOver(sock: Duplex, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      // x.invalid: if the request ever left the process, it could not resolve.
      { host: 'x.invalid', path: '/', createConnection: (() => sock) as never },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The greeter of the README: tags for a tagged caller, else the owner's login name. */
function greeter(srv: Server): http.Server {
  return http.createServer(async (req, res) => {
    try {
      const who = await (await srv.localClient()).whoIs(
        `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      );
      const tags = who.Node.Tags ?? [];
      res.end(tags.length > 0 ? `Hello, ${tags.join(',')}!` : `Hello, ${who.UserProfile.LoginName}!`);
    } catch (e) {
      res.statusCode = e instanceof PeerNotFoundError ? 403 : 500;
      res.end(String(e));
    }
  });
}

describe('Server.localClient: identifying callers (TestTailnet, three Servers in one process)', () => {
  let tailnet: TestTailnet;
  let a: Server;
  let b: Server;
  let c: Server;
  let web: http.Server;
  let stateDir = '';

  beforeAll(async () => {
    tailnet = await TestTailnet.start();
    tailnet.createUser('bob@example.com', 'Bob');
    stateDir = mkdtempSync(join(tmpdir(), 'tsnet-lb-'));
    const dir = (name: string) => join(stateDir, name);
    const base = { controlUrl: tailnet.controlURL, listenAddress: '127.0.0.1' };
    const opts = (name: string) => ({ ...base, dir: dir(name) });
    a = new Server({ ...opts('a'), hostname: 'web', authKey: tailnet.createAuthKey() });
    b = new Server({
      ...opts('b'),
      hostname: 'bob-laptop',
      authKey: tailnet.createAuthKey({ user: 'bob@example.com' }),
    });
    c = new Server({
      ...opts('c'),
      hostname: 'ci-runner',
      authKey: tailnet.createAuthKey({ tags: ['tag:ci'] }),
    });
    await Promise.all([a.up(), b.up(), c.up()]);
    web = greeter(a);
    const ln = await a.listen('tcp', ':80');
    ln.on('connection', (sock) => web.emit('connection', sock));
  }, 60_000);

  afterAll(async () => {
    web?.close();
    await Promise.all([a?.close(), b?.close(), c?.close()]);
    await tailnet?.close();
    if (stateDir !== '') rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts the server when asked for the client, and throws ERR_CLOSED after close()', async () => {
    // As Go's LocalClient(), asking for the client starts the server; with no auth key it waits for
    // an interactive login, and status says so.
    const s = new Server({
      hostname: 'idle',
      controlUrl: tailnet.controlURL,
      store: new MemoryStore(),
      ephemeral: true,
      userLogf: () => {},
    });
    const lc = await s.localClient();
    expect(['Starting', 'NeedsLogin']).toContain((await lc.status()).BackendState);
    await s.close();
    await expect(s.localClient()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it("greets bob's node by bob's login name and the tagged node by its tag", async () => {
    const ipA = a.tailscaleIPs().ip4 ?? '';
    expect(await httpGetOver(await b.dial('tcp', `${ipA}:80`))).toEqual({
      status: 200,
      body: 'Hello, bob@example.com!',
    });
    expect(await httpGetOver(await c.dial('tcp', 'web:80'))).toEqual({ status: 200, body: 'Hello, tag:ci!' });
  });

  it('whoIs answers for IPs, ip:port and node keys as Go does; unknown addresses are PeerNotFound', async () => {
    const lc = await a.localClient();
    const ipB = b.tailscaleIPs();
    const byV4 = await lc.whoIs(ipB.ip4 ?? '');
    expect(byV4.Node.ComputedName ?? byV4.Node.Hostinfo?.Hostname).toBe('bob-laptop');
    expect(byV4.UserProfile.LoginName).toBe('bob@example.com');
    expect((await lc.whoIs(`[${ipB.ip6}]:4242`)).Node.ID).toBe(byV4.Node.ID);
    expect((await lc.whoIsNodeKey(byV4.Node.Key)).Node.ID).toBe(byV4.Node.ID);
    expect((await lc.whoIs(a.tailscaleIPs().ip4 ?? '')).UserProfile.LoginName).toBe('user@example.com');
    await expect(lc.whoIs('100.100.100.100')).rejects.toBeInstanceOf(PeerNotFoundError);
  });

  it('status: Running, our IPs, both peers with their hosts; prefs without keys', async () => {
    const lc = await a.localClient();
    const st = await lc.status();
    expect(st.BackendState).toBe('Running');
    expect(st.TailscaleIPs?.map(String).sort()).toEqual(
      [a.tailscaleIPs().ip4, a.tailscaleIPs().ip6].map(String).sort(),
    );
    expect(st.Self?.HostName).toBe('web');
    expect(
      Object.values(st.Peer ?? {})
        .map((p) => p.HostName)
        .sort(),
    ).toEqual(['bob-laptop', 'ci-runner']);
    const bobPeer = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'bob-laptop');
    expect(bobPeer?.RxBytes).toBeGreaterThan(0);
    expect((await lc.statusWithoutPeers()).Peer ?? {}).toEqual({});
    const prefs = await lc.prefs();
    expect(prefs.ControlURL).toBe(tailnet.controlURL);
    expect(prefs.Hostname).toBe('web');
    expect(JSON.stringify(prefs)).not.toMatch(/privkey|PrivateKey|Persist/);
  });
});
