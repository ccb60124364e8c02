/**
 * WhoIs over a control `NetworkMap`, as tailscale's `ipnlocal` answers it (`LocalBackend.WhoIs`,
 * `WhoIsNodeKey`, `nodeBackend.PeerCaps`): the node (self or a peer) with that single-IP address or
 * node key, its owner's `UserProfile` from the netmap (no profile → no answer, as Go), and the
 * `CapMap` from the packet filter with the node's first address as the source. A `LocalBackend` built
 * over a netmap uses these for `whoIs`/`whoIsNodeKey`; proxied-connection lookups (an ip:port of a
 * connection we proxied, as tailscaled's netstack mapper) stay the backend's own business.
 */

import type { NetworkMap, Node } from '@tsnet/control';
import type { IPAddr, NodePublic } from '@tsnet/core';
import type { WhoIsLookupOptions, WhoIsResult } from './backend.js';
import { peerCaps } from './capmap.js';

function* allNodes(nm: NetworkMap): Generator<Node> {
  if (nm.self !== undefined) yield nm.self;
  for (const [, n] of nm.peerTable.entries()) yield n;
}

/** The node owning `ip` (one of its single-IP `Addresses`), self included. */
export function nodeByAddr(nm: NetworkMap, ip: IPAddr): Node | undefined {
  const want = ip.unmap().withoutZone();
  for (const n of allNodes(nm)) {
    for (const a of n.Addresses ?? []) if (a.isSingleIP() && a.addr.equals(want)) return n;
  }
  return undefined;
}

/** The node with node key `key`, self included. */
export function nodeByKey(nm: NetworkMap, key: NodePublic): Node | undefined {
  const text = key.toString();
  for (const n of allNodes(nm)) if (n.Key.toString() === text) return n;
  return undefined;
}

/** The WhoIs answer for `node` in `nm`, or `null` without a user profile for it. */
export function whoIsResultFor(
  nm: NetworkMap,
  node: Node,
  opts: Pick<WhoIsLookupOptions, 'dstIP' | 'svcName'> = {},
): WhoIsResult | null {
  const profile = node.User === undefined ? undefined : nm.userProfiles.get(node.User);
  if (profile === undefined) return null;
  const src = node.Addresses?.[0]?.addr;
  // A VIP service's addresses are not in the netmap this package reads: resolve the service to an
  // address and pass it as dstIP; without one, like Go for an unknown service, nothing is granted.
  const unknownService = opts.svcName !== undefined && opts.svcName !== '' && opts.dstIP === undefined;
  const capMap =
    src === undefined || unknownService
      ? {}
      : peerCaps({
          rules: nm.packetFilter,
          selfAddresses: nm.self?.Addresses ?? [],
          src,
          dst: opts.dstIP,
          unsignedPeerAPIOnly: node.UnsignedPeerAPIOnly,
        });
  return { node, userProfile: profile, capMap };
}

/**
 * WhoIs by address or node key over a netmap.
 *
 * @example
 * ```ts
 * const backend: LocalBackend = {
 *   whoIs: (addr, opts) => whoIsInNetmap(currentNetmap(), addr.addr, opts),
 *   whoIsNodeKey: (key, opts) => whoIsInNetmap(currentNetmap(), key, opts),
 *   status: () => myStatus(),
 *   prefs: () => myPrefs(),
 * };
 * ```
 */
export function whoIsInNetmap(
  nm: NetworkMap,
  who: IPAddr | NodePublic,
  opts: Pick<WhoIsLookupOptions, 'dstIP' | 'svcName'> = {},
): WhoIsResult | null {
  const node = 'bitLen' in who ? nodeByAddr(nm, who) : nodeByKey(nm, who);
  return node === undefined ? null : whoIsResultFor(nm, node, opts);
}
