/**
 * The DERP map: `tailcfg.DERPMap` → `Regions` (by ID) → `Nodes`, in its JSON shape (Go field
 * names, as control sends it; `tailcfg/derpmap.go`). Parsing is lenient in what it ignores and
 * strict in what it needs: a node without a HostName is dropped, a region without usable nodes too.
 *
 * Node semantics: `DERPPort` 0 ⇒ 443 (HTTPS) or 3340 (plain HTTP, as Go's `dialNode`); `IPv4`/`IPv6`
 * override DNS and `"none"` disables that family; `CertName` overrides the TLS name or, as
 * `sha256-raw:<hex>`, pins the certificate; `InsecureForTests` skips verification; `STUNOnly` nodes
 * carry no DERP.
 */

import { isIP } from 'node:net';
import type { DerpTlsOptions, DialTarget } from '../client/dial.js';

/** `tailcfg.DERPNode`: one DERP (and STUN) server of a region. */
export interface DerpNode {
  /** A name unique in the map, not a host name: region ID and a letter, e.g. `1b`, `900a`. */
  Name: string;
  /** The region this node belongs to (`parseDerpMap` fills in the enclosing region's). */
  RegionID: number;
  /** The host to dial (unless `IPv4`/`IPv6` say otherwise), and the TLS name unless `CertName`. */
  HostName: string;
  /** The TLS name to expect instead of `HostName`, or `sha256-raw:<hex>` to pin the leaf certificate. */
  CertName?: string;
  /** An IPv4 address to dial instead of resolving `HostName`; `"none"` disables IPv4. */
  IPv4?: string;
  /** An IPv6 address to dial instead of resolving `HostName`; `"none"` disables IPv6. */
  IPv6?: string;
  /** The UDP STUN port: 0 or absent means 3478, -1 disables STUN (not used by this package's client). */
  STUNPort?: number;
  /** The node answers STUN only and carries no DERP (`nodeTarget` returns null for it). */
  STUNOnly?: boolean;
  /** The DERP port: 0 or absent means 443 (HTTPS), or 3340 for plain HTTP. */
  DERPPort?: number;
  /** Skip TLS verification (tests only; Go: "should not be set by users"). */
  InsecureForTests?: boolean;
  /** The IP to send STUN to instead of the node's (tests only). */
  STUNTestIP?: string;
  /** The node is reachable over plain HTTP on port 80 (Go uses it for captive-portal checks). */
  CanPort80?: boolean;
}

/** `tailcfg.DERPRegion`: a geographic region and its DERP nodes. */
export interface DerpRegion {
  /** The region's ID, positive; 900–999 are reserved for users' own DERP servers. */
  RegionID: number;
  /** A short name, usually a city or airport code: `nyc`, `fra` ('' when absent). */
  RegionCode: string;
  /** A long English name for display: `New York City`. */
  RegionName?: string;
  /** The region's latitude in degrees (not kept by `parseDerpMap`). */
  Latitude?: number;
  /** The region's longitude in degrees (not kept by `parseDerpMap`). */
  Longitude?: number;
  /** Do not choose this region as home; still used to reach peers homed there (deprecated in Go). */
  Avoid?: boolean;
  /** Neither measure this region nor choose it as home; still used to reach peers homed there. */
  NoMeasureNoHome?: boolean;
  /** The region's DERP nodes in priority order: dial the first, fall back to the next. */
  Nodes: DerpNode[];
}

/** `tailcfg.DERPMap`: every DERP region a node may use, keyed by region ID. */
export interface DerpMap {
  /** The regions by ID (the ID as decimal text, as in the JSON). */
  Regions: Record<string, DerpRegion>;
  /**
   * Use only these regions, not Tailscale's defaults. Go's JSON name is `omitDefaultRegions`;
   * `parseDerpMap` reads that and `OmitDefaultRegions`.
   */
  OmitDefaultRegions?: boolean;
  /** `tailcfg.DERPHomeParams` (per-region latency scores for choosing home); not kept by `parseDerpMap`. */
  HomeParams?: unknown;
}

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

function int(o: Record<string, unknown>, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function bool(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  return typeof v === 'boolean' ? v : undefined;
}

function parseNode(v: unknown, regionID: number): DerpNode | null {
  const o = obj(v);
  if (o === null) return null;
  const HostName = str(o, 'HostName');
  if (HostName === undefined || HostName === '') return null;
  const n: DerpNode = { Name: str(o, 'Name') ?? '', RegionID: int(o, 'RegionID') ?? regionID, HostName };
  for (const k of ['CertName', 'IPv4', 'IPv6', 'STUNTestIP'] as const) {
    const s = str(o, k);
    if (s !== undefined && s !== '') n[k] = s;
  }
  for (const k of ['STUNPort', 'DERPPort'] as const) {
    const i = int(o, k);
    if (i !== undefined) n[k] = i;
  }
  for (const k of ['STUNOnly', 'InsecureForTests', 'CanPort80'] as const) {
    const b = bool(o, k);
    if (b !== undefined) n[k] = b;
  }
  return n;
}

/**
 * Validates DERP map JSON (a string or a parsed value) into a `DerpMap`. Throws `TypeError` when
 * the value is not an object with `Regions`.
 *
 * @example
 * ```ts
 * import { parseDerpMap } from '@tsnet/derp';
 * const m = parseDerpMap('{"Regions":{"900":{"RegionID":900,"RegionCode":"t","Nodes":[{"Name":"900a","RegionID":900,"HostName":"127.0.0.1","DERPPort":3340}]}}}');
 * m.Regions['900']?.Nodes[0]?.DERPPort; // 3340
 * ```
 */
export function parseDerpMap(json: string | unknown): DerpMap {
  const root = obj(typeof json === 'string' ? JSON.parse(json) : json);
  const regions = root === null ? null : obj(root.Regions);
  if (root === null || regions === null) throw new TypeError('DERP map must be an object with Regions');
  const out: DerpMap = { Regions: {} };
  for (const [id, rv] of Object.entries(regions)) {
    const r = obj(rv);
    if (r === null) continue;
    const RegionID = int(r, 'RegionID') ?? Number(id);
    if (!Number.isInteger(RegionID) || RegionID <= 0) continue;
    const nodes = Array.isArray(r.Nodes) ? r.Nodes : [];
    const Nodes = nodes.map((n) => parseNode(n, RegionID)).filter((n): n is DerpNode => n !== null);
    const region: DerpRegion = { RegionID, RegionCode: str(r, 'RegionCode') ?? '', Nodes };
    const name = str(r, 'RegionName');
    if (name !== undefined) region.RegionName = name;
    if (bool(r, 'Avoid') === true) region.Avoid = true;
    if (bool(r, 'NoMeasureNoHome') === true) region.NoMeasureNoHome = true;
    out.Regions[String(RegionID)] = region;
  }
  // Go's JSON name is `omitDefaultRegions`; its decoder matches keys case-insensitively, so both.
  if (bool(root, 'omitDefaultRegions') === true || bool(root, 'OmitDefaultRegions') === true) {
    out.OmitDefaultRegions = true;
  }
  return out;
}

/** How to reach one node: HTTPS (the default, as tailscaled) or plain HTTP (`TS_DEBUG_USE_DERP_HTTP`). */
export interface NodeDialOptions {
  /** Dial `http://` (default port 3340) instead of `https://` (443). */
  useHttp?: boolean;
  /** Use DERP over WebSocket (`ws:`/`wss:`) instead of the `Upgrade: DERP` request. */
  websocket?: boolean;
}

/** The dial target for a DERP node, or null if it carries no DERP or has no usable address. */
export function nodeTarget(node: DerpNode, opts: NodeDialOptions = {}): DialTarget | null {
  if (node.STUNOnly === true) return null;
  const secure = opts.useHttp !== true;
  const port = node.DERPPort !== undefined && node.DERPPort !== 0 ? node.DERPPort : secure ? 443 : 3340;
  let connectHost: string | undefined;
  if (node.IPv4 !== undefined && node.IPv4 !== 'none' && isIP(node.IPv4) === 4) connectHost = node.IPv4;
  else if (node.IPv6 !== undefined && node.IPv6 !== 'none' && isIP(node.IPv6) === 6) connectHost = node.IPv6;
  else if (node.IPv4 === 'none' && node.IPv6 === 'none') return null;
  const tls: DerpTlsOptions = {};
  if (node.CertName !== undefined) tls.certName = node.CertName;
  if (node.InsecureForTests === true) tls.insecure = true;
  const protocol = opts.websocket === true ? (secure ? 'wss:' : 'ws:') : secure ? 'https:' : 'http:';
  const t: DialTarget = { protocol, hostname: node.HostName, port, path: '/derp', tls };
  if (connectHost !== undefined) t.connectHost = connectHost;
  return t;
}
