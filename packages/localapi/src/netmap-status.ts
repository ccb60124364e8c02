/**
 * `ipnstate.Status` from a control `NetworkMap` plus what only the engine knows, as tailscale's
 * `ipnlocal` builds it (v1.102.3 `LocalBackend.updateStatus`, `populatePeerStatusLocked`,
 * `peerStatusFromNode`): self and peers from the netmap's nodes (Tailscale IPs = the single-IP
 * `Addresses` in the Tailscale ranges, host name and OS from Hostinfo, key expiry unless zero), users
 * from the netmap's profiles, `MagicDNSSuffix` = the self node's name without its first label,
 * `CurrentTailnet` from `Domain` and `DNS.Proxied`. Paths, byte counters and handshake times come
 * from the engine through `peerRuntime`. The `tsnet` Server's `LocalBackend.status` can be this.
 */

import { isZeroTime, type NetworkMap, type Node } from '@tsnet/control';
import { IPPrefix } from '@tsnet/core';
import type { BackendState, PeerStatus, Status } from './types.js';

/** What the data plane knows about a peer (all optional). */
export interface PeerRuntime {
  /** The direct `ip:port` in use, or `''`. */
  curAddr?: string;
  /** Its home DERP region code (the engine knows the DERP map). */
  relay?: string;
  /** Bytes received from the peer. */
  rxBytes?: number;
  /** Bytes sent to the peer. */
  txBytes?: number;
  /** The last WireGuard handshake with the peer. */
  lastHandshake?: Date;
  /** When data was last sent to the peer. */
  lastWrite?: Date;
  /** Whether there was traffic with the peer recently. */
  active?: boolean;
  /** Whether magicsock knows the peer. */
  inMagicSock?: boolean;
  /** Whether the WireGuard engine has the peer. */
  inEngine?: boolean;
}

/** Options of `netmapStatus`: what the netmap does not say about the node. */
export interface NetmapStatusOptions {
  /** `Status.Version`. */
  version: string;
  /** `Status.BackendState`. */
  backendState: BackendState;
  /** Include the `Peer` map (`?peers=false` leaves it out). */
  peers: boolean;
  /** `Status.AuthURL`: the login URL while an interactive login waits. */
  authURL?: string;
  /** `Status.HaveNodeKey`. */
  haveNodeKey?: boolean;
  /** `Status.Health`: health warnings as text. */
  health?: readonly string[];
  /** Whether the map poll is up (self `Online`). Default: `backendState === 'Running'`. */
  online?: boolean;
  /** Our OS name for self (default `'linux'`-style `process.platform` mapped as Go's `version.OS`). */
  os?: string;
  /** Engine data of a peer, by node key text. */
  peerRuntime?: (nodeKey: string) => PeerRuntime | undefined;
}

const CGNAT = IPPrefix.parse('100.64.0.0/10');
const TS_ULA = IPPrefix.parse('fd7a:115c:a1e0::/48');

/** `MagicDNSSuffixOfNodeName`: the node name without its first label and dots at the ends. */
export function magicDNSSuffixOfNodeName(name: string): string {
  const trimmed = name.replace(/^\.+|\.+$/g, '');
  const dot = trimmed.indexOf('.');
  return dot < 0 ? trimmed : trimmed.slice(dot + 1);
}

function goOS(platform: string): string {
  switch (platform) {
    case 'darwin':
      return 'macOS';
    case 'win32':
      return 'windows';
    default:
      return platform;
  }
}

function peerAPIURLs(n: Node): string[] {
  const out: string[] = [];
  for (const [proto, v4] of [
    ['peerapi4', true],
    ['peerapi6', false],
  ] as const) {
    const svc = n.Hostinfo?.Services?.find((s) => s.Proto === proto);
    const ip = n.Addresses?.find((a) => a.isSingleIP() && a.addr.is4() === v4)?.addr;
    if (svc === undefined || svc.Port === 0 || ip === undefined) continue;
    out.push(v4 ? `http://${ip}:${svc.Port}` : `http://[${ip}]:${svc.Port}`);
  }
  return out;
}

function fromNode(n: Node, rt: PeerRuntime | undefined): PeerStatus {
  const ps: PeerStatus = {
    ID: n.StableID ?? '',
    NodeID: n.ID,
    PublicKey: n.Key,
    HostName: n.Hostinfo?.Hostname ?? '',
    DNSName: n.Name ?? '',
    OS: n.Hostinfo?.OS ?? '',
    UserID: n.User ?? 0,
    TailscaleIPs: (n.Addresses ?? [])
      .filter((a) => a.isSingleIP() && (CGNAT.contains(a.addr) || TS_ULA.contains(a.addr)))
      .map((a) => a.addr),
    Addrs: (n.Endpoints ?? []).map(String),
    CurAddr: rt?.curAddr ?? '',
    Relay: rt?.relay ?? '',
    RxBytes: rt?.rxBytes ?? 0,
    TxBytes: rt?.txBytes ?? 0,
    Online: n.Online ?? false,
    ExitNode: false,
    ExitNodeOption: false,
    Active: rt?.active ?? false,
    PeerAPIURL: peerAPIURLs(n),
    InNetworkMap: true,
    InMagicSock: rt?.inMagicSock ?? false,
    InEngine: rt?.inEngine ?? false,
  };
  if (n.Sharer !== undefined && n.Sharer !== 0 && n.Sharer !== n.User) ps.AltSharerUserID = n.Sharer;
  if (n.AllowedIPs !== undefined && n.AllowedIPs.length > 0) ps.AllowedIPs = n.AllowedIPs;
  if (n.Tags !== undefined && n.Tags.length > 0) ps.Tags = n.Tags;
  if (n.PrimaryRoutes !== undefined && n.PrimaryRoutes.length > 0) ps.PrimaryRoutes = n.PrimaryRoutes;
  if (n.Created !== undefined) ps.Created = n.Created;
  if (n.LastSeen !== undefined) ps.LastSeen = n.LastSeen;
  if (rt?.lastHandshake !== undefined) ps.LastHandshake = rt.lastHandshake;
  if (rt?.lastWrite !== undefined) ps.LastWrite = rt.lastWrite;
  if (n.Capabilities !== undefined && n.Capabilities.length > 0) ps.Capabilities = n.Capabilities;
  if (n.CapMap !== undefined && Object.keys(n.CapMap).length > 0) ps.CapMap = n.CapMap;
  if (n.Hostinfo?.sshHostKeys !== undefined) ps.sshHostKeys = n.Hostinfo.sshHostKeys;
  if (n.Hostinfo?.ShareeNode === true) ps.ShareeNode = true;
  if (n.Hostinfo?.Location !== undefined) ps.Location = n.Hostinfo.Location;
  if (n.Expired === true) ps.Expired = true;
  if (n.KeyExpiry !== undefined && !isZeroTime(n.KeyExpiry)) {
    ps.KeyExpiry = new Date(Math.round(n.KeyExpiry.getTime() / 1000) * 1000);
  }
  return ps;
}

/**
 * The status of a node whose netmap is `nm`.
 *
 * @example
 * ```ts
 * status: ({ peers }) => statusFromNetmap(netmap, { version: '1.102.3-tsnet', backendState: 'Running', peers }),
 * ```
 */
export function statusFromNetmap(nm: NetworkMap, opts: NetmapStatusOptions): Status {
  const self = nm.self;
  const suffix = magicDNSSuffixOfNodeName(self?.Name ?? '');
  const st: Status = {
    Version: opts.version,
    TUN: false,
    BackendState: opts.backendState,
    AuthURL: opts.authURL ?? '',
    TailscaleIPs: (self?.Addresses ?? []).filter((a) => a.isSingleIP()).map((a) => a.addr),
    Health: [...(opts.health ?? nm.health)],
    MagicDNSSuffix: self === undefined ? '' : suffix,
  };
  if (opts.haveNodeKey !== undefined) st.HaveNodeKey = opts.haveNodeKey;
  if (self !== undefined) {
    const ss = fromNode(self, undefined);
    ss.OS = opts.os ?? goOS(process.platform);
    ss.Online = opts.online ?? opts.backendState === 'Running';
    ss.PeerAPIURL = [];
    st.Self = ss;
    st.CurrentTailnet = {
      Name: nm.domain,
      MagicDNSSuffix: suffix,
      MagicDNSEnabled: nm.dnsConfig?.Proxied ?? false,
    };
    const certDomains = nm.dnsConfig?.CertDomains;
    if (certDomains !== undefined && certDomains.length > 0) st.CertDomains = [...certDomains];
  }
  st.User = Object.fromEntries([...nm.userProfiles].map(([id, up]) => [String(id), up]));
  if (opts.peers) {
    const peers: Record<string, PeerStatus> = {};
    for (const [, n] of nm.peerTable.entries()) {
      const key = n.Key.toString();
      peers[key] = fromNode(n, opts.peerRuntime?.(key));
    }
    st.Peer = peers;
  }
  return st;
}
