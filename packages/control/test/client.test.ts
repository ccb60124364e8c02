import { AddrPort, DiscoPrivate, FakeClock, MachinePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient, type ControlState } from '../src/client.js';
import { ControlHttpError, ControlLoginError } from '../src/errors.js';
import { peers } from '../src/netmap/netmap.js';
import {
  type FakeControl,
  type FakeControlOptions,
  type MapWriter,
  startFakeControl,
} from './fake-control.js';

const zeroNode = `nodekey:${'0'.repeat(64)}`;

function node(id: number, key: string, extra: Record<string, unknown> = {}) {
  return {
    ID: id,
    StableID: `s${id}`,
    Name: `n${id}.tailnet.test.`,
    User: 1,
    Key: key,
    Addresses: [`100.64.0.${id}/32`],
    ...extra,
  };
}

async function until<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let fake: FakeControl | undefined;
let client: ControlClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  await fake?.close();
  fake = undefined;
});

interface Recorded {
  registers: Array<Record<string, unknown>>;
  maps: Array<{ body: Record<string, unknown>; w: MapWriter }>;
  others: string[];
}

async function setup(extra: Partial<FakeControlOptions> = {}, keyExpired = false) {
  const rec: Recorded = { registers: [], maps: [], others: [] };
  let expiredOnce = keyExpired;
  fake = await startFakeControl({
    earlyPayload: true,
    register: (body) => {
      rec.registers.push(body);
      if (expiredOnce) {
        expiredOnce = false;
        return { NodeKeyExpired: true };
      }
      const auth = body.Auth as { AuthKey?: string } | null;
      if (auth?.AuthKey === 'bad') return { Error: 'invalid pre auth key' };
      return {
        MachineAuthorized: true,
        User: { ID: 1, DisplayName: 'alice' },
        Login: { LoginName: 'alice' },
      };
    },
    map: (body, _ctx, w) => {
      rec.maps.push({ body, w });
      if (body.Stream) {
        w.send({
          Node: node(1, String(body.NodeKey)),
          Peers: [node(2, `nodekey:${'22'.repeat(32)}`)],
          Domain: 'tailnet.test',
        });
      } else w.end();
    },
    other: (method, path) => {
      rec.others.push(`${method} ${path}`);
      return [200, ''];
    },
    ...extra,
  });
  return rec;
}

describe('ControlClient against the in-process control', () => {
  it('registers with an auth key: the request carries Go wire forms', async () => {
    const rec = await setup();
    client = new ControlClient({
      serverURL: fake!.url,
      machineKey: MachinePrivate.generate(),
      authKey: 'tskey-good',
      hostinfo: { Hostname: 'ts1' },
    });
    const res = await client.register();
    expect(res.response.MachineAuthorized).toBe(true);
    const r = rec.registers[0]!;
    expect(r.Version).toBe(115);
    expect(r.NodeKey).toBe(client.nodeKey.public().toString());
    expect(r.OldNodeKey).toBe(zeroNode);
    expect(r.NLKey).toBe(`nlpub:${'0'.repeat(64)}`);
    expect(r.Auth).toEqual({ AuthKey: 'tskey-good' });
    expect(new Date(r.Expiry as string).getUTCFullYear()).toBe(1);
    expect((r.Hostinfo as Record<string, unknown>).Hostname).toBe('ts1');
    expect(r.Followup).toBe('');
  });

  it("surfaces the server's Error as a typed ControlLoginError with its words", async () => {
    await setup();
    client = new ControlClient({
      serverURL: fake!.url,
      machineKey: MachinePrivate.generate(),
      authKey: 'bad',
    });
    const err = await client.register().catch((e) => e);
    expect(err).toBeInstanceOf(ControlLoginError);
    expect(err.code).toBe('ERR_CONTROL_LOGIN');
    expect(err.serverMessage).toBe('invalid pre auth key');
  });

  it('HTTP 429 waits for Retry-After (on the injected clock) and retries; other statuses are ControlHttpError', async () => {
    const clock = new FakeClock();
    let n = 0;
    await setup({
      register: () => {
        n++;
        if (n === 1) return [429, 'slow down', { 'retry-after': '7' }];
        if (n === 2) return { MachineAuthorized: true };
        return [500, 'database is on fire'];
      },
    });
    client = new ControlClient({
      serverURL: fake!.url,
      machineKey: MachinePrivate.generate(),
      authKey: 'k',
      clock,
    });
    const done = client.register();
    await until(() => n === 1 && clock.pending > 0);
    clock.advance(6_999);
    await new Promise((r) => setTimeout(r, 30));
    expect(n).toBe(1);
    clock.advance(1);
    await done;
    expect(n).toBe(2);
    const err = await client.register().catch((e) => e);
    expect(err).toBeInstanceOf(ControlHttpError);
    expect(err.status).toBe(500);
    expect(err.body).toBe('database is on fire');
  });

  it('answers NodeKeyExpired by rotating the node key with OldNodeKey', async () => {
    const rec = await setup({}, true);
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    const first = client.nodeKey;
    const rotated: unknown[] = [];
    client.on('nodeKey', (k) => rotated.push(k));
    await client.register();
    expect(rec.registers).toHaveLength(2);
    expect(rec.registers[1]!.OldNodeKey).toBe(first.public().toString());
    expect(rec.registers[1]!.NodeKey).not.toBe(first.public().toString());
    expect(client.nodeKey).not.toBe(first);
    expect(rotated).toEqual([client.nodeKey]);
  });

  it('interactive login: NeedsLogin with the AuthURL, then the Followup long poll completes', async () => {
    let approve!: () => void;
    const approved = new Promise<void>((r) => {
      approve = r;
    });
    const rec = await setup({
      register: async (body) => {
        rec.registers.push(body);
        if (!body.Followup) return { AuthURL: `${fake!.url}/register/abc` };
        await approved;
        return { MachineAuthorized: true };
      },
    });
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate() });
    const states: Array<[ControlState, unknown]> = [];
    client.on('state', (s, info) => states.push([s, info]));
    const done = client.register();
    await until(() => rec.registers.length === 2);
    expect(rec.registers[1]!.Followup).toBe(`${fake!.url}/register/abc`);
    expect(states[0]).toEqual(['NeedsLogin', { authURL: `${fake!.url}/register/abc` }]);
    approve();
    await done;
    expect(client.state).toBe('Starting');
  });

  it('streams the map: full map, deltas, keep-alives, ping answered over Noise; one Noise connection', async () => {
    const rec = await setup();
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    const it = client.watchNetmap();
    const first = (await it.next()).value!;
    expect(first.self?.Addresses?.map(String)).toEqual(['100.64.0.1/32']);
    expect(peers(first).map((p) => p.ID)).toEqual([2]);
    expect(client.state).toBe('Running');
    const m = rec.maps[0]!;
    expect(m.body).toMatchObject({ Version: 115, Stream: true, KeepAlive: true, Compress: '' });
    m.w.send({ KeepAlive: true });
    m.w.send({ PeersChanged: [node(3, `nodekey:${'33'.repeat(32)}`)] });
    const second = (await it.next()).value!;
    expect(peers(second).map((p) => p.ID)).toEqual([2, 3]);
    m.w.send({
      PeersRemoved: [2],
      PingRequest: { URL: `${fake!.url}/machine/ping-response?id=7`, URLIsNoise: true },
    });
    const third = (await it.next()).value!;
    expect(peers(third).map((p) => p.ID)).toEqual([3]);
    await until(() => rec.others.includes('HEAD /machine/ping-response?id=7'));
    expect(client.stats.keepAlives).toBe(1);
    await until(() => client!.stats.pingsAnswered === 1);
    expect(fake!.connections).toBe(1);
    await it.return(undefined);
  });

  it('a 10,000-peer full map (megabytes, one message) crosses Noise records and HTTP/2 intact', async () => {
    const N = 10_000;
    const big = Array.from({ length: N }, (_, i) =>
      node(i + 2, `nodekey:${(i + 2).toString(16).padStart(64, '0')}`, {
        Hostinfo: { Hostname: `h${i}`, OS: 'linux', Services: [{ Proto: 'peerapi4', Port: 1 }] },
        Endpoints: ['192.0.2.1:41641', '198.51.100.1:41641'],
        AllowedIPs: [`100.64.0.${(i + 2) & 255}/32`],
        Addresses: [`100.64.0.${(i + 2) & 255}/32`],
      }),
    );
    await setup({
      map: (body, _c, w) => {
        w.send({ Node: node(1, String(body.NodeKey)), Peers: big });
      },
    });
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    client.start();
    const nm = await until(() => client!.netmap, 30_000);
    expect(peers(nm)).toHaveLength(N);
    expect(peers(nm)[N - 1]!.Hostinfo?.Hostname).toBe(`h${N - 1}`);
  }, 60_000);

  it('lite updates carry endpoints, disco key and PreferredDERP, only on change and only once the poll runs', async () => {
    const rec = await setup();
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    const disco = DiscoPrivate.generate().public();
    const upd = {
      endpoints: [{ addr: AddrPort.parse('127.0.0.1:41641') }],
      discoKey: disco,
      preferredDERP: 900,
    };
    // Before the poll: nothing is sent; the first streaming MapRequest carries the values.
    await client.update({ ...upd, preferredDERP: 899 });
    expect(rec.maps).toHaveLength(0);
    client.start();
    await until(() => client!.netmap);
    expect(rec.maps[0]!.body).toMatchObject({
      Stream: true,
      DiscoKey: disco.toString(),
      Endpoints: ['127.0.0.1:41641'],
      Hostinfo: { NetInfo: { PreferredDERP: 899 } },
    });
    await client.update(upd);
    await client.update(upd);
    const lite = rec.maps.filter((m) => !m.body.Stream);
    expect(lite).toHaveLength(1);
    expect(lite[0]!.body).toMatchObject({
      OmitPeers: true,
      DiscoKey: disco.toString(),
      Endpoints: ['127.0.0.1:41641'],
      EndpointTypes: [1],
      Hostinfo: { NetInfo: { PreferredDERP: 900 } },
    });
    expect(lite[0]!.body.Stream).toBeFalsy();
    await client.update({ preferredDERP: 901 });
    expect(rec.maps.filter((m) => !m.body.Stream)).toHaveLength(2);
  });

  it('reconnects after the connection drops, without registering again', async () => {
    const rec = await setup();
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    client.start();
    await until(() => client!.netmap);
    fake!.dropConnections();
    await until(() => rec.maps.length >= 2, 10_000);
    expect(fake!.connections).toBe(2);
    expect(rec.registers).toHaveLength(1);
  });

  it('the 120 s watchdog drops a silent map session (fake clock)', async () => {
    const clock = new FakeClock();
    const rec = await setup();
    client = new ControlClient({
      serverURL: fake!.url,
      machineKey: MachinePrivate.generate(),
      authKey: 'k',
      clock,
    });
    await client.register();
    client.start();
    await until(() => client!.netmap);
    clock.advance(119_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.maps).toHaveLength(1);
    clock.advance(1_001);
    await until(() => client!.stats.pollErrors === 1);
    await until(() => rec.maps.length === 2);
    expect(client.stats.noiseDials).toBe(2);
    expect(rec.registers).toHaveLength(1);
  });

  it('a map 404 (node deleted) means NeedsLogin and no retry loop', async () => {
    await setup({
      map: (_b, _c, w) => {
        w.end();
      },
    });
    const fake2 = fake!;
    await fake2.close();
    fake = await startFakeControl({
      register: () => ({ MachineAuthorized: true }),
      other: () => [404, 'node not found'],
    });
    client = new ControlClient({ serverURL: fake.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    client.start();
    await until(() => client!.state === 'NeedsLogin');
    expect(client.stats.pollErrors).toBe(1);
  });

  it('logout sends an expiry in the past; close releases every socket', async () => {
    const rec = await setup();
    client = new ControlClient({ serverURL: fake!.url, machineKey: MachinePrivate.generate(), authKey: 'k' });
    await client.register();
    client.start();
    await until(() => client!.netmap);
    await client.logout();
    const last = rec.registers.at(-1)!;
    expect(new Date(last.Expiry as string).getTime()).toBe(123_000);
    expect(last.Auth ?? undefined).toBeUndefined();
    expect(client.state).toBe('NeedsLogin');
    await client.close();
    await until(() => fake!.liveSockets() === 0);
    expect(client.state).toBe('Stopped');
  });
});
