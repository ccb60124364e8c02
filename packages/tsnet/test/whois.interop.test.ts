// Go tsnet's "Identifying callers" against real peers: headscale v0.29.2 + a real derper on
// loopback, our `Server` (user "server") serving node:http on the tailnet with a handler that asks
// `srv.localClient().whoIs(remote ip:port)`, and two real tailscaled v1.102.3 (userspace
// networking) calling it through their SOCKS5 proxies: alice's node must be greeted by the login
// name tailscaled itself reports (`tailscale whois --json` of its own IP), the node registered with
// a tag:ci key by its tag. Our WhoIs answer for each caller must match tailscaled's own.
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Derper,
  describeInterop,
  type Headscale,
  printLogsOnFailure,
  startDerper,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { PeerNotFoundError } from '@tsnet/localapi';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Server } from '../src/server.js';

const PORT = 80;
const POLICY = {
  tagOwners: { 'tag:ci': ['server@'] },
  acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
};

interface GoWhoIs {
  Node: { ID: number; StableID: string; Name: string; Key: string; Tags?: string[] | null };
  UserProfile: { ID: number; LoginName: string; DisplayName: string };
}

describeInterop(
  'tsnet Server.localClient: tailscaled callers identified by WhoIs (headscale + derper)',
  ['derper', 'headscale', 'tailscaled'],
  () => {
    let derper: Derper | null = null;
    let hs: Headscale | null = null;
    let alice: Tailscaled | null = null;
    let ci: Tailscaled | null = null;
    let srv: Server | null = null;
    let web: http.Server | null = null;
    let ourIp = '';
    const stateDir = mkdtempSync(join(tmpdir(), 'tsnet-whois-'));
    const logs: string[] = [];
    printLogsOnFailure(() => ({
      derper,
      headscale: hs,
      'ts-alice': alice,
      'ts-ci': ci,
      tsnet: { logs: () => logs.slice(-200).join('\n') },
    }));

    beforeAll(async () => {
      derper = await startDerper();
      hs = await startHeadscale({ derpMap: derper.derpMap(), policy: POLICY });
      const h = hs;
      const d = derper;
      await h.createUser('server');
      await h.createUser('alice', { displayName: 'Alice Example', email: 'alice@example.com' });
      const [kSrv, kAlice, kCi] = await Promise.all([
        h.createPreAuthKey({ user: 'server', expiration: '1h' }),
        h.createPreAuthKey({ user: 'alice', expiration: '1h' }),
        h.createPreAuthKey({ tags: ['tag:ci'], expiration: '1h' }),
      ]);
      const s = new Server({
        controlUrl: h.url,
        dir: stateDir,
        authKey: kSrv,
        hostname: 'web',
        listenAddress: '127.0.0.1',
        derpUseHttp: true,
        logf: (f, ...a) => {
          logs.push(`${f} ${a.map(String).join(' ')}`);
          if (logs.length > 2000) logs.splice(0, 1000);
        },
      });
      srv = s;
      [alice, ci] = await Promise.all([
        startTailscaled({ env: d.clientEnv }),
        startTailscaled({ env: d.clientEnv }),
      ]);
      await Promise.all([
        alice.up({ loginServer: h.url, authKey: kAlice, hostname: 'alice-laptop' }),
        ci.up({ loginServer: h.url, authKey: kCi, hostname: 'ci-runner' }),
        s.up(30_000),
      ]);
      ourIp = s.tailscaleIPs().ip4 ?? '';

      // The example: who is calling, from the connection's remote address.
      const lc = await s.localClient();
      const w = http.createServer(async (req, res) => {
        try {
          const who = await lc.whoIs(`${req.socket.remoteAddress}:${req.socket.remotePort}`);
          const tags = who.Node.Tags ?? [];
          res.end(tags.length > 0 ? `Hello, ${tags.join(',')}!` : `Hello, ${who.UserProfile.LoginName}!`);
        } catch (e) {
          res.statusCode = e instanceof PeerNotFoundError ? 403 : 500;
          res.end(String(e));
        }
      });
      web = w;
      const ln = await s.listen('tcp', `:${PORT}`);
      ln.on('connection', (sock) => w.emit('connection', sock));

      // Both tailscaleds see us online, we see both of them.
      for (const t of [alice, ci]) {
        await waitUntil(
          'tailscaled to see web online',
          async () =>
            Object.values((await t.status()).Peer ?? {}).some((p) => p.HostName === 'web' && p.Online),
          { timeoutMs: 30_000, intervalMs: 250 },
        );
      }
      await waitUntil(
        'our netmap to hold both tailscaleds',
        () => (s.node?.netmap?.peerTable.size ?? 0) >= 2,
        {
          timeoutMs: 30_000,
          intervalMs: 100,
        },
      );
    }, 120_000);

    afterAll(async () => {
      await new Promise<void>((r) => (web === null ? r() : web.close(() => r())));
      await srv?.close();
      await Promise.all([alice?.close(), ci?.close()]);
      await hs?.close();
      await derper?.close();
      rmSync(stateDir, { recursive: true, force: true });
    });

    /** GET / on our Server through the caller's SOCKS5 proxy (bounded, retried until the path is up). */
    async function greet(t: Tailscaled): Promise<string> {
      const r = await waitUntil(
        'an HTTP answer through SOCKS5',
        async () => {
          const res = await t.httpGet(`http://${ourIp}:${PORT}/`, 10_000);
          return res.status === 0 ? undefined : res;
        },
        { timeoutMs: 45_000, intervalMs: 500 },
      );
      expect(r.status).toBe(200);
      return r.body;
    }

    it("greets alice's tailscaled by the login name tailscaled reports for itself", async () => {
      const t = alice as Tailscaled;
      const self = (await t.whois(await t.ip4())) as unknown as GoWhoIs;
      expect(self.UserProfile.LoginName).not.toBe('');
      expect(await greet(t)).toBe(`Hello, ${self.UserProfile.LoginName}!`);
    }, 90_000);

    it('greets the tag:ci tailscaled by its tag', async () => {
      const t = ci as Tailscaled;
      const self = (await t.whois(await t.ip4())) as unknown as GoWhoIs;
      expect(self.Node.Tags).toEqual(['tag:ci']);
      expect(await greet(t)).toBe('Hello, tag:ci!');
    }, 90_000);

    it("our WhoIs of each caller equals the caller's own `tailscale whois --json`", async () => {
      const lc = await (srv as Server).localClient();
      for (const t of [alice as Tailscaled, ci as Tailscaled]) {
        const ip = await t.ip4();
        const real = (await t.whois(ip)) as unknown as GoWhoIs;
        const ours = await lc.whoIs(ip);
        expect(ours.Node.ID).toBe(real.Node.ID);
        expect(ours.Node.StableID).toBe(real.Node.StableID);
        expect(ours.Node.Name).toBe(real.Node.Name);
        expect(ours.Node.Key.toString()).toBe(real.Node.Key);
        expect(ours.Node.Tags ?? []).toEqual(real.Node.Tags ?? []);
        expect(ours.UserProfile.ID).toBe(real.UserProfile.ID);
        expect(ours.UserProfile.LoginName).toBe(real.UserProfile.LoginName);
      }
      // And tailscaled identifies us as the "server" user's node.
      const usWho = (await (alice as Tailscaled).whois(ourIp)) as unknown as GoWhoIs;
      expect((await lc.whoIs(ourIp)).UserProfile.LoginName).toBe(usWho.UserProfile.LoginName);
      const st = await lc.status();
      expect(st.BackendState).toBe('Running');
      expect(
        Object.values(st.Peer ?? {})
          .map((p) => p.HostName)
          .sort(),
      ).toEqual(['alice-laptop', 'ci-runner']);
    }, 60_000);
  },
);
