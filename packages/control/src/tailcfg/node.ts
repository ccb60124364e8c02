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
  /** The user's ID (`tailcfg.UserID`), unique within the control server. */
  ID: goID,
  /** The user's name for display, e.g. `Alice Smith`. */
  DisplayName: z.string().optional(),
  /** URL of the user's picture, or absent. */
  ProfilePicURL: z.string().optional(),
  /** When the user was created. */
  Created: goTime.optional(),
});
/** A `tailcfg.User`, as parsed by `UserSchema`. */
export type User = z.output<typeof UserSchema>;

/** `tailcfg.Login`. */
export const LoginSchema = z.object({
  /** The login's ID (`tailcfg.LoginID`). */
  ID: goID.optional(),
  /** The identity provider, e.g. `github` or `google`. */
  Provider: z.string().optional(),
  /** The login name, e.g. `alice@example.com`. */
  LoginName: z.string().optional(),
  /** The name for display. */
  DisplayName: z.string().optional(),
  /** URL of the login's picture, or absent. */
  ProfilePicURL: z.string().optional(),
});
/** A `tailcfg.Login`, as parsed by `LoginSchema`. */
export type Login = z.output<typeof LoginSchema>;

/** `tailcfg.UserProfile`. */
export const UserProfileSchema = z.object({
  /** The user's ID (`tailcfg.UserID`); netmap nodes refer to it in `Node.User`. */
  ID: goID,
  /**
   * The login name (`alice@example.com`); `tagged-devices` for the owner of tagged nodes. What WhoIs greets
   * by.
   */
  LoginName: z.string().optional(),
  /** The name for display. */
  DisplayName: z.string().optional(),
  /** URL of the user's picture, or absent. */
  ProfilePicURL: z.string().optional(),
  /** Groups the user belongs to (Go sends them only to some clients; usually empty). */
  Groups: goSlice(z.string()),
});
/** A `tailcfg.UserProfile`, as parsed by `UserProfileSchema`. */
export type UserProfile = z.output<typeof UserProfileSchema>;

/** `tailcfg.Service`: `Proto` is `tcp`, `udp`, `peerapi4`, `peerapi6`, `peerapi-dns-proxy`... */
export const ServiceSchema = z.object({
  /** The protocol: `tcp`, `udp`, `peerapi4`, `peerapi6` or `peerapi-dns-proxy`. */
  Proto: z.string(),
  /** The port the service listens on (0 for `peerapi-dns-proxy`). */
  Port: z.number().int().min(0).max(65535),
  /** What the service is, as the OS reports it (for example the process name). */
  Description: z.string().optional(),
});
/** A `tailcfg.Service`, as parsed by `ServiceSchema`. */
export type Service = z.output<typeof ServiceSchema>;

/** `tailcfg.Location`. */
export const LocationSchema = z.object({
  /** The country's name, e.g. `Canada`. */
  Country: z.string().optional(),
  /** ISO 3166-1 alpha-2 country code, e.g. `CA`. */
  CountryCode: z.string().optional(),
  /** The city's name, e.g. `Montreal`. */
  City: z.string().optional(),
  /** A short code for the city (an airport code or similar), e.g. `YUL`. */
  CityCode: z.string().optional(),
  /** Latitude in degrees. */
  Latitude: z.number().optional(),
  /** Longitude in degrees. */
  Longitude: z.number().optional(),
  /**
   * Preference among exit nodes in the same location: higher is preferred; 0 means "do not use
   * automatically".
   */
  Priority: goInt.optional(),
});
/** A `tailcfg.Location`, as parsed by `LocationSchema`. */
export type Location = z.output<typeof LocationSchema>;

/** `tailcfg.NetInfo`: `PreferredDERP` is the home DERP region headscale turns into `Node.HomeDERP`. */
export const NetInfoSchema = z.object({
  /** Whether the NAT maps one local port to different public ports per destination (a "hard" NAT). */
  MappingVariesByDestIP: optBool,
  /** Whether IPv6 to the internet works. */
  WorkingIPv6: optBool,
  /** Whether the OS supports IPv6 at all. */
  OSHasIPv6: optBool,
  /** Whether UDP to the internet works. */
  WorkingUDP: optBool,
  /** Whether ICMPv4 to the internet works. */
  WorkingICMPv4: optBool,
  /**
   * Whether the node found a port-mapping service (UPnP, NAT-PMP or PCP) on its gateway. Deprecated in Go.
   */
  HavePortMap: z.boolean().optional(),
  /** Whether UPnP is present on the LAN. */
  UPnP: optBool,
  /** Whether NAT-PMP is present on the LAN. */
  PMP: optBool,
  /** Whether PCP is present on the LAN. */
  PCP: optBool,
  /** The node's preferred (home) DERP region ID, by measured latency; 0 for none. */
  PreferredDERP: goInt.optional(),
  /** The link type: `wired`, `wifi` or `mobile` (empty when unknown). */
  LinkType: z.string().optional(),
  /** Latency to each DERP region in seconds, keyed `"<regionID>-v4"` / `"<regionID>-v6"`. */
  DERPLatency: goMap(z.number()),
  /** The firewall mode in use on Linux (`iptables` or `nftables`), or empty. */
  FirewallMode: z.string().optional(),
});
/** A `tailcfg.NetInfo`, as parsed by `NetInfoSchema`. */
export type NetInfo = z.output<typeof NetInfoSchema>;

/** `tailcfg.Hostinfo` (the fields a node sends or a peer shows; others are dropped). */
export const HostinfoSchema = z.object({
  /** Deprecated in Go: the IPN version, superseded by the client version fields. */
  IPNVersion: z.string().optional(),
  /** The log ID of the node's frontend (the GUI or CLI), for Tailscale's support. */
  FrontendLogID: z.string().optional(),
  /** The log ID of the node's backend, for Tailscale's support. */
  BackendLogID: z.string().optional(),
  /** The operating system: `linux`, `windows`, `macOS`, `iOS`, `android`, `freebsd`… */
  OS: z.string().optional(),
  /** The OS version, e.g. the kernel version on Linux. */
  OSVersion: z.string().optional(),
  /** Whether the node runs in a container. */
  Container: optBool,
  /** The environment it runs in (`kn` for Knative, `aws-lambda`, `az-func`, `k8s`…), or empty. */
  Env: z.string().optional(),
  /** The Linux distribution, e.g. `debian`. */
  Distro: z.string().optional(),
  /** The distribution's version, e.g. `12`. */
  DistroVersion: z.string().optional(),
  /** The distribution's code name, e.g. `bookworm`. */
  DistroCodeName: z.string().optional(),
  /** The app embedding the node, e.g. `tsnet` or a user-set app name. */
  App: z.string().optional(),
  /** Whether the node has a desktop environment. */
  Desktop: optBool,
  /** How Tailscale was packaged or installed, e.g. `choco` or `appstore`. */
  Package: z.string().optional(),
  /** The device model, e.g. a phone's model name. */
  DeviceModel: z.string().optional(),
  /** The node's host name: the name it asks to be known by on the tailnet. */
  Hostname: z.string().optional(),
  /** Whether the node refuses all incoming connections (`tailscale up --shields-up`). */
  ShieldsUp: z.boolean().optional(),
  /** Whether the node was shared into this tailnet from another one. */
  ShareeNode: z.boolean().optional(),
  /** Whether the node opted out of logging (and so of support). */
  NoLogsNoSupport: z.boolean().optional(),
  /** Whether the node wants to receive Funnel traffic (some `Funnel` serve config exists). */
  WireIngress: z.boolean().optional(),
  /** Whether Funnel is enabled on the node. */
  IngressEnabled: z.boolean().optional(),
  /** Whether the node allows remote updates of Tailscale. */
  AllowsUpdate: z.boolean().optional(),
  /** The machine type, `uname -m`, e.g. `x86_64`. */
  Machine: z.string().optional(),
  /** Go's `GOARCH` of the Tailscale build. */
  GoArch: z.string().optional(),
  /** The `GOARM`, `GOAMD64`… variant of the build, or empty. */
  GoArchVar: z.string().optional(),
  /** The Go version the node was built with. */
  GoVersion: z.string().optional(),
  /** Subnet routes (and exit-node default routes) the node offers to the tailnet. */
  RoutableIPs: goSlice(ipPrefix),
  /** ACL tags the node asks for (`tag:server`); control grants those the auth key or policy allows. */
  RequestTags: goSlice(z.string()),
  /** MAC addresses to send Wake-on-LAN packets to, or empty. */
  WoLMACs: goSlice(z.string()),
  /** Services the node listens on (peerapi and, with service collection on, its open ports). */
  Services: goSlice(ServiceSchema),
  /** What the node knows about its network (NAT type, home DERP region, latencies), or absent. */
  NetInfo: NetInfoSchema.nullish().transform((v) => v ?? undefined),
  /** The node's SSH host keys, for Tailscale SSH's known hosts (this JSON name is lower case in Go too). */
  sshHostKeys: goSlice(z.string()),
  /** The cloud provider the node runs in (`aws`, `gcp`, `azure`…), or empty. */
  Cloud: z.string().optional(),
  /** Whether the node runs a userspace network stack (`--tun=userspace-networking`; tsnet does). */
  Userspace: optBool,
  /** Whether the node routes subnet traffic in userspace. */
  UserspaceRouter: optBool,
  /** Whether the node runs as an app connector. */
  AppConnector: optBool,
  /** A hash of the node's advertised Tailscale Services, or empty. */
  ServicesHash: z.string().optional(),
  /** Whether the node offers itself as a peer relay. */
  PeerRelay: z.boolean().optional(),
  /** The stable ID of the exit node the node uses, or empty. */
  ExitNodeID: z.string().optional(),
  /** Where the node is, for exit nodes that show a location; absent for most nodes. */
  Location: LocationSchema.nullish().transform((v) => v ?? undefined),
  /** Whether the node's state file is encrypted at rest. */
  StateEncrypted: optBool,
});
/** A `tailcfg.Hostinfo`, as parsed by `HostinfoSchema`. */
export type Hostinfo = z.output<typeof HostinfoSchema>;

/** `tailcfg.NodeCapMap` / `PeerCapMap`: capability name → list of raw JSON values (or null). */
export const CapMapSchema = goMap(
  z
    .array(z.unknown())
    .nullable()
    .transform((v) => v ?? []),
);
/** Node capabilities (`tailcfg.NodeCapMap` / `PeerCapMap`): capability name → its JSON values. */
export type CapMap = Record<string, unknown[]>;

/**
 * `tailcfg.Node`: the self node and each peer. `AllowedIPs` absent means "same as Addresses"
 * (capver 112); `HomeDERP` may come in the legacy form `"DERP": "127.3.3.40:<region>"`. The netmap
 * normalises both (see `normalizeNode` in `../netmap/node.ts`).
 */
export const NodeSchema = z.object({
  /** The node's ID (`tailcfg.NodeID`), unique within the control server. */
  ID: goID,
  /** The node's stable ID (`tailcfg.StableNodeID`): survives key rotation; what the LocalAPI calls `ID`. */
  StableID: z.string().optional(),
  /** The node's MagicDNS name, fully qualified with a trailing dot: `host.tailnet.ts.net.` */
  Name: z.string().optional(),
  /** The ID of the user who owns the node (a `UserProfile` in the netmap). */
  User: goID.optional(),
  /** The ID of the user who shared the node into this tailnet, for shared nodes. */
  Sharer: goID.optional(),
  /** The node's WireGuard public key. */
  Key: nodePublic,
  /** When the node key expires (Go's zero time: never). */
  KeyExpiry: goTime.optional(),
  /** The node key's signature by a Tailnet Lock key, or absent. */
  KeySignature: z.string().nullish(),
  /** The node's machine public key (absent for peers when control hides it). */
  Machine: machinePublic.optional(),
  /** The node's disco public key, for path discovery (`TS💬` messages). */
  DiscoKey: discoPublic.optional(),
  /** The node's Tailscale addresses, as /32 and /128 prefixes. */
  Addresses: goSlice(ipPrefix),
  /** The prefixes the node may send from and that route to it (absent: the same as `Addresses`). */
  AllowedIPs: goSlice(ipPrefix),
  /** UDP `ip:port` endpoints where the node may be reached directly. */
  Endpoints: goSlice(addrPort),
  /** Legacy home DERP: `"127.3.3.40:<regionID>"` (`HomeDERP` replaces it). */
  DERP: z.string().optional(),
  /** The node's home DERP region ID (0: none). */
  HomeDERP: goInt.optional(),
  /** What the node reported about itself (OS, host name, services…), or absent. */
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  /** When the node was first registered. */
  Created: goTime.optional(),
  /** The node's capability version (`tailcfg.CapabilityVersion`) as it last reported it. */
  Cap: goInt.optional(),
  /** The node's ACL tags; a tagged node is owned by `tagged-devices`. */
  Tags: goSlice(z.string()),
  /** The subnet routes this node is the primary router for. */
  PrimaryRoutes: goSlice(ipPrefix),
  /** When the node was last seen online (absent: unknown or online now). */
  LastSeen: goTime.nullish().transform((v) => v ?? undefined),
  /** Whether the node is connected to control now (absent: unknown). */
  Online: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
  /** Whether the node is authorized on the tailnet (device approval). */
  MachineAuthorized: z.boolean().optional(),
  /** Deprecated capabilities (a list of names); `CapMap` replaces them. */
  Capabilities: goSlice(z.string()),
  /** The node's capabilities and their values (`tailcfg.NodeCapMap`). */
  CapMap: CapMapSchema,
  /** Whether this peer may only reach our PeerAPI, unsigned by Tailnet Lock. */
  UnsignedPeerAPIOnly: z.boolean().optional(),
  /** The node's short MagicDNS name, computed from its host name by control or the netmap. */
  ComputedName: z.string().optional(),
  /** `ComputedName` with the host name in parentheses when they differ, for display. */
  ComputedNameWithHost: z.string().optional(),
  /** The node's ID for data-plane audit logs, or empty. */
  DataPlaneAuditLogID: z.string().optional(),
  /** Whether the node's key has expired: its `Key` is no longer valid and peers drop it. */
  Expired: z.boolean().optional(),
  /** The IPv4 address this peer expects us to use as our source when talking to it (masquerading). */
  SelfNodeV4MasqAddrForThisPeer: ipAddr.nullish().transform((v) => v ?? undefined),
  /** The IPv6 address this peer expects us to use as our source when talking to it (masquerading). */
  SelfNodeV6MasqAddrForThisPeer: ipAddr.nullish().transform((v) => v ?? undefined),
  /** Whether the peer is a plain WireGuard peer (no disco, no DERP), for example a Mullvad exit node. */
  IsWireGuardOnly: z.boolean().optional(),
  /** Whether the peer is jailed: it may not start connections to us. */
  IsJailed: z.boolean().optional(),
});
/** A `tailcfg.Node`, as parsed by `NodeSchema`. */
export type Node = z.output<typeof NodeSchema>;
