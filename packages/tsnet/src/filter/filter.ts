/**
 * The packet filter (tailscale `wgengine/filter`): the netmap's `PacketFilters` compiled into
 * matchers and enforced on packets arriving from peers. Semantics (protocol-map §4.5):
 * - only packets to our own addresses; multicast and link-local destinations dropped;
 * - TSMP (IP protocol 99) always accepted (handed to the TSMP handler);
 * - later fragments accepted (the first one was judged);
 * - TCP: non-SYN segments accepted; a SYN if a rule allows source, destination, port and protocol;
 * - UDP/SCTP: accepted if a rule allows it or it answers a flow we sent (`runOut` records flows in a
 *   bounded LRU of 512, as `lruMax`);
 * - ICMP: echo replies and errors accepted; other ICMP if the source may reach the destination on any
 *   port of a rule that includes the ICMP protocol;
 * - other protocols: only rules that name the protocol and allow all ports.
 * No filter yet, or an empty one, denies everything. CapGrant rules grant application capabilities
 * (for WhoIs), never packets. Drops are counted by reason.
 */
import { IPAddr, IPPrefix } from '@tsnet/core';
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_TSMP,
  IPPROTO_UDP,
  isIcmpReplyOrError,
  type ParsedPacket,
  parsePacket,
  TCP_ACK,
  TCP_SYN,
} from './packet.js';

/** The shape of `tailcfg.FilterRule` the filter reads (the control package's type fits). */
export interface FilterRuleInput {
  /** Sources: `*`, IPs, CIDRs, `a-b` ranges, or `cap:<node capability>`. */
  SrcIPs?: readonly string[] | null | undefined;
  /** Deprecated prefix lengths for `SrcIPs` (old control servers). */
  SrcBits?: readonly number[] | null | undefined;
  /** Destinations with their port ranges; empty with `CapGrant` rules. */
  DstPorts?: readonly FilterDstPorts[] | null | undefined;
  /** IP protocols the rule allows (default TCP, UDP, ICMPv4, ICMPv6). */
  IPProto?: readonly number[] | null | undefined;
  /** Application capabilities granted to the sources (kept for WhoIs, not for packets). */
  CapGrant?: readonly FilterCapGrant[] | null | undefined;
}

/** `tailcfg.NetPortRange`: a destination and its ports. */
export interface FilterDstPorts {
  /** `*`, an IP, a CIDR or a range. */
  IP: string;
  /** Deprecated prefix length for `IP`. */
  Bits?: number | null | undefined;
  /** Inclusive port range (`0-65535` for all). */
  Ports: {
    /** The first port. */
    First: number;
    /** The last port (inclusive). */
    Last: number;
  };
}

/** `tailcfg.CapGrant`: capabilities the sources hold on these destinations. */
export interface FilterCapGrant {
  /** Destination prefixes (or `*`). */
  Dsts?: readonly (string | IPPrefix)[] | null | undefined;
  /** Old-style capability names (no values). */
  Caps?: readonly string[] | null | undefined;
  /** Capability name → JSON values. */
  CapMap?: Record<string, unknown> | null | undefined;
}

/** An inclusive address range of one family. */
interface Range {
  lo: Uint8Array;
  hi: Uint8Array;
}

interface DstRange {
  net: Range;
  first: number;
  last: number;
}

interface CompiledRule {
  srcs: Range[];
  dsts: DstRange[];
  protos: Set<number>;
}

interface CompiledGrant {
  srcs: Range[];
  dsts: Range[];
  caps: Record<string, unknown[]>;
}

/** What `PacketFilter.check` decided: deliver, drop, or hand to the TSMP handler. */
export type Verdict = 'accept' | 'drop' | 'tsmp';

/** Inbound packets by verdict and drop reason (Go's `filter.Response` reasons). */
export interface FilterCounters {
  /** Delivered to the stack. */
  accepted: number;
  /** Not a parsable IP packet (truncated, bad header). */
  dropBadPacket: number;
  /** Destination is not one of our addresses. */
  dropNotLocal: number;
  /** Multicast or link-local destination. */
  dropMulticastOrLinkLocal: number;
  /** No rule allows it (a denied port, say). */
  dropNoRule: number;
  /** No filter yet (no netmap): everything is dropped. */
  dropNoFilter: number;
}

const DEFAULT_PROTOS = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6];
const LRU_MAX = 512;

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function inRange(ip: Uint8Array, r: Range): boolean {
  return ip.length === r.lo.length && cmp(ip, r.lo) >= 0 && cmp(ip, r.hi) <= 0;
}

function prefixRange(p: IPPrefix): Range {
  const lo = Uint8Array.from(p.addr.bytes);
  const hi = Uint8Array.from(p.addr.bytes);
  for (let bit = p.bits; bit < lo.length * 8; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    lo[i] = (lo[i] ?? 0) & ~m;
    hi[i] = (hi[i] ?? 0) | m;
  }
  return { lo, hi };
}

const ALL: Range[] = [prefixRange(IPPrefix.parse('0.0.0.0/0')), prefixRange(IPPrefix.parse('::/0'))];

/** Parses one SrcIPs/DstPorts.IP form into ranges; [] when unusable (`parseIPSet`). */
export function parseIpSet(
  text: string,
  bits: number | null | undefined,
  capIps?: (cap: string) => readonly IPPrefix[],
): Range[] {
  if (text === '*') return ALL;
  if (text.startsWith('cap:')) return (capIps?.(text.slice(4)) ?? []).map(prefixRange);
  const dash = text.indexOf('-');
  if (dash > 0) {
    const a = IPAddr.tryParse(text.slice(0, dash));
    const b = IPAddr.tryParse(text.slice(dash + 1));
    if (a === null || b === null || a.bitLen !== b.bitLen || cmp(a.bytes, b.bytes) > 0) return [];
    return [{ lo: Uint8Array.from(a.bytes), hi: Uint8Array.from(b.bytes) }];
  }
  if (text.includes('/')) {
    const p = IPPrefix.tryParse(text);
    if (p === null) return [];
    return [prefixRange(p.masked())];
  }
  const ip = IPAddr.tryParse(text);
  if (ip === null || ip.zone !== '') return [];
  const n = bits ?? ip.bitLen;
  if (!Number.isInteger(n) || n < 0 || n > ip.bitLen) return [];
  return [prefixRange(new IPPrefix(ip, n).masked())];
}

export interface FilterOptions {
  /** Our own addresses (the self node's Addresses): only packets to these are accepted. */
  localAddresses: readonly IPAddr[];
  /** The rules; undefined means control sent none yet (deny all). */
  rules: readonly FilterRuleInput[] | undefined;
  /** Peers' addresses holding a node capability, for `cap:` sources. */
  capIps?: (cap: string) => readonly IPPrefix[];
}

/**
 * The netmap's `PacketFilters` compiled and enforced inbound with `wgengine/filter`'s semantics:
 * TCP non-SYN accepted, UDP replies accepted for flows we started (LRU of 512), TSMP to its
 * handler, everything else by rule; CapGrant rules kept for WhoIs (`capsFor`).
 */
export class PacketFilter {
  /** Packets by verdict and drop reason, live. */
  readonly counters: FilterCounters = {
    accepted: 0,
    dropBadPacket: 0,
    dropNotLocal: 0,
    dropMulticastOrLinkLocal: 0,
    dropNoRule: 0,
    dropNoFilter: 0,
  };
  #local: Uint8Array[] = [];
  #rules: CompiledRule[] | undefined;
  #grants: CompiledGrant[] = [];
  /** Outbound UDP/SCTP flows, oldest first (a Map keeps insertion order). */
  readonly #flows = new Map<string, true>();

  constructor(opts: FilterOptions) {
    this.update(opts);
  }

  /** Recompiles for a new netmap; the flow table is kept. */
  update(opts: FilterOptions): void {
    this.#local = opts.localAddresses.map((a) => Uint8Array.from(a.unmap().bytes));
    if (opts.rules === undefined) {
      this.#rules = undefined;
      this.#grants = [];
      return;
    }
    const rules: CompiledRule[] = [];
    const grants: CompiledGrant[] = [];
    for (const r of opts.rules) {
      const srcBits = r.SrcBits ?? [];
      const srcs = (r.SrcIPs ?? []).flatMap((s, i) => parseIpSet(s, srcBits[i], opts.capIps));
      if ((r.CapGrant ?? []).length > 0) {
        for (const g of r.CapGrant ?? []) {
          const caps: Record<string, unknown[]> = {};
          for (const c of g.Caps ?? []) caps[c] = [];
          for (const [k, v] of Object.entries(g.CapMap ?? {})) caps[k] = Array.isArray(v) ? v : [v];
          const dsts = (g.Dsts ?? []).flatMap((d) =>
            parseIpSet(typeof d === 'string' ? d : d.toString(), undefined),
          );
          grants.push({ srcs, dsts, caps });
        }
        continue;
      }
      const protos = new Set((r.IPProto ?? []).filter((p) => Number.isInteger(p) && p >= 0 && p <= 255));
      const dsts: DstRange[] = [];
      for (const d of r.DstPorts ?? []) {
        for (const net of parseIpSet(d.IP, d.Bits))
          dsts.push({ net, first: d.Ports.First, last: d.Ports.Last });
      }
      rules.push({ srcs, dsts, protos: protos.size > 0 ? protos : new Set(DEFAULT_PROTOS) });
    }
    this.#rules = rules;
    this.#grants = grants;
  }

  #isLocal(ip: Uint8Array): boolean {
    return this.#local.some((l) => l.length === ip.length && cmp(l, ip) === 0);
  }

  #match(p: ParsedPacket, mode: 'port' | 'ipsOnly' | 'allPorts'): boolean {
    for (const r of this.#rules ?? []) {
      if (!r.protos.has(p.proto)) continue;
      if (!r.srcs.some((s) => inRange(p.src, s))) continue;
      for (const d of r.dsts) {
        if (!inRange(p.dst, d.net)) continue;
        if (mode === 'ipsOnly') return true;
        if (mode === 'allPorts') {
          if (d.first === 0 && d.last === 65535) return true;
          continue;
        }
        if (p.dstPort >= d.first && p.dstPort <= d.last) return true;
      }
    }
    return false;
  }

  /** Judges a packet from a peer (after WireGuard). */
  runIn(pkt: Uint8Array): Verdict {
    const p = parsePacket(pkt);
    if (p === null) {
      this.counters.dropBadPacket++;
      return 'drop';
    }
    const v = this.#judge(p);
    if (v === 'drop') return v;
    this.counters.accepted++;
    return v;
  }

  #judge(p: ParsedPacket): Verdict {
    if (!this.#isLocal(p.dst)) {
      this.counters.dropNotLocal++;
      return 'drop';
    }
    if (isMulticastOrLinkLocal(p.dst)) {
      this.counters.dropMulticastOrLinkLocal++;
      return 'drop';
    }
    if (p.proto === IPPROTO_TSMP) return 'tsmp';
    if (p.laterFragment) return 'accept';
    if (this.#rules === undefined) {
      this.counters.dropNoFilter++;
      return 'drop';
    }
    switch (p.proto) {
      case IPPROTO_TCP:
        if ((p.tcpFlags & TCP_SYN) === 0 || (p.tcpFlags & TCP_ACK) !== 0) return 'accept';
        if (this.#match(p, 'port')) return 'accept';
        break;
      case IPPROTO_UDP:
      case IPPROTO_SCTP:
        if (this.#flows.has(flowKey(p.proto, p.dst, p.dstPort, p.src, p.srcPort))) return 'accept';
        if (this.#match(p, 'port')) return 'accept';
        break;
      case IPPROTO_ICMP:
      case IPPROTO_ICMPV6:
        if (isIcmpReplyOrError(p)) return 'accept';
        if (this.#match(p, 'ipsOnly')) return 'accept';
        break;
      default:
        if (this.#match(p, 'allPorts')) return 'accept';
    }
    this.counters.dropNoRule++;
    return 'drop';
  }

  /** Sees a packet we send: records UDP/SCTP flows so their replies get in. Always accepts. */
  runOut(pkt: Uint8Array): void {
    const b0 = pkt[0] ?? 0;
    const v = b0 >> 4;
    const proto = v === 4 ? pkt[9] : v === 6 ? pkt[6] : undefined;
    if (proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP) return;
    const p = parsePacket(pkt);
    if (p === null || p.laterFragment) return;
    const k = flowKey(p.proto, p.src, p.srcPort, p.dst, p.dstPort);
    if (this.#flows.has(k)) {
      this.#flows.delete(k);
    } else if (this.#flows.size >= LRU_MAX) {
      const oldest = this.#flows.keys().next().value;
      if (oldest !== undefined) this.#flows.delete(oldest);
    }
    this.#flows.set(k, true);
  }

  /** Flows recorded (for tests). */
  get flowCount(): number {
    return this.#flows.size;
  }

  /** The application capabilities granted to `src` at `dst` (WhoIs `CapMap`). */
  capsFor(src: IPAddr, dst: IPAddr): Record<string, unknown[]> {
    const s = src.unmap().bytes;
    const d = dst.unmap().bytes;
    const out: Record<string, unknown[]> = {};
    for (const g of this.#grants) {
      if (!g.srcs.some((r) => inRange(s, r)) || !g.dsts.some((r) => inRange(d, r))) continue;
      for (const [k, v] of Object.entries(g.caps)) out[k] = [...(out[k] ?? []), ...v];
    }
    return out;
  }
}

function flowKey(proto: number, a: Uint8Array, ap: number, b: Uint8Array, bp: number): string {
  return `${proto}|${Buffer.from(a).toString('hex')}|${ap}|${Buffer.from(b).toString('hex')}|${bp}`;
}

function isMulticastOrLinkLocal(ip: Uint8Array): boolean {
  if (ip.length === 4) {
    const a = ip[0] ?? 0;
    if (a >= 224 && a <= 239) return true;
    if (a === 255 && ip.every((x) => x === 255)) return true;
    return a === 169 && ip[1] === 254 && !(ip[2] === 169 && ip[3] === 254);
  }
  return ip[0] === 0xff || (ip[0] === 0xfe && ((ip[1] ?? 0) & 0xc0) === 0x80);
}
