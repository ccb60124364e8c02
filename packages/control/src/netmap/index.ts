/** The netmap: an immutable value and the pure function that applies MapResponses to it. */
export { type ApplyOptions, applyMapResponse, flagExpiredPeers, nextKeyExpiry } from './apply.js';
export { EMPTY_NETMAP, type NetworkMap, peerByKey, peers } from './netmap.js';
export { DERP_MAGIC_IP, flagExpired, keyExpired, normalizeNode } from './node.js';
export { PeerTable } from './peer-table.js';
