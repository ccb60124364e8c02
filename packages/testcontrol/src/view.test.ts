import { describe, expect, it } from 'vitest';
import { deltaMapResponse, diffPeer, type View, wire } from './view.js';

const peer = (extra: Record<string, unknown> = {}) => ({
  ID: 2,
  Name: 'b.t.',
  Key: 'nodekey:aa',
  Online: true,
  ...extra,
});
const view = (peers: Record<string, unknown>[], extra: Partial<View> = {}): View => ({
  self: { ID: 1 },
  peers: new Map(peers.map((p) => [p.ID as number, wire(p)])),
  filter: [],
  dns: {},
  derpMap: {},
  domain: 't',
  profiles: new Map(),
  ...extra,
});

describe('diffPeer', () => {
  it('classifies changes', () => {
    expect(diffPeer(peer(), peer())).toEqual({ kind: 'none' });
    expect(diffPeer(peer(), peer({ Online: false }))).toEqual({ kind: 'online', online: false });
    expect(diffPeer(peer(), peer({ Endpoints: ['1.2.3.4:5'], HomeDERP: 900 }))).toEqual({
      kind: 'patch',
      patch: { NodeID: 2, Endpoints: ['1.2.3.4:5'], DERPRegion: 900 },
    });
    expect(diffPeer(peer({ Endpoints: ['1.2.3.4:5'] }), peer())).toEqual({
      kind: 'patch',
      patch: { NodeID: 2, Endpoints: [] },
    });
    expect(diffPeer(peer({ HomeDERP: 900 }), peer())).toEqual({ kind: 'full' });
    expect(diffPeer(peer(), peer({ Name: 'c.t.' }))).toEqual({ kind: 'full' });
  });
});

describe('deltaMapResponse', () => {
  it('is null when nothing changed', () => {
    expect(deltaMapResponse(view([peer()]), view([peer()]))).toBeNull();
  });
  it('sends removals, additions, patches, online changes and changed parts', () => {
    const prev = view([peer(), peer({ ID: 3 }), peer({ ID: 4 })]);
    const next = view([peer({ Online: false }), peer({ ID: 4, DiscoKey: 'discokey:bb' }), peer({ ID: 5 })], {
      filter: [{ SrcIPs: ['*'] }],
      profiles: new Map([[1, { ID: 1 }]]),
    });
    expect(deltaMapResponse(prev, next)).toEqual({
      PacketFilters: { base: [{ SrcIPs: ['*'] }] },
      UserProfiles: [{ ID: 1 }],
      PeersRemoved: [3],
      PeersChanged: [peer({ ID: 5 })],
      PeersChangedPatch: [{ NodeID: 4, DiscoKey: 'discokey:bb' }],
      OnlineChange: { '2': false },
    });
  });
});
