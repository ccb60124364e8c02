/**
 * The network map: everything control has told this node, as one immutable value. Built and
 * updated only by `applyMapResponse` (./apply.ts), a pure function, so any netmap a caller holds
 * stays valid and consistent forever.
 */
import type { DERPMap } from '../tailcfg/derp.js';
import type { DNSConfig } from '../tailcfg/dns.js';
import type { FilterRule } from '../tailcfg/filter.js';
import type { Node, UserProfile } from '../tailcfg/node.js';
import { PeerTable } from './peer-table.js';

/**
 * The network map: everything control has told this node, as one immutable value (see `applyMapResponse`).
 */
export interface NetworkMap {
  /** The self node (`MapResponse.Node`), normalised; undefined until the first full map. */
  readonly self: Node | undefined;
  /** Peers by NodeID, normalised and with expired keys flagged. */
  readonly peerTable: PeerTable<Node>;
  /** The DERP map after merging partial updates. */
  readonly derpMap: DERPMap | undefined;
  /** Named packet filter chunks (`PacketFilters`; the legacy `PacketFilter` is named `"base"`). */
  readonly namedPacketFilters: ReadonlyMap<string, readonly FilterRule[]>;
  /**
   * The effective filter: the named chunks concatenated in key order. `undefined` until control
   * has sent any filter, which means "deny everything"; an empty list also denies everything.
   */
  readonly packetFilter: readonly FilterRule[] | undefined;
  /** The DNS configuration (`MapResponse.DNSConfig`), or undefined until sent. */
  readonly dnsConfig: DNSConfig | undefined;
  /** The tailnet's domain (`MapResponse.Domain`), `''` until sent. */
  readonly domain: string;
  /** User profiles, accumulated over the session. */
  readonly userProfiles: ReadonlyMap<number, UserProfile>;
  /** Whether control asks for our open ports as services (`MapResponse.CollectServices`). */
  readonly collectServices: boolean;
  /** Health warnings from control (`MapResponse.Health`), replaced when sent. */
  readonly health: readonly string[];
  /** Control's clock at its last message, if it sent one. */
  readonly controlTime: Date | undefined;
}

/** The netmap before any MapResponse. */
export const EMPTY_NETMAP: NetworkMap = Object.freeze({
  self: undefined,
  peerTable: PeerTable.empty<Node>(),
  derpMap: undefined,
  namedPacketFilters: new Map(),
  packetFilter: undefined,
  dnsConfig: undefined,
  domain: '',
  userProfiles: new Map(),
  collectServices: false,
  health: [],
  controlTime: undefined,
});

/** Peers sorted by NodeID. */
export function peers(nm: NetworkMap): readonly Node[] {
  return nm.peerTable.sorted((n) => n.ID);
}

/** A peer by its node key, or undefined. Linear: for lookups in a loop build your own index. */
export function peerByKey(nm: NetworkMap, nodeKey: string): Node | undefined {
  for (const [, n] of nm.peerTable.entries()) if (n.Key.toString() === nodeKey) return n;
  return undefined;
}
