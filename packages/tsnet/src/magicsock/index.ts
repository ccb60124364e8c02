export * from './constants.js';
export { type DiscoPong, derpMagicAddr, type EndpointIO, PeerEndpoint, type PeerPath } from './endpoint.js';
export {
  type LocalEndpoint,
  type MagicPeer,
  Magicsock,
  type MagicsockCounters,
  type MagicsockEvents,
  type MagicsockOptions,
} from './magicsock.js';
export { isStunResponse, parseStunResponse, stunRequest } from './stun.js';
