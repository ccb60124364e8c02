/**
 * The packet filter types: `tailcfg.FilterRule`, `NetPortRange`, `PortRange`, `CapGrant`
 * (tailscale/tailscale `tailcfg/tailcfg.go`). Both forms of a rule are carried: the network form
 * (`SrcIPs` + `DstPorts` + `IPProto`) and the capability-grant form (`SrcIPs` + `CapGrant`).
 * The text forms of `SrcIPs` and `DstPorts[].IP` (`*`, an IP, a CIDR, an `a-b` range,
 * `cap:<name>`) are kept as text: the filter that enforces them (wgengine/filter's `parseIPSet`)
 * lives in the data plane, not here.
 *
 * Deprecated `SrcBits`/`Bits` are accepted (ignored when absent, which modern servers always do).
 */
import { z } from 'zod';
import { goInt, goSlice, ipPrefix } from './go.js';
import { CapMapSchema } from './node.js';

const port = z.number().int().min(0).max(65535);

/** `tailcfg.PortRange` (inclusive). */
export const PortRangeSchema = z.object({
  /** The first port of the range. */
  First: port,
  /** The last port of the range (inclusive); `First: 0, Last: 65535` is every port. */
  Last: port,
});
/** A `tailcfg.PortRange`, as parsed by `PortRangeSchema`. */
export type PortRange = z.output<typeof PortRangeSchema>;

/** `tailcfg.NetPortRange`. */
export const NetPortRangeSchema = z.object({
  /** The destination: `*`, an IP, a CIDR, an `a-b` range, or `cap:<name>`. */
  IP: z.string(),
  /** Deprecated prefix length of `IP`; absent in modern servers. */
  Bits: goInt.nullish(),
  /** The destination ports. */
  Ports: PortRangeSchema,
});
/** A `tailcfg.NetPortRange`, as parsed by `NetPortRangeSchema`. */
export type NetPortRange = z.output<typeof NetPortRangeSchema>;

/** `tailcfg.CapGrant`: application capabilities granted to `SrcIPs` for the `Dsts`. */
export const CapGrantSchema = z.object({
  /** The destination prefixes the capabilities apply to. */
  Dsts: goSlice(ipPrefix),
  /** Deprecated capability names without values; `CapMap` replaces them. */
  Caps: goSlice(z.string()),
  /** The capabilities granted, with their values. */
  CapMap: CapMapSchema,
});
/** A `tailcfg.CapGrant`, as parsed by `CapGrantSchema`. */
export type CapGrant = z.output<typeof CapGrantSchema>;

/** `tailcfg.FilterRule`. Empty `IPProto` means TCP, UDP, ICMPv4 and ICMPv6. */
export const FilterRuleSchema = z.object({
  /** The sources the rule admits: `*`, IPs, CIDRs, `a-b` ranges or `cap:<name>`. */
  SrcIPs: goSlice(z.string()),
  /** Deprecated prefix lengths, parallel to `SrcIPs`. */
  SrcBits: goSlice(goInt),
  /** The destinations and ports the rule admits (the network form). */
  DstPorts: goSlice(NetPortRangeSchema),
  /** IP protocol numbers the rule admits (empty: TCP, UDP, ICMPv4, ICMPv6). */
  IPProto: goSlice(goInt),
  /** Capabilities granted to the sources (the grant form). */
  CapGrant: goSlice(CapGrantSchema),
});
/** A `tailcfg.FilterRule`, as parsed by `FilterRuleSchema`. */
export type FilterRule = z.output<typeof FilterRuleSchema>;
