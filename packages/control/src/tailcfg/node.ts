/**
 * The node-describing `tailcfg` types: `User`, `Login`, `UserProfile`, `Service`, `Location`,
 * `NetInfo`, `Hostinfo`, `Node`. Field names and Go JSON forms as in tailscale/tailscale
 * `tailcfg/tailcfg.go` (v1.102.3); unknown fields are dropped, so a newer server does not break us.
 */
import { z } from 'zod';
import {
  addrPort,
  discoPublic,
  goID,
  goInt,
  goMap,
  goSlice,
  goTime,
  ipAddr,
  ipPrefix,
  machinePublic,
  nodePublic,
  optBool,
} from './go.js';

/** `tailcfg.User`. */
export const UserSchema = z.object({
  ID: goID,
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
  Created: goTime.optional(),
});
export type User = z.output<typeof UserSchema>;

/** `tailcfg.Login`. */
export const LoginSchema = z.object({
  ID: goID.optional(),
  Provider: z.string().optional(),
  LoginName: z.string().optional(),
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
});
export type Login = z.output<typeof LoginSchema>;

/** `tailcfg.UserProfile`. */
export const UserProfileSchema = z.object({
  ID: goID,
  LoginName: z.string().optional(),
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
  Groups: goSlice(z.string()),
});
export type UserProfile = z.output<typeof UserProfileSchema>;

/** `tailcfg.Service`: `Proto` is `tcp`, `udp`, `peerapi4`, `peerapi6`, `peerapi-dns-proxy`... */
export const ServiceSchema = z.object({
  Proto: z.string(),
  Port: z.number().int().min(0).max(65535),
  Description: z.string().optional(),
});
export type Service = z.output<typeof ServiceSchema>;

/** `tailcfg.Location`. */
export const LocationSchema = z.object({
  Country: z.string().optional(),
  CountryCode: z.string().optional(),
  City: z.string().optional(),
  CityCode: z.string().optional(),
  Latitude: z.number().optional(),
  Longitude: z.number().optional(),
  Priority: goInt.optional(),
});
export type Location = z.output<typeof LocationSchema>;

/** `tailcfg.NetInfo`: `PreferredDERP` is the home DERP region headscale turns into `Node.HomeDERP`. */
export const NetInfoSchema = z.object({
  MappingVariesByDestIP: optBool,
  WorkingIPv6: optBool,
  OSHasIPv6: optBool,
  WorkingUDP: optBool,
  WorkingICMPv4: optBool,
  HavePortMap: z.boolean().optional(),
  UPnP: optBool,
  PMP: optBool,
  PCP: optBool,
  PreferredDERP: goInt.optional(),
  LinkType: z.string().optional(),
  DERPLatency: goMap(z.number()),
  FirewallMode: z.string().optional(),
});
export type NetInfo = z.output<typeof NetInfoSchema>;

/** `tailcfg.Hostinfo` (the fields a node sends or a peer shows; others are dropped). */
export const HostinfoSchema = z.object({
  IPNVersion: z.string().optional(),
  FrontendLogID: z.string().optional(),
  BackendLogID: z.string().optional(),
  OS: z.string().optional(),
  OSVersion: z.string().optional(),
  Container: optBool,
  Env: z.string().optional(),
  Distro: z.string().optional(),
  DistroVersion: z.string().optional(),
  DistroCodeName: z.string().optional(),
  App: z.string().optional(),
  Desktop: optBool,
  Package: z.string().optional(),
  DeviceModel: z.string().optional(),
  Hostname: z.string().optional(),
  ShieldsUp: z.boolean().optional(),
  ShareeNode: z.boolean().optional(),
  NoLogsNoSupport: z.boolean().optional(),
  WireIngress: z.boolean().optional(),
  IngressEnabled: z.boolean().optional(),
  AllowsUpdate: z.boolean().optional(),
  Machine: z.string().optional(),
  GoArch: z.string().optional(),
  GoArchVar: z.string().optional(),
  GoVersion: z.string().optional(),
  RoutableIPs: goSlice(ipPrefix),
  RequestTags: goSlice(z.string()),
  WoLMACs: goSlice(z.string()),
  Services: goSlice(ServiceSchema),
  NetInfo: NetInfoSchema.nullish().transform((v) => v ?? undefined),
  sshHostKeys: goSlice(z.string()),
  Cloud: z.string().optional(),
  Userspace: optBool,
  UserspaceRouter: optBool,
  AppConnector: optBool,
  ServicesHash: z.string().optional(),
  PeerRelay: z.boolean().optional(),
  ExitNodeID: z.string().optional(),
  Location: LocationSchema.nullish().transform((v) => v ?? undefined),
  StateEncrypted: optBool,
});
export type Hostinfo = z.output<typeof HostinfoSchema>;

/** `tailcfg.NodeCapMap` / `PeerCapMap`: capability name → list of raw JSON values (or null). */
export const CapMapSchema = goMap(
  z
    .array(z.unknown())
    .nullable()
    .transform((v) => v ?? []),
);
export type CapMap = Record<string, unknown[]>;

/**
 * `tailcfg.Node`: the self node and each peer. `AllowedIPs` absent means "same as Addresses"
 * (capver 112); `HomeDERP` may come in the legacy form `"DERP": "127.3.3.40:<region>"`. The netmap
 * normalises both (see `normalizeNode` in `../netmap/node.ts`).
 */
export const NodeSchema = z.object({
  ID: goID,
  StableID: z.string().optional(),
  Name: z.string().optional(),
  User: goID.optional(),
  Sharer: goID.optional(),
  Key: nodePublic,
  KeyExpiry: goTime.optional(),
  KeySignature: z.string().nullish(),
  Machine: machinePublic.optional(),
  DiscoKey: discoPublic.optional(),
  Addresses: goSlice(ipPrefix),
  AllowedIPs: goSlice(ipPrefix),
  Endpoints: goSlice(addrPort),
  DERP: z.string().optional(),
  HomeDERP: goInt.optional(),
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  Created: goTime.optional(),
  Cap: goInt.optional(),
  Tags: goSlice(z.string()),
  PrimaryRoutes: goSlice(ipPrefix),
  LastSeen: goTime.nullish().transform((v) => v ?? undefined),
  Online: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  MachineAuthorized: z.boolean().optional(),
  Capabilities: goSlice(z.string()),
  CapMap: CapMapSchema,
  UnsignedPeerAPIOnly: z.boolean().optional(),
  ComputedName: z.string().optional(),
  ComputedNameWithHost: z.string().optional(),
  DataPlaneAuditLogID: z.string().optional(),
  Expired: z.boolean().optional(),
  SelfNodeV4MasqAddrForThisPeer: ipAddr.nullish().transform((v) => v ?? undefined),
  SelfNodeV6MasqAddrForThisPeer: ipAddr.nullish().transform((v) => v ?? undefined),
  IsWireGuardOnly: z.boolean().optional(),
  IsJailed: z.boolean().optional(),
});
export type Node = z.output<typeof NodeSchema>;
