/**
 * The JSON types of the LocalAPI responses this package serves and reads, as zod schemas with Go's
 * encoding conventions (built from `@tsnet/control`'s tailcfg schemas):
 *
 * - `WhoIsResponse` (`client/tailscale/apitype/apitype.go`): `Node`, `UserProfile`, `CapMap`.
 * - `Status` and `PeerStatus` (`ipn/ipnstate/ipnstate.go`): the fields a tsnet node fills, typed;
 *   every other field tailscaled sends is kept as it came (`looseObject`), so a newer tailscaled does
 *   not break a reader.
 * - `Prefs` (`ipn/prefs.go`), read only: the commonly used fields typed, the rest kept.
 *
 * Values parse to the same classes control uses (`IPAddr`, `IPPrefix`, `NodePublic`, `Date`), and
 * serialise back to Go's text forms with `toGoJSON` (./json.ts), so a value a backend produces and the
 * value a client parses have one type.
 *
 * Read first: tailscale/tailscale v1.102.3 `ipn/ipnstate/ipnstate.go` (`Status`, `PeerStatus`,
 * `TailnetStatus`), `client/tailscale/apitype/apitype.go` (`WhoIsResponse`).
 */
import {
  CapMapSchema,
  goInt,
  goMap,
  goSlice,
  goTime,
  ipAddr,
  ipPrefix,
  LocationSchema,
  NodeSchema,
  nodePublic,
  optBool,
  UserProfileSchema,
} from '@tsnet/control';
import { z } from 'zod';

/** `ipn.State` names as `ipnstate.Status.BackendState` carries them. */
export const BACKEND_STATES = [
  'NoState',
  'NeedsLogin',
  'NeedsMachineAuth',
  'Stopped',
  'Starting',
  'Running',
] as const;
export type BackendState = (typeof BACKEND_STATES)[number];

/**
 * `tailcfg.PeerCapMap` as WhoIs returns it: capability name → values. Go sends `null` for a
 * capability granted without values (a `Caps` entry); it reads here as `[]`.
 */
export const PeerCapMapSchema = CapMapSchema;
export type PeerCapMap = Record<string, unknown[]>;

/** `apitype.WhoIsResponse`. On success `Node` and `UserProfile` are always present. */
export const WhoIsResponseSchema = z.object({
  Node: NodeSchema,
  UserProfile: UserProfileSchema,
  CapMap: PeerCapMapSchema,
});
export type WhoIsResponse = z.output<typeof WhoIsResponseSchema>;

const str = z
  .string()
  .nullish()
  .transform((v) => v ?? '');
const bool = z
  .boolean()
  .nullish()
  .transform((v) => v ?? false);
const num = z
  .number()
  .nullish()
  .transform((v) => v ?? 0);

/** `ipnstate.TailnetStatus`. */
export const TailnetStatusSchema = z.looseObject({
  Name: str,
  MagicDNSSuffix: str,
  MagicDNSEnabled: bool,
});
export type TailnetStatus = z.output<typeof TailnetStatusSchema>;

/** `ipnstate.ExitNodeStatus`. */
export const ExitNodeStatusSchema = z.looseObject({
  ID: str,
  Online: bool,
  TailscaleIPs: goSlice(ipPrefix).optional(),
});
export type ExitNodeStatus = z.output<typeof ExitNodeStatusSchema>;

/**
 * `ipnstate.PeerStatus`: `Self` and each entry of `Peer`. Times are `Date`s (Go's zero time for
 * "never", see control's `isZeroTime`); `KeyExpiry` is absent when the key never expires.
 */
export const PeerStatusSchema = z.looseObject({
  /** `StableNodeID`. */
  ID: str,
  /** `tailcfg.NodeID`. */
  NodeID: goInt.optional(),
  PublicKey: nodePublic,
  HostName: str,
  /** FQDN with a trailing dot: `host.<MagicDNSSuffix>.` */
  DNSName: str,
  OS: str,
  UserID: num,
  AltSharerUserID: goInt.optional(),
  TailscaleIPs: goSlice(ipAddr).optional(),
  AllowedIPs: goSlice(ipPrefix).optional(),
  Tags: goSlice(z.string()).optional(),
  PrimaryRoutes: goSlice(ipPrefix).optional(),
  Addrs: goSlice(z.string()).optional(),
  /** The direct `ip:port` in use, or `''`. */
  CurAddr: str,
  /** Home DERP region code. */
  Relay: str,
  PeerRelay: z.string().optional(),
  RxBytes: num,
  TxBytes: num,
  Created: goTime.optional(),
  LastWrite: goTime.optional(),
  LastSeen: goTime.optional(),
  LastHandshake: goTime.optional(),
  Online: bool,
  ExitNode: bool,
  ExitNodeOption: bool,
  Active: bool,
  PeerAPIURL: goSlice(z.string()).optional(),
  Capabilities: goSlice(z.string()).optional(),
  CapMap: CapMapSchema.optional(),
  sshHostKeys: goSlice(z.string()).optional(),
  ShareeNode: z.boolean().optional(),
  InNetworkMap: bool,
  InMagicSock: bool,
  InEngine: bool,
  Expired: z.boolean().optional(),
  KeyExpiry: goTime.optional(),
  Location: LocationSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
});
export type PeerStatus = z.output<typeof PeerStatusSchema>;

/**
 * `ipnstate.Status`. `Peer` is keyed by `nodekey:<hex>`, `User` by the decimal `UserID`. A status
 * asked for without peers (`?peers=false`) has no `Peer` map.
 */
export const StatusSchema = z.looseObject({
  Version: str,
  TUN: bool,
  BackendState: str,
  HaveNodeKey: z.boolean().optional(),
  AuthURL: str,
  TailscaleIPs: goSlice(ipAddr).optional(),
  Self: PeerStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  ExitNodeStatus: ExitNodeStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  Health: goSlice(z.string()).optional(),
  /** Legacy copy of `CurrentTailnet.MagicDNSSuffix`. */
  MagicDNSSuffix: str,
  CurrentTailnet: TailnetStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  CertDomains: goSlice(z.string()).optional(),
  Peer: goMap(PeerStatusSchema).optional(),
  User: goMap(UserProfileSchema).optional(),
  ClientVersion: z.unknown().optional(),
});
export type Status = z.output<typeof StatusSchema>;

/**
 * `ipn.Prefs` as `GET /localapi/v0/prefs` returns it (private keys already stripped by the server).
 * Read only here; the fields a tsnet user looks at are typed, the rest kept as sent.
 */
export const PrefsSchema = z.looseObject({
  ControlURL: str,
  RouteAll: bool,
  ExitNodeID: str,
  ExitNodeIP: str,
  ExitNodeAllowLANAccess: bool,
  CorpDNS: bool,
  RunSSH: bool,
  RunWebClient: bool,
  WantRunning: bool,
  LoggedOut: bool,
  ShieldsUp: bool,
  AdvertiseTags: goSlice(z.string()).optional(),
  Hostname: str,
  AdvertiseRoutes: goSlice(ipPrefix).optional(),
  AdvertiseServices: goSlice(z.string()).optional(),
  NoSNAT: bool,
  NoStatefulFiltering: optBool,
  NetfilterMode: num,
  ProfileName: z.string().optional(),
  PostureChecking: bool,
});
export type Prefs = z.output<typeof PrefsSchema>;

/** A list of strings (`cert-domains`); Go's nil slice (`null`) reads as `[]`. */
export const StringListSchema = z
  .array(z.string())
  .nullable()
  .transform((v) => v ?? []);

/** `ipn.State` by number, as `Notify.State` carries it (`ipn/backend.go`). */
export const IPN_STATES = [
  'NoState',
  'InUseOtherUser',
  'NeedsLogin',
  'NeedsMachineAuth',
  'Stopped',
  'Starting',
  'Running',
] as const;
export type IpnStateName = (typeof IPN_STATES)[number];

/** `ipn.NotifyWatchOpt` bits of `watch-ipn-bus?mask=` (`ipn/backend.go`). */
export const NotifyWatchOpt = {
  EngineUpdates: 1 << 0,
  InitialState: 1 << 1,
  InitialPrefs: 1 << 2,
  InitialNetMap: 1 << 3,
  NoPrivateKeys: 1 << 4,
  InitialHealthState: 1 << 7,
  RateLimit: 1 << 8,
  NoNetMap: 1 << 13,
  InitialStatus: 1 << 14,
  /** Only for in-process subscribers in Go: refused over HTTP. */
  InProcessNoDisconnect: 1 << 16,
} as const;

/**
 * `ipn.Notify`, one message of the IPN bus: `State` is the number of an `IPN_STATES` entry. The
 * fields a client acts on are typed; the rest (`NetMap`, `Engine`, `Health`...) kept as sent.
 */
export const NotifySchema = z.looseObject({
  Version: z.string().optional(),
  SessionID: z.string().optional(),
  ErrMessage: z.string().nullish(),
  LoginFinished: z.looseObject({}).nullish(),
  State: z.number().int().min(0).nullish(),
  Prefs: PrefsSchema.nullish(),
  BrowseToURL: z.string().nullish(),
  SelfChange: NodeSchema.optional(),
  InitialStatus: StatusSchema.optional(),
});
export type Notify = z.output<typeof NotifySchema>;

/** `tailcfg.PingType`. */
export type PingType = 'disco' | 'TSMP' | 'ICMP' | 'peerapi';

/** `ipnstate.PingResult`. `Err` is non-empty when the ping failed (the request itself succeeded). */
export const PingResultSchema = z.looseObject({
  IP: str,
  NodeIP: str,
  NodeName: str,
  Err: str,
  LatencySeconds: num,
  Endpoint: str,
  PeerRelay: z.string().optional(),
  DERPRegionID: num,
  DERPRegionCode: str,
  PeerAPIPort: z.number().int().optional(),
  PeerAPIURL: z.string().optional(),
  IsLocalIP: z.boolean().optional(),
});
export type PingResult = z.output<typeof PingResultSchema>;
