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
  /** The endpoint's origin is unknown. */
  Unknown: 0,
  /** A local interface address. */
  Local: 1,
  /** Found by STUN: the public side of a NAT. */
  STUN: 2,
  /** A port mapped on the gateway by UPnP, NAT-PMP or PCP. */
  Portmapped: 3,
  /** The STUN-discovered public IP with the local port (for NATs that keep the port). */
  STUN4LocalPort: 4,
  /** Configured by hand. */
  ExplicitConf: 5,
} as const;
export type EndpointType = (typeof EndpointType)[keyof typeof EndpointType];

/** `tailcfg.MapRequest` (parsed, e.g. by a test control server). */
export const MapRequestSchema = z.object({
  /** The client's capability version (`tailcfg.CapabilityVersion`). */
  Version: goInt,
  /** The compression the client accepts for responses: `zstd` or empty. */
  Compress: z.string().optional(),
  /** Whether the server should send keep-alives on a streaming map. */
  KeepAlive: z.boolean().optional(),
  /** The client's node public key. */
  NodeKey: nodePublic,
  /** The client's disco public key. */
  DiscoKey: discoPublic.optional(),
  /** Whether to keep the response streaming (a long poll of deltas) rather than one map. */
  Stream: z.boolean().optional(),
  /** The client's host info, when it changed. */
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  /** The handle of a map session to resume, or empty. */
  MapSessionHandle: z.string().optional(),
  /** The last sequence number seen of the session in `MapSessionHandle`. */
  MapSessionSeq: goInt.optional(),
  /** The client's UDP endpoints (`ip:port`), parallel to `EndpointTypes`. */
  Endpoints: goSlice(addrPort),
  /** How each endpoint of `Endpoints` was found (`EndpointType` values). */
  EndpointTypes: goSlice(goInt),
  /** The head of the client's Tailnet Lock authority, or empty. */
  TKAHead: z.string().optional(),
  /** Whether the request only reads the map and changes nothing about the node (no endpoint update). */
  ReadOnly: z.boolean().optional(),
  /** Whether to leave peers out of the response (endpoint and host info updates). */
  OmitPeers: z.boolean().optional(),
  /** Debug flags of the client. */
  DebugFlags: goSlice(z.string()),
});

/** A MapRequest as this client sends it (`JSON.stringify` gives Go's wire form). */
export interface MapRequest {
  /** The client's capability version (`CAPABILITY_VERSION`). */
  Version: number;
  /** `""` (no compression) is all this client asks for. */
  Compress: '';
  /** Whether the server should send keep-alives. */
  KeepAlive: boolean;
  /** Our node public key. */
  NodeKey: NodePublic;
  /** Our disco public key. */
  DiscoKey: DiscoPublic;
  /** Whether to stream deltas until the connection closes. */
  Stream: boolean;
  /** Our host info. */
  Hostinfo: Hostinfo;
  /** Our UDP endpoints, parallel to `EndpointTypes`. */
  Endpoints?: AddrPort[];
  /** How each endpoint was found (`EndpointType` values). */
  EndpointTypes?: number[];
  /** Whether to leave peers out of the response. */
  OmitPeers: boolean;
}

/** `tailcfg.PeerChange`: only the fields present change. */
export const PeerChangeSchema = z.object({
  /** The ID of the peer that changed. */
  NodeID: goID,
  /** The peer's new home DERP region. */
  DERPRegion: goInt.optional(),
  /** The peer's new capability version. */
  Cap: goInt.optional(),
  /** The peer's new capabilities. */
  CapMap: CapMapSchema,
  /** The peer's new UDP endpoints. */
  Endpoints: goSlice(addrPort),
  /** The peer's new node key. */
  Key: nodePublic.nullish().transform((v) => v ?? undefined),
  /** The new node key's Tailnet Lock signature. */
  KeySignature: z.string().nullish(),
  /** The peer's new disco key. */
  DiscoKey: discoPublic.nullish().transform((v) => v ?? undefined),
  /** Whether the peer is online now. */
  Online: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  /** When the peer was last seen. */
  LastSeen: goTime.nullish().transform((v) => v ?? undefined),
  /** When the peer's key now expires. */
  KeyExpiry: goTime.nullish().transform((v) => v ?? undefined),
});
/** A `tailcfg.PeerChange`, as parsed by `PeerChangeSchema`. */
export type PeerChange = z.output<typeof PeerChangeSchema>;

/**
 * `tailcfg.PingRequest`. With `Types` empty the node answers with `HEAD URL` (over Noise when
 * `URLIsNoise`); other types (disco, TSMP, ICMP, peerapi, c2n) belong to the data plane.
 */
export const PingRequestSchema = z.object({
  /** The URL to send the answer to (`HEAD`, or a POST of the results for typed pings). */
  URL: z.string(),
  /** Whether `URL` is on the control server's Noise channel rather than plain HTTPS. */
  URLIsNoise: z.boolean().optional(),
  /** Whether the node should log the ping. */
  Log: z.boolean().optional(),
  /** Comma-separated ping types (`disco`, `TSMP`, `ICMP`, `peerapi`, `c2n`); empty: just answer `URL`. */
  Types: z.string().optional(),
  /** The IP to ping, for typed pings. */
  IP: ipAddr.optional(),
  /** The body of a `c2n` request, or absent. */
  Payload: z.string().nullish(),
});
/** A `tailcfg.PingRequest`, as parsed by `PingRequestSchema`. */
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
  /** The server's handle for this map session (first response only), for resuming. */
  MapSessionHandle: z.string().optional(),
  /** The sequence number of this response within the session. */
  Seq: goInt.optional(),
  /** True for a keep-alive with nothing else in it. */
  KeepAlive: z.boolean().optional(),
  /** A request to ping someone or answer a URL. */
  PingRequest: PingRequestSchema.nullish().transform((v) => v ?? undefined),
  /** A URL the client should open in a browser. */
  PopBrowserURL: z.string().optional(),
  /** Our own node, when it changed. */
  Node: oneNode,
  /** The DERP map, when it changed. */
  DERPMap: DERPMapSchema.nullish().transform((v) => v ?? undefined),
  /** The full list of peers (replacing the previous one). */
  Peers: nodeList,
  /** Peers that were added or changed (whole nodes). */
  PeersChanged: nodeList,
  /** IDs of peers that were removed. */
  PeersRemoved: goSlice(goID),
  /** Peers that changed in some fields only (`PeerChange`). */
  PeersChangedPatch: goSlice(PeerChangeSchema.nullable()).transform((v) =>
    v?.filter((p): p is PeerChange => p !== null),
  ),
  /** Peers whose "seen" state changed: true if seen recently. */
  PeerSeenChange: goIntMap(z.boolean()),
  /** Peers that went online (true) or offline (false). */
  OnlineChange: goIntMap(z.boolean()),
  /** The DNS configuration, when it changed. */
  DNSConfig: DNSConfigSchema.nullish().transform((v) => v ?? undefined),
  /** The tailnet's name, e.g. `example.com`. */
  Domain: z.string().optional(),
  /** Whether the client should report its open ports as services. */
  CollectServices: optBool,
  /** The packet filter rules (the old, unnamed form: replaces all filters). */
  PacketFilter: goSlice(FilterRuleSchema),
  /** Named packet filters; `null` deletes a name, `"*": null` clears them all. */
  PacketFilters: goMap(goSlice(FilterRuleSchema).transform((v) => v ?? null)),
  /** Profiles of the users that own the nodes in this response. */
  UserProfiles: goSlice(UserProfileSchema),
  /** Health warnings from control, as text (empty: healthy). */
  Health: goSlice(z.string()),
  /** The control server's clock when it sent this, for skew checks. */
  ControlTime: goTime.nullish().transform((v) => v ?? undefined),
});
/** A `tailcfg.MapResponse`, as parsed by `MapResponseSchema`. */
export type MapResponse = z.output<typeof MapResponseSchema>;

/** `tailcfg.EarlyNoise`: sent by headscale before HTTP/2; the challenge is unused by clients. */
export const EarlyNoiseSchema = z.object({
  /** A challenge the node may sign with its node key (headscale sends it; clients ignore it). */
  nodeKeyChallenge: z.string().optional(),
});
/** A `tailcfg.EarlyNoise`, as parsed by `EarlyNoiseSchema`. */
export type EarlyNoise = z.output<typeof EarlyNoiseSchema>;
