// Real clients against TestTailnet: tailscaled v1.102.3 (userspace networking) nodes register with
// auth keys, see each other in `tailscale status --json`, and reach each other through the embedded
// DERP server (`tailscale ping` pongs `via DERP(test)`) and directly (`via 127.0.0.1:port`); the Go
// tsnet peer joins too; a tailscaled without a key is approved through the admin call.

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import {
  describeInterop,
  type GoPeer,
  printLogsOnFailure,
  startGoPeer,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestTailnet } from '../src/index.js';

describeInterop('TestTailnet with real tailscaled and the Go tsnet peer', ['tailscaled', 'gopeer'], () => {
  let tailnet: TestTailnet | null = null;
  let ts1: Tailscaled | null = null;
  let ts2: Tailscaled | null = null;
  let tsDerp: Tailscaled | null = null;
  let tsLogin: Tailscaled | null = null;
  let gp: GoPeer | null = null;
  let key = '';
  const logs: string[] = [];
  printLogsOnFailure(() => ({
    testcontrol: { logs: () => logs.join('\n') },
    ts1,
    ts2,
    'ts-derp-only': tsDerp,
    'ts-login': tsLogin,
    gopeer: gp,
  }));

  beforeAll(async () => {
    tailnet = await TestTailnet.start({
      logf: (f, ...a) => logs.push(`${f} ${a.map(String).join(' ')}`),
    });
    key = tailnet.createAuthKey({ reusable: true });
    const t = tailnet;
    [ts1, ts2] = await Promise.all([
      startTailscaled({ env: t.clientEnv }),
      startTailscaled({ env: t.clientEnv }),
    ]);
    await Promise.all([
      ts1.up({ loginServer: t.controlURL, authKey: key, hostname: 'ts1' }),
      ts2.up({ loginServer: t.controlURL, authKey: key, hostname: 'ts2' }),
    ]);
  }, 90_000);

  afterAll(async () => {
    await gp?.close();
    await tsLogin?.close();
    await tsDerp?.close();
    await ts2?.close();
    await ts1?.close();
    await tailnet?.close();
  });

  it('registers both nodes, which see each other in tailscale status --json', async () => {
    const t = tailnet!;
    expect(
      t
        .nodes()
        .map((n) => n.hostname)
        .sort(),
    ).toEqual(['ts1', 'ts2']);
    await waitUntil(
      'ts1 to list ts2 online',
      async () => {
        const st = await ts1!.status();
        return Object.values(st.Peer ?? {}).some((p) => p.HostName === 'ts2' && p.Online);
      },
      { timeoutMs: 20_000 },
    );
    const st = await ts1!.status();
    expect(st.BackendState).toBe('Running');
    expect(st.Self.DNSName).toBe('ts1.tailnet.test.');
    const peer = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'ts2')!;
    expect(peer.DNSName).toBe('ts2.tailnet.test.');
    expect(peer.TailscaleIPs).toEqual(t.node('ts2')!.addresses);
  });

  it('reaches the other tailscaled directly (tailscale ping via 127.0.0.1:port)', async () => {
    const ip = await ts2!.ip4();
    const r = await ts1!.ping(ip, { count: 10, timeoutSec: 5 });
    expect(r.pongs.length, r.stdout + r.stderr).toBeGreaterThan(0);
    console.log(r.stdout);
    expect(r.pongs.at(-1)!.via).toMatch(/^127\.0\.0\.1:\d+$/);
    // The 127.0.0.1 endpoints came from our STUN server (the fixture omits local addresses).
    expect(tailnet!.stats.stun?.responses).toBeGreaterThan(0);
  });

  it('reaches a DERP-only tailscaled through the embedded DERP (via DERP(test))', async () => {
    const t = tailnet!;
    tsDerp = await startTailscaled({ env: { ...t.clientEnv, TS_DEBUG_ALWAYS_USE_DERP: '1' } });
    await tsDerp.up({ loginServer: t.controlURL, authKey: key, hostname: 'tsderp' });
    const ip = await tsDerp.ip4();
    const r = await ts1!.ping(ip, { count: 3, untilDirect: false, timeoutSec: 5 });
    expect(r.pongs.length, r.stdout + r.stderr).toBeGreaterThan(0);
    console.log(r.stdout);
    expect(r.pongs[0]!.via).toBe('DERP(test)');
    expect(t.derpServer.connectedKeys().length).toBeGreaterThanOrEqual(2);
  });

  it('carries TCP through the embedded DERP to a DERP-only tailscaled', async () => {
    // tailscaled (userspace) forwards inbound tailnet TCP to 127.0.0.1:<same port> on this host.
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (echo.address() as AddressInfo).port;
      const bytesBefore = tailnet!.derpServer.counters.bytesSent;
      const data = 'x'.repeat(64 * 1024);
      const got = await ts1!.nc(await tsDerp!.ip4(), port, data, {
        expectBytes: data.length,
        timeoutMs: 20_000,
      });
      expect(got.toString()).toBe(data);
      // Both directions of 64 KiB (plus WireGuard and TCP overhead) went through our DERP server.
      expect(tailnet!.derpServer.counters.bytesSent - bytesBefore).toBeGreaterThan(2 * data.length);
    } finally {
      echo.close();
    }
  });

  it('lets the Go tsnet peer join and talk to tailscaled', async () => {
    const t = tailnet!;
    gp = await startGoPeer({
      controlUrl: t.controlURL,
      authKey: key,
      hostname: 'gopeer',
      echo: 7,
      env: t.clientEnv,
    });
    const ip = gp.up.tailscaleIPs.find((a) => a.includes('.'))!;
    expect(t.node('gopeer')?.addresses).toContain(ip);
    const r = await ts1!.ping(ip, { count: 10, timeoutSec: 5 });
    expect(r.pongs.length, r.stdout + r.stderr).toBeGreaterThan(0);
    const echoed = await ts1!.nc(ip, 7, 'hello testcontrol', { expectBytes: 17 });
    expect(echoed.toString()).toBe('hello testcontrol');
  });

  it('approves an interactive login of a real tailscaled through the admin call', async () => {
    const t = tailnet!;
    tsLogin = await startTailscaled({ env: t.clientEnv });
    const ts = tsLogin;
    const up = ts.cli(
      ['up', `--login-server=${t.controlURL}`, '--hostname=tslogin', '--accept-dns=false', '--timeout=40s'],
      {
        timeoutMs: 45_000,
      },
    );
    const pending = await t.waitForLogin({ hostname: 'tslogin', timeoutMs: 20_000 });
    t.approveLogin(pending.url, { user: 'carol@example.com' });
    const r = await up;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitUntil('tslogin to be Running', async () => (await ts.status()).BackendState === 'Running', {
      timeoutMs: 20_000,
    });
    expect(t.node('tslogin')?.user.loginName).toBe('carol@example.com');
    const who = await ts1!.whois(await ts.ip4());
    expect(JSON.stringify(who)).toContain('carol@example.com');
  });

  it('answers an injected ping request from a real tailscaled', async () => {
    const r = await tailnet!.ping('ts1', { timeoutMs: 15_000 });
    expect(r.method).toBe('HEAD');
    // A typed ping: ts1 disco-pings ts2 and POSTs the tailcfg.PingResponse back over Noise.
    const ip2 = await ts2!.ip4();
    const d = await tailnet!.ping('ts1', { type: 'disco', ip: ip2, timeoutMs: 20_000 });
    expect(d.method).toBe('POST');
    expect(d.body).toMatchObject({ IP: ip2, NodeName: 'ts2' });
    expect((d.body as { Err?: string }).Err ?? '').toBe('');
  });

  it('applies a policy in real tailscaled: app capabilities in whois, peers hidden', async () => {
    const t = tailnet!;
    t.setPolicy({
      grants: [
        { src: ['host:ts1'], dst: ['host:ts2'], ip: ['*'], app: { 'example.com/cap/x': [{ k: 'v' }] } },
        { src: ['host:ts1'], dst: ['*'], ip: ['*'] },
      ],
    });
    const ip1 = await ts1!.ip4();
    await waitUntil(
      'ts2 to see only ts1, with the app capability',
      async () => {
        const st = await ts2!.status();
        const names = Object.values(st.Peer ?? {}).map((p) => p.HostName);
        if (names.length !== 1 || names[0] !== 'ts1') return false;
        const who = await ts2!.whois(ip1);
        return JSON.stringify(who.CapMap ?? {}).includes('example.com/cap/x');
      },
      { timeoutMs: 20_000 },
    );
    const who = await ts2!.whois(ip1);
    expect(who.CapMap).toEqual({ 'example.com/cap/x': [{ k: 'v' }] });
    const st1 = await ts1!.status();
    expect(Object.values(st1.Peer ?? {}).length).toBe(4);
    t.setPolicy(null);
    await waitUntil(
      'ts2 to see everyone again',
      async () => Object.keys((await ts2!.status()).Peer ?? {}).length === 4,
      {
        timeoutMs: 20_000,
      },
    );
  });

  it('shows an expired node as expired to its peers', async () => {
    const t = tailnet!;
    t.expireNode('tsderp');
    await waitUntil(
      'ts1 to see tsderp expired',
      async () => {
        const st = await ts1!.status();
        const p = Object.values(st.Peer ?? {}).find((x) => x.HostName === 'tsderp');
        return p?.Expired === true;
      },
      { timeoutMs: 20_000 },
    );
    await waitUntil(
      'tsderp to need a login',
      async () => (await tsDerp!.status()).BackendState === 'NeedsLogin',
      {
        timeoutMs: 20_000,
      },
    );
    // Logging in again with a key rotates the node key and keeps the node (same ID and addresses).
    const before = t.node('tsderp')!;
    await tsDerp!.up({
      loginServer: t.controlURL,
      authKey: key,
      hostname: 'tsderp',
      extraArgs: ['--force-reauth'],
    });
    const after = t.node('tsderp')!;
    expect(after.id).toBe(before.id);
    expect(after.addresses).toEqual(before.addresses);
    expect(after.nodeKey).not.toBe(before.nodeKey);
    expect(after.expired).toBe(false);
    await waitUntil(
      'ts1 to see tsderp unexpired',
      async () => {
        const p = Object.values((await ts1!.status()).Peer ?? {}).find((x) => x.HostName === 'tsderp');
        return p !== undefined && p.Expired !== true && p.PublicKey === after.nodeKey;
      },
      { timeoutMs: 20_000 },
    );
  });
});

describeInterop(
  'TestTailnet with plain-HTTP DERP (derpTls: false) and real tailscaled',
  ['tailscaled'],
  () => {
    let tailnet: TestTailnet | null = null;
    let a: Tailscaled | null = null;
    let b: Tailscaled | null = null;
    printLogsOnFailure(() => ({ a, b }));

    afterAll(async () => {
      await b?.close();
      await a?.close();
      await tailnet?.close();
    });

    it('relays through DERP on the control port with TS_DEBUG_USE_DERP_HTTP=1', async () => {
      tailnet = await TestTailnet.start({ derpTls: false });
      const t = tailnet;
      expect(t.clientEnv).toEqual({ TS_DEBUG_USE_DERP_HTTP: '1' });
      expect(t.derpURL).toBe(`${t.controlURL}/derp`);
      const key = t.createAuthKey({ reusable: true, ephemeral: true });
      [a, b] = await Promise.all([
        startTailscaled({ env: t.clientEnv }),
        startTailscaled({ env: { ...t.clientEnv, TS_DEBUG_ALWAYS_USE_DERP: '1' } }),
      ]);
      await Promise.all([
        a.up({ loginServer: t.controlURL, authKey: key, hostname: 'plain-a' }),
        b.up({ loginServer: t.controlURL, authKey: key, hostname: 'plain-b' }),
      ]);
      const r = await a.ping(await b.ip4(), { count: 3, untilDirect: false, timeoutSec: 5 });
      expect(r.pongs[0]?.via, r.stdout + r.stderr).toBe('DERP(test)');
      expect(t.node('plain-b')?.ephemeral).toBe(true);
      const out = await b.cli(['logout']);
      expect(out.code, out.stderr).toBe(0);
      await t
        .waitForNode(() => t.node('plain-b') === undefined, { timeoutMs: 10_000 })
        .catch(() => undefined);
      await waitUntil(
        'plain-b to be gone from control and from plain-a',
        async () => {
          if (t.node('plain-b') !== undefined) return false;
          return !Object.values((await a!.status()).Peer ?? {}).some((p) => p.HostName === 'plain-b');
        },
        { timeoutMs: 20_000 },
      );
    }, 90_000);
  },
);
