/**
 * The server's counters: a plain object, readable at any time (`DerpServer.counters`), named after
 * the expvars of tailscale `derp/derpserver/derpserver.go` where there is one.
 */

/** Why a packet was dropped (`derpserver.dropReason`). */
export type DropReason =
  /** No client with the destination key is connected. */
  | 'unknown_dest'
  /** A ForwardPacket from a mesh peer named a destination not connected here. */
  | 'unknown_dest_on_fwd'
  /** The destination disconnected with the packet still queued. */
  | 'gone_disconnected'
  /** The destination's queue was full: the oldest packet was dropped to make room. */
  | 'queue_head'
  /** The destination key is connected more than once and no connection is active. */
  | 'dup_client'
  /** The destination's transport failed while writing. */
  | 'write_error';

export const DROP_REASONS: readonly DropReason[] = [
  'unknown_dest',
  'unknown_dest_on_fwd',
  'gone_disconnected',
  'queue_head',
  'dup_client',
  'write_error',
];

export interface DerpServerCounters {
  /** Connections accepted (after the HTTP upgrade, before the handshake). */
  accepts: number;
  /** Clients registered right now (connections, including duplicates). */
  currentClients: number;
  /** Clients that said NotePreferred(true). */
  currentHomeClients: number;
  /** Distinct keys connected more than once right now. */
  duplicateClientKeys: number;
  /** Connections that failed the handshake (no, late, or unopenable ClientInfo). */
  handshakeFailures: number;
  /** Connections refused by the admission hook. */
  admissionRefused: number;
  /** Connections closed for a protocol violation (a frame Go's server would also reject). */
  protocolErrors: number;
  /** Connections closed because the peer did not read for `writeTimeoutMs`. */
  writeTimeouts: number;
  websocketAccepts: number;
  packetsReceived: number;
  bytesReceived: number;
  packetsReceivedDisco: number;
  packetsReceivedOther: number;
  packetsSent: number;
  bytesSent: number;
  packetsForwardedIn: number;
  /** Packets handed to a mesh peer (ForwardPacket) for a client connected there. */
  packetsForwardedOut: number;
  packetsDropped: number;
  bytesDropped: number;
  dropsByReason: Record<DropReason, number>;
  peerGoneDisconnectedFrames: number;
  peerGoneNotHereFrames: number;
  pingsReceived: number;
  pongsSent: number;
  keepAlivesSent: number;
  unknownFrames: number;
  /** Frames dropped from a full control queue (pongs, peer-gone notices, mesh updates). */
  controlFramesDropped: number;
  /** Times a client's reading was paused by the per-client rate limit. */
  rateLimitWaits: number;
  homeMovesIn: number;
  homeMovesOut: number;
}

export function newServerCounters(): DerpServerCounters {
  return {
    accepts: 0,
    currentClients: 0,
    currentHomeClients: 0,
    duplicateClientKeys: 0,
    handshakeFailures: 0,
    admissionRefused: 0,
    protocolErrors: 0,
    writeTimeouts: 0,
    websocketAccepts: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    packetsReceivedDisco: 0,
    packetsReceivedOther: 0,
    packetsSent: 0,
    bytesSent: 0,
    packetsForwardedIn: 0,
    packetsForwardedOut: 0,
    packetsDropped: 0,
    bytesDropped: 0,
    dropsByReason: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    peerGoneDisconnectedFrames: 0,
    peerGoneNotHereFrames: 0,
    pingsReceived: 0,
    pongsSent: 0,
    keepAlivesSent: 0,
    unknownFrames: 0,
    controlFramesDropped: 0,
    rateLimitWaits: 0,
    homeMovesIn: 0,
    homeMovesOut: 0,
  };
}
