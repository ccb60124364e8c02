// @tsnet/control's ControlClient against TestTailnet: register, netmaps with peers, deltas as
// nodes join, change and leave, ephemeral cleanup, key expiry, interactive approval, policy, pings.
import { peers } from '@tsnet/control';
import { AddrPort, DiscoPrivate } from '@tsnet/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TestTailnet } from '../src/index.js';
import { join, newClient, peerNames, type TestClient } from './helpers.js';

let tailnet: TestTailnet;
const clients: TestClient[] = [];
const track = (c: TestClient) => {
  clients.push(c);
  return c;
};

beforeEach(async () => {
  tailnet = await TestTailnet.start({ ephemeralTimeoutMs: 300 });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await tailnet.close();
});

describe('TestTailnet with ControlClient', () => {
  it('registers two nodes that see each other with addresses, names and a DERP map', async () => {
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    const b = track(await join(tailnet, 'beta', key));
    const nmA = await a.until((nm) => (peers(nm).length === 1 ? nm : undefined));
    const nmB = await b.until((nm) => (peers(nm).length === 1 ? nm : undefined));
    expect(nmA.self?.Name).toBe('alpha.tailnet.test.');
    expect(nmA.self?.Addresses?.map(String)).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(peers(nmA)[0]?.Name).toBe('beta.tailnet.test.');
    expect(peers(nmB)[0]?.Addresses?.map(String)).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(nmA.domain).toBe('tailnet.test');
    expect(nmA.packetFilter?.[0]?.SrcIPs).toEqual(['*']);
    const region = nmA.derpMap?.Regions?.get(900);
    expect(region?.Nodes?.[0]?.DERPPort).toBe(Number(new URL(tailnet.derpURL).port));
    expect(region?.Nodes?.[0]?.CertName).toBe(tailnet.derpCertName);
    expect(tailnet.clientEnv).toEqual({});
    expect(region?.Nodes?.[0]?.STUNPort).toBe(tailnet.stunPort);
    expect([...nmA.userProfiles.values()].map((u) => u.LoginName)).toEqual(['user@example.com']);
    expect(tailnet.nodes().map((n) => [n.hostname, n.online])).toEqual([
      ['alpha', true],
      ['beta', true],
    ]);
  });

  it('sends deltas: a join as PeersChanged, endpoints and disco key as a patch, a leave as PeersRemoved', async () => {
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    const before = tailnet.stats.map.deltas;
    const b = track(await join(tailnet, 'beta', key));
    await a.until((nm) => peers(nm).length === 1);
    const disco = DiscoPrivate.generate().public();
    await b.client.update({
      endpoints: [{ addr: AddrPort.parse('127.0.0.1:41641') }],
      discoKey: disco,
      preferredDERP: 900,
    });
    const peer = await a.until((nm) => {
      const p = peers(nm)[0];
      return p?.Endpoints?.length === 1 && p.HomeDERP === 900 ? p : undefined;
    });
    expect(peer.Endpoints?.[0]?.toString()).toBe('127.0.0.1:41641');
    expect(peer.DiscoKey?.equals(disco)).toBe(true);
    expect(tailnet.stats.map.deltas).toBeGreaterThan(before);
    const c = track(await join(tailnet, 'gamma', key));
    await a.until((nm) => peerNames(nm).join() === 'beta,gamma');
    tailnet.deleteNode('gamma');
    await a.until((nm) => peerNames(nm).join() === 'beta');
    // The deleted node's stream ends and control no longer knows it: it needs a login.
    await vi.waitFor(() => expect(c.client.state).toBe('NeedsLogin'), { timeout: 10_000 });
    await c.close();
  });

  it('deletes an ephemeral node on logout, and another after it disconnects', async () => {
    const a = track(await join(tailnet, 'alpha', tailnet.createAuthKey()));
    const eph = tailnet.createAuthKey({ ephemeral: true, reusable: true });
    const e1 = track(await join(tailnet, 'eph1', eph));
    const e2 = track(await join(tailnet, 'eph2', eph));
    await a.until((nm) => peers(nm).length === 2);
    await e1.client.logout();
    await a.until((nm) => peerNames(nm).join() === 'eph2');
    expect(tailnet.node('eph1')).toBeUndefined();
    await e2.close();
    const offline = await a.until((nm) => peers(nm).find((p) => p.Online === false));
    expect(offline.Hostinfo?.Hostname).toBe('eph2');
    await a.until((nm) => peers(nm).length === 0);
    expect(tailnet.nodes().map((n) => n.hostname)).toEqual(['alpha']);
  });

  it('shows online and offline as OnlineChange', async () => {
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    const b = await join(tailnet, 'beta', key);
    await a.until((nm) => peers(nm)[0]?.Online === true);
    await b.close();
    await a.until((nm) => peers(nm)[0]?.Online === false);
    expect(tailnet.node('beta')?.online).toBe(false);
    expect(tailnet.node('beta')?.lastSeen).toBeInstanceOf(Date);
  });

  it('expires a node: peers see it expired, the node sees its own key expired', async () => {
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    const b = track(await join(tailnet, 'beta', key));
    await a.until((nm) => peers(nm).length === 1);
    const states: string[] = [];
    b.client.on('state', (s: string) => states.push(s));
    tailnet.expireNode('beta');
    const p = await a.until((nm) => (peers(nm)[0]?.Expired ? peers(nm)[0] : undefined));
    expect(p.Endpoints).toBeUndefined();
    await b.until((nm) => nm.self?.Expired === true);
    expect(b.client.state).toBe('Expired');
    expect(tailnet.node('beta')?.expired).toBe(true);
  });

  it('expires keys by time (keyExpiryMs)', async () => {
    await tailnet.close();
    tailnet = await TestTailnet.start({ keyExpiryMs: 1500 });
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    track(await join(tailnet, 'beta', key));
    const p = await a.until((nm) => peers(nm)[0]);
    expect(p.KeyExpiry?.getTime()).toBeGreaterThan(Date.now());
    await a.until((nm) => peers(nm)[0]?.Expired === true, 5000);
    expect(a.client.state).toBe('Expired');
  });

  it('refuses bad, used and expired auth keys with an Error', async () => {
    const one = tailnet.createAuthKey();
    track(await join(tailnet, 'alpha', one));
    const again = track(newClient(tailnet, 'beta', { authKey: one }));
    await expect(again.client.register()).rejects.toThrow(/already used/);
    const bad = track(newClient(tailnet, 'gamma', { authKey: 'tskey-auth-nope' }));
    await expect(bad.client.register()).rejects.toThrow(/invalid auth key/);
    const short = tailnet.createAuthKey({ expiresInMs: 1 });
    await new Promise((r) => setTimeout(r, 10));
    const late = track(newClient(tailnet, 'delta', { authKey: short }));
    await expect(late.client.register()).rejects.toThrow(/expired/);
  });

  it('runs the interactive login: AuthURL, Followup held until approval', async () => {
    const c = track(newClient(tailnet, 'interactive'));
    let url = '';
    c.client.on('state', (s: string, info: { authURL?: string }) => {
      if (s === 'NeedsLogin' && info.authURL) url = info.authURL;
    });
    const registered = c.client.register();
    const pending = await tailnet.waitForLogin({ hostname: 'interactive' });
    expect(pending.url.startsWith(`${tailnet.controlURL}/a/`)).toBe(true);
    const page = await fetch(pending.url);
    expect(page.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    tailnet.approveLogin(pending.url, { user: 'alice@example.com' });
    await registered;
    expect(url).toBe(pending.url);
    c.client.start();
    const nm = await c.until((m) => (m.self ? m : undefined));
    expect(nm.userProfiles.get(nm.self!.User!)?.LoginName).toBe('alice@example.com');
    expect(tailnet.pendingLogins()).toEqual([]);
  });

  it('rejects an interactive login', async () => {
    const c = track(newClient(tailnet, 'nope'));
    const registered = c.client.register();
    const pending = await tailnet.waitForLogin();
    tailnet.rejectLogin(pending.id);
    await expect(registered).rejects.toThrow(/rejected/);
  });

  it('tags nodes from a tagged key and applies a policy: filters, app capabilities, visibility', async () => {
    const server = track(await join(tailnet, 'server', tailnet.createAuthKey({ tags: ['tag:server'] })));
    const alice = track(await join(tailnet, 'alice', tailnet.createAuthKey({ user: 'alice@example.com' })));
    const bob = track(await join(tailnet, 'bob', tailnet.createAuthKey({ user: 'bob@example.com' })));
    await bob.until((nm) => peers(nm).length === 2);
    expect(tailnet.node('server')?.tags).toEqual(['tag:server']);
    expect(tailnet.node('server')?.user.loginName).toBe('tagged-devices');
    tailnet.setPolicy({
      grants: [
        {
          src: ['alice@example.com'],
          dst: ['tag:server'],
          ip: ['tcp:80', '443'],
          app: { 'example.com/cap/x': [{ k: 'v' }] },
        },
      ],
    });
    const nm = await server.until((m) => (m.packetFilter?.length === 3 ? m : undefined));
    const aliceIPs = tailnet.node('alice')!.addresses;
    expect(nm.packetFilter?.[0]).toMatchObject({ SrcIPs: aliceIPs, IPProto: [6] });
    expect(nm.packetFilter?.[0]?.DstPorts?.map((d) => `${d.IP}:${d.Ports.First}`)).toEqual([
      '100.64.0.1:80',
      'fd7a:115c:a1e0::1:80',
    ]);
    expect(nm.packetFilter?.[2]?.CapGrant?.[0]?.CapMap).toEqual({ 'example.com/cap/x': [{ k: 'v' }] });
    // bob may reach nobody and nobody him: he loses his peers, and they lose him.
    await bob.until((m) => peers(m).length === 0);
    await alice.until((m) => peerNames(m).join() === 'server');
    expect((await alice.until((m) => m.packetFilter)).length).toBe(0);
    tailnet.setPolicy(null);
    await bob.until((m) => peers(m).length === 2);
  });

  it('sets node capabilities', async () => {
    const a = track(await join(tailnet, 'alpha', tailnet.createAuthKey()));
    tailnet.setNodeCapabilities('alpha', { 'https://tailscale.com/cap/funnel': [] });
    const nm = await a.until((m) => (m.self?.CapMap?.['https://tailscale.com/cap/funnel'] ? m : undefined));
    expect(nm.self?.CapMap).toEqual({ 'https://tailscale.com/cap/funnel': [] });
  });

  it('injects a ping request that the client answers over Noise', async () => {
    const a = track(await join(tailnet, 'alpha', tailnet.createAuthKey()));
    const r = await tailnet.ping('alpha', { timeoutMs: 5000 });
    expect(r.method).toBe('HEAD');
    await vi.waitFor(() => expect(a.client.stats.pingsAnswered).toBe(1));
  });

  it('rotates a node key and keeps the node', async () => {
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'alpha', key));
    const id = tailnet.node('alpha')!.id;
    tailnet.expireNode('alpha');
    await a.until((m) => m.self?.Expired === true);
    await a.client.register({ authKey: key });
    expect(tailnet.node('alpha')?.id).toBe(id);
    expect(tailnet.node('alpha')?.expired).toBe(false);
  });

  it('sends keep-alives on an idle map stream', async () => {
    await tailnet.close();
    tailnet = await TestTailnet.start({ keepAliveMs: 100 });
    const a = track(await join(tailnet, 'alpha', tailnet.createAuthKey()));
    await vi.waitFor(() => expect(a.client.stats.keepAlives).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    expect(tailnet.stats.map.keepAlives).toBeGreaterThanOrEqual(2);
  });

  it('speaks ts2021 over WebSocket and with the early payload', async () => {
    await tailnet.close();
    tailnet = await TestTailnet.start({ earlyPayload: true });
    const key = tailnet.createAuthKey({ reusable: true });
    const a = track(await join(tailnet, 'ws', key, { transport: 'websocket' }));
    const b = track(await join(tailnet, 'early', key));
    await a.until((m) => peers(m).length === 1);
    await b.until((m) => peers(m).length === 1);
    expect(tailnet.stats.noise.upgrades).toBeGreaterThanOrEqual(2);
  });
});
