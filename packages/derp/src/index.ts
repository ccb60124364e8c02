/**
 * @tsnet/derp: the DERP relay protocol (Tailscale's Designated Encrypted Relay for Packets): the
 * frame codec (`wire/`), a server (`server/`), a client (`client/`) and DERP-map region handling
 * (`region/`). It relays opaque datagrams between Curve25519 node keys and knows nothing of
 * WireGuard or control. Start with README.md; the wire facts are in `wire/constants.ts`.
 */

export {
  DerpClient,
  type DerpClientCounters,
  type DerpClientEvents,
  type DerpClientOptions,
  type DerpClientState,
} from './client/client.js';
export {
  type DerpTlsOptions,
  type DialResult,
  type DialTarget,
  dialDerp,
  probeLatency,
  targetFromUrl,
} from './client/dial.js';
export {
  type ClientEvent,
  ClientProtocol,
  type ClientProtocolOptions,
  type ClientProtocolState,
} from './client/protocol.js';
export {
  type DerpMap,
  type DerpNode,
  type DerpRegion,
  type NodeDialOptions,
  nodeTarget,
  parseDerpMap,
} from './region/derp-map.js';
export {
  DerpRegionManager,
  type DerpRegionManagerEvents,
  type DerpRegionManagerOptions,
} from './region/manager.js';
export type { DerpServerCounters, DropReason } from './server/counters.js';
export { DROP_REASONS } from './server/counters.js';
export {
  type DerpAdmitRequest,
  type DerpListenOptions,
  DerpServer,
  type DerpServerOptions,
  generateMeshKey,
} from './server/server.js';
export { StunServer, type StunServerCounters } from './server/stun.js';
export { TokenBucket } from './token-bucket.js';
export {
  type ByteTransport,
  SocketTransport,
  type TransportHandlers,
  WebSocketTransport,
} from './transport.js';
export * from './wire/index.js';
export {
  parseStunBindingRequest,
  STUN_HEADER_LEN,
  STUN_MAGIC_COOKIE,
  stunBindingResponse,
} from './wire/stun.js';
