import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJSON, validate } from '../tailcfg/decode.js';
import { MapResponseSchema } from '../tailcfg/map.js';
import { applyMapResponse, flagExpiredPeers, nextKeyExpiry } from './apply.js';
import { EMPTY_NETMAP, type NetworkMap, peers } from './netmap.js';

const NOW = Date.UTC(2026, 10, 24, 12);
const key = (i: number, p = 'nodekey') => `${p}:${i.toString(16).padStart(64, '0')}`;

function rawNode(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ID: id,
    StableID: `n${id}`,
    Name: `peer${id}.tailnet.test.`,
    User: 1,
    Key: key(id),
    DiscoKey: key(id, 'discokey'),
    Addresses: [`100.64.0.${id}/32`],
    HomeDERP: 900,
    ...extra,
  };
}

const apply = (nm: NetworkMap, raw: unknown, now = NOW) =>
  applyMapResponse(nm, validate(MapResponseSchema, raw, 'MapResponse'), { now });
const ids = (nm: NetworkMap) => peers(nm).map((n) => n.ID);

describe('applyMapResponse: table', () => {
  const full = apply(EMPTY_NETMAP, {
    Node: rawNode(1),
    Peers: [rawNode(3), rawNode(2)],
    DERPMap: {
      Regions: { '900': { RegionID: 900, RegionCode: 'a', Nodes: [] } },
      HomeParams: { RegionScore: { '900': 1.5 } },
    },
    PacketFilters: { base: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }] },
    DNSConfig: { Proxied: true },
    Domain: 'tailnet.test',
    UserProfiles: [{ ID: 1, LoginName: 'alice@' }],
  });

  const cases: Array<[string, unknown, (before: NetworkMap, after: NetworkMap) => void]> = [
    ['keep-alive changes nothing (same object)', { KeepAlive: true }, (b, a) => expect(a).toBe(b)],
    [
      'PeersChanged adds and replaces',
      { PeersChanged: [rawNode(4), rawNode(2, { Name: 'renamed.' })] },
      (_b, a) => {
        expect(ids(a)).toEqual([2, 3, 4]);
        expect(a.peerTable.get(2)?.Name).toBe('renamed.');
      },
    ],
    [
      'PeersRemoved deletes, unknown IDs ignored',
      { PeersRemoved: [3, 99] },
      (_b, a) => expect(ids(a)).toEqual([2]),
    ],
    [
      'Peers non-empty replaces all and precludes other peer deltas',
      { Peers: [rawNode(5)], PeersRemoved: [5] },
      (_b, a) => expect(ids(a)).toEqual([5]),
    ],
    ['Peers empty is not a full list', { Peers: [] }, (_b, a) => expect(ids(a)).toEqual([2, 3])],
    [
      'PeersChangedPatch changes only the fields present',
      {
        PeersChangedPatch: [
          { NodeID: 2, DERPRegion: 7, Online: true, Endpoints: ['1.2.3.4:5'] },
          { NodeID: 42, Online: true },
        ],
      },
      (b, a) => {
        const n = a.peerTable.get(2)!;
        expect(n.HomeDERP).toBe(7);
        expect(n.Online).toBe(true);
        expect(n.Endpoints?.map(String)).toEqual(['1.2.3.4:5']);
        expect(n.Name).toBe(b.peerTable.get(2)!.Name);
        expect(a.peerTable.has(42)).toBe(false);
      },
    ],
    [
      'OnlineChange and PeerSeenChange',
      { OnlineChange: { '2': false }, PeerSeenChange: { '3': true } },
      (_b, a) => {
        expect(a.peerTable.get(2)?.Online).toBe(false);
        expect(a.peerTable.get(3)?.LastSeen?.getTime()).toBe(NOW);
      },
    ],
    [
      'DERPMap without Regions keeps regions; HomeParams without RegionScore keeps scores',
      {
        DERPMap: { HomeParams: {} },
      },
      (_b, a) => {
        expect([...a.derpMap!.Regions!.keys()]).toEqual([900]);
        expect(a.derpMap!.HomeParams!.RegionScore!.get(900)).toBe(1.5);
      },
    ],
    [
      'DERPMap with Regions replaces them',
      { DERPMap: { Regions: { '1': { RegionID: 1, Nodes: null } } } },
      (_b, a) => expect([...a.derpMap!.Regions!.keys()]).toEqual([1]),
    ],
    [
      'PacketFilters: add a chunk, concatenated by key order',
      {
        PacketFilters: { aaa: [{ SrcIPs: ['100.64.0.9'], DstPorts: [] }] },
      },
      (_b, a) => expect(a.packetFilter!.map((r) => r.SrcIPs![0])).toEqual(['100.64.0.9', '*']),
    ],
    [
      'PacketFilters: null deletes a chunk',
      { PacketFilters: { base: null } },
      (_b, a) => expect(a.packetFilter).toEqual([]),
    ],
    [
      'PacketFilters: "*": null clears all before setting',
      { PacketFilters: { '*': null, x: [] } },
      (_b, a) => {
        expect([...a.namedPacketFilters.keys()]).toEqual(['x']);
        expect(a.packetFilter).toEqual([]);
      },
    ],
    [
      'legacy PacketFilter is the "base" chunk',
      { PacketFilter: [{ SrcIPs: ['10.0.0.1'] }] },
      (_b, a) => expect(a.packetFilter![0]!.SrcIPs).toEqual(['10.0.0.1']),
    ],
    [
      'no filter fields: filter unchanged (same array)',
      { Domain: '' },
      (b, a) => {
        expect(a.packetFilter).toBe(b.packetFilter);
        expect(a.domain).toBe('tailnet.test');
      },
    ],
    [
      'UserProfiles accumulate',
      { UserProfiles: [{ ID: 2, LoginName: 'bob@' }] },
      (_b, a) => expect([...a.userProfiles.keys()]).toEqual([1, 2]),
    ],
    [
      'DNSConfig replaced, Domain replaced when non-empty',
      { DNSConfig: { Proxied: false }, Domain: 'x.test' },
      (_b, a) => {
        expect(a.dnsConfig?.Proxied).toBe(false);
        expect(a.domain).toBe('x.test');
      },
    ],
    [
      'Node replaces self',
      { Node: rawNode(1, { Name: 'me.' }) },
      (_b, a) => expect(a.self?.Name).toBe('me.'),
    ],
  ];
  for (const [name, raw, check] of cases) {
    it(name, () => {
      const after = apply(full, raw);
      check(full, after);
      // purity: the input netmap is unchanged
      expect(ids(full)).toEqual([2, 3]);
      expect(full.packetFilter?.length).toBe(1);
    });
  }

  it('normalises nodes: legacy DERP string, nil AllowedIPs, UnsignedPeerAPIOnly', () => {
    const nm = apply(EMPTY_NETMAP, {
      Node: rawNode(1),
      Peers: [
        rawNode(2, { HomeDERP: 0, DERP: '127.3.3.40:12' }),
        rawNode(3, { UnsignedPeerAPIOnly: true, AllowedIPs: ['0.0.0.0/0'] }),
      ],
    });
    const p2 = nm.peerTable.get(2)!;
    expect(p2.HomeDERP).toBe(12);
    expect(p2.AllowedIPs?.map(String)).toEqual(['100.64.0.2/32']);
    expect(nm.peerTable.get(3)!.AllowedIPs?.map(String)).toEqual(['100.64.0.3/32']);
  });

  it('flags peers with expired keys and finds the next expiry', () => {
    const soon = new Date(NOW + 60_000).toISOString();
    const past = new Date(NOW - 1).toISOString();
    const nm = apply(EMPTY_NETMAP, {
      Node: rawNode(1),
      Peers: [rawNode(2, { KeyExpiry: past, Endpoints: ['1.1.1.1:1'] }), rawNode(3, { KeyExpiry: soon })],
    });
    const p2 = nm.peerTable.get(2)!;
    expect(p2.Expired).toBe(true);
    expect(p2.Endpoints).toBeUndefined();
    expect(p2.HomeDERP).toBeUndefined();
    expect(nm.peerTable.get(3)?.Expired).toBeUndefined();
    expect(nextKeyExpiry(nm, NOW)).toBe(NOW + 60_000);
    const later = flagExpiredPeers(nm, NOW + 60_001);
    expect(later.peerTable.get(3)?.Expired).toBe(true);
    expect(flagExpiredPeers(later, NOW + 60_001)).toBe(later);
    // a patch that extends the expiry clears the flag
    const renewed = apply(
      later,
      { PeersChangedPatch: [{ NodeID: 3, KeyExpiry: new Date(NOW + 1e9).toISOString() }] },
      NOW + 60_001,
    );
    expect(renewed.peerTable.get(3)?.Expired).toBeUndefined();
  });
});

describe('applyMapResponse: property', () => {
  type Op =
    | { t: 'change'; id: number; name: string; derp: number }
    | { t: 'remove'; id: number }
    | { t: 'patch'; id: number; derp?: number; online?: boolean; port?: number }
    | { t: 'online'; id: number; online: boolean };
  const idArb = fc.integer({ min: 2, max: 25 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      t: fc.constant('change' as const),
      id: idArb,
      name: fc.string({ maxLength: 5 }),
      derp: fc.integer({ min: 1, max: 5 }),
    }),
    fc.record({ t: fc.constant('remove' as const), id: idArb }),
    fc.record(
      {
        t: fc.constant('patch' as const),
        id: idArb,
        derp: fc.integer({ min: 1, max: 5 }),
        online: fc.boolean(),
        port: fc.integer({ min: 1, max: 65535 }),
      },
      { requiredKeys: ['t', 'id'] },
    ),
    fc.record({ t: fc.constant('online' as const), id: idArb, online: fc.boolean() }),
  );

  it('a random sequence of deltas gives the same netmap as one full map of the final state', () => {
    fc.assert(
      fc.property(fc.array(fc.array(opArb, { maxLength: 6 }), { maxLength: 25 }), (batches) => {
        const truth = new Map<number, Record<string, unknown>>();
        let nm = apply(EMPTY_NETMAP, { Node: rawNode(1), Peers: [] });
        for (const batch of batches) {
          // one MapResponse per batch, ops grouped by kind in Go's application order
          const msg: Record<string, unknown[] | Record<string, boolean>> = {};
          const removed: number[] = [];
          const changed: Record<string, unknown>[] = [];
          const patches: Record<string, unknown>[] = [];
          const online: Record<string, boolean> = {};
          for (const op of batch) {
            if (op.t === 'remove') removed.push(op.id);
            if (op.t === 'change') changed.push(rawNode(op.id, { Name: op.name, HomeDERP: op.derp }));
            if (op.t === 'online') online[op.id] = op.online;
            if (op.t === 'patch') {
              const p: Record<string, unknown> = { NodeID: op.id };
              if (op.derp !== undefined) p.DERPRegion = op.derp;
              if (op.online !== undefined) p.Online = op.online;
              if (op.port !== undefined) p.Endpoints = [`10.0.0.1:${op.port}`];
              patches.push(p);
            }
          }
          if (removed.length) msg.PeersRemoved = removed;
          if (changed.length) msg.PeersChanged = changed;
          if (Object.keys(online).length) msg.OnlineChange = online;
          if (patches.length) msg.PeersChangedPatch = patches;
          nm = apply(nm, msg);
          // the model, in the same order: removed, changed (last wins), online, patches
          for (const id of removed) truth.delete(id);
          for (const n of changed) truth.set(n.ID as number, n);
          for (const [id, on] of Object.entries(online)) {
            const n = truth.get(Number(id));
            if (n) truth.set(Number(id), { ...n, Online: on });
          }
          for (const p of patches) {
            const n = truth.get(p.NodeID as number);
            if (!n) continue;
            const m = { ...n };
            if (p.DERPRegion !== undefined) m.HomeDERP = p.DERPRegion;
            if (p.Online !== undefined) m.Online = p.Online;
            if (p.Endpoints !== undefined) m.Endpoints = p.Endpoints;
            truth.set(p.NodeID as number, m);
          }
        }
        const finalFull = apply(EMPTY_NETMAP, { Node: rawNode(1), Peers: [...truth.values()] });
        expect(JSON.parse(JSON.stringify(peers(nm)))).toEqual(JSON.parse(JSON.stringify(peers(finalFull))));
      }),
      { numRuns: 200 },
    );
  });

  it('fuzz: random JSON shapes never crash the decoder with anything but ControlProtocolError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        try {
          const r = decodeJSON(MapResponseSchema, JSON.stringify(v), 'MapResponse');
          apply(EMPTY_NETMAP, r);
        } catch (e) {
          expect((e as Error).name).toBe('ControlProtocolError');
        }
      }),
      { numRuns: 500 },
    );
  });
});
