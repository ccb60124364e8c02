/**
 * The WhoIs `CapMap`: application capabilities a peer holds towards us, from the `CapGrant` rules of
 * the netmap's packet filter (protocol-map §4.5). A pure function of the filter rules, our addresses
 * and the caller's address, with the semantics of tailscale v1.102.3:
 *
 * - `wgengine/filter/tailcfg.go MatchesFromFilterRules` + `parseIPSet`: each rule's `SrcIPs` become
 *   prefixes (`*` = both families, an IP, a masked CIDR, an inclusive `a-b` range; `cap:<name>`
 *   sources never match a capability grant; an entry that does not parse is skipped, the rest of the
 *   rule still counts). Each `CapGrant` becomes one match per (Dst, capability): `Caps` entries with
 *   no values, `CapMap` entries with theirs. A rule with `SrcBits` makes Go refuse the whole filter:
 *   then nothing is granted.
 * - `wgengine/filter/filter.go CapsWithValues(src, dst)`: the rules of the source's family whose
 *   sources contain `src`; for each of their capability matches whose Dst prefix contains `dst`, the
 *   values are appended under the capability name, in rule order. Empty names are ignored.
 * - `ipn/ipnlocal/node_backend.go peerCapsLocked(src)`: `dst` is our first single-IP address of the
 *   source's family (`Node.Addresses`); none of that family → no capabilities. For a peer marked
 *   `UnsignedPeerAPIOnly`, only `tailscale.com/cap/ingress` survives (`capsAllowedForUnsignedPeer`).
 * - `ipn/localapi/localapi.go serveWhoIs`: the source is the caller node's first address.
 */
import { IPAddr, IPPrefix } from '@tsnet/core';
import type { PeerCapMap } from './types.js';

/** The shape of `tailcfg.FilterRule` read here (control's `FilterRule` fits). */
export interface CapFilterRule {
  /** The sources of the rule (`*`, IPs, CIDRs, ranges). */
  SrcIPs?: readonly string[] | null | undefined;
  /** Deprecated prefix lengths parallel to `SrcIPs`. */
  SrcBits?: readonly number[] | null | undefined;
  /** The grants of the rule: the capabilities the sources get for each destination. */
  CapGrant?:
    | readonly {
        /** The destination prefixes of the grant. */
        Dsts?: readonly (IPPrefix | string)[] | null | undefined;
        /** Capability names without values (deprecated form). */
        Caps?: readonly string[] | null | undefined;
        /** The capabilities granted, with their values. */
        CapMap?: Readonly<Record<string, readonly unknown[] | null | undefined>> | null | undefined;
      }[]
    | null
    | undefined;
}

/** `tailcfg.PeerCapabilityIngress`: the one capability an unsigned PeerAPI-only peer keeps. */
export const PEER_CAPABILITY_INGRESS = 'tailscale.com/cap/ingress';

/** An inclusive address range of one family (4 or 16 bytes). */
interface AddrRange {
  lo: Uint8Array;
  hi: Uint8Array;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function prefixRange(p: IPPrefix): AddrRange {
  const lo = Uint8Array.from(p.addr.bytes);
  const hi = Uint8Array.from(p.addr.bytes);
  for (let i = 0; i < lo.length; i++) {
    const keep = Math.min(8, Math.max(0, p.bits - i * 8));
    const mask = (0xff00 >> keep) & 0xff;
    lo[i] = (lo[i] ?? 0) & mask;
    hi[i] = (hi[i] ?? 0) | (~mask & 0xff);
  }
  return { lo, hi };
}

function inRange(ip: Uint8Array, r: AddrRange): boolean {
  return ip.length === r.lo.length && cmpBytes(r.lo, ip) <= 0 && cmpBytes(ip, r.hi) <= 0;
}

const ALL4 = prefixRange(IPPrefix.parse('0.0.0.0/0'));
const ALL6 = prefixRange(IPPrefix.parse('::/0'));

/**
 * One `SrcIPs` entry as address ranges (`parseIPSet`); `[]` for `cap:` sources and for text Go
 * would refuse.
 */
export function parseSrcSet(text: string): AddrRange[] {
  if (text === '*') return [ALL4, ALL6];
  if (text.startsWith('cap:')) return [];
  if (text.includes('/')) {
    const p = IPPrefix.tryParse(text);
    if (p === null || !p.masked().equals(p)) return [];
    return [prefixRange(p)];
  }
  const dash = text.indexOf('-');
  if (dash >= 0 && dash === text.lastIndexOf('-')) {
    const a = IPAddr.tryParse(text.slice(0, dash));
    const b = IPAddr.tryParse(text.slice(dash + 1));
    // netipx.IPRangeFrom: same family, from <= to (zones dropped).
    if (a === null || b === null || a.bytes.length !== b.bytes.length) return [];
    if (cmpBytes(a.bytes, b.bytes) > 0) return [];
    return [{ lo: Uint8Array.from(a.bytes), hi: Uint8Array.from(b.bytes) }];
  }
  const ip = IPAddr.tryParse(text);
  if (ip === null) return [];
  return [{ lo: Uint8Array.from(ip.bytes), hi: Uint8Array.from(ip.bytes) }];
}

function toPrefix(d: IPPrefix | string): IPPrefix | null {
  return typeof d === 'string' ? IPPrefix.tryParse(d) : d;
}

/**
 * The capabilities `src` holds towards `dst` (Go `Filter.CapsWithValues`). Values are copied; the
 * result is a fresh object, `{}` when nothing matched.
 */
export function capsWithValues(
  rules: readonly CapFilterRule[] | undefined,
  src: IPAddr,
  dst: IPAddr,
): PeerCapMap {
  const out: PeerCapMap = {};
  if (rules === undefined) return out;
  if (rules.some((r) => (r.SrcBits?.length ?? 0) > 0)) return out;
  const s = src.bytes;
  for (const r of rules) {
    const grants = r.CapGrant ?? [];
    if (grants.length === 0) continue;
    // capMatchesFunc keeps the sources of the source's family; `inRange` compares lengths.
    let srcMatch = false;
    for (const text of r.SrcIPs ?? []) {
      if (parseSrcSet(text).some((range) => inRange(s, range))) {
        srcMatch = true;
        break;
      }
    }
    if (!srcMatch) continue;
    for (const g of grants) {
      for (const d of g.Dsts ?? []) {
        const dstPrefix = toPrefix(d);
        // Go's Prefix.Contains: same family, no zone.
        if (dstPrefix === null || !dstPrefix.contains(dst)) continue;
        for (const cap of g.Caps ?? []) add(out, cap, []);
        for (const [cap, values] of Object.entries(g.CapMap ?? {})) add(out, cap, values ?? []);
      }
    }
  }
  return out;
}

function add(out: PeerCapMap, cap: string, values: readonly unknown[]): void {
  if (cap === '') return;
  const prev = Object.hasOwn(out, cap) ? out[cap] : undefined;
  if (prev === undefined) {
    Object.defineProperty(out, cap, {
      value: [...values],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else prev.push(...values);
}

/** Inputs of `peerCaps`. */
export interface PeerCapsInput {
  /** The netmap's packet filter; `undefined` (no filter yet) grants nothing. */
  rules: readonly CapFilterRule[] | undefined;
  /** Our own `Node.Addresses`. */
  selfAddresses: readonly IPPrefix[];
  /** The caller's address (WhoIs uses the caller node's first address). */
  src: IPAddr;
  /** A destination to use instead of our own address of `src`'s family (WhoIs `dst_ip=`). */
  dst?: IPAddr | undefined;
  /** The caller node is `UnsignedPeerAPIOnly`: keep only the ingress capability. */
  unsignedPeerAPIOnly?: boolean | undefined;
}

/**
 * The WhoIs `CapMap` for a caller at `src` (Go `nodeBackend.PeerCaps` / `PeerCapsForIP`). `{}` when
 * nothing is granted or we have no address of the caller's family.
 *
 * @example
 * ```ts
 * const caps = peerCaps({ rules: nm.packetFilter, selfAddresses: nm.self!.Addresses ?? [], src: IPAddr.parse('100.64.0.2') });
 * if ('example.com/cap/admin' in caps) { ... }
 * ```
 */
export function peerCaps(input: PeerCapsInput): PeerCapMap {
  const src = input.src;
  let dst = input.dst;
  if (dst === undefined) {
    for (const a of input.selfAddresses) {
      if (!a.isSingleIP()) continue;
      if (a.addr.bitLen === src.bitLen) {
        dst = a.addr;
        break;
      }
    }
  }
  if (dst === undefined) return {};
  const caps = capsWithValues(input.rules, src, dst);
  if (input.unsignedPeerAPIOnly === true) {
    const ingress = caps[PEER_CAPABILITY_INGRESS];
    return ingress === undefined ? {} : { [PEER_CAPABILITY_INGRESS]: ingress };
  }
  return caps;
}
