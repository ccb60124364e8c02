/**
 * `tailcfg.DERPMap`, `DERPHomeParams`, `DERPRegion`, `DERPNode` (tailscale/tailscale
 * `tailcfg/derpmap.go`). Region maps are keyed by region ID (decimal text on the wire); a `null`
 * region value is dropped here, as Go's map session does, because headscale has been seen to send
 * one.
 *
 * Semantics a user must apply: `DERPPort` 0 means 443; `STUNPort` 0 means 3478 and -1 disables
 * STUN; `IPv4`/`IPv6` override DNS and `"none"` disables that family; `CertName` overrides the TLS
 * name or pins the leaf as `"sha256-raw:<hex>"`; `NoMeasureNoHome` regions must never be chosen
 * as home (capability version 115).
 */
import { z } from 'zod';
import { goInt, goIntMap, goSlice } from './go.js';

/** `tailcfg.DERPNode`. */
export const DERPNodeSchema = z.object({
  Name: z.string(),
  RegionID: goInt,
  HostName: z.string(),
  CertName: z.string().optional(),
  IPv4: z.string().optional(),
  IPv6: z.string().optional(),
  STUNPort: goInt.optional(),
  STUNOnly: z.boolean().optional(),
  DERPPort: z.number().int().min(0).max(65535).optional(),
  InsecureForTests: z.boolean().optional(),
  STUNTestIP: z.string().optional(),
  CanPort80: z.boolean().optional(),
});
export type DERPNode = z.output<typeof DERPNodeSchema>;

/** `tailcfg.DERPRegion`. `null` entries in `Nodes` are dropped. */
export const DERPRegionSchema = z.object({
  RegionID: goInt,
  RegionCode: z.string().optional(),
  RegionName: z.string().optional(),
  Latitude: z.number().optional(),
  Longitude: z.number().optional(),
  Avoid: z.boolean().optional(),
  NoMeasureNoHome: z.boolean().optional(),
  Nodes: goSlice(DERPNodeSchema.nullable()).transform((v) => v?.filter((n): n is DERPNode => n !== null)),
});
export type DERPRegion = z.output<typeof DERPRegionSchema>;

/** `tailcfg.DERPHomeParams`. */
export const DERPHomeParamsSchema = z.object({
  RegionScore: goIntMap(z.number()),
});
export type DERPHomeParams = z.output<typeof DERPHomeParamsSchema>;

/**
 * `tailcfg.DERPMap`. In a delta, `Regions` absent (`undefined` here) means "keep the previous
 * regions", and `HomeParams` absent likewise.
 */
export const DERPMapSchema = z.object({
  HomeParams: DERPHomeParamsSchema.nullish().transform((v) => v ?? undefined),
  Regions: goIntMap(DERPRegionSchema.nullable()).transform((m) => {
    if (m === undefined) return undefined;
    const out = new Map<number, DERPRegion>();
    for (const [id, r] of m) if (r !== null) out.set(id, r);
    return out;
  }),
  omitDefaultRegions: z.boolean().optional(),
});
export type DERPMap = z.output<typeof DERPMapSchema>;
