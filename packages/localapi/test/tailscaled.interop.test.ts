// LocalClient against real tailscaled v1.102.3 LocalAPI unix sockets, with headscale v0.29.2 as
// control: three nodes (the "server" user's node we ask, alice's node, and a node tagged tag:ci), a
// policy with an `ip` grant for connectivity and an `app` grant from alice to the server's user.
//
// Ground truth is the real thing: `tailscale whois --json` and `tailscale status --json` printed by
// the CLI against the same socket, and tailscaled's own CapMap, which our pure `peerCaps` must
// reproduce from the filter rules tailscaled received (`debug-packet-filter-rules`).
import { createServer, type Server } from 'node:http';
import { IPAddr, IPPrefix } from '@tsnet/core';
import {
  describeInterop,
  freeTcpPort,
  type Headscale,
  printLogsOnFailure,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { peerCaps } from '../src/capmap.js';
import { LocalClient } from '../src/client.js';
import { LocalApiConnectError, LocalApiError, PeerNotFoundError } from '../src/errors.js';
import { createLocalApiHandler } from '../src/handler.js';
import { statusFromNetmap } from '../src/netmap-status.js';
import { inProcessTransport } from '../src/transport.js';
import { IPN_STATES, NotifyWatchOpt } from '../src/types.js';
import { SAMPLE_PREFS, sampleNetmap } from './fixture.js';

const CAP = 'example.com/cap/web';
const POLICY = {
  tagOwners: { 'tag:ci': ['bob@'] },
  grants: [
    { src: ['*'], dst: ['*'], ip: ['*'] },
    { src: ['alice@'], dst: ['server@'], app: { [CAP]: [{ role: 'admin' }, { role: 'viewer' }] } },
  ],
};

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/**
 * Every field of `ours` (JSON we served) equals the same field in `real` (JSON tailscaled served);
 * times compare as instants at millisecond precision (Go writes nanoseconds). Returns the paths that
 * differ.
 */
function diffServed(ours: unknown, real: unknown, path = ''): string[] {
  if (typeof ours === 'string' && typeof real === 'string' && RFC3339.test(ours) && RFC3339.test(real)) {
    return Math.abs(Date.parse(ours) - Date.parse(real)) < 1 ? [] : [`${path}: ${ours} != ${real}`];
  }
  if (ours !== null && typeof ours === 'object' && !Array.isArray(ours)) {
    if (real === null || typeof real !== 'object')
      return [`${path}: ${JSON.stringify(ours)} != ${JSON.stringify(real)}`];
    return Object.entries(ours).flatMap(([k, v]) =>
      diffServed(v, (real as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  if (Array.isArray(ours) && Array.isArray(real) && ours.length === real.length) {
    return ours.flatMap((v, i) => diffServed(v, real[i], `${path}[${i}]`));
  }
  return JSON.stringify(ours) === JSON.stringify(real)
    ? []
    : [`${path}: ${JSON.stringify(ours)} != ${JSON.stringify(real)}`];
}

/** Go's `null` CapMap / `null` values read as absent / `[]`, as our schema reads them. */
function normCapMap(m: unknown): Record<string, unknown[]> {
  if (m === null || m === undefined) return {};
  return Object.fromEntries(
    Object.entries(m as Record<string, unknown[] | null>).map(([k, v]) => [k, v ?? []]),
  );
}

describeInterop(
  'LocalClient against real tailscaled (headscale control)',
  ['headscale', 'tailscaled'],
  () => {
    let hs: Headscale | null = null;
    let srv: Tailscaled | null = null;
    let alice: Tailscaled | null = null;
    let bob: Tailscaled | null = null;
    let http: Server | null = null;
    let lc: LocalClient;
    const ips: Record<'srv' | 'alice' | 'bob', string> = { srv: '', alice: '', bob: '' };
    printLogsOnFailure(() => ({ headscale: hs, 'ts-server': srv, 'ts-alice': alice, 'ts-bob': bob }));

    beforeAll(async () => {
      hs = await startHeadscale({ embeddedDerp: true, policy: POLICY });
      const h = hs;
      await h.createUser('server');
      await h.createUser('alice', { displayName: 'Alice Example', email: 'alice@example.com' });
      await h.createUser('bob');
      const [kSrv, kAlice, kBob] = await Promise.all([
        h.createPreAuthKey({ user: 'server' }),
        h.createPreAuthKey({ user: 'alice' }),
        h.createPreAuthKey({ tags: ['tag:ci'] }),
      ]);
      [srv, alice, bob] = await Promise.all([
        startTailscaled({ env: h.clientEnv }),
        startTailscaled({ env: h.clientEnv }),
        startTailscaled({ env: h.clientEnv }),
      ]);
      await Promise.all([
        srv.up({ loginServer: h.url, authKey: kSrv, hostname: 'server' }),
        alice.up({ loginServer: h.url, authKey: kAlice, hostname: 'alice-laptop' }),
        bob.up({ loginServer: h.url, authKey: kBob, hostname: 'ci-runner' }),
      ]);
      [ips.srv, ips.alice, ips.bob] = await Promise.all([srv.ip4(), alice.ip4(), bob.ip4()]);
      const s = srv;
      await waitUntil(
        'the server node to see both peers online, and the app grant in its filter',
        async () => {
          const st = await s.status();
          const peers = Object.values(st.Peer ?? {});
          if (peers.length !== 2 || !peers.every((p) => p.Online)) return false;
          const who = await s.whois(ips.alice);
          return who.CapMap !== null && who.CapMap !== undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      lc = new LocalClient({ socketPath: s.socket });
    }, 120_000);

    afterAll(async () => {
      await new Promise<void>((r) => (http === null ? r() : http.close(() => r())));
      await Promise.all([srv?.close(), alice?.close(), bob?.close()]);
      await hs?.close();
    });

    it('whoIs equals `tailscale whois --json` for a user-owned peer, a tagged peer and ourselves', async () => {
      for (const [name, ip] of Object.entries(ips)) {
        const cli = (await srv!.whois(ip)) as {
          Node: Record<string, unknown>;
          UserProfile: Record<string, unknown>;
          CapMap: unknown;
        };
        const ours = await lc.whoIs(ip);
        expect(ours.Node.ID, name).toBe(cli.Node.ID);
        expect(ours.Node.StableID, name).toBe(cli.Node.StableID);
        expect(ours.Node.Name, name).toBe(cli.Node.Name);
        expect(ours.Node.Key.toString(), name).toBe(cli.Node.Key);
        expect(ours.Node.Addresses?.map(String), name).toEqual(cli.Node.Addresses);
        expect(ours.Node.Tags ?? [], name).toEqual(cli.Node.Tags ?? []);
        expect(ours.Node.User, name).toBe(cli.Node.User);
        expect(ours.UserProfile.ID, name).toBe(cli.UserProfile.ID);
        expect(ours.UserProfile.LoginName, name).toBe(cli.UserProfile.LoginName);
        expect(ours.UserProfile.DisplayName, name).toBe(cli.UserProfile.DisplayName);
        expect(normCapMap(ours.CapMap), name).toEqual(normCapMap(cli.CapMap));
      }
      const bobWho = await lc.whoIs(ips.bob);
      expect(bobWho.Node.Tags).toEqual(['tag:ci']);
      expect(bobWho.UserProfile.LoginName).toBe('tagged-devices');
    });

    it('the app grant is in the CapMap for alice, not for the tagged node; peerCaps reproduces it from the filter', async () => {
      const aliceWho = await lc.whoIs(ips.alice);
      expect(aliceWho.CapMap).toEqual({ [CAP]: [{ role: 'admin' }, { role: 'viewer' }] });
      const bobWho = await lc.whoIs(ips.bob);
      expect(normCapMap(bobWho.CapMap)).toEqual({});

      // The same inputs tailscaled used: its filter rules and our own addresses.
      const rules = await lc.debugPacketFilterRules();
      const st = await lc.statusWithoutPeers();
      const selfAddresses = (st.TailscaleIPs ?? []).map((a) => new IPPrefix(a, a.bitLen));
      console.log(
        `[localapi interop] tailscaled filter rules (self ${st.TailscaleIPs?.join(', ')}, alice ${ips.alice}, tagged ${ips.bob}):\n${JSON.stringify(rules)}`,
      );
      for (const [name, ip] of Object.entries(ips)) {
        const real = normCapMap((await srv!.whois(ip)).CapMap);
        const who = await lc.whoIs(ip);
        const src = who.Node.Addresses?.[0]?.addr ?? IPAddr.parse(ip);
        expect(peerCaps({ rules, selfAddresses, src }), name).toEqual(real);
      }
    });

    it("our handler serves tailscaled's WhoIs answers as the same JSON tailscaled sends", async () => {
      for (const [name, ip] of Object.entries(ips)) {
        const real = await srv!.whois(ip);
        const parsed = await lc.whoIs(ip);
        const serve = inProcessTransport(
          createLocalApiHandler({
            backend: {
              whoIs: () => ({ node: parsed.Node, userProfile: parsed.UserProfile, capMap: parsed.CapMap }),
              status: () => {
                throw new Error('unused');
              },
              prefs: () => SAMPLE_PREFS,
            },
          }),
        );
        const r = await serve({ method: 'GET', path: `/localapi/v0/whois?addr=${ip}`, timeoutMs: 5000 });
        const ours = JSON.parse(r.body.toString()) as Record<string, unknown>;
        expect(Object.keys(ours), name).toEqual(Object.keys(real));
        expect(diffServed(ours, real), name).toEqual([]);
      }
    });

    it('statusFromNetmap uses only field names tailscaled uses, with the same JSON types', async () => {
      const real = (await srv!.status()) as Record<string, unknown>;
      const nm = sampleNetmap();
      const serve = inProcessTransport(
        createLocalApiHandler({
          backend: {
            whoIs: () => null,
            status: ({ peers }) => statusFromNetmap(nm, { version: 'v', backendState: 'Running', peers }),
            prefs: () => SAMPLE_PREFS,
          },
        }),
      );
      const ours = JSON.parse(
        (await serve({ method: 'GET', path: '/localapi/v0/status', timeoutMs: 5000 })).body.toString(),
      ) as Record<string, unknown>;
      const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
      const check = (o: Record<string, unknown>, r: Record<string, unknown>, where: string) => {
        for (const [k, v] of Object.entries(o)) {
          expect(Object.keys(r), `${where}.${k} is a tailscaled field`).toContain(k);
          if (v !== null && r[k] !== null) expect(kind(v), `${where}.${k}`).toBe(kind(r[k]));
        }
      };
      check(ours, real, 'Status');
      check(ours.Self as Record<string, unknown>, real.Self as Record<string, unknown>, 'Self');
      // omitempty fields (Tags...) show only on some peers: compare with tailscaled's peers merged.
      const realPeer = Object.assign(
        {},
        ...Object.values(real.Peer as Record<string, Record<string, unknown>>),
      );
      for (const p of Object.values(ours.Peer as Record<string, Record<string, unknown>>))
        check(p, realPeer, 'Peer');
    });

    it('status equals `tailscale status --json`: self, peers by node key, IPs, host names, online', async () => {
      const [cli, ours] = await Promise.all([srv!.status(), lc.status()]);
      expect(ours.BackendState).toBe(cli.BackendState);
      expect(ours.TailscaleIPs?.map(String)).toEqual(cli.TailscaleIPs);
      expect(ours.Self?.PublicKey.toString()).toBe(cli.Self.PublicKey);
      expect(ours.Self?.HostName).toBe(cli.Self.HostName);
      expect(ours.Self?.DNSName).toBe(cli.Self.DNSName);
      expect(ours.MagicDNSSuffix).toBe(cli.MagicDNSSuffix);
      expect(ours.CurrentTailnet?.MagicDNSSuffix).toBe(
        (cli.CurrentTailnet as { MagicDNSSuffix: string }).MagicDNSSuffix,
      );
      const cliPeers = cli.Peer ?? {};
      expect(Object.keys(ours.Peer ?? {}).sort()).toEqual(Object.keys(cliPeers).sort());
      for (const [key, p] of Object.entries(ours.Peer ?? {})) {
        const c = cliPeers[key]!;
        expect(p.PublicKey.toString(), key).toBe(key);
        expect(p.ID, key).toBe(c.ID);
        expect(p.TailscaleIPs?.map(String), key).toEqual(c.TailscaleIPs);
        expect(p.HostName, key).toBe(c.HostName);
        expect(p.DNSName, key).toBe(c.DNSName);
        expect(p.Online, key).toBe(c.Online);
        expect(p.UserID, key).toBe(c.UserID);
        expect(p.Tags ?? [], key).toEqual((c.Tags as string[] | undefined) ?? []);
      }
      expect(Object.keys(ours.User ?? {}).sort()).toEqual(Object.keys((cli.User as object) ?? {}).sort());
      const lite = await lc.statusWithoutPeers();
      expect(lite.Peer).toBeUndefined();
      expect(lite.Self?.PublicKey.toString()).toBe(cli.Self.PublicKey);
    });

    it("watchIPNBus reads tailscaled's IPN bus: the initial state and prefs", async () => {
      const w = await lc.watchIPNBus(NotifyWatchOpt.InitialState | NotifyWatchOpt.InitialPrefs);
      try {
        const first = await w.next();
        expect(first.done).toBe(false);
        const n = first.value!;
        expect(n.State).toBe(IPN_STATES.indexOf('Running'));
        expect(n.Prefs?.ControlURL).toBe(hs!.url);
        expect(n.Version).toMatch(/^1\.102\.3/);
      } finally {
        w.close();
      }
      expect((await w.next()).done).toBe(true);
    });

    it('ping through tailscaled: disco and TSMP results name the peer', async () => {
      // The first pings may race path setup: retry, bounded.
      const ok = (type: 'disco' | 'TSMP') =>
        waitUntil(
          `${type} ping to alice`,
          async () => {
            const r = await lc.ping(ips.alice, type);
            return r.Err === '' ? r : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 500 },
        );
      const disco = await ok('disco');
      expect(disco.NodeIP).toBe(ips.alice);
      expect(disco.NodeName).toBe('alice-laptop');
      expect(disco.LatencySeconds).toBeGreaterThan(0);
      const tsmp = await ok('TSMP');
      expect(tsmp.NodeIP).toBe(ips.alice);
      const bad = await lc.ping('100.64.0.200', 'disco').catch((e: unknown) => e);
      // No such peer: tailscaled answers 200 with Err, or 500 {"error"}; both are reported.
      if (bad instanceof Error) expect(bad).toBeInstanceOf(LocalApiError);
      else expect((bad as { Err: string }).Err).not.toBe('');
    });

    it('prefs, user-profile, peer-by-id and tailscaled errors', async () => {
      const p = await lc.prefs();
      expect(p.ControlURL).toBe(hs!.url);
      expect(p.Hostname).toBe('server');
      expect(p.WantRunning).toBe(true);
      const who = await lc.whoIs(ips.alice);
      expect((await lc.userProfile(who.UserProfile.ID)).LoginName).toBe(who.UserProfile.LoginName);
      expect((await lc.peerByID(who.Node.ID)).Key.toString()).toBe(who.Node.Key.toString());
      await expect(lc.whoIs('100.127.255.254')).rejects.toBeInstanceOf(PeerNotFoundError);
      const bad = await lc.whoIs('not-an-ip').catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(LocalApiError);
      expect((bad as LocalApiError).status).toBe(400);
      expect((bad as Error).message).toContain("invalid 'addr' parameter");
      const gone = new LocalClient({ socketPath: `${srv!.dir}/no-such.sock` });
      await expect(gone.status()).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await gone.status().catch((e: unknown) => e)).toBeInstanceOf(LocalApiConnectError);
    });

    it('identifies callers: an HTTP handler answers "Hello, <LoginName>!" to peers calling through SOCKS5', {
      timeout: 70_000,
    }, async () => {
      const port = await freeTcpPort();
      http = createServer((req, res) => {
        // tailscaled (userspace) forwards tailnet TCP to 127.0.0.1:<port>; the remote address is the
        // proxied connection, which its WhoIs maps back to the peer.
        lc.whoIs(`${req.socket.remoteAddress}:${req.socket.remotePort}`, { proto: 'tcp' }).then(
          (who) => {
            const tags = who.Node.Tags ?? [];
            res.end(tags.length > 0 ? `Hello, ${tags.join(',')}!` : `Hello, ${who.UserProfile.LoginName}!`);
          },
          (e: unknown) => {
            res.statusCode = e instanceof PeerNotFoundError ? 403 : 500;
            res.end(String(e));
          },
        );
      });
      await new Promise<void>((r) => http!.listen(port, '127.0.0.1', r));
      const aliceWho = await lc.whoIs(ips.alice);
      const url = `http://${ips.srv}:${port}/`;
      // The first connection may race the WireGuard handshake: retry, bounded.
      const get = (ts: Tailscaled) =>
        waitUntil(`GET ${url} through SOCKS5`, () => ts.httpGet(url, 5_000).catch(() => undefined), {
          timeoutMs: 30_000,
          intervalMs: 500,
        });
      const a = await get(alice!);
      expect(a.body).toBe(`Hello, ${aliceWho.UserProfile.LoginName}!`);
      const b = await get(bob!);
      expect(b.body).toBe('Hello, tag:ci!');
    });
  },
);
