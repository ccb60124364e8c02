// The other fixture variants the packages' interop tests will use: a TLS derper pinned by CertName (no
// TS_DEBUG_USE_DERP_HTTP), headscale's embedded DERP, and the headscale admin helpers (users, tagged and
// ephemeral keys, policy, expiry).
import { afterAll, expect, it } from 'vitest';
import {
  type Derper,
  describeInterop,
  type GoPeer,
  type Headscale,
  printLogsOnFailure,
  startDerper,
  startGoPeer,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '../src/index.js';

/** Starts tailscaled + a DERP-only Go peer on `hs` and returns the pongs tailscaled got. */
async function derpOnlyPair(
  hs: Headscale,
  env: Record<string, string>,
  track: (x: Tailscaled | GoPeer) => void,
) {
  const user = await hs.createUser(`u${Date.now() % 100000}`);
  const key = await hs.createPreAuthKey({ user: user.id, reusable: true });
  const [ts, gp] = await Promise.all([
    (async () => {
      const t = await startTailscaled({ env });
      track(t);
      await t.up({ loginServer: hs.url, authKey: key, hostname: 'ts1' });
      return t;
    })(),
    startGoPeer({
      controlUrl: hs.url,
      authKey: key,
      hostname: 'gopeer',
      alwaysDerp: true,
      whois: 80,
      env,
    }).then((g) => {
      track(g);
      return g;
    }),
  ]);
  const ping = await waitUntil(
    'a pong over DERP',
    async () => {
      const p = await ts.ping(gp.ip4, { count: 3, untilDirect: false, timeoutSec: 2 });
      return p.pongs.length > 0 ? p : undefined;
    },
    { timeoutMs: 20_000 },
  );
  return { ts, gp, ping };
}

describeInterop(
  'fixtures: TLS derper, embedded DERP, headscale helpers',
  ['derper', 'headscale', 'tailscaled', 'gopeer'],
  () => {
    const closers: Array<{ close(): Promise<void> }> = [];
    const named: Record<string, { logs(): string }> = {};
    const track =
      (prefix: string) =>
      (x: { close(): Promise<void>; logs(): string }): void => {
        closers.push(x);
        named[`${prefix} ${Object.keys(named).length}`] = x;
      };
    printLogsOnFailure(() => named);
    afterAll(async () => {
      for (const c of closers.reverse()) await c.close();
    });

    it('TLS derper: CertName pins derper self-signed certificate; real nodes use it without the HTTP knob', async () => {
      const derper: Derper = await startDerper({ tls: true, regionId: 901, regionCode: 'tls' });
      track('derper')(derper);
      expect(derper.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(derper.certName).toMatch(/^sha256-raw:[0-9a-f]{64}$/);
      expect(derper.clientEnv).toEqual({});
      // derper logs a ready-made DERPNode with the same CertName.
      expect(derper.logs()).toContain(derper.certName);
      const hs = await startHeadscale({ derpMap: derper.derpMap() });
      track('headscale')(hs);
      const { ts, gp, ping } = await derpOnlyPair(hs, derper.clientEnv, track('tls'));
      for (const p of ping.pongs) expect(p.via).toBe('DERP(tls)');
      const res = await ts.httpGet(`http://${gp.ip4}:80/`);
      expect(res.status).toBe(200);
    }, 60_000);

    let embedded: Headscale | null = null;
    it("headscale's embedded DERP (verify_clients): real nodes relay through it", async () => {
      const hs = await startHeadscale({ embeddedDerp: { verifyClients: true } });
      embedded = hs;
      track('headscale-embedded')(hs);
      expect(hs.clientEnv).toEqual({ TS_DEBUG_USE_DERP_HTTP: '1' });
      const { ping } = await derpOnlyPair(hs, hs.clientEnv, track('embedded'));
      for (const p of ping.pongs) expect(p.via).toBe('DERP(headscale)');
    }, 60_000);

    it('headscale helpers: users, tagged and ephemeral keys, policy, node expiry', async () => {
      const hs = embedded ?? (await startHeadscale());
      if (embedded === null) track('headscale')(hs);
      const bob = await hs.createUser('bob', { displayName: 'Bob', email: 'bob@example.com' });
      expect((await hs.users()).map((u) => u.name)).toContain('bob');

      // An invalid policy is refused; a valid one (with a tag owner) is accepted.
      await expect(hs.setPolicy('{ "acls": [ { "action": "nope" } ] }')).rejects.toThrow();
      await hs.setPolicy({
        tagOwners: { 'tag:ts': ['bob@'] },
        acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
      });

      const tagged = await hs.createPreAuthKey({ tags: ['tag:ts'], ephemeral: true });
      const gp = await startGoPeer({
        controlUrl: hs.url,
        authKey: tagged,
        hostname: 'tagged',
        env: hs.clientEnv,
      });
      track('tagged')(gp);
      const node = await hs.waitForNode('tagged');
      expect(node.tags).toContain('tag:ts');
      expect(node.ipAddresses).toContain(gp.ip4);
      expect(node.expiry).toBeNull();

      const userKey = await hs.createPreAuthKey({ user: 'bob', reusable: true, expiration: '24h' });
      expect(userKey).toMatch(/^hskey-auth-/);
      expect(bob.id).toBeGreaterThan(0);

      await hs.expireNode(node.id);
      const expired = await hs.waitForNode('tagged', { pred: (n) => n.expiry !== null });
      expect(expired.expiry?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    }, 60_000);
  },
);
