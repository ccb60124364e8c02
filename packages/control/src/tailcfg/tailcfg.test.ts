import { IPPrefix, NodePublic } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { ControlProtocolError } from '../errors.js';
import { decodeJSON } from './decode.js';
import { formatGoTime, isZeroTime, parseGoTime } from './go.js';
import { MapResponseSchema } from './map.js';
import { RegisterResponseSchema } from './register.js';

const K1 = `nodekey:${'11'.repeat(32)}`;
const M1 = `mkey:${'22'.repeat(32)}`;
const D1 = `discokey:${'33'.repeat(32)}`;

/** A MapResponse shaped like headscale v0.29.2's full map (hscontrol/mapper/builder.go). */
export const headscaleFullMap = {
  Node: {
    ID: 1,
    StableID: '1',
    Name: 'ts1.tailnet.test.',
    User: 1,
    Key: K1,
    KeyExpiry: '0001-01-01T00:00:00Z',
    Machine: M1,
    DiscoKey: D1,
    Addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
    AllowedIPs: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
    Endpoints: ['127.0.0.1:41641'],
    HomeDERP: 900,
    Hostinfo: { Hostname: 'ts1', OS: 'linux', NetInfo: { PreferredDERP: 900, WorkingUDP: null } },
    Created: '2026-11-24T17:30:00.123456789Z',
    Cap: 115,
    Tags: null,
    PrimaryRoutes: null,
    Online: true,
    MachineAuthorized: true,
    CapMap: { 'https://tailscale.com/cap/is-admin': null, 'default-auto-update': [true] },
    SomeFutureField: { x: 1 },
  },
  DERPMap: {
    Regions: {
      '900': {
        RegionID: 900,
        RegionCode: 'loop',
        RegionName: 'Loopback',
        Nodes: [{ Name: '900a', RegionID: 900, HostName: '127.0.0.1', IPv4: '127.0.0.1', DERPPort: 3340 }],
      },
      '901': null,
    },
  },
  Domain: 'tailnet.test',
  CollectServices: false,
  DNSConfig: { Proxied: true, Domains: ['tailnet.test'], Routes: { 'x.test.': null }, Resolvers: null },
  UserProfiles: [{ ID: 1, LoginName: 'alice@', DisplayName: 'alice' }],
  PacketFilters: { base: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }] },
  Peers: [],
  ControlTime: '2026-11-24T17:31:00Z',
};

describe('Go time', () => {
  it('parses RFC 3339 with fractions and offsets, and the zero time', () => {
    expect(parseGoTime('2026-11-24T17:30:00Z')?.toISOString()).toBe('2026-11-24T17:30:00.000Z');
    expect(parseGoTime('2026-11-24T17:30:00.123456789Z')?.toISOString()).toBe('2026-11-24T17:30:00.123Z');
    expect(parseGoTime('2026-11-24T18:30:00+01:00')?.toISOString()).toBe('2026-11-24T17:30:00.000Z');
    const zero = parseGoTime('0001-01-01T00:00:00Z');
    expect(isZeroTime(zero)).toBe(true);
    expect(formatGoTime(zero!)).toBe('0001-01-01T00:00:00Z');
    expect(formatGoTime(new Date(123_000))).toBe('1970-01-01T00:02:03Z');
    expect(parseGoTime('2026-11-24 17:30:00')).toBeNull();
    expect(parseGoTime('')).toBeNull();
  });
});

describe('MapResponse schema', () => {
  it('reads a headscale-shaped full map: typed keys and prefixes, null slices, null regions dropped, unknown fields dropped', () => {
    const r = decodeJSON(MapResponseSchema, JSON.stringify(headscaleFullMap), 'MapResponse');
    const n = r.Node!;
    expect(n.Key.equals(NodePublic.parse(K1))).toBe(true);
    expect(n.Addresses?.map(String)).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(n.Addresses?.[0]).toBeInstanceOf(IPPrefix);
    expect(isZeroTime(n.KeyExpiry)).toBe(true);
    expect(n.Tags).toBeUndefined();
    expect(n.Hostinfo?.NetInfo?.PreferredDERP).toBe(900);
    expect(n.Hostinfo?.NetInfo?.WorkingUDP).toBeUndefined();
    expect(n.CapMap?.['https://tailscale.com/cap/is-admin']).toEqual([]);
    expect('SomeFutureField' in n).toBe(false);
    expect([...r.DERPMap!.Regions!.keys()]).toEqual([900]);
    expect(r.DERPMap!.Regions!.get(900)!.Nodes![0]!.DERPPort).toBe(3340);
    expect(r.DNSConfig!.Routes).toEqual({ 'x.test.': [] });
    expect(r.CollectServices).toBe(false);
    expect(r.PacketFilters!.base![0]!.SrcIPs).toEqual(['*']);
    expect(r.Peers).toEqual([]);
  });

  it('keeps PacketFilters null values (delete) apart from empty lists', () => {
    const r = decodeJSON(MapResponseSchema, '{"PacketFilters":{"*":null,"a":[],"b":null}}', 'MapResponse');
    expect(r.PacketFilters).toEqual({ '*': null, a: [], b: null });
  });

  it('reads deltas: PeersRemoved, PeersChangedPatch, OnlineChange with integer keys', () => {
    const r = decodeJSON(
      MapResponseSchema,
      JSON.stringify({
        PeersRemoved: [5],
        PeersChangedPatch: [
          { NodeID: 7, DERPRegion: 2, Online: false, Endpoints: [], KeyExpiry: '2027-01-01T00:00:00Z' },
        ],
        OnlineChange: { '7': true },
        PeerSeenChange: { '8': false },
      }),
      'MapResponse',
    );
    expect(r.PeersRemoved).toEqual([5]);
    expect(r.PeersChangedPatch![0]!.Endpoints).toEqual([]);
    expect(r.PeersChangedPatch![0]!.Online).toBe(false);
    expect(r.OnlineChange!.get(7)).toBe(true);
    expect(r.PeerSeenChange!.get(8)).toBe(false);
  });

  it('names the field in errors', () => {
    const bad = {
      Peers: [
        { ID: 2, Key: K1 },
        { ID: 3, Key: 'nodekey:zz' },
      ],
    };
    let err: unknown;
    try {
      decodeJSON(MapResponseSchema, JSON.stringify(bad), 'MapResponse');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ControlProtocolError);
    expect((err as ControlProtocolError).field).toBe('MapResponse.Peers[1].Key');
    expect((err as Error).message).toMatch(/^MapResponse\.Peers\[1\]\.Key: /);
    expect(() => decodeJSON(MapResponseSchema, '{', 'MapResponse')).toThrow(/invalid JSON/);
    expect(() => decodeJSON(MapResponseSchema, '{"OnlineChange":{"x":true}}', 'MapResponse')).toThrow(
      /OnlineChange/,
    );
    expect(() => decodeJSON(MapResponseSchema, 'x'.repeat(100), 'MapResponse', 10)).toThrow(/exceeds/);
  });
});

describe('RegisterResponse schema', () => {
  it('reads headscale answers: success, AuthURL and Error', () => {
    const ok = decodeJSON(
      RegisterResponseSchema,
      '{"User":{"ID":1,"DisplayName":"alice","Created":"0001-01-01T00:00:00Z"},"Login":{"ID":0,"LoginName":"alice","DisplayName":"alice"},"NodeKeyExpired":false,"MachineAuthorized":true,"AuthURL":"","NodeKeySignature":null,"Error":""}',
      'RegisterResponse',
    );
    expect(ok.MachineAuthorized).toBe(true);
    expect(ok.User?.ID).toBe(1);
    const err = decodeJSON(RegisterResponseSchema, '{"Error":"invalid pre auth key"}', 'RegisterResponse');
    expect(err.Error).toBe('invalid pre auth key');
  });
});
