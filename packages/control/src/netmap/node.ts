/**
 * Per-node normalisation the client applies to every node from control (tailscale/tailscale
 * `control/controlclient/map.go upgradeNode`, `ipn/ipnlocal/expiry.go flagExpiredPeers`).
 */

import { isZeroTime } from '../tailcfg/go.js';
import type { Node } from '../tailcfg/node.js';

/** The magic IP of the legacy `"DERP": "127.3.3.40:<region>"` form. */
export const DERP_MAGIC_IP = '127.3.3.40';

/**
 * Returns `n` with: `HomeDERP` taken from the legacy `DERP` string when unset; `AllowedIPs`
 * defaulting to `Addresses` (nil means "same as Addresses" since capver 112); and
 * `UnsignedPeerAPIOnly` peers limited to their own addresses. The input is not modified.
 */
export function normalizeNode(n: Node): Node {
  let out = n;
  if (n.DERP !== undefined && n.DERP !== '') {
    out = { ...out };
    if (!out.HomeDERP) {
      const i = n.DERP.lastIndexOf(':');
      if (i > 0 && n.DERP.slice(0, i) === DERP_MAGIC_IP) {
        const port = Number(n.DERP.slice(i + 1));
        if (Number.isInteger(port) && port > 0) out.HomeDERP = port;
      }
    }
    delete out.DERP;
  }
  if (
    out.AllowedIPs === undefined ||
    (out.UnsignedPeerAPIOnly && !samePrefixes(out.AllowedIPs, out.Addresses))
  ) {
    if (out === n) out = { ...out };
    out.AllowedIPs = out.Addresses ?? [];
  }
  return out;
}

function samePrefixes(a: Node['AllowedIPs'], b: Node['Addresses']): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((p, i) => p.equals(b[i]!));
}

/** Whether `n`'s key has expired at `nowMs` (a zero `KeyExpiry` never expires). */
export function keyExpired(n: Node, nowMs: number): boolean {
  return !isZeroTime(n.KeyExpiry) && n.KeyExpiry!.getTime() <= nowMs;
}

/**
 * A peer whose key has expired, flagged as Go's client does: `Expired` set, `Endpoints` and
 * `HomeDERP` cleared so nothing tries to reach it. (Go also corrupts `Key`; we keep it and rely on
 * `Expired`.) Returns `n` itself if there is nothing to change.
 */
export function flagExpired(n: Node, nowMs: number): Node {
  if (!keyExpired(n, nowMs)) return n;
  if (n.Expired) return n; // already flagged (by control or by us)
  const out: Node = { ...n, Expired: true };
  out.Endpoints = undefined;
  delete out.HomeDERP;
  return out;
}
