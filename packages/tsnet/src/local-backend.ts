/**
 * The `LocalBackend` of a tsnet node: what `@tsnet/localapi`'s handlers and in-process
 * `LocalClient` ask a node (Go's `ipnlocal.LocalBackend` as `ipn/localapi` uses it), answered from
 * the engine's live netmap: WhoIs (node, owner, CapMap from the packet filter), status (with paths
 * and counters from magicsock) and prefs (no keys). `Server.localClient()` stands on it.
 */
import type { NetworkMap } from '@tsnet/control';
import {
  type BackendState,
  type LocalBackend,
  type PeerRuntime,
  type Prefs,
  type Status,
  statusFromNetmap,
  type WhoIsResult,
  whoIsInNetmap,
} from '@tsnet/localapi';
import type { TsnetNode } from './engine/node.js';

/** `Status.Version` we report (the tailscale version whose wire formats we follow). */
export const TSNET_VERSION = '1.102.3-tsnet';

/** What `nodeLocalBackend` needs beyond the node. */
export interface NodeBackendOptions {
  /** The node's state as the Server sees it. */
  backendState: () => BackendState;
  /** The control URL, as `Prefs.ControlURL`. */
  controlUrl: string;
  /** Our host name, as `Prefs.Hostname`. */
  hostname: string;
}

/** What magicsock knows of a peer, as `ipnstate.PeerStatus` wants it. */
function peerRuntime(node: TsnetNode, nm: NetworkMap, nodeKey: string): PeerRuntime | undefined {
  const p = node.peerPath(nodeKey);
  if (p === undefined) return undefined;
  const region = p.derpRegion === 0 ? undefined : nm.derpMap?.Regions?.get(p.derpRegion);
  return {
    curAddr: p.trusted && p.direct !== undefined ? p.direct : '',
    relay: region?.RegionCode ?? '',
    rxBytes: p.rxDirect + p.rxDerp,
    txBytes: p.txDirect + p.txDerp,
    inMagicSock: true,
    inEngine: true,
  };
}

/**
 * A `LocalBackend` over a `TsnetNode`.
 *
 * @example
 * ```ts
 * const lc = new LocalClient({ backend: nodeLocalBackend(node, { backendState: () => 'Running', controlUrl, hostname }) });
 * const who = await lc.whoIs('100.64.0.2:41234');
 * ```
 */
export function nodeLocalBackend(node: TsnetNode, opts: NodeBackendOptions): LocalBackend {
  const whoIs = (nm: NetworkMap | undefined, find: (nm: NetworkMap) => WhoIsResult | null) =>
    nm === undefined ? null : find(nm);
  return {
    // We proxy no connections (netstack terminates them with the peer's own address), so an
    // ip:port is looked up by its IP.
    whoIs: (addr, o) => whoIs(node.netmap, (nm) => whoIsInNetmap(nm, addr.addr, o)),
    whoIsNodeKey: (key, o) => whoIs(node.netmap, (nm) => whoIsInNetmap(nm, key, o)),
    status: ({ peers }): Status => {
      const backendState = opts.backendState();
      const nm = node.netmap;
      if (nm === undefined) {
        return {
          Version: TSNET_VERSION,
          TUN: false,
          BackendState: backendState,
          AuthURL: '',
          TailscaleIPs: [],
          Health: [],
          MagicDNSSuffix: '',
          ...(peers ? { Peer: {} } : {}),
        };
      }
      return statusFromNetmap(nm, {
        version: TSNET_VERSION,
        backendState,
        peers,
        haveNodeKey: true,
        peerRuntime: (key) => peerRuntime(node, nm, key),
      });
    },
    prefs: (): Prefs => ({
      ControlURL: opts.controlUrl,
      RouteAll: false,
      ExitNodeID: '',
      ExitNodeIP: '',
      ExitNodeAllowLANAccess: false,
      CorpDNS: false,
      RunSSH: false,
      RunWebClient: false,
      WantRunning: opts.backendState() === 'Running' || opts.backendState() === 'Starting',
      LoggedOut: false,
      ShieldsUp: false,
      Hostname: opts.hostname,
      NoSNAT: false,
      NoStatefulFiltering: undefined, // opt.Bool unset
      NetfilterMode: 0,
      PostureChecking: false,
    }),
    certDomains: () => node.netmap?.dnsConfig?.CertDomains ?? [],
    derpMap: () => node.netmap?.derpMap,
    dnsConfig: () => node.netmap?.dnsConfig,
    peerByID: (id) => node.netmap?.peerTable.get(id),
    userProfile: (id) => node.netmap?.userProfiles.get(id),
  };
}
