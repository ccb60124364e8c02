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
export const PortRangeSchema = z.object({ First: port, Last: port });
export type PortRange = z.output<typeof PortRangeSchema>;

/** `tailcfg.NetPortRange`. */
export const NetPortRangeSchema = z.object({
  IP: z.string(),
  Bits: goInt.nullish(),
  Ports: PortRangeSchema,
});
export type NetPortRange = z.output<typeof NetPortRangeSchema>;

/** `tailcfg.CapGrant`: application capabilities granted to `SrcIPs` for the `Dsts`. */
export const CapGrantSchema = z.object({
  Dsts: goSlice(ipPrefix),
  Caps: goSlice(z.string()),
  CapMap: CapMapSchema,
});
export type CapGrant = z.output<typeof CapGrantSchema>;

/** `tailcfg.FilterRule`. Empty `IPProto` means TCP, UDP, ICMPv4 and ICMPv6. */
export const FilterRuleSchema = z.object({
  SrcIPs: goSlice(z.string()),
  SrcBits: goSlice(goInt),
  DstPorts: goSlice(NetPortRangeSchema),
  IPProto: goSlice(goInt),
  CapGrant: goSlice(CapGrantSchema),
});
export type FilterRule = z.output<typeof FilterRuleSchema>;
