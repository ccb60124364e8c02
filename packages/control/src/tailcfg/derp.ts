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
  /** The node's name, unique in the map, e.g. `1a` or `900a`. */
  Name: z.string(),
  /** The region the node belongs to. */
  RegionID: goInt,
  /** The DNS name (or IP) to connect to; also the TLS name unless `CertName` says otherwise. */
  HostName: z.string(),
  /** The TLS name to expect instead of `HostName`, or `"sha256-raw:<hex>"` to pin the leaf certificate. */
  CertName: z.string().optional(),
  /** An IPv4 address to use instead of resolving `HostName`; `"none"` disables IPv4. */
  IPv4: z.string().optional(),
  /** An IPv6 address to use instead of resolving `HostName`; `"none"` disables IPv6. */
  IPv6: z.string().optional(),
  /** The STUN port: 0 means 3478, -1 disables STUN. */
  STUNPort: goInt.optional(),
  /** Whether the node only answers STUN (no DERP). */
  STUNOnly: z.boolean().optional(),
  /** The DERP port: 0 means 443. */
  DERPPort: z.number().int().min(0).max(65535).optional(),
  /** Whether to skip TLS verification (tests only). */
  InsecureForTests: z.boolean().optional(),
  /** The IP to send STUN to instead of the node's addresses (tests only). */
  STUNTestIP: z.string().optional(),
  /** Whether the node also serves DERP on port 80 (for captive-portal checks). */
  CanPort80: z.boolean().optional(),
});
/** A `tailcfg.DERPNode`, as parsed by `DERPNodeSchema`. */
export type DERPNode = z.output<typeof DERPNodeSchema>;

/** `tailcfg.DERPRegion`. `null` entries in `Nodes` are dropped. */
export const DERPRegionSchema = z.object({
  /** The region's ID (900 and up are reserved for custom regions). */
  RegionID: goInt,
  /** A short code for the region, e.g. `nyc`. */
  RegionCode: z.string().optional(),
  /** The region's name for display, e.g. `New York City`. */
  RegionName: z.string().optional(),
  /** Latitude of the region, in degrees. */
  Latitude: z.number().optional(),
  /** Longitude of the region, in degrees. */
  Longitude: z.number().optional(),
  /** Whether clients should avoid this region as home (they still use it to reach peers homed there). */
  Avoid: z.boolean().optional(),
  /** Whether clients must neither measure the region nor choose it as home (capability version 115). */
  NoMeasureNoHome: z.boolean().optional(),
  /** The region's DERP servers, in order of preference. */
  Nodes: goSlice(DERPNodeSchema.nullable()).transform((v) => v?.filter((n): n is DERPNode => n !== null)),
});
/** A `tailcfg.DERPRegion`, as parsed by `DERPRegionSchema`. */
export type DERPRegion = z.output<typeof DERPRegionSchema>;

/** `tailcfg.DERPHomeParams`. */
export const DERPHomeParamsSchema = z.object({
  /** Multipliers of each region's measured latency when choosing a home (region ID → score). */
  RegionScore: goIntMap(z.number()),
});
/** A `tailcfg.DERPHomeParams`, as parsed by `DERPHomeParamsSchema`. */
export type DERPHomeParams = z.output<typeof DERPHomeParamsSchema>;

/**
 * `tailcfg.DERPMap`. In a delta, `Regions` absent (`undefined` here) means "keep the previous
 * regions", and `HomeParams` absent likewise.
 */
export const DERPMapSchema = z.object({
  /** How clients should choose a home region, or absent. */
  HomeParams: DERPHomeParamsSchema.nullish().transform((v) => v ?? undefined),
  /** The DERP regions by ID; absent in a delta means "unchanged". */
  Regions: goIntMap(DERPRegionSchema.nullable()).transform((m) => {
    if (m === undefined) return undefined;
    const out = new Map<number, DERPRegion>();
    for (const [id, r] of m) if (r !== null) out.set(id, r);
    return out;
  }),
  /** Whether Tailscale's default regions are left out of this map (`OmitDefaultRegions`). */
  omitDefaultRegions: z.boolean().optional(),
});
/** A `tailcfg.DERPMap`, as parsed by `DERPMapSchema`. */
export type DERPMap = z.output<typeof DERPMapSchema>;
