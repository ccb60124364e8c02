/**
 * The `LocalBackend` of a tsnet node: what `@tsnet/localapi`'s handlers and in-process
 * `LocalClient` ask a node (Go's `ipnlocal.LocalBackend` as `ipn/localapi` uses it), answered from
 * the engine's live netmap: WhoIs (node, owner, CapMap from the packet filter), status (with paths
 * and counters from magicsock) and prefs (no keys). `Server.localClient()` stands on it.
 */

import { randomBytes } from 'node:crypto';
import type { NetworkMap } from '@tsnet/control';
import { type IPAddr, systemClock } from '@tsnet/core';
import {
  type BackendState,
  IPN_STATES,
  type LocalBackend,
  type NotifyMessage,
  NotifyWatchOpt,
  nodeByAddr,
  type PeerRuntime,
  type PingResult,
  type PingType,
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
  /** The login URL while an interactive login waits (status `AuthURL`, the bus's `BrowseToURL`). */
  authURL?: () => string | undefined;
  /** Subscribes to backend state changes (for watch-ipn-bus); returns the unsubscribe. */
  onState?: (listener: (state: BackendState) => void) => () => void;
  /** Aborts when the node shuts down: running watches end. */
  done?: AbortSignal;
}

/** Messages a slow watch-ipn-bus reader may fall behind by before the oldest are dropped. */
const MAX_QUEUED_NOTIFY = 64;
/** How long an ICMP ping through the LocalAPI waits for the echo reply. */
const PING_TIMEOUT_MS = 10_000;

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
  const backend: LocalBackend = {
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
          AuthURL: opts.authURL?.() ?? '',
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
    ping: (ip, type, size) => ping(node, ip, type, size),
  };
  const onState = opts.onState;
  if (onState !== undefined) {
    backend.watchIPNBus = (mask, signal) => watchIPNBus(backend, opts, onState, mask, signal);
  }
  return backend;
}

/**
 * `watch-ipn-bus` as Go's `WatchNotificationsAs`: one first message with `Version` and what the mask
 * asks for (`State` and, while a login waits, `BrowseToURL`; `Prefs`; `InitialStatus`), then one
 * message per state change (`LoginFinished` when an interactive login completes). A reader that falls
 * more than 64 messages behind loses the oldest.
 */
async function* watchIPNBus(
  backend: LocalBackend,
  opts: NodeBackendOptions,
  onState: NonNullable<NodeBackendOptions['onState']>,
  mask: number,
  signal: AbortSignal,
): AsyncGenerator<NotifyMessage> {
  const queue: NotifyMessage[] = [];
  let wake: (() => void) | undefined;
  let last = opts.backendState();
  const stateMessage = (st: BackendState): NotifyMessage => {
    const n: NotifyMessage = { State: IPN_STATES.indexOf(st) };
    const url = opts.authURL?.();
    if (st === 'NeedsLogin' && url !== undefined && url !== '') n.BrowseToURL = url;
    return n;
  };
  const unsubscribe = onState((st) => {
    if (st === last) return;
    const n = stateMessage(st);
    if (last === 'NeedsLogin' && (st === 'Starting' || st === 'Running')) n.LoginFinished = {};
    last = st;
    if (queue.length >= MAX_QUEUED_NOTIFY) queue.shift();
    queue.push(n);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort);
  opts.done?.addEventListener('abort', onAbort);
  const over = () => signal.aborted || opts.done?.aborted === true;
  try {
    const ini: NotifyMessage = { Version: TSNET_VERSION };
    if ((mask & NotifyWatchOpt.InitialState) !== 0) {
      ini.SessionID = randomBytes(8).toString('hex');
      Object.assign(ini, stateMessage(last));
    }
    if ((mask & NotifyWatchOpt.InitialPrefs) !== 0) ini.Prefs = await backend.prefs();
    if ((mask & NotifyWatchOpt.InitialStatus) !== 0)
      ini.InitialStatus = await backend.status({ peers: true });
    yield ini;
    for (;;) {
      const n = queue.shift();
      if (n !== undefined) {
        yield n;
        continue;
      }
      if (over()) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
    opts.done?.removeEventListener('abort', onAbort);
  }
}

/**
 * `ping` of the LocalAPI: a disco ping through magicsock (`tailscale ping`, the path in `Endpoint` or
 * `DERPRegionID`), a TSMP ping through WireGuard (`--tsmp`) or an ICMP echo through our netstack
 * (`--icmp`). PeerAPI pings are not implemented and say so in `Err`, as a failed ping does.
 */
async function ping(node: TsnetNode, ip: IPAddr, type: PingType, _size: number): Promise<PingResult> {
  const text = ip.toString();
  const nm = node.netmap;
  const peer = nm === undefined ? undefined : nodeByAddr(nm, ip);
  const result: PingResult = {
    IP: text,
    NodeIP: peer === undefined ? '' : text,
    NodeName: peer?.Name ?? '',
    Err: '',
    LatencySeconds: 0,
    Endpoint: '',
    DERPRegionID: 0,
    DERPRegionCode: '',
  };
  if (node.addresses.some((a) => a.equals(ip))) return { ...result, IsLocalIP: true };
  if (type !== 'ICMP' && type !== 'disco' && type !== 'TSMP') {
    return { ...result, Err: `${type} ping is not supported by tsnet yet (disco, TSMP and ICMP are)` };
  }
  const stack = node.stack;
  if (stack === undefined) return { ...result, Err: 'not running' };
  if (peer === undefined) return { ...result, Err: `no matching peer for ${text}` };
  const region = node.peerPath(text)?.derpRegion ?? 0;
  const via = (direct: string) => ({
    Endpoint: direct,
    DERPRegionID: direct === '' ? region : 0,
    DERPRegionCode: direct === '' ? (nm?.derpMap?.Regions?.get(region)?.RegionCode ?? '') : '',
  });
  if (type === 'disco') {
    // Go's disco ping: the path is the one the Pong came back on.
    try {
      const pong = await node.magicsock.ping(peer.Key.toString(), PING_TIMEOUT_MS);
      return { ...result, LatencySeconds: pong.latencyMs / 1000, ...via(pong.direct?.toString() ?? '') };
    } catch (err) {
      return { ...result, Err: (err as Error).message };
    }
  }
  let ms: number | null;
  if (type === 'TSMP') {
    // From our address of the same family, straight into the tunnel (netstack does not see it).
    const src = node.addresses.find((a) => a.is4() === ip.is4());
    if (src === undefined) return { ...result, Err: `no ${ip.is4() ? 'IPv4' : 'IPv6'} address of ours` };
    ms = await node.datapath.pingTsmp(src.bytes, ip.bytes, PING_TIMEOUT_MS, systemClock);
  } else {
    ms = await stack.ping(text, { timeoutMs: PING_TIMEOUT_MS });
  }
  if (ms === null) return { ...result, Err: 'timeout' };
  const path = node.peerPath(text);
  return {
    ...result,
    LatencySeconds: ms / 1000,
    ...via(path?.trusted === true && path.direct !== undefined ? path.direct : ''),
  };
}
