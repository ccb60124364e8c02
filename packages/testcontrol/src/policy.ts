/**
 * A small access policy and its compilation into `tailcfg.FilterRule`s (protocol-map.md §4.5).
 *
 * The policy is a list of grants in the shape of Tailscale's policy file (`grants`: `src`, `dst`,
 * `ip`, `app`), without groups, hosts or autogroups beyond the two below. No policy means allow
 * all, as a new tailnet does (`tailcfg.FilterAllowAll`).
 *
 * Selectors (in `src` and `dst`): `*`; `tag:<name>`; a user's login name (`alice@example.com`, or
 * `alice@` for any domain); `autogroup:member` (untagged nodes); `autogroup:tagged`; a node's
 * hostname as `host:<name>`; an IP or CIDR.
 *
 * `ip` entries: `*`, `<port>`, `<first>-<last>`, or `<proto>:<ports>` with proto `tcp`, `udp`,
 * `icmp` (with ICMPv6), `sctp` or a number. Absent `ip` and absent `app` means `ip: ["*"]`.
 *
 * What a node receives (as Tailscale's control computes it): the rules whose `dst` includes it,
 * with `DstPorts` naming its own addresses, and `CapGrant`s for the `app` capabilities. Peers are
 * visible to each other when a grant lets either reach the other.
 */
import { IPAddr, IPPrefix } from '@tsnet/core';
import { z } from 'zod';

/** One grant: `src` may reach `dst` on `ip`, and gets the application capabilities `app`. */
export interface Grant {
  /** Sources: `*`, a login name, `tag:name`, a host name, an IP or a CIDR. */
  src: string[];
  /** Destinations, in the same forms as `src`. */
  dst: string[];
  /** IP protocols and ports, e.g. `tcp:22`, `udp:53`, `*` (default: all). */
  ip?: string[];
  /** Application capabilities granted to the sources towards the destinations (capability → values). */
  app?: Record<string, unknown[]>;
}

/**
 * The tailnet's access policy: a list of grants (no grant, no access). `null` instead of a policy allows
 * everything.
 */
export interface Policy {
  /** The grants; a packet is allowed if some grant allows it. */
  grants: Grant[];
}

export const PolicySchema = z.object({
  grants: z
    .array(
      z.object({
        src: z.array(z.string().min(1).max(256)).min(1).max(1000),
        dst: z.array(z.string().min(1).max(256)).min(1).max(1000),
        ip: z.array(z.string().min(1).max(64)).max(1000).optional(),
        app: z.record(z.string().min(1).max(256), z.array(z.unknown()).max(1000)).optional(),
      }),
    )
    .max(10_000),
});

/** What the policy needs to know of a node. */
export interface PolicyNode {
  id: number;
  hostname: string;
  addresses: readonly IPPrefix[];
  tags: readonly string[];
  /** The owner's login name (`''` for tagged nodes). */
  userLogin: string;
}

/** `tailcfg.FilterRule` in its wire form. */
export interface FilterRuleWire {
  /** The sources the rule admits. */
  SrcIPs: string[];
  /** The destinations and ports the rule admits. */
  DstPorts?: {
    /** The destination: an IP, a CIDR or `*`. */
    IP: string;
    /** The destination ports, inclusive. */
    Ports: {
      /** The first port. */
      First: number;
      /** The last port. */
      Last: number;
    };
  }[];
  /** IP protocol numbers the rule admits (absent: TCP, UDP, ICMP). */
  IPProto?: number[];
  /** Application capabilities granted to the sources. */
  CapGrant?: {
    /** The destination prefixes. */
    Dsts: string[];
    /** The application capabilities granted, with their values. */
    CapMap: Record<string, unknown[]>;
  }[];
}

/** `tailcfg.FilterAllowAll`. */
export const FILTER_ALLOW_ALL: readonly FilterRuleWire[] = Object.freeze([
  { SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] },
]);

const PROTOS: Record<string, number[]> = {
  tcp: [6],
  udp: [17],
  icmp: [1, 58],
  sctp: [132],
};

interface PortSpec {
  protos: number[] | undefined; // undefined = the default set (TCP, UDP, ICMP)
  first: number;
  last: number;
}

function parsePorts(text: string): { first: number; last: number } {
  if (text === '*') return { first: 0, last: 65535 };
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (m === null) throw new RangeError(`invalid port range ${JSON.stringify(text)}`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first > 65535 || last > 65535 || last < first) {
    throw new RangeError(`invalid port range ${JSON.stringify(text)}`);
  }
  return { first, last };
}

/** Parses one `ip` entry of a grant. */
export function parseIpSpec(text: string): PortSpec {
  const i = text.indexOf(':');
  if (i === -1) return { protos: undefined, ...parsePorts(text) };
  const proto = text.slice(0, i).toLowerCase();
  let protos = PROTOS[proto];
  if (protos === undefined) {
    const n = Number(proto);
    if (!/^\d{1,3}$/.test(proto) || n > 255)
      throw new RangeError(`unknown protocol ${JSON.stringify(proto)}`);
    protos = [n];
  }
  return { protos, ...parsePorts(text.slice(i + 1)) };
}

/** Checks a policy: the schema, then every selector and port spec. Throws `RangeError`. */
export function validatePolicy(input: unknown): Policy {
  const r = PolicySchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RangeError(`invalid policy at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  const p = r.data as Policy;
  for (const g of p.grants) {
    for (const s of [...g.src, ...g.dst]) checkSelector(s);
    for (const s of g.ip ?? []) parseIpSpec(s);
  }
  return p;
}

function checkSelector(s: string): void {
  if (s === '*' || s.startsWith('tag:') || s.startsWith('host:') || s.includes('@')) return;
  if (s === 'autogroup:member' || s === 'autogroup:tagged') return;
  if (IPPrefix.tryParse(s) !== null || IPAddr.tryParse(s) !== null) return;
  throw new RangeError(`unknown selector ${JSON.stringify(s)}`);
}

/** Whether selector `s` matches node `n`. */
export function selectorMatches(s: string, n: PolicyNode): boolean {
  if (s === '*') return true;
  if (s.startsWith('tag:')) return n.tags.includes(s);
  if (s.startsWith('host:')) return n.hostname === s.slice(5);
  if (s === 'autogroup:member') return n.tags.length === 0;
  if (s === 'autogroup:tagged') return n.tags.length > 0;
  if (s.includes('@')) {
    if (n.tags.length > 0) return false;
    return s.endsWith('@') ? n.userLogin.startsWith(s) : n.userLogin === s;
  }
  const pfx = IPPrefix.tryParse(s) ?? prefixOfAddr(s);
  if (pfx === null) return false;
  return n.addresses.some((a) => pfx.contains(a.addr));
}

function prefixOfAddr(s: string): IPPrefix | null {
  const a = IPAddr.tryParse(s);
  return a === null ? null : new IPPrefix(a, a.bitLen);
}

function matchesAny(sel: readonly string[], n: PolicyNode): boolean {
  return sel.some((s) => selectorMatches(s, n));
}

/** The `SrcIPs` of a grant's `src`: `*`, literal IPs/CIDRs, and the addresses of matching nodes. */
function srcIPs(src: readonly string[], nodes: readonly PolicyNode[]): string[] {
  if (src.includes('*')) return ['*'];
  const out = new Set<string>();
  for (const s of src) {
    const lit = IPPrefix.tryParse(s) ?? prefixOfAddr(s);
    if (lit !== null) {
      out.add(lit.isSingleIP() ? lit.addr.toString() : lit.masked().toString());
      continue;
    }
    for (const n of nodes) if (selectorMatches(s, n)) for (const a of n.addresses) out.add(a.addr.toString());
  }
  return [...out];
}

/**
 * The packet filter node `self` receives under `policy` (all nodes of the tailnet in `nodes`).
 * `null` policy = allow all.
 */
export function compileFilter(
  policy: Policy | null,
  self: PolicyNode,
  nodes: readonly PolicyNode[],
): FilterRuleWire[] {
  if (policy === null) return FILTER_ALLOW_ALL.map((r) => structuredClone(r));
  const rules: FilterRuleWire[] = [];
  const selfIPs = self.addresses.map((a) => a.addr.toString());
  for (const g of policy.grants) {
    if (!matchesAny(g.dst, self)) continue;
    const srcs = srcIPs(g.src, nodes);
    if (srcs.length === 0) continue;
    const ipSpecs = g.ip ?? (g.app === undefined ? ['*'] : []);
    // One rule per protocol set, as Tailscale's control emits them.
    const byProtos = new Map<string, { protos: number[] | undefined; ranges: PortSpec[] }>();
    for (const spec of ipSpecs.map(parseIpSpec)) {
      const k = spec.protos === undefined ? '' : spec.protos.join(',');
      let e = byProtos.get(k);
      if (e === undefined) {
        e = { protos: spec.protos, ranges: [] };
        byProtos.set(k, e);
      }
      e.ranges.push(spec);
    }
    for (const { protos, ranges } of byProtos.values()) {
      const rule: FilterRuleWire = {
        SrcIPs: srcs,
        DstPorts: selfIPs.flatMap((ip) =>
          ranges.map((r) => ({ IP: ip, Ports: { First: r.first, Last: r.last } })),
        ),
      };
      if (protos !== undefined) rule.IPProto = protos;
      rules.push(rule);
    }
    if (g.app !== undefined && Object.keys(g.app).length > 0) {
      rules.push({
        SrcIPs: srcs,
        CapGrant: [{ Dsts: self.addresses.map((a) => a.toString()), CapMap: structuredClone(g.app) }],
      });
    }
  }
  return rules;
}

/** Whether `a` and `b` may see each other: some grant lets one reach the other. */
export function canSee(policy: Policy | null, a: PolicyNode, b: PolicyNode): boolean {
  if (policy === null) return true;
  for (const g of policy.grants) {
    if (matchesAny(g.src, a) && matchesAny(g.dst, b)) return true;
    if (matchesAny(g.src, b) && matchesAny(g.dst, a)) return true;
  }
  return false;
}
