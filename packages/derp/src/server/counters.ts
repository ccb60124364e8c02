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

/** Every `DropReason`, in a fixed order: the keys of `DerpServerCounters.dropsByReason`. */
export const DROP_REASONS: readonly DropReason[] = [
  'unknown_dest',
  'unknown_dest_on_fwd',
  'gone_disconnected',
  'queue_head',
  'dup_client',
  'write_error',
];

/**
 * What a `DerpServer` has done since it was created. Packet counters count relayed packets (not
 * frames) and bytes of packet payload (no header, no keys); `current*` and `duplicateClientKeys`
 * are gauges.
 */
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
  /** Of `accepts`, those that came as a WebSocket (Go's `derp_websocket_accepts`). */
  websocketAccepts: number;
  /** SendPacket frames from clients (`packets_received`); forwarded packets are not counted here. */
  packetsReceived: number;
  /** Their packet bytes (`bytes_received`). */
  bytesReceived: number;
  /** Of `packetsReceived`, disco packets (starting with the disco magic). */
  packetsReceivedDisco: number;
  /** Of `packetsReceived`, all the others (WireGuard). */
  packetsReceivedOther: number;
  /** RecvPacket frames written to clients (`packets_sent`). */
  packetsSent: number;
  /** Their packet bytes (`bytes_sent`). */
  bytesSent: number;
  /** ForwardPacket frames from mesh peers (`packets_forwarded_in`), delivered or not. */
  packetsForwardedIn: number;
  /** Packets handed to a mesh peer (ForwardPacket) for a client connected there. */
  packetsForwardedOut: number;
  /** Packets not delivered, for any `DropReason` (`packets_dropped`). */
  packetsDropped: number;
  /** Their packet bytes. */
  bytesDropped: number;
  /** `packetsDropped` by reason (`counter_packets_dropped_reason`). */
  dropsByReason: Record<DropReason, number>;
  /** PeerGone(Disconnected) frames queued: a client left, told to those it had sent to. */
  peerGoneDisconnectedFrames: number;
  /** PeerGone(NotHere) frames queued: replies to disco packets for an absent key (≤ 1/s per client). */
  peerGoneNotHereFrames: number;
  /** Ping frames from clients (`got_ping`). */
  pingsReceived: number;
  /** Pongs queued in reply; pings faster than the replies are ignored (`sent_pong`). */
  pongsSent: number;
  /** KeepAlive frames queued (one per client every `keepAliveMs` plus 0–5 s jitter). */
  keepAlivesSent: number;
  /** Skipped client frames: unknown types, or types only a server sends (`unknown_frames`). */
  unknownFrames: number;
  /** Frames dropped by a full control queue: PeerGone, PeerPresent, KeepAlive, Health, Restarting. */
  controlFramesDropped: number;
  /** Times a client's reading was paused by the per-client rate limit. */
  rateLimitWaits: number;
  /** NotePreferred(true) from a client connected for over 5 s: a home moved here (`home_moves_in`). */
  homeMovesIn: number;
  /** NotePreferred(false) from such a client that had said true: a home moved away (`home_moves_out`). */
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
