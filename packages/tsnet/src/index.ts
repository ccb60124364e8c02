/**
 * tsnet: an embedded Tailscale node for Node.js.
 *
 * `Server` is the public API (Go's `tsnet.Server`): listen and dial on the tailnet, state in a
 * directory or a store, Go's auth precedence, the LocalAPI in process. `TsnetNode` is the engine
 * under it (control, WireGuard, magicsock with disco and DERP, the packet filter, netstack).
 */
export {
  DiscoBox,
  type DiscoMessage,
  looksLikeDisco,
  type OpenedDisco,
  parseMessage as parseDiscoMessage,
} from './disco/index.js';
export { Datapath, type DatapathCounters, TAILSCALE_MTU } from './engine/datapath.js';
export { TsnetNode, type TsnetNodeEvents, type TsnetNodeOptions } from './engine/node.js';
export * from './extras.js';
export {
  type FilterCapGrant,
  type FilterCounters,
  type FilterDstPorts,
  type FilterRuleInput,
  PacketFilter,
  type TsmpCounters,
  type Verdict,
} from './filter/index.js';
export { type NodeBackendOptions, nodeLocalBackend, TSNET_VERSION } from './local-backend.js';
export {
  type DiscoPong,
  type LocalEndpoint,
  type MagicPeer,
  Magicsock,
  type MagicsockCounters,
  type MagicsockOptions,
  type PeerPath,
} from './magicsock/index.js';
export {
  DEFAULT_CONTROL_URL,
  defaultStateDir,
  programName,
  ServerOptionError,
  type ServerOptions,
  userConfigDir,
} from './options.js';
export {
  type DialOptions,
  type HostPort,
  type LoopbackInfo,
  Server,
  ServerError,
  type ServerEvents,
  type StateInfo,
  splitHostPort,
  type TailscaleIPs,
  type TcpNetwork,
  type UdpNetwork,
  type UpOptions,
} from './server.js';
export { type LoadedState, loadState, type Profile, type StoredUser } from './state/profile.js';
export { FileStore, MemoryStore, type StateStore, StateStoreError, writeFileAtomic } from './state/store.js';
export {
  MAX_UDP_FLOWS,
  UdpConn,
  UdpListener,
  type UdpListenerCounters,
  type UdpListenerEvents,
} from './udp.js';
