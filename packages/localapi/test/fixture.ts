// A small tailnet as a control netmap, and a LocalBackend over it, for the handler and client tests.

import { applyMapResponse, EMPTY_NETMAP, MapResponseSchema, type NetworkMap } from '@tsnet/control';
import { IPAddr } from '@tsnet/core';
import type { LocalBackend } from '../src/backend.js';
import { whoIsInNetmap } from '../src/netmap-backend.js';
import { type Prefs, PrefsSchema, type Status, StatusSchema } from '../src/types.js';

export const SELF_KEY = `nodekey:${'11'.repeat(32)}`;
export const ALICE_KEY = `nodekey:${'22'.repeat(32)}`;
export const TAGGED_KEY = `nodekey:${'33'.repeat(32)}`;
export const SELF_IP = '100.64.0.1';
export const ALICE_IP = '100.64.0.2';
export const ALICE_IP6 = 'fd7a:115c:a1e0::2';
export const TAGGED_IP = '100.64.0.3';

function node(id: number, key: string, name: string, user: number, ips: string[], extra: object = {}) {
  return {
    ID: id,
    StableID: `n${id}CNTRL`,
    Name: `${name}.tailnet.test.`,
    User: user,
    Key: key,
    KeyExpiry: '0001-01-01T00:00:00Z',
    Machine: `mkey:${'44'.repeat(32)}`,
    DiscoKey: `discokey:${'55'.repeat(32)}`,
    Addresses: ips.map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)),
    AllowedIPs: ips.map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)),
    Hostinfo: { Hostname: name, OS: 'linux' },
    Created: '2026-11-24T10:00:00Z',
    ...extra,
  };
}

export function sampleNetmap(): NetworkMap {
  const r = MapResponseSchema.parse({
    Node: node(1, SELF_KEY, 'self', 1, [SELF_IP, 'fd7a:115c:a1e0::1']),
    Peers: [
      node(2, ALICE_KEY, 'alice-laptop', 2, [ALICE_IP, ALICE_IP6], { Online: true }),
      node(3, TAGGED_KEY, 'ci', 2147455555, [TAGGED_IP], { Tags: ['tag:ci'], Online: false }),
    ],
    UserProfiles: [
      { ID: 1, LoginName: 'server@', DisplayName: 'server' },
      { ID: 2, LoginName: 'alice@example.com', DisplayName: 'Alice' },
      { ID: 2147455555, LoginName: 'tagged-devices', DisplayName: 'tagged-devices' },
    ],
    PacketFilter: [
      { SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] },
      {
        SrcIPs: [ALICE_IP, ALICE_IP6],
        CapGrant: [{ Dsts: [`${SELF_IP}/32`], CapMap: { 'example.com/cap/web': [{ role: 'admin' }] } }],
      },
    ],
    Domain: 'tailnet.test',
  });
  return applyMapResponse(EMPTY_NETMAP, r, { now: Date.parse('2026-11-24T12:00:00Z') });
}

export function sampleStatus(nm: NetworkMap, peers: boolean): Status {
  const peer = (n: NonNullable<NetworkMap['self']>) => ({
    ID: n.StableID,
    PublicKey: n.Key.toString(),
    HostName: n.Hostinfo?.Hostname ?? '',
    DNSName: n.Name,
    OS: 'linux',
    UserID: n.User,
    TailscaleIPs: (n.Addresses ?? []).map((a) => a.addr.toString()),
    Online: n.Online ?? false,
    Created: '2026-11-24T10:00:00Z',
    LastSeen: '0001-01-01T00:00:00Z',
  });
  const self = nm.self!;
  const json = {
    Version: '1.102.3-tsnet',
    TUN: false,
    BackendState: 'Running',
    AuthURL: '',
    TailscaleIPs: (self.Addresses ?? []).map((a) => a.addr.toString()),
    Self: peer(self),
    Health: [],
    MagicDNSSuffix: 'tailnet.test',
    CurrentTailnet: { Name: 'tailnet.test', MagicDNSSuffix: 'tailnet.test', MagicDNSEnabled: true },
    CertDomains: null,
    Peer: peers
      ? Object.fromEntries([...nm.peerTable.entries()].map(([, n]) => [n.Key.toString(), peer(n)]))
      : null,
    User: Object.fromEntries([...nm.userProfiles].map(([id, u]) => [String(id), u])),
  };
  return StatusSchema.parse(JSON.parse(JSON.stringify(json)));
}

export const SAMPLE_PREFS: Prefs = PrefsSchema.parse({
  ControlURL: 'http://127.0.0.1:8080',
  WantRunning: true,
  Hostname: 'self',
  AdvertiseTags: null,
  CorpDNS: false,
});

export function sampleBackend(nm = sampleNetmap()): LocalBackend & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    whoIs(addr, opts) {
      calls.push(`whoIs ${addr.toString()} ${opts.proto}`);
      return whoIsInNetmap(nm, addr.addr, opts);
    },
    whoIsNodeKey(key, opts) {
      return whoIsInNetmap(nm, key, opts);
    },
    status: ({ peers }) => sampleStatus(nm, peers),
    prefs: () => SAMPLE_PREFS,
    certDomains: () => ['b.example', 'a.example'],
    derpMap: () => undefined,
    dnsConfig: () => undefined,
    peerByID: (id) => nm.peerTable.get(id),
    userProfile: (id) => nm.userProfiles.get(id),
  };
}

export const ip = IPAddr.parse;
