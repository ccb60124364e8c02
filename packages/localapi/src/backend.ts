/**
 * The seam between the LocalAPI handlers and a node: `LocalBackend`, the few read (and fewer write)
 * operations the handlers need. The `tsnet` Server implements it over its netmap and engine; tests
 * implement it with plain objects. Mirrors the subset of tailscale's `ipnlocal.LocalBackend` that
 * `ipn/localapi/localapi.go` calls for these endpoints (`WhoIs`, `WhoIsNodeKey`, `PeerCaps*`,
 * `Status`, `StatusWithoutPeers`, `Prefs`, `NetMapNoPeers`, `DERPMap`, `PeerByID`, `UserProfile`).
 *
 * Every method may return a value or a promise. Methods marked optional answer 404 (as an
 * unregistered LocalAPI route does) when the backend leaves them out.
 */

import type { DERPMap, DNSConfig, Node, UserProfile } from '@tsnet/control';
import type { AddrPort, IPAddr, NodePublic } from '@tsnet/core';
import type { PeerCapMap, PingResult, PingType, Prefs, Status } from './types.js';

/** An `ipn.Notify` a backend emits (serialised as Go does; `State` as the `IPN_STATES` index). */
export type NotifyMessage = Record<string, unknown>;

type MaybePromise<T> = T | Promise<T>;

/** What WhoIs found: the node (peer or self), its owner's profile and the caller's capabilities. */
export interface WhoIsResult {
  /** The node that owns the address: a peer, or ourselves. */
  node: Node;
  /** For a tagged node, the "tagged-devices" pseudo-user control sent. */
  userProfile: UserProfile;
  /**
   * Application capabilities the node holds towards us (compute with `peerCaps` from the packet
   * filter, using the node's first address as the source). Empty or absent: none.
   */
  capMap?: PeerCapMap | undefined;
}

/** Options of a WhoIs lookup, from the query string. */
export interface WhoIsLookupOptions {
  /** `proto=` (`tcp`, `udp`, or `''`): which proxied-connection table to consult for an ip:port. */
  proto: string;
  /** `dst_ip=`: compute `capMap` for this destination instead of our own address. */
  dstIP?: IPAddr | undefined;
  /** `svc_name=` (`svc:<name>`): compute `capMap` for that VIP service's address. */
  svcName?: string | undefined;
}

/**
 * What the LocalAPI handlers need from a node: implement it over your engine (tsnet's `nodeLocalBackend`) or
 * a netmap (`netmapLocalBackend`).
 */
export interface LocalBackend {
  /**
   * The node that owns `addr` (an address of a peer or of ourselves; port 0 when only an IP was
   * given; IPv4-mapped IPv6 already unmapped), or `null`. A node with a port may also be looked up
   * in the table of connections we proxied (`proto`).
   */
  whoIs(addr: AddrPort, opts: WhoIsLookupOptions): MaybePromise<WhoIsResult | null>;
  /** The node with this node key, or `null`. */
  whoIsNodeKey?(key: NodePublic, opts: WhoIsLookupOptions): MaybePromise<WhoIsResult | null>;
  /** `ipnstate.Status`; with `peers: false` without the `Peer` map. */
  status(opts: { peers: boolean }): MaybePromise<Status>;
  /** The current prefs, without secrets. */
  prefs(): MaybePromise<Prefs>;
  /** `PATCH prefs` with an `ipn.MaskedPrefs` body; returns the new prefs or throws (→ 400). */
  editPrefs?(masked: Record<string, unknown>): MaybePromise<Prefs>;
  /** `DNS.CertDomains` of the netmap (sorted by the handler); `[]` without a netmap. */
  certDomains?(): MaybePromise<readonly string[]>;
  /** The DERP map in use, or `undefined` (→ `null`). */
  derpMap?(): MaybePromise<DERPMap | undefined>;
  /** The netmap's DNS config; `undefined` without a netmap (→ 503 "no netmap"). */
  dnsConfig?(): MaybePromise<DNSConfig | undefined>;
  /** A peer by `NodeID`, or `undefined` (→ 404). */
  peerByID?(id: number): MaybePromise<Node | undefined>;
  /** A user profile by `UserID`, or `undefined` (→ 404). */
  userProfile?(id: number): MaybePromise<UserProfile | undefined>;
  /**
   * `watch-ipn-bus?mask=`: the IPN notifications, first the initial ones the mask asks for
   * (`NotifyWatchOpt`), then changes as they happen, until `signal` aborts (the client went away).
   */
  watchIPNBus?(mask: number, signal: AbortSignal): AsyncIterable<NotifyMessage>;
  /**
   * `POST ping?ip=&type=&size=`: ping a tailnet IP (`disco`, `TSMP`, `ICMP`, `peerapi`); a failed
   * ping is a result with `Err`; a thrown error becomes 500 `{"error":…}`.
   */
  ping?(ip: IPAddr, type: PingType, size: number): MaybePromise<PingResult>;
  /** `POST logout`. */
  logout?(): MaybePromise<void>;
  /** `POST login-interactive`: start an interactive login (the URL appears in status `AuthURL`). */
  loginInteractive?(): MaybePromise<void>;
}
