/**
 * DERP wire constants, with the byte layout of every frame next to its type. Source:
 * tailscale/tailscale `derp/derp.go` (v1.102.3); see also `../../../shared/reference/protocol-map.md` §5.
 *
 * Every frame on the stream, in both directions:
 *
 * ```
 * frame = type (1 byte) ‖ length (4 bytes, big-endian u32, not counting these 5) ‖ payload (length bytes)
 * ```
 *
 * Read `frames.ts` for the parsed forms and `reader.ts` for the incremental stream reader.
 */

/** `Magic`: "DERP🔑", the first 8 bytes of a ServerKey payload: `44 45 52 50 f0 9f 94 91`. */
export const DERP_MAGIC: Uint8Array = new Uint8Array([0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91]);

/** `ProtocolVersion`: 2 = RecvPacket frames start with the source key. */
export const PROTOCOL_VERSION = 2;

/** `KeyLen`: a Curve25519 public key on the wire. */
export const KEY_LEN = 32;
/** `NonceLen`: the NaCl box nonce that prefixes ClientInfo and ServerInfo boxes. */
export const NONCE_LEN = 24;
/** `FrameHeaderLen`: type byte + u32 length. */
export const FRAME_HEADER_LEN = 5;

/** `MaxPacketSize`: the largest packet a SendPacket/RecvPacket carries (bytes after the key). */
export const MAX_PACKET_SIZE = 64 << 10;
/** `MaxInfoLen`: the largest JSON box in ServerInfo; also the largest frame a client accepts. */
export const MAX_INFO_LEN = 1 << 20;
/** The largest frame any reader here accepts: Go's client refuses frames above 1 MiB. */
export const MAX_FRAME_LEN = 1 << 20;
/** The largest ClientInfo frame a server reads (`derpserver.recvClientKey`: 256 KiB). */
export const MAX_CLIENT_INFO_LEN = 256 << 10;
/** The largest Ping payload a server accepts (`handleFramePing`: 1000 bytes, 8 used). */
export const MAX_PING_LEN = 1000;
/** Ping and Pong payloads: 8 opaque bytes. */
export const PING_DATA_LEN = 8;

/** `KeepAlive`: the server sends a KeepAlive at least this often (plus 0–5 s jitter). */
export const KEEP_ALIVE_MS = 60_000;
/** Jitter the Go server adds to the keep-alive period (`rand.N(5 * time.Second)`). */
export const KEEP_ALIVE_JITTER_MS = 5_000;
/** How long a server waits for the ClientInfo frame (`derpserver.accept`: 10 s deadline). */
export const CLIENT_INFO_TIMEOUT_MS = 10_000;
/** How long a Go client waits for any frame before declaring the connection dead (`Recv`: 120 s). */
export const CLIENT_READ_TIMEOUT_MS = 120_000;

/**
 * Frame types (`derp.FrameType`) and their payloads.
 *
 * | hex | name | direction | payload |
 * |---|---|---|---|
 * | 01 | ServerKey | S→C | magic (8) ‖ server public key (32) ‖ future use (0+, ignored) |
 * | 02 | ClientInfo | C→S | client public key (32) ‖ nonce (24) ‖ naclbox(JSON ClientInfo) |
 * | 03 | ServerInfo | S→C | nonce (24) ‖ naclbox(JSON ServerInfo) |
 * | 04 | SendPacket | C→S | destination key (32) ‖ packet |
 * | 05 | RecvPacket | S→C | source key (32) ‖ packet (v2; v0/1 had no key) |
 * | 06 | KeepAlive | S→C | empty |
 * | 07 | NotePreferred | C→S | 1 byte: 0x01 this is my home region, 0x00 not |
 * | 08 | PeerGone | S→C | peer key (32) ‖ reason (1, optional; absent = Disconnected) |
 * | 09 | PeerPresent | S→C | peer key (32) ‖ [IPv6 or v4-mapped (16) ‖ port BE (2) ‖ [flags (1)]] |
 * | 0a | ForwardPacket | mesh→S | source key (32) ‖ destination key (32) ‖ packet |
 * | 10 | WatchConns | mesh→S | empty |
 * | 11 | ClosePeer | mesh→S | peer key (32) |
 * | 12 | Ping | either | 8 bytes (a server accepts up to 1000 and uses the first 8) |
 * | 13 | Pong | either | the 8 bytes of the Ping answered |
 * | 14 | Health | S→C | UTF-8 problem text; empty = healthy again |
 * | 15 | Restarting | S→C | reconnect-in ms (u32 BE) ‖ try-for ms (u32 BE) |
 */
export const FRAME_TYPE = {
  /** `FrameServerKey`: the server's first frame, magic and its key. */
  ServerKey: 0x01,
  /** `FrameClientInfo`: the client's first frame, its key and sealed ClientInfo JSON. */
  ClientInfo: 0x02,
  /** `FrameServerInfo`: sent once the server has registered the client; sealed ServerInfo JSON. */
  ServerInfo: 0x03,
  /** `FrameSendPacket`: a client asks the server to relay a packet to a key. */
  SendPacket: 0x04,
  /** `FrameRecvPacket`: the server delivers a relayed packet, with its source key. */
  RecvPacket: 0x05,
  /** `FrameKeepAlive`: the server's periodic no-op (every `KEEP_ALIVE_MS` plus jitter). */
  KeepAlive: 0x06,
  /** `FrameNotePreferred`: the client says whether this server is its home. */
  NotePreferred: 0x07,
  /** `FramePeerGone`: a peer this client heard from left, or a destination is not here. */
  PeerGone: 0x08,
  /** `FramePeerPresent`: to mesh watchers, a client connected (with its address and flags). */
  PeerPresent: 0x09,
  /** `FrameForwardPacket`: a mesh peer hands over a packet for a client connected here. */
  ForwardPacket: 0x0a,
  /** `FrameWatchConns`: a mesh client subscribes to PeerPresent/PeerGone for all clients. */
  WatchConns: 0x10,
  /** `FrameClosePeer`: a mesh client asks the server to close a peer's connections. */
  ClosePeer: 0x11,
  /** `FramePing`: 8 bytes to echo in a Pong; either side may send it. */
  Ping: 0x12,
  /** `FramePong`: the answer to a Ping, with its 8 bytes. */
  Pong: 0x13,
  /** `FrameHealth`: the server reports a problem with this connection (empty text clears it). */
  Health: 0x14,
  /** `FrameRestarting`: the server is restarting; when to reconnect and for how long to try. */
  Restarting: 0x15,
} as const;

/** A frame type's name, the key of `FRAME_TYPE` (Go's `FrameType` constant without `Frame`). */
export type FrameTypeName = keyof typeof FRAME_TYPE;

/** The name of a known frame type byte, or `undefined`. */
export function frameTypeName(type: number): FrameTypeName | undefined {
  return FRAME_TYPE_NAMES[type];
}

const FRAME_TYPE_NAMES: Partial<Record<number, FrameTypeName>> = Object.fromEntries(
  Object.entries(FRAME_TYPE).map(([name, value]) => [value, name as FrameTypeName]),
);

/** `PeerGoneReasonType`: why a PeerGone frame was sent. */
export const PEER_GONE_REASON = {
  /** The peer disconnected from this server (sent to those it had sent packets to). */
  Disconnected: 0x00,
  /** The server has no such peer (in reply to a disco packet for an unknown destination). */
  NotHere: 0x01,
  /** Invented by Go's mesh watcher on disconnect; never sent on the wire. */
  MeshConnBroke: 0xf0,
} as const;

/** `PeerPresentFlags` bits. A modern server always sends a non-zero value. */
export const PEER_PRESENT_FLAGS = {
  /** `PeerPresentIsRegular`: an ordinary client (set when no other bit applies). */
  IsRegular: 1 << 0,
  /** `PeerPresentIsMeshPeer`: the client presented the mesh key (another server of the region). */
  IsMeshPeer: 1 << 1,
  /** `PeerPresentIsProber`: the client said `IsProber` in its ClientInfo. */
  IsProber: 1 << 2,
  /** The client said this server is not its region's first (ideal) node. */
  NotIdeal: 1 << 3,
} as const;

/** Request header naming the region's ideal node when the client connects to another one. */
export const IDEAL_NODE_HEADER = 'Ideal-Node';
/** Request header (`1`) asking the server to skip the 101 response (meta-cert fast start). */
export const FAST_START_HEADER = 'Derp-Fast-Start';
/** Response header with the protocol version. */
export const DERP_VERSION_HEADER = 'Derp-Version';
/** Response header with the server's public key as 64 hex digits (untyped). */
export const DERP_PUBLIC_KEY_HEADER = 'Derp-Public-Key';
/** The WebSocket subprotocol of DERP-over-WebSocket: binary messages carry the same byte stream. */
export const WEBSOCKET_SUBPROTOCOL = 'derp';

/** Disco's magic ("TS💬"), which the server recognises to prioritise disco and answer NotHere. */
export const DISCO_MAGIC: Uint8Array = new Uint8Array([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
/** A disco packet is at least magic (6) ‖ sender disco key (32) ‖ nonce (24) (`disco.LooksLikeDiscoWrapper`). */
export const DISCO_MIN_LEN = DISCO_MAGIC.length + KEY_LEN + NONCE_LEN;

/** Whether `packet` starts like a disco message (`disco.LooksLikeDiscoWrapper`). */
export function looksLikeDisco(packet: Uint8Array): boolean {
  if (packet.length < DISCO_MIN_LEN) return false;
  for (let i = 0; i < DISCO_MAGIC.length; i++) if (packet[i] !== DISCO_MAGIC[i]) return false;
  return true;
}
