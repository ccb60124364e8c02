/**
 * Applying a MapResponse to a netmap, as a pure function (tailscale/tailscale
 * `control/controlclient/map.go updateStateFromResponse` and `updatePeersStateFromResponse`).
 *
 * Order and semantics, field by field:
 * - `Peers` non-empty: the complete peer list; replaces every peer, and the other peer deltas of
 *   the same message are ignored (Go: "Peers precludes all other delta operations").
 * - otherwise, in this order: `PeersRemoved`, `PeersChanged` (whole nodes, add or replace),
 *   `PeerSeenChange` (true: `LastSeen` = now; false: cleared), `OnlineChange`, then
 *   `PeersChangedPatch` (only the fields present change; unknown IDs are ignored).
 * - `Node`: replaces self. `UserProfiles`: accumulate by ID.
 * - `DERPMap`: `Regions` absent keeps the old regions (and `omitDefaultRegions`), `HomeParams`
 *   absent keeps the old ones, and `HomeParams.RegionScore` absent keeps the old scores.
 * - `PacketFilter` (legacy): the named chunk `"base"`. `PacketFilters`: `"*": null` clears all
 *   chunks first, `name: null` deletes that chunk, `name: [...]` sets it; the effective filter is
 *   the concatenation in sorted key order.
 * - `DNSConfig` replaces when present; `Domain` when non-empty; `CollectServices` when not null;
 *   `Health` when present; `ControlTime` when present.
 * Every node is normalised (`normalizeNode`) and peers whose key has expired at `now` are flagged.
 */
import type { DERPMap, DERPRegion } from '../tailcfg/derp.js';
import type { FilterRule } from '../tailcfg/filter.js';
import type { MapResponse, PeerChange } from '../tailcfg/map.js';
import type { Node, UserProfile } from '../tailcfg/node.js';
import type { NetworkMap } from './netmap.js';
import { flagExpired, normalizeNode } from './node.js';
import { PeerTable } from './peer-table.js';

export interface ApplyOptions {
  /** Wall-clock time (Unix ms) for `PeerSeenChange` and expiry flagging. */
  now: number;
}

function prepPeer(n: Node, now: number): Node {
  return flagExpired(normalizeNode(n), now);
}

function patchPeer(n: Node, pc: PeerChange): Node {
  const m: Node = { ...n };
  if (pc.DERPRegion) m.HomeDERP = pc.DERPRegion;
  if (pc.Cap) m.Cap = pc.Cap;
  if (pc.Endpoints !== undefined) m.Endpoints = pc.Endpoints;
  if (pc.Key !== undefined) m.Key = pc.Key;
  if (pc.DiscoKey !== undefined) m.DiscoKey = pc.DiscoKey;
  if (pc.Online !== undefined) m.Online = pc.Online;
  if (pc.LastSeen !== undefined) m.LastSeen = pc.LastSeen;
  if (pc.KeyExpiry !== undefined) {
    m.KeyExpiry = pc.KeyExpiry;
    delete m.Expired; // re-evaluated below against the new expiry
  }
  if (pc.KeySignature !== undefined && pc.KeySignature !== null) m.KeySignature = pc.KeySignature;
  if (pc.CapMap !== undefined) m.CapMap = pc.CapMap;
  return m;
}

function applyPeers(prev: PeerTable<Node>, r: MapResponse, now: number): PeerTable<Node> {
  if (r.Peers !== undefined && r.Peers.length > 0) {
    return PeerTable.from(r.Peers.map((n) => [n.ID, prepPeer(n, now)] as const));
  }
  // Stage every change in one overlay so the table is copied once per message.
  const overlay = new Map<number, Node | undefined>();
  const cur = (id: number): Node | undefined => (overlay.has(id) ? overlay.get(id) : prev.get(id));
  for (const id of r.PeersRemoved ?? []) overlay.set(id, undefined);
  for (const n of r.PeersChanged ?? []) overlay.set(n.ID, normalizeNode(n));
  for (const [id, seen] of r.PeerSeenChange ?? []) {
    const n = cur(id);
    if (n === undefined) continue;
    const m: Node = { ...n };
    if (seen) m.LastSeen = new Date(now);
    else m.LastSeen = undefined;
    overlay.set(id, m);
  }
  for (const [id, online] of r.OnlineChange ?? []) {
    const n = cur(id);
    if (n !== undefined) overlay.set(id, { ...n, Online: online });
  }
  for (const pc of r.PeersChangedPatch ?? []) {
    const n = cur(pc.NodeID);
    if (n !== undefined) overlay.set(pc.NodeID, patchPeer(n, pc));
  }
  if (overlay.size === 0) return prev;
  for (const [id, n] of overlay) if (n !== undefined) overlay.set(id, flagExpired(n, now));
  return prev.update(overlay);
}

function mergeDERPMap(old: DERPMap | undefined, dm: DERPMap): DERPMap {
  const regions = new Map<number, DERPRegion>();
  for (const [id, r] of dm.Regions ?? []) if (r !== null) regions.set(id, r);
  if (old === undefined) return { ...dm, Regions: dm.Regions === undefined ? undefined : regions };
  const out: DERPMap = { ...dm };
  if (dm.Regions === undefined) {
    out.Regions = old.Regions;
    if (old.omitDefaultRegions !== undefined) out.omitDefaultRegions = old.omitDefaultRegions;
    else delete out.omitDefaultRegions;
  } else out.Regions = regions;
  if (dm.HomeParams === undefined) {
    if (old.HomeParams !== undefined) out.HomeParams = old.HomeParams;
  } else if (dm.HomeParams.RegionScore === undefined && old.HomeParams?.RegionScore !== undefined) {
    out.HomeParams = { ...dm.HomeParams, RegionScore: old.HomeParams.RegionScore };
  }
  return out;
}

function applyFilters(
  prev: ReadonlyMap<string, readonly FilterRule[]>,
  r: MapResponse,
): ReadonlyMap<string, readonly FilterRule[]> | undefined {
  if (r.PacketFilter === undefined && r.PacketFilters === undefined) return undefined;
  let named = new Map(prev);
  if (r.PacketFilter !== undefined) named.set('base', r.PacketFilter);
  if (r.PacketFilters !== undefined) {
    if ('*' in r.PacketFilters && r.PacketFilters['*'] === null) named = new Map();
    for (const [k, v] of Object.entries(r.PacketFilters)) {
      if (k === '*') continue;
      if (v === null) named.delete(k);
      else named.set(k, v);
    }
  }
  return named;
}

function concatFilters(named: ReadonlyMap<string, readonly FilterRule[]>): readonly FilterRule[] {
  const out: FilterRule[] = [];
  for (const k of [...named.keys()].sort()) out.push(...named.get(k)!);
  return out;
}

/**
 * Returns the netmap after `r`. `prev` is not modified; a keep-alive returns `prev` itself.
 *
 * @example
 * ```ts
 * let nm = EMPTY_NETMAP;
 * for await (const msg of mapStream) nm = applyMapResponse(nm, msg, { now: Date.now() });
 * ```
 */
export function applyMapResponse(prev: NetworkMap, r: MapResponse, opts: ApplyOptions): NetworkMap {
  if (r.KeepAlive) return prev;
  const now = opts.now;
  const peerTable = applyPeers(prev.peerTable, r, now);
  let userProfiles = prev.userProfiles;
  if (r.UserProfiles !== undefined && r.UserProfiles.length > 0) {
    const m = new Map<number, UserProfile>(prev.userProfiles);
    for (const up of r.UserProfiles) m.set(up.ID, up);
    userProfiles = m;
  }
  const named = applyFilters(prev.namedPacketFilters, r);
  return Object.freeze({
    self: r.Node !== undefined ? normalizeNode(r.Node) : prev.self,
    peerTable,
    derpMap: r.DERPMap !== undefined ? mergeDERPMap(prev.derpMap, r.DERPMap) : prev.derpMap,
    namedPacketFilters: named ?? prev.namedPacketFilters,
    packetFilter: named !== undefined ? concatFilters(named) : prev.packetFilter,
    dnsConfig: r.DNSConfig ?? prev.dnsConfig,
    domain: r.Domain ? r.Domain : prev.domain,
    userProfiles,
    collectServices: r.CollectServices ?? prev.collectServices,
    health: r.Health ?? prev.health,
    controlTime: r.ControlTime ?? prev.controlTime,
  });
}

/**
 * Flags every peer whose key has expired by `now` (for a timer between map messages). Returns
 * `nm` itself when nothing changed.
 */
export function flagExpiredPeers(nm: NetworkMap, now: number): NetworkMap {
  const changes: Array<[number, Node]> = [];
  for (const [id, n] of nm.peerTable.entries()) {
    const f = flagExpired(n, now);
    if (f !== n) changes.push([id, f]);
  }
  if (changes.length === 0) return nm;
  return Object.freeze({ ...nm, peerTable: nm.peerTable.update(changes) });
}

/** The earliest future key expiry among peers and self, for scheduling `flagExpiredPeers`. */
export function nextKeyExpiry(nm: NetworkMap, now: number): number | undefined {
  let best: number | undefined;
  const consider = (n: Node | undefined) => {
    const t = n?.KeyExpiry?.getTime();
    if (t !== undefined && t > now && (best === undefined || t < best) && t > -62135596800000) best = t;
  };
  consider(nm.self);
  for (const [, n] of nm.peerTable.entries()) consider(n);
  return best;
}
