/**
 * Interop with a real headscale v0.29.2 (and a real tailscaled v1.102.3) on 127.0.0.1, through the
 * `@tsnet/interop` fixtures. Skips with the reason when the binaries are missing (fails under
 * CI=true).
 */
import { AddrPort, DiscoPrivate, MachinePrivate, NodePrivate } from '@tsnet/core';
import {
  binaryPath,
  describeInterop,
  type Headscale,
  type LogSource,
  Proc,
  printLogsOnFailure,
  runOk,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ControlClient, type ControlClientOptions } from '../src/client.js';
import { ControlLoginError } from '../src/errors.js';
import type { NetworkMap } from '../src/netmap/netmap.js';
import { peers } from '../src/netmap/netmap.js';
import type { MapResponse } from '../src/tailcfg/map.js';

function waitNetmap(c: ControlClient, pred: (nm: NetworkMap) => boolean, ms = 20_000): Promise<NetworkMap> {
  return new Promise((resolve, reject) => {
    const check = (nm: NetworkMap | undefined) => {
      if (nm !== undefined && pred(nm)) {
        clearTimeout(t);
        c.off('netmap', check);
        resolve(nm);
      }
    };
    const t = setTimeout(() => {
      c.off('netmap', check);
      reject(new Error('timed out waiting for a netmap'));
    }, ms);
    c.on('netmap', check);
    check(c.netmap);
  });
}

describeInterop('@tsnet/control against headscale v0.29.2', ['headscale', 'tailscaled'], () => {
  let hs: Headscale;
  const clients: ControlClient[] = [];
  const daemons: Tailscaled[] = [];
  const logs: string[] = [];
  const ourLogs: LogSource = { logs: () => logs.slice(-400).join('') };
  printLogsOnFailure(() => ({ headscale: hs, ours: ourLogs, tailscaled: daemons[0] }));

  beforeAll(async () => {
    hs = await startHeadscale({ embeddedDerp: true });
    await hs.createUser('alice');
  }, 60_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(daemons.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await hs?.close();
  });

  function client(opts: Partial<ControlClientOptions> & { name: string }): ControlClient {
    const c = new ControlClient({
      serverURL: hs.url,
      machineKey: MachinePrivate.generate(),
      hostinfo: { Hostname: opts.name },
      logf: (f, ...a) => logs.push(`[${opts.name}] ${f} ${a.map(String).join(' ')}\n`),
      ...opts,
    });
    clients.push(c);
    return c;
  }

  it('registers with a pre-auth key: headscale lists the node online with the IPs our netmap holds; DERP map and filters arrive', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice' });
    const c = client({ name: 'ts-one', authKey: key });
    const res = await c.register();
    expect(res.response.MachineAuthorized).toBe(true);
    c.start();
    const nm = await waitNetmap(c, (n) => n.self !== undefined);
    const node = await hs.waitForNode('ts-one', { pred: (n) => n.online });
    const ours = (nm.self?.Addresses ?? []).map((p) => p.addr.toString()).sort();
    expect(ours).toEqual([...node.ipAddresses].sort());
    expect(ours.length).toBe(2);
    expect(nm.self?.Key.equals(c.nodeKey.public())).toBe(true);
    expect(nm.derpMap?.Regions?.get(999)?.Nodes?.[0]?.HostName).toBe('127.0.0.1');
    expect(nm.namedPacketFilters.has('base')).toBe(true);
    expect(nm.domain).not.toBe('');
    expect(c.state).toBe('Running');
  }, 60_000);

  it("a wrong auth key is refused with headscale's own words", async () => {
    const c = client({ name: 'ts-bad', authKey: 'hskey-auth-0123456789ab-notarealkey' });
    const err = await c.register().catch((e) => e);
    expect(err).toBeInstanceOf(ControlLoginError);
    logs.push(`wrong key error: ${err.serverMessage}\n`);
    expect(err.serverMessage.length).toBeGreaterThan(0);
    expect(err.serverMessage).toMatch(/key/i);
    // A well-formed key that headscale never issued.
    const real = await hs.createPreAuthKey({ user: 'alice' });
    const forged = `${real.slice(0, -6)}${real.slice(-6) === 'aaaaaa' ? 'bbbbbb' : 'aaaaaa'}`;
    const c2 = client({ name: 'ts-bad2', authKey: forged });
    const err2 = await c2.register().catch((e) => e);
    expect(err2).toBeInstanceOf(ControlLoginError);
    logs.push(`forged key error: ${err2.serverMessage}\n`);
    console.log(
      `headscale's words: ${JSON.stringify(err.serverMessage)} / ${JSON.stringify(err2.serverMessage)}`,
    );
  }, 30_000);

  it("RequestTags together with a pre-auth key is refused (headscale's rule), a tagged key works", async () => {
    await hs.setPolicy({
      tagOwners: { 'tag:ts': ['alice@'] },
      acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }],
    });
    const key = await hs.createPreAuthKey({ user: 'alice' });
    const c = client({ name: 'ts-tags', authKey: key, tags: ['tag:ts'] });
    const err = await c.register().catch((e) => e);
    expect(err).toBeInstanceOf(ControlLoginError);
    console.log(`headscale on RequestTags + pre-auth key: ${JSON.stringify(err.serverMessage)}`);
    expect(err.serverMessage).toMatch(/tag/i);
    const tagged = await hs.createPreAuthKey({ tags: ['tag:ts'] });
    const t = client({ name: 'ts-tagged', authKey: tagged });
    await t.register();
    t.start();
    const nm = await waitNetmap(t, (n) => n.self !== undefined);
    expect(nm.self?.Tags).toEqual(['tag:ts']);
    await hs.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }] });
  }, 60_000);

  it('a real tailscaled peer appears with exactly the addresses its status shows; lite updates reach it; deletion arrives as a removal', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice', reusable: true });
    const c = client({ name: 'ts-watch', authKey: key });
    await c.register();
    c.start();
    await waitNetmap(c, (n) => n.self !== undefined);
    const seen: MapResponse[] = [];
    c.on('mapResponse', (r: MapResponse) => seen.push(r));
    const disco = DiscoPrivate.generate().public();
    await c.update({
      endpoints: [{ addr: AddrPort.parse('127.0.0.1:41641') }],
      discoKey: disco,
      preferredDERP: 999,
    });

    const t = await startTailscaled({ env: hs.clientEnv });
    daemons.push(t);
    await t.up({ loginServer: hs.url, authKey: key, hostname: 'real-peer' });
    const st = await t.status();
    const theirIPs = [...(st.Self.TailscaleIPs ?? [])].sort();
    const nm = await waitNetmap(c, (n) => peers(n).some((p) => p.Hostinfo?.Hostname === 'real-peer'));
    const peer = peers(nm).find((p) => p.Hostinfo?.Hostname === 'real-peer')!;
    expect(peer.Addresses!.map((p) => p.addr.toString()).sort()).toEqual(theirIPs);
    expect(peer.Key.toString()).toBe(st.Self.PublicKey);
    // It arrived as a delta (PeersChanged), never as a new full peer list.
    expect(seen.some((r) => r.PeersChanged?.some((n) => n.ID === peer.ID))).toBe(true);
    expect(seen.some((r) => r.Peers !== undefined && r.Peers.length > 0)).toBe(false);

    // tailscaled sees our endpoint and home DERP from the lite update.
    await waitUntil(
      'tailscaled sees our home DERP',
      async () => {
        const s = await t.status();
        const me = Object.values(s.Peer ?? {}).find((p) => p.HostName === 'ts-watch');
        return me !== undefined && String(me.Relay) === 'headscale' ? me : undefined;
      },
      { timeoutMs: 20_000 },
    );

    const hsPeer = await hs.waitForNode('real-peer');
    await t.close();
    daemons.splice(0);
    // Disconnecting arrives as a patch (online false).
    await waitNetmap(c, (n) => n.peerTable.get(peer.ID)?.Online === false, 30_000);
    expect(
      seen.some((r) => r.PeersChangedPatch?.some((p) => p.NodeID === peer.ID && p.Online === false)),
    ).toBe(true);
    await hs.deleteNode(hsPeer.id);
    await waitNetmap(c, (n) => !peers(n).some((p) => p.ID === peer.ID));
    expect(seen.some((r) => r.PeersRemoved?.includes(peer.ID))).toBe(true);
  }, 90_000);

  it('a second ControlClient appears, goes offline as a patch, and its expiry is seen', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice', reusable: true });
    const a = client({ name: 'ts-a', authKey: key });
    await a.register();
    a.start();
    await waitNetmap(a, (n) => n.self !== undefined);
    const b = client({ name: 'ts-b', authKey: key });
    await b.register();
    b.start();
    const withB = await waitNetmap(a, (n) =>
      peers(n).some((p) => p.Hostinfo?.Hostname === 'ts-b' && p.Online === true),
    );
    const bId = peers(withB).find((p) => p.Hostinfo?.Hostname === 'ts-b')!.ID;
    await b.close();
    await waitNetmap(a, (n) => n.peerTable.get(bId)?.Online === false, 30_000);
    const node = await hs.waitForNode('ts-a');
    await hs.expireNode(node.id);
    await waitUntil('our state Expired', async () => (a.state === 'Expired' ? true : undefined), {
      timeoutMs: 20_000,
    });
  }, 90_000);

  it('a policy change delivers new packet filters', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice' });
    const c = client({ name: 'ts-policy', authKey: key });
    await c.register();
    c.start();
    const before = await waitNetmap(c, (n) => n.self !== undefined);
    const selfIP = before.self!.Addresses![0]!.addr.toString();
    await hs.setPolicy({ acls: [{ action: 'accept', src: ['alice@'], dst: [`${selfIP}:8080`] }] });
    const after = await waitNetmap(c, (n) =>
      (n.packetFilter ?? []).some((r) => (r.DstPorts ?? []).some((d) => d.Ports.First === 8080)),
    );
    expect(after.packetFilter!.length).toBeGreaterThan(0);
    await hs.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }] });
  }, 60_000);

  it('interactive login completes through `headscale auth register`', async () => {
    const c = client({ name: 'ts-interactive' });
    let url = '';
    c.on('state', (_s, info: { authURL?: string }) => {
      if (info.authURL) url = info.authURL;
    });
    const done = c.register();
    await waitUntil('the AuthURL', async () => (url ? url : undefined), { timeoutMs: 20_000 });
    const authId = url.split('/register/')[1]!;
    const r = await hs.cli(['auth', 'register', '--user', 'alice', '--auth-id', authId]);
    expect(r.code).toBe(0);
    const res = await done;
    expect(res.response.MachineAuthorized).toBe(true);
    c.start();
    await waitNetmap(c, (n) => n.self !== undefined);
    await hs.waitForNode('ts-interactive');
  }, 60_000);

  it('a restart with persisted keys re-attaches to the same node (no duplicate), over the WebSocket carrier too', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice' });
    const machineKey = MachinePrivate.generate();
    const nodeKey = NodePrivate.generate();
    const first = client({ name: 'ts-persist', authKey: key, machineKey, nodeKey });
    await first.register();
    first.start();
    const nm1 = await waitNetmap(first, (n) => n.self !== undefined);
    await first.close();
    const count = (await hs.nodes()).length;
    // No auth key this time: headscale recognises the machine and node keys.
    const again = client({ name: 'ts-persist', machineKey, nodeKey, transport: 'websocket' });
    await again.register();
    again.start();
    const nm2 = await waitNetmap(again, (n) => n.self !== undefined);
    expect(nm2.self!.ID).toBe(nm1.self!.ID);
    expect((await hs.nodes()).length).toBe(count);
  }, 60_000);

  it('an ephemeral key plus logout removes the node', async () => {
    const key = await hs.createPreAuthKey({ user: 'alice', ephemeral: true });
    const c = client({ name: 'ts-ephemeral', authKey: key, ephemeral: true });
    await c.register();
    c.start();
    await waitNetmap(c, (n) => n.self !== undefined);
    await hs.waitForNode('ts-ephemeral');
    await c.logout();
    await waitUntil(
      'the node deleted',
      async () => ((await hs.nodes()).some((n) => n.name === 'ts-ephemeral') ? undefined : true),
      {
        timeoutMs: 20_000,
      },
    );
    expect(c.state).toBe('NeedsLogin');
  }, 60_000);
});

describeInterop('@tsnet/control survives a headscale restart', ['headscale'], () => {
  let hs: Headscale;
  let second: Proc | undefined;
  const clients: ControlClient[] = [];
  printLogsOnFailure(() => ({ headscale: hs, 'headscale (restarted)': second }));
  beforeAll(async () => {
    hs = await startHeadscale({ embeddedDerp: true });
    await hs.createUser('bob');
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await second?.stop();
    await hs?.close();
  });

  it('reconnects and resumes the map without registering again', async () => {
    const key = await hs.createPreAuthKey({ user: 'bob' });
    const c = new ControlClient({
      serverURL: hs.url,
      machineKey: MachinePrivate.generate(),
      authKey: key,
      hostinfo: { Hostname: 'ts-restart' },
    });
    clients.push(c);
    await c.register();
    c.start();
    const before = await waitNetmap(c, (n) => n.self !== undefined);
    const nodesBefore = (await hs.nodes()).length;

    // Stop the fixture's headscale (our own child, found by its config path), start it again on
    // the same config and database.
    const ps = await runOk('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)]);
    const line = ps.split('\n').find((l) => l.includes(hs.configPath) && l.includes(' serve'));
    expect(line).toBeDefined();
    const pid = Number(line!.trim().split(/\s+/)[0]);
    process.kill(pid, 'SIGTERM');
    await waitUntil(
      'headscale stopped',
      () => (c.stats.pollErrors > 0 || c.stats.mapSessions > 1 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    );
    const bin = binaryPath('headscale')!;
    second = new Proc('headscale (restarted)', bin, ['-c', hs.configPath, 'serve'], { cwd: hs.dir });

    const after = await waitNetmap(c, (n) => n !== before && n.self !== undefined, 60_000);
    expect(after.self!.ID).toBe(before.self!.ID);
    expect(c.stats.noiseDials).toBeGreaterThanOrEqual(2);
    expect((await hs.nodes()).length).toBe(nodesBefore);
    expect(c.state).toBe('Running');
  }, 120_000);
});
