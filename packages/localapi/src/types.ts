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
/** A backend state name: `NoState`, `NeedsLogin`, `NeedsMachineAuth`, `Stopped`, `Starting` or `Running`. */
export type BackendState = (typeof BACKEND_STATES)[number];

/**
 * `tailcfg.PeerCapMap` as WhoIs returns it: capability name → values. Go sends `null` for a
 * capability granted without values (a `Caps` entry); it reads here as `[]`.
 */
export const PeerCapMapSchema = CapMapSchema;
/**
 * WhoIs capabilities of a peer: capability name → its values (`[]` for a capability granted without values).
 */
export type PeerCapMap = Record<string, unknown[]>;

/** `apitype.WhoIsResponse`. On success `Node` and `UserProfile` are always present. */
export const WhoIsResponseSchema = z.object({
  /** The caller's node, as the netmap describes it (name, addresses, tags, host info). */
  Node: NodeSchema,
  /** The user who owns the node: `LoginName` is what to greet (`tagged-devices` for a tagged node). */
  UserProfile: UserProfileSchema,
  /**
   * The capabilities the policy grants the caller towards us (the application capabilities of the grants).
   */
  CapMap: PeerCapMapSchema,
});
/** The answer of `LocalClient.whoIs`, as parsed by `WhoIsResponseSchema`. */
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
  /** The tailnet's name, e.g. `example.com` or `tail1234.ts.net`. */
  Name: str,
  /** The MagicDNS suffix of the tailnet, e.g. `tail1234.ts.net` (without a leading or trailing dot). */
  MagicDNSSuffix: str,
  /** Whether MagicDNS is enabled on the tailnet. */
  MagicDNSEnabled: bool,
});
/** `ipnstate.TailnetStatus`, as parsed by `TailnetStatusSchema`. */
export type TailnetStatus = z.output<typeof TailnetStatusSchema>;

/** `ipnstate.ExitNodeStatus`. */
export const ExitNodeStatusSchema = z.looseObject({
  /** The exit node's stable ID. */
  ID: str,
  /** Whether the exit node is online. */
  Online: bool,
  /** The exit node's Tailscale addresses. */
  TailscaleIPs: goSlice(ipPrefix).optional(),
});
/** `ipnstate.ExitNodeStatus`, as parsed by `ExitNodeStatusSchema`. */
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
  /** The node's WireGuard public key (`nodekey:…`). */
  PublicKey: nodePublic,
  /** The host name the node reported. */
  HostName: str,
  /** FQDN with a trailing dot: `host.<MagicDNSSuffix>.` */
  DNSName: str,
  /** The node's operating system (`linux`, `windows`…). */
  OS: str,
  /** The ID of the user who owns the node (a key of `Status.User`). */
  UserID: num,
  /** For a shared node, the ID of the user who shared it. */
  AltSharerUserID: goInt.optional(),
  /** The node's Tailscale addresses. */
  TailscaleIPs: goSlice(ipAddr).optional(),
  /** The prefixes routed to the node (its addresses and any subnet routes). */
  AllowedIPs: goSlice(ipPrefix).optional(),
  /** The node's ACL tags. */
  Tags: goSlice(z.string()).optional(),
  /** The subnet routes the node is the primary router for. */
  PrimaryRoutes: goSlice(ipPrefix).optional(),
  /** The `ip:port` endpoints the node may be reached at directly. */
  Addrs: goSlice(z.string()).optional(),
  /** The direct `ip:port` in use, or `''`. */
  CurAddr: str,
  /** Home DERP region code. */
  Relay: str,
  /** The peer relay in use, as `ip:port:vni:N`, or absent. */
  PeerRelay: z.string().optional(),
  /** Bytes received from the node. */
  RxBytes: num,
  /** Bytes sent to the node. */
  TxBytes: num,
  /** When the node was created. */
  Created: goTime.optional(),
  /** When data was last sent to the node (absent: never). */
  LastWrite: goTime.optional(),
  /** When the node was last seen by control. */
  LastSeen: goTime.optional(),
  /** The last WireGuard handshake with the node (absent: none yet). */
  LastHandshake: goTime.optional(),
  /** Whether control reports the node online. */
  Online: bool,
  /** Whether this node is our exit node now. */
  ExitNode: bool,
  /** Whether this node offers to be an exit node. */
  ExitNodeOption: bool,
  /** Whether there was traffic with the node recently. */
  Active: bool,
  /** URLs of the node's PeerAPI (one per address family). */
  PeerAPIURL: goSlice(z.string()).optional(),
  /** Deprecated capabilities of the node; `CapMap` replaces them. */
  Capabilities: goSlice(z.string()).optional(),
  /** The node's capabilities (`tailcfg.NodeCapMap`). */
  CapMap: CapMapSchema.optional(),
  /** The node's SSH host keys. */
  sshHostKeys: goSlice(z.string()).optional(),
  /** Whether the node was shared into this tailnet from another one. */
  ShareeNode: z.boolean().optional(),
  /** Whether the node is in our network map. */
  InNetworkMap: bool,
  /** Whether magicsock knows the node. */
  InMagicSock: bool,
  /** Whether the WireGuard engine has the node as a peer. */
  InEngine: bool,
  /** Whether the node's key has expired. */
  Expired: z.boolean().optional(),
  /** When the node's key expires (absent: never). */
  KeyExpiry: goTime.optional(),
  /** Where the node is, for exit nodes that show a location; absent for most. */
  Location: LocationSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
});
/** `ipnstate.PeerStatus`, as parsed by `PeerStatusSchema`. */
export type PeerStatus = z.output<typeof PeerStatusSchema>;

/**
 * `ipnstate.Status`. `Peer` is keyed by `nodekey:<hex>`, `User` by the decimal `UserID`. A status
 * asked for without peers (`?peers=false`) has no `Peer` map.
 */
export const StatusSchema = z.looseObject({
  /** The version of the node's software (`TSNET_VERSION` for tsnet). */
  Version: str,
  /** Whether the node uses a TUN device (false for tsnet: its network stack is in the process). */
  TUN: bool,
  /** The backend state: `NeedsLogin`, `Starting`, `Running`… (see `BACKEND_STATES`). */
  BackendState: str,
  /** Whether the node has a node key (has registered at least once). */
  HaveNodeKey: z.boolean().optional(),
  /** The login URL while the node waits for an interactive login, else empty. */
  AuthURL: str,
  /** Our Tailscale addresses. */
  TailscaleIPs: goSlice(ipAddr).optional(),
  /** Our own node, as a peer sees it (absent before the first netmap). */
  Self: PeerStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  /** The exit node in use, or absent. */
  ExitNodeStatus: ExitNodeStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  /** Health warnings, as text. */
  Health: goSlice(z.string()).optional(),
  /** Legacy copy of `CurrentTailnet.MagicDNSSuffix`. */
  MagicDNSSuffix: str,
  /** The tailnet we are on (absent before the first netmap). */
  CurrentTailnet: TailnetStatusSchema.nullish()
    .transform((v) => v ?? undefined)
    .optional(),
  /** The DNS names we may get TLS certificates for. */
  CertDomains: goSlice(z.string()).optional(),
  /** The peers, keyed by node public key (`nodekey:…`). */
  Peer: goMap(PeerStatusSchema).optional(),
  /** The users of the nodes in `Self` and `Peer`, keyed by user ID. */
  User: goMap(UserProfileSchema).optional(),
  /** The client version check (Go's `tailcfg.ClientVersion`), kept as sent. */
  ClientVersion: z.unknown().optional(),
});
/** `ipnstate.Status`: what `tailscale status --json` prints and `Server.up()` resolves with. */
export type Status = z.output<typeof StatusSchema>;

/**
 * `ipn.Prefs` as `GET /localapi/v0/prefs` returns it (private keys already stripped by the server).
 * Read only here; the fields a tsnet user looks at are typed, the rest kept as sent.
 */
export const PrefsSchema = z.looseObject({
  /** The control server URL. */
  ControlURL: str,
  /** Whether to accept the subnet routes of peers (`--accept-routes`). */
  RouteAll: bool,
  /** The stable ID of the exit node to use, or empty. */
  ExitNodeID: str,
  /** The IP of the exit node to use, or empty. */
  ExitNodeIP: str,
  /** Whether the LAN stays reachable while an exit node is in use. */
  ExitNodeAllowLANAccess: bool,
  /** Whether to use the tailnet's DNS settings (`--accept-dns`). */
  CorpDNS: bool,
  /** Whether to run the Tailscale SSH server. */
  RunSSH: bool,
  /** Whether to run the web client. */
  RunWebClient: bool,
  /** Whether the node should be connected (`tailscale up` / `down`). */
  WantRunning: bool,
  /** Whether the user logged out. */
  LoggedOut: bool,
  /** Whether to refuse all incoming connections. */
  ShieldsUp: bool,
  /** ACL tags the node advertises. */
  AdvertiseTags: goSlice(z.string()).optional(),
  /** The host name to advertise. */
  Hostname: str,
  /** Subnet routes (and exit-node routes) to advertise. */
  AdvertiseRoutes: goSlice(ipPrefix).optional(),
  /** Tailscale Services to advertise. */
  AdvertiseServices: goSlice(z.string()).optional(),
  /** Whether to turn off source NAT for subnet routes. */
  NoSNAT: bool,
  /** Whether to turn off stateful filtering for subnet routes and exit nodes. */
  NoStatefulFiltering: optBool,
  /** The Linux netfilter mode (0 off, 1 no divert, 2 on). */
  NetfilterMode: num,
  /** The profile's display name, if set. */
  ProfileName: z.string().optional(),
  /** Whether to answer device posture checks. */
  PostureChecking: bool,
});
/** `ipn.Prefs`, as parsed by `PrefsSchema`. */
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
/** An `ipn.State` name, as `IPN_STATES` lists them. */
export type IpnStateName = (typeof IPN_STATES)[number];

/** `ipn.NotifyWatchOpt` bits of `watch-ipn-bus?mask=` (`ipn/backend.go`). */
export const NotifyWatchOpt = {
  /** Send updates of the engine's counters. */
  EngineUpdates: 1 << 0,
  /** Send the current state first. */
  InitialState: 1 << 1,
  /** Send the current prefs first. */
  InitialPrefs: 1 << 2,
  /** Send the current netmap first. */
  InitialNetMap: 1 << 3,
  /** Strip private keys from the prefs sent. */
  NoPrivateKeys: 1 << 4,
  /** Send the current health state first. */
  InitialHealthState: 1 << 7,
  /** Rate-limit netmap updates. */
  RateLimit: 1 << 8,
  /** Send no netmaps. */
  NoNetMap: 1 << 13,
  /** Send the current status first (`Notify.InitialStatus`). */
  InitialStatus: 1 << 14,
  /** Only for in-process subscribers in Go: refused over HTTP. */
  InProcessNoDisconnect: 1 << 16,
} as const;

/**
 * `ipn.Notify`, one message of the IPN bus: `State` is the number of an `IPN_STATES` entry. The
 * fields a client acts on are typed; the rest (`NetMap`, `Engine`, `Health`...) kept as sent.
 */
export const NotifySchema = z.looseObject({
  /** The backend's version, in the first message of a watch. */
  Version: z.string().optional(),
  /** The ID of this watch session, in the first message. */
  SessionID: z.string().optional(),
  /** An error message from the backend. */
  ErrMessage: z.string().nullish(),
  /** Set (to an empty object) when an interactive login finished. */
  LoginFinished: z.looseObject({}).nullish(),
  /** The new backend state, as an index into `IPN_STATES`. */
  State: z.number().int().min(0).nullish(),
  /** The new prefs. */
  Prefs: PrefsSchema.nullish(),
  /** A URL to open in a browser (the interactive login URL). */
  BrowseToURL: z.string().nullish(),
  /** Our own node, when it changed. */
  SelfChange: NodeSchema.optional(),
  /** The status, when the watch asked for `InitialStatus`. */
  InitialStatus: StatusSchema.optional(),
});
/** `ipn.Notify`, one message of the IPN bus, as parsed by `NotifySchema`. */
export type Notify = z.output<typeof NotifySchema>;

/** `tailcfg.PingType`. */
export type PingType = 'disco' | 'TSMP' | 'ICMP' | 'peerapi';

/** `ipnstate.PingResult`. `Err` is non-empty when the ping failed (the request itself succeeded). */
export const PingResultSchema = z.looseObject({
  /** The IP pinged. */
  IP: str,
  /** The Tailscale IP of the node that answered. */
  NodeIP: str,
  /** The MagicDNS name of the node that answered. */
  NodeName: str,
  /** Why the ping failed, or empty. */
  Err: str,
  /** The round-trip time in seconds. */
  LatencySeconds: num,
  /** The `ip:port` of the direct path that answered, or empty (DERP). */
  Endpoint: str,
  /** The peer relay that carried the ping, or absent. */
  PeerRelay: z.string().optional(),
  /** The DERP region that carried the ping (0: direct). */
  DERPRegionID: num,
  /** The DERP region's code, e.g. `nyc`. */
  DERPRegionCode: str,
  /** The node's PeerAPI port (`peerapi` pings). */
  PeerAPIPort: z.number().int().optional(),
  /** The node's PeerAPI URL (`peerapi` pings). */
  PeerAPIURL: z.string().optional(),
  /** Whether the IP pinged is one of our own. */
  IsLocalIP: z.boolean().optional(),
});
/** `ipnstate.PingResult`, as parsed by `PingResultSchema`. */
export type PingResult = z.output<typeof PingResultSchema>;
