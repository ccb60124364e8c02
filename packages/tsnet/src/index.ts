/**
 * tsnet: an embedded Tailscale node for Node.js.
 *
 * Today this exports the engine (issue 9): `TsnetNode` joins control, WireGuard, magicsock (disco
 * and DERP), the packet filter and netstack into a node real Tailscale peers reach. The public
 * `Server` API (issue 10) will stand on it.
 */
export {
  DiscoBox,
  type DiscoMessage,
  looksLikeDisco,
  parseMessage as parseDiscoMessage,
} from './disco/index.js';
export { Datapath, type DatapathCounters, TAILSCALE_MTU } from './engine/datapath.js';
export { TsnetNode, type TsnetNodeEvents, type TsnetNodeOptions } from './engine/node.js';
export {
  type FilterCounters,
  type FilterRuleInput,
  PacketFilter,
  type TsmpCounters,
  type Verdict,
} from './filter/index.js';
export { type NodeBackendOptions, nodeLocalBackend, TSNET_VERSION } from './local-backend.js';
export {
  type LocalEndpoint,
  type MagicPeer,
  Magicsock,
  type MagicsockCounters,
  type MagicsockOptions,
  type PeerPath,
} from './magicsock/index.js';
export { Server, type ServerOptions, splitHostPort } from './server.js';
