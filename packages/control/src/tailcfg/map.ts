/**
 * The map poll: `tailcfg.MapRequest`, `MapResponse`, `PeerChange`, `PingRequest`, and the ts2021
 * `EarlyNoise` (tailscale/tailscale `tailcfg/tailcfg.go`). Delta semantics are applied in
 * `../netmap/apply.ts`; this file only says what the JSON looks like.
 */
import type { AddrPort, DiscoPublic, NodePublic } from '@tsnet/core';
import { z } from 'zod';
import { DERPMapSchema } from './derp.js';
import { DNSConfigSchema } from './dns.js';
import { asZodTransform, decodeNode, decodeNodeList } from './fast.js';
import { FilterRuleSchema } from './filter.js';
import {
  addrPort,
  discoPublic,
  goID,
  goInt,
  goIntMap,
  goMap,
  goSlice,
  goTime,
  ipAddr,
  nodePublic,
  optBool,
} from './go.js';
import { CapMapSchema, type Hostinfo, HostinfoSchema, UserProfileSchema } from './node.js';

/** `tailcfg.EndpointType`: 0 unknown, 1 local, 2 STUN, 3 port-mapped, 4 STUN4LocalPort, 5 explicit. */
export const EndpointType = {
  Unknown: 0,
  Local: 1,
  STUN: 2,
  Portmapped: 3,
  STUN4LocalPort: 4,
  ExplicitConf: 5,
} as const;
export type EndpointType = (typeof EndpointType)[keyof typeof EndpointType];

/** `tailcfg.MapRequest` (parsed, e.g. by a test control server). */
export const MapRequestSchema = z.object({
  Version: goInt,
  Compress: z.string().optional(),
  KeepAlive: z.boolean().optional(),
  NodeKey: nodePublic,
  DiscoKey: discoPublic.optional(),
  Stream: z.boolean().optional(),
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  MapSessionHandle: z.string().optional(),
  MapSessionSeq: goInt.optional(),
  Endpoints: goSlice(addrPort),
  EndpointTypes: goSlice(goInt),
  TKAHead: z.string().optional(),
  ReadOnly: z.boolean().optional(),
  OmitPeers: z.boolean().optional(),
  DebugFlags: goSlice(z.string()),
});

/** A MapRequest as this client sends it (`JSON.stringify` gives Go's wire form). */
export interface MapRequest {
  Version: number;
  /** `""` (no compression) is all this client asks for. */
  Compress: '';
  KeepAlive: boolean;
  NodeKey: NodePublic;
  DiscoKey: DiscoPublic;
  Stream: boolean;
  Hostinfo: Hostinfo;
  Endpoints?: AddrPort[];
  EndpointTypes?: number[];
  OmitPeers: boolean;
}

/** `tailcfg.PeerChange`: only the fields present change. */
export const PeerChangeSchema = z.object({
  NodeID: goID,
  DERPRegion: goInt.optional(),
  Cap: goInt.optional(),
  CapMap: CapMapSchema,
  Endpoints: goSlice(addrPort),
  Key: nodePublic.nullish().transform((v) => v ?? undefined),
  KeySignature: z.string().nullish(),
  DiscoKey: discoPublic.nullish().transform((v) => v ?? undefined),
  Online: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  LastSeen: goTime.nullish().transform((v) => v ?? undefined),
  KeyExpiry: goTime.nullish().transform((v) => v ?? undefined),
});
export type PeerChange = z.output<typeof PeerChangeSchema>;

/**
 * `tailcfg.PingRequest`. With `Types` empty the node answers with `HEAD URL` (over Noise when
 * `URLIsNoise`); other types (disco, TSMP, ICMP, peerapi, c2n) belong to the data plane.
 */
export const PingRequestSchema = z.object({
  URL: z.string(),
  URLIsNoise: z.boolean().optional(),
  Log: z.boolean().optional(),
  Types: z.string().optional(),
  IP: ipAddr.optional(),
  Payload: z.string().nullish(),
});
export type PingRequest = z.output<typeof PingRequestSchema>;

// Nodes come by the thousand: decoded by the table-driven fast path that mirrors NodeSchema
// (./fast.ts; equivalence is property-tested).
const nodeList = z.unknown().transform(asZodTransform(decodeNodeList)).optional();
const oneNode = z
  .unknown()
  .transform(asZodTransform((v) => (v === null || v === undefined ? undefined : decodeNode(v))))
  .optional();

/**
 * `tailcfg.MapResponse`: a full map, a delta, or a keep-alive. Absent fields mean "unchanged".
 * `PacketFilters` values may be `null` (delete that named filter; `"*": null` clears all).
 */
export const MapResponseSchema = z.object({
  MapSessionHandle: z.string().optional(),
  Seq: goInt.optional(),
  KeepAlive: z.boolean().optional(),
  PingRequest: PingRequestSchema.nullish().transform((v) => v ?? undefined),
  PopBrowserURL: z.string().optional(),
  Node: oneNode,
  DERPMap: DERPMapSchema.nullish().transform((v) => v ?? undefined),
  Peers: nodeList,
  PeersChanged: nodeList,
  PeersRemoved: goSlice(goID),
  PeersChangedPatch: goSlice(PeerChangeSchema.nullable()).transform((v) =>
    v?.filter((p): p is PeerChange => p !== null),
  ),
  PeerSeenChange: goIntMap(z.boolean()),
  OnlineChange: goIntMap(z.boolean()),
  DNSConfig: DNSConfigSchema.nullish().transform((v) => v ?? undefined),
  Domain: z.string().optional(),
  CollectServices: optBool,
  PacketFilter: goSlice(FilterRuleSchema),
  PacketFilters: goMap(goSlice(FilterRuleSchema).transform((v) => v ?? null)),
  UserProfiles: goSlice(UserProfileSchema),
  Health: goSlice(z.string()),
  ControlTime: goTime.nullish().transform((v) => v ?? undefined),
});
export type MapResponse = z.output<typeof MapResponseSchema>;

/** `tailcfg.EarlyNoise`: sent by headscale before HTTP/2; the challenge is unused by clients. */
export const EarlyNoiseSchema = z.object({
  nodeKeyChallenge: z.string().optional(),
});
export type EarlyNoise = z.output<typeof EarlyNoiseSchema>;
