/**
 * @tsnet/localapi: LocalAPI handlers and LocalClient: WhoIs, status, prefs; in-process or against a
 * real tailscaled.
 *
 * - ./types.ts: zod schemas of `WhoIsResponse`, `ipnstate.Status`, `ipn.Prefs`.
 * - ./capmap.ts: the WhoIs `CapMap` from the packet filter's CapGrant rules (pure).
 * - ./backend.ts: the `LocalBackend` seam a node implements; ./netmap-backend.ts builds WhoIs
 *   answers from a control `NetworkMap`.
 * - ./handler.ts + ./auth.ts: the `(req, res)` LocalAPI handler and its request checks.
 * - ./client.ts + ./transport.ts: `LocalClient` over a unix socket, the loopback listener, or in
 *   process.
 *
 * Read README.md first; wire facts cite tailscale v1.102.3 (protocol-map §9).
 */
export {
  basicAuthPassword,
  checkRequest,
  LOCAL_API_HOST,
  newLocalApiCredential,
  SEC_TAILSCALE_HEADER,
  SEC_TAILSCALE_VALUE,
  secretsEqual,
  validHost,
} from './auth.js';
export type { LocalBackend, NotifyMessage, WhoIsLookupOptions, WhoIsResult } from './backend.js';
export {
  type CapFilterRule,
  capsWithValues,
  PEER_CAPABILITY_INGRESS,
  type PeerCapsInput,
  peerCaps,
} from './capmap.js';
export {
  DEFAULT_TAILSCALED_SOCKET,
  type IpnBusWatcher,
  LocalClient,
  type LocalClientOptions,
  type LocalClientTarget,
  MAX_NOTIFY_BYTES,
  type WhoIsOptions,
} from './client.js';
export { AccessDeniedError, LocalApiConnectError, LocalApiError, PeerNotFoundError } from './errors.js';
export {
  createLocalApiHandler,
  LOCAL_API_CAPABILITY_VERSION,
  type LocalApiHandlerOptions,
  type LocalApiHandlerStats,
  type LocalApiRequestHandler,
  MAX_BODY_BYTES,
  MAX_DISCO_PING_SIZE,
} from './handler.js';
export { toGoJSON } from './json.js';
export { nodeByAddr, nodeByKey, whoIsInNetmap, whoIsResultFor } from './netmap-backend.js';
export {
  magicDNSSuffixOfNodeName,
  type NetmapStatusOptions,
  type PeerRuntime,
  statusFromNetmap,
} from './netmap-status.js';
export {
  httpTransport,
  inProcessTransport,
  type LocalRequest,
  type LocalResponse,
  type LocalStreamResponse,
  type LocalTransport,
  MAX_RESPONSE_BYTES,
  unixSocketTransport,
} from './transport.js';
export * from './types.js';
