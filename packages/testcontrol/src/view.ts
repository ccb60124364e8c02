/**
 * What one node sees of the tailnet, in wire form (Go `encoding/json` of `tailcfg` types,
 * protocol-map.md §4.3–§4.6), and the deltas between two such views.
 *
 * A map session keeps the last view it sent; on a change it sends only the difference
 * (tailscale/tailscale `control/controlclient/map.go` applies them):
 * - peers that disappeared → `PeersRemoved`;
 * - new peers, or peers whose non-patchable fields changed → `PeersChanged` (whole nodes);
 * - only `Online` changed → `OnlineChange`;
 * - only patchable fields changed (endpoints, disco key, home DERP, key, expiry, ...) →
 *   `PeersChangedPatch`;
 * - the self node → `Node`; the filter → `PacketFilters: {"base": ...}`; `DNSConfig`, `DERPMap`
 *   and `UserProfiles` (new ones only) when they changed.
 */
import { formatGoTime } from '@tsnet/control';
import type { NodeRec, TailnetState } from './model.js';
import { canSee, compileFilter, type FilterRuleWire } from './policy.js';

type Json = Record<string, unknown>;

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** A node in wire form and its JSON text (compared by reference first: one text per change). */
export interface WireNode {
  json: Json;
  text: string;
}

/** Everything a node is told, as JSON-ready values. */
export interface View {
  self: Json;
  peers: Map<number, WireNode>;
  filter: FilterRuleWire[];
  dns: Json;
  derpMap: Json;
  domain: string;
  profiles: Map<number, Json>;
}

/**
 * Node wire forms shared by every map session for one generation of the tailnet: what a peer looks
 * like does not depend on who looks, so it is built once per change, not once per viewer.
 */
export class WireCache {
  #gen = -1;
  #nodes = new Map<number, WireNode>();

  get(state: TailnetState, n: NodeRec): WireNode {
    if (state.generation !== this.#gen) {
      this.#gen = state.generation;
      this.#nodes = new Map();
    }
    let w = this.#nodes.get(n.id);
    if (w === undefined) {
      const json = nodeWire(state, n);
      w = { json, text: JSON.stringify(json) };
      this.#nodes.set(n.id, w);
    }
    return w;
  }
}

/** Wraps a wire node (for tests and one-off views). */
export function wire(json: Json): WireNode {
  return { json, text: JSON.stringify(json) };
}

/** The `tailcfg.Node` of `n` in wire form. */
export function nodeWire(state: TailnetState, n: NodeRec): Json {
  const expired = state.isExpired(n);
  const out: Json = {
    ID: n.id,
    StableID: n.stableId,
    Name: state.fqdn(n),
    User: n.userId,
    Key: n.nodeKey.toString(),
    KeyExpiry: n.keyExpiry === null ? GO_ZERO_TIME : formatGoTime(n.keyExpiry),
    Machine: n.machineKey.toString(),
    Addresses: n.addresses.map((a) => a.toString()),
    AllowedIPs: n.addresses.map((a) => a.toString()),
    Hostinfo: { ...n.hostinfo, Hostname: n.hostname },
    Created: formatGoTime(n.created),
    Cap: n.cap,
    MachineAuthorized: n.authorized && !expired,
    Online: n.sessions > 0,
  };
  if (n.discoKey !== undefined) out.DiscoKey = n.discoKey.toString();
  if (n.endpoints.length > 0) out.Endpoints = n.endpoints.map((e) => e.toString());
  if (n.homeDERP > 0) out.HomeDERP = n.homeDERP;
  if (n.tags.length > 0) out.Tags = [...n.tags];
  if (n.lastSeen !== null) out.LastSeen = formatGoTime(n.lastSeen);
  if (Object.keys(n.capMap).length > 0) {
    out.CapMap = n.capMap;
    out.Capabilities = Object.keys(n.capMap);
  }
  if (expired) out.Expired = true;
  return out;
}

/** Builds the view of `self`. */
export function buildView(
  state: TailnetState,
  self: NodeRec,
  derpMap: Json,
  magicDNS: boolean,
  cache: WireCache = new WireCache(),
): View {
  const all = state.nodes();
  const selfP = state.policyNode(self);
  const allP = all.map((n) => state.policyNode(n));
  const peers = new Map<number, WireNode>();
  const profiles = new Map<number, Json>();
  const addProfile = (userId: number) => {
    const u = state.user(userId);
    if (u !== undefined) {
      profiles.set(u.id, { ID: u.id, LoginName: u.loginName, DisplayName: u.displayName });
    }
  };
  addProfile(self.userId);
  const policy = state.policy;
  for (let i = 0; i < all.length; i++) {
    const n = all[i]!;
    if (n.id === self.id || !n.authorized) continue;
    if (!canSee(policy, selfP, allP[i]!)) continue;
    peers.set(n.id, cache.get(state, n));
    addProfile(n.userId);
  }
  return {
    self: cache.get(state, self).json,
    peers,
    filter: compileFilter(policy, selfP, allP),
    dns: { Domains: [state.domain], Proxied: magicDNS, Resolvers: [] },
    derpMap,
    domain: state.domain,
    profiles,
  };
}

/** The first, complete MapResponse of a session. */
export function fullMapResponse(v: View, controlTime: Date): Json {
  return {
    Node: v.self,
    DERPMap: v.derpMap,
    Domain: v.domain,
    CollectServices: false,
    PacketFilters: { base: v.filter },
    DNSConfig: v.dns,
    UserProfiles: [...v.profiles.values()],
    Peers: [...v.peers.values()].map((p) => p.json).sort((a, b) => (a.ID as number) - (b.ID as number)),
    ControlTime: formatGoTime(controlTime),
  };
}

/** PeerChange field for each patchable Node field. */
const PATCHABLE: Record<string, string> = {
  Endpoints: 'Endpoints',
  DiscoKey: 'DiscoKey',
  HomeDERP: 'DERPRegion',
  Key: 'Key',
  KeyExpiry: 'KeyExpiry',
  Online: 'Online',
  LastSeen: 'LastSeen',
  Cap: 'Cap',
  CapMap: 'CapMap',
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** How a peer changed between two views. */
export type PeerDelta =
  | { kind: 'none' }
  | { kind: 'online'; online: boolean }
  | { kind: 'patch'; patch: Json }
  | { kind: 'full' };

export function diffPeer(prev: Json, next: Json): PeerDelta {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  const changed: string[] = [];
  for (const k of keys) if (!same(prev[k], next[k])) changed.push(k);
  if (changed.length === 0) return { kind: 'none' };
  if (changed.length === 1 && changed[0] === 'Online')
    return { kind: 'online', online: next.Online === true };
  const patch: Json = { NodeID: next.ID };
  for (const k of changed) {
    const field = PATCHABLE[k];
    if (field === undefined) return { kind: 'full' };
    const v = next[k];
    if (v === undefined) {
      // A patch can set but not clear, except the endpoint list.
      if (k !== 'Endpoints') return { kind: 'full' };
      patch[field] = [];
    } else patch[field] = v;
  }
  return { kind: 'patch', patch };
}

/** The delta MapResponse from `prev` to `next`, or null when nothing changed. */
export function deltaMapResponse(prev: View, next: View): Json | null {
  const out: Json = {};
  if (!same(prev.self, next.self)) out.Node = next.self;
  if (!same(prev.derpMap, next.derpMap)) out.DERPMap = next.derpMap;
  if (!same(prev.filter, next.filter)) out.PacketFilters = { base: next.filter };
  if (!same(prev.dns, next.dns)) out.DNSConfig = next.dns;
  if (prev.domain !== next.domain) out.Domain = next.domain;
  const newProfiles = [...next.profiles]
    .filter(([id, p]) => !same(prev.profiles.get(id), p))
    .map(([, p]) => p);
  if (newProfiles.length > 0) out.UserProfiles = newProfiles;
  const removed = [...prev.peers.keys()].filter((id) => !next.peers.has(id));
  if (removed.length > 0) out.PeersRemoved = removed.sort((a, b) => a - b);
  const changed: Json[] = [];
  const patches: Json[] = [];
  const online: Record<string, boolean> = {};
  for (const [id, w] of next.peers) {
    const p = prev.peers.get(id);
    const n = w.json;
    if (p === undefined) {
      changed.push(n);
      continue;
    }
    if (p === w || p.text === w.text) continue;
    const d = diffPeer(p.json, n);
    if (d.kind === 'full') changed.push(n);
    else if (d.kind === 'patch') patches.push(d.patch);
    else if (d.kind === 'online') online[String(id)] = d.online;
  }
  if (changed.length > 0) out.PeersChanged = changed.sort((a, b) => (a.ID as number) - (b.ID as number));
  if (patches.length > 0) out.PeersChangedPatch = patches;
  if (Object.keys(online).length > 0) out.OnlineChange = online;
  return Object.keys(out).length === 0 ? null : out;
}
