/**
 * DERP frames as values: `parseFrame` turns a frame's type and payload into a `DerpFrame`, and
 * `emitFrame` does the reverse. Layouts: `constants.ts`; source: tailscale `derp/derp.go`,
 * `derp/derp_client.go` (`recvTimeout`: what a client accepts) and `derp/derpserver/derpserver.go`
 * (the `handleFrame*` methods: what a server accepts).
 *
 * Parsing never throws: a payload that is too short or otherwise impossible becomes an `Invalid`
 * frame with a reason, which the caller counts and drops (or, where Go closes the connection,
 * closes it). Keys and packets in a parsed frame are `subarray` views of the payload: they alias
 * the reader's memory and are only valid until the next read (copy what you keep).
 *
 * The hot-path encoders (`encodeSendPacket`, `encodeRecvPacket`) write header, key and packet into
 * one buffer, so a relayed packet is copied exactly once.
 */

import {
  DERP_MAGIC,
  FRAME_HEADER_LEN,
  FRAME_TYPE,
  type FrameTypeName,
  frameTypeName,
  KEY_LEN,
  MAX_PACKET_SIZE,
  NONCE_LEN,
  PING_DATA_LEN,
} from './constants.js';

/** A parsed frame. Byte fields alias the payload they were parsed from. */
export type DerpFrame =
  | {
      /** Server → client, first: the magic and the server's key. */
      type: 'ServerKey';
      /** The server's 32-byte public key. */
      serverKey: Uint8Array;
    }
  | {
      /** Client → server, first: the client's key and its sealed ClientInfo JSON. */
      type: 'ClientInfo';
      /** The client's 32-byte public key. */
      clientKey: Uint8Array;
      /** The NaCl box of the ClientInfo JSON (nonce first). */
      sealed: Uint8Array;
    }
  | {
      /** Server → client, once the client is registered: the sealed ServerInfo JSON. */
      type: 'ServerInfo';
      /** The NaCl box of the ServerInfo JSON (nonce first). */
      sealed: Uint8Array;
    }
  | {
      /** Client → server: relay a packet to a peer. */
      type: 'SendPacket';
      /** The destination's 32-byte public key. */
      dst: Uint8Array;
      /** The packet. */
      packet: Uint8Array;
    }
  | {
      /** Server → client: a packet relayed from a peer. */
      type: 'RecvPacket';
      /** The sender's 32-byte public key. */
      src: Uint8Array;
      /** The packet. */
      packet: Uint8Array;
    }
  | {
      /** Server → client: no payload; the connection is alive. */
      type: 'KeepAlive';
    }
  | {
      /** Client → server: whether this is the client's home server. */
      type: 'NotePreferred';
      /** True for the home server. */
      preferred: boolean;
    }
  | {
      /** Server → client: a peer this client heard from left, or a destination is not here. */
      type: 'PeerGone';
      /** The peer's 32-byte public key. */
      peer: Uint8Array;
      /** 0 disconnected, 1 not here (`PEER_GONE_REASON`). */
      reason: number;
    }
  | PeerPresentFrame
  | {
      /** Mesh server → server: a packet forwarded between servers of a region. */
      type: 'ForwardPacket';
      /** The sender's 32-byte public key. */
      src: Uint8Array;
      /** The destination's 32-byte public key. */
      dst: Uint8Array;
      /** The packet. */
      packet: Uint8Array;
    }
  | {
      /** Mesh client → server: send PeerPresent/PeerGone for every client (needs the mesh key). */
      type: 'WatchConns';
    }
  | {
      /** Mesh client → server: close every connection of a peer (needs the mesh key). */
      type: 'ClosePeer';
      /** The peer's 32-byte public key. */
      peer: Uint8Array;
    }
  | {
      /** Either way: echo `data` in a Pong. */
      type: 'Ping';
      /** 8 bytes. */
      data: Uint8Array;
    }
  | {
      /** Either way: the answer to a Ping. */
      type: 'Pong';
      /** The 8 bytes of the Ping. */
      data: Uint8Array;
    }
  | {
      /** Server → client: a problem with the connection (empty text: none). */
      type: 'Health';
      /** The problem, as text. */
      problem: string;
    }
  | {
      /** Server → client: the server is restarting. */
      type: 'Restarting';
      /** Wait this long before reconnecting. */
      reconnectInMs: number;
      /** Keep trying for this long. */
      tryForMs: number;
    }
  | {
      /** A frame type this implementation does not know (skipped, as Go does). */
      type: 'Unknown';
      /** The frame type byte. */
      frameType: number;
      /** The payload. */
      payload: Uint8Array;
    }
  | {
      /** A known frame type with a malformed payload (parse only). */
      type: 'Invalid';
      /** The frame type byte. */
      frameType: number;
      /** What is wrong with it. */
      reason: string;
    };

/**
 * PeerPresent: a key, then (servers since 2024) the client's address, then (later) flags.
 * `ip` is 16 bytes (IPv4 as `::ffff:a.b.c.d`); absent fields were not sent by an older server.
 */
export interface PeerPresentFrame {
  /** Server → mesh watcher (a WatchConns client): a client connected. */
  type: 'PeerPresent';
  /** The peer's 32-byte public key. */
  peer: Uint8Array;
  /** The peer's IP as 16 bytes (IPv4 mapped), if sent. */
  ip?: Uint8Array;
  /** The peer's port, if sent. */
  port?: number;
  /** `PEER_PRESENT_FLAGS` bits, if sent. */
  flags?: number;
}

/** A frame that can be emitted (everything but the parse-only `Invalid`). */
export type EmittableFrame = Exclude<
  DerpFrame,
  {
    /** The parse-only kind. */
    type: 'Invalid';
  }
>;

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

function invalid(frameType: number, reason: string): DerpFrame {
  return { type: 'Invalid', frameType, reason };
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Writes a frame header (type, big-endian length) at `off`. */
export function writeFrameHeader(buf: Uint8Array, off: number, frameType: number, length: number): void {
  buf[off] = frameType;
  writeU32(buf, off + 1, length);
}

/** Reads the big-endian u32 length of a frame header at `off` (the type byte is `buf[off]`). */
export function readFrameLength(buf: Uint8Array, off: number): number {
  return readU32(buf, off + 1);
}

function magicOk(p: Uint8Array): boolean {
  for (let i = 0; i < DERP_MAGIC.length; i++) if (p[i] !== DERP_MAGIC[i]) return false;
  return true;
}

/**
 * Parses one frame's payload. Never throws; see the module doc for aliasing.
 *
 * @example
 * ```ts
 * import { FRAME_TYPE, parseFrame } from '@tsnet/derp';
 * const f = parseFrame(FRAME_TYPE.NotePreferred, new Uint8Array([1]));
 * // { type: 'NotePreferred', preferred: true }
 * ```
 */
export function parseFrame(frameType: number, p: Uint8Array): DerpFrame {
  const n = p.length;
  switch (frameType) {
    case FRAME_TYPE.ServerKey:
      // derp_client.go recvServerKey: at least magic + key, extra bytes for future use.
      if (n < DERP_MAGIC.length + KEY_LEN) return invalid(frameType, 'short ServerKey');
      if (!magicOk(p)) return invalid(frameType, 'bad magic');
      return { type: 'ServerKey', serverKey: p.subarray(DERP_MAGIC.length, DERP_MAGIC.length + KEY_LEN) };
    case FRAME_TYPE.ClientInfo:
      // derpserver.recvClientKey: key + nonce at least (the box then fails to open if shorter).
      if (n < KEY_LEN + NONCE_LEN) return invalid(frameType, 'short ClientInfo');
      return { type: 'ClientInfo', clientKey: p.subarray(0, KEY_LEN), sealed: p.subarray(KEY_LEN) };
    case FRAME_TYPE.ServerInfo:
      if (n < NONCE_LEN) return invalid(frameType, 'short ServerInfo');
      return { type: 'ServerInfo', sealed: p };
    case FRAME_TYPE.SendPacket:
      if (n < KEY_LEN) return invalid(frameType, 'short SendPacket');
      if (n - KEY_LEN > MAX_PACKET_SIZE) return invalid(frameType, 'SendPacket packet over 64 KiB');
      return { type: 'SendPacket', dst: p.subarray(0, KEY_LEN), packet: p.subarray(KEY_LEN) };
    case FRAME_TYPE.RecvPacket:
      // The Go client checks only the key; the reader's frame limit bounds the rest.
      if (n < KEY_LEN) return invalid(frameType, 'short RecvPacket');
      return { type: 'RecvPacket', src: p.subarray(0, KEY_LEN), packet: p.subarray(KEY_LEN) };
    case FRAME_TYPE.KeepAlive:
      return { type: 'KeepAlive' };
    case FRAME_TYPE.NotePreferred:
      if (n !== 1) return invalid(frameType, 'NotePreferred must be 1 byte');
      return { type: 'NotePreferred', preferred: p[0] !== 0 };
    case FRAME_TYPE.PeerGone:
      if (n < KEY_LEN) return invalid(frameType, 'short PeerGone');
      // Older servers sent no reason byte: that means Disconnected.
      return { type: 'PeerGone', peer: p.subarray(0, KEY_LEN), reason: n > KEY_LEN ? p[KEY_LEN]! : 0 };
    case FRAME_TYPE.PeerPresent: {
      if (n < KEY_LEN) return invalid(frameType, 'short PeerPresent');
      const f: PeerPresentFrame = { type: 'PeerPresent', peer: p.subarray(0, KEY_LEN) };
      if (n >= KEY_LEN + 18) {
        f.ip = p.subarray(KEY_LEN, KEY_LEN + 16);
        f.port = (p[KEY_LEN + 16]! << 8) | p[KEY_LEN + 17]!;
        if (n >= KEY_LEN + 19) f.flags = p[KEY_LEN + 18]!;
      }
      return f;
    }
    case FRAME_TYPE.ForwardPacket:
      if (n < 2 * KEY_LEN) return invalid(frameType, 'short ForwardPacket');
      if (n - 2 * KEY_LEN > MAX_PACKET_SIZE) return invalid(frameType, 'ForwardPacket packet over 64 KiB');
      return {
        type: 'ForwardPacket',
        src: p.subarray(0, KEY_LEN),
        dst: p.subarray(KEY_LEN, 2 * KEY_LEN),
        packet: p.subarray(2 * KEY_LEN),
      };
    case FRAME_TYPE.WatchConns:
      if (n !== 0) return invalid(frameType, 'WatchConns must be empty');
      return { type: 'WatchConns' };
    case FRAME_TYPE.ClosePeer:
      if (n !== KEY_LEN) return invalid(frameType, 'ClosePeer must be 32 bytes');
      return { type: 'ClosePeer', peer: p };
    case FRAME_TYPE.Ping:
      if (n < PING_DATA_LEN) return invalid(frameType, 'short Ping');
      return { type: 'Ping', data: p.subarray(0, PING_DATA_LEN) };
    case FRAME_TYPE.Pong:
      if (n < PING_DATA_LEN) return invalid(frameType, 'short Pong');
      return { type: 'Pong', data: p.subarray(0, PING_DATA_LEN) };
    case FRAME_TYPE.Health:
      return { type: 'Health', problem: textDecoder.decode(p) };
    case FRAME_TYPE.Restarting:
      if (n < 8) return invalid(frameType, 'short Restarting');
      return { type: 'Restarting', reconnectInMs: readU32(p, 0), tryForMs: readU32(p, 4) };
    default:
      return { type: 'Unknown', frameType, payload: p };
  }
}

function checkKey(name: string, k: Uint8Array): void {
  if (!(k instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (k.length !== KEY_LEN) throw new RangeError(`${name} must be ${KEY_LEN} bytes, got ${k.length}`);
}

function checkPacket(packet: Uint8Array): void {
  if (!(packet instanceof Uint8Array)) throw new TypeError('packet must be a Uint8Array');
  if (packet.length > MAX_PACKET_SIZE) {
    throw new RangeError(`packet must be at most ${MAX_PACKET_SIZE} bytes, got ${packet.length}`);
  }
}

/** A whole frame (header and payload) from its type and payload parts. */
function frameOf(frameType: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const part of parts) len += part.length;
  const out = new Uint8Array(FRAME_HEADER_LEN + len);
  writeFrameHeader(out, 0, frameType, len);
  let off = FRAME_HEADER_LEN;
  for (const part of parts) {
    out.set(part, off);
    off += part.length;
  }
  return out;
}

/**
 * A SendPacket frame: header ‖ dst ‖ packet, in one new buffer.
 * Throws `RangeError` for a key that is not 32 bytes or a packet over 64 KiB (API misuse).
 */
export function encodeSendPacket(dst: Uint8Array, packet: Uint8Array): Uint8Array {
  checkKey('dst', dst);
  checkPacket(packet);
  const out = new Uint8Array(FRAME_HEADER_LEN + KEY_LEN + packet.length);
  writeFrameHeader(out, 0, FRAME_TYPE.SendPacket, KEY_LEN + packet.length);
  out.set(dst, FRAME_HEADER_LEN);
  out.set(packet, FRAME_HEADER_LEN + KEY_LEN);
  return out;
}

/** A RecvPacket frame: header ‖ src ‖ packet, in one new buffer (the server's one copy per packet). */
export function encodeRecvPacket(src: Uint8Array, packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LEN + KEY_LEN + packet.length);
  writeFrameHeader(out, 0, FRAME_TYPE.RecvPacket, KEY_LEN + packet.length);
  out.set(src, FRAME_HEADER_LEN);
  out.set(packet, FRAME_HEADER_LEN + KEY_LEN);
  return out;
}

/** An 8-byte Ping or Pong frame. */
export function encodePingPong(type: 'Ping' | 'Pong', data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array) || data.length !== PING_DATA_LEN) {
    throw new RangeError(`data must be ${PING_DATA_LEN} bytes`);
  }
  return frameOf(FRAME_TYPE[type], data);
}

/** The 5-byte KeepAlive frame. */
export const KEEP_ALIVE_FRAME: Uint8Array = frameOf(FRAME_TYPE.KeepAlive);

/**
 * Serialises a frame, header included. Throws `TypeError`/`RangeError` naming the field for values
 * that cannot be put on the wire (a key not 32 bytes, a packet over 64 KiB, a number out of range).
 *
 * @example
 * ```ts
 * import { emitFrame } from '@tsnet/derp';
 * emitFrame({ type: 'Restarting', reconnectInMs: 1000, tryForMs: 5000 });
 * // Uint8Array [0x15, 0, 0, 0, 8, 0, 0, 3, 0xe8, 0, 0, 0x13, 0x88]
 * ```
 */
export function emitFrame(frame: EmittableFrame): Uint8Array {
  switch (frame.type) {
    case 'ServerKey':
      checkKey('serverKey', frame.serverKey);
      return frameOf(FRAME_TYPE.ServerKey, DERP_MAGIC, frame.serverKey);
    case 'ClientInfo':
      checkKey('clientKey', frame.clientKey);
      return frameOf(FRAME_TYPE.ClientInfo, frame.clientKey, frame.sealed);
    case 'ServerInfo':
      return frameOf(FRAME_TYPE.ServerInfo, frame.sealed);
    case 'SendPacket':
      return encodeSendPacket(frame.dst, frame.packet);
    case 'RecvPacket':
      checkKey('src', frame.src);
      checkPacket(frame.packet);
      return encodeRecvPacket(frame.src, frame.packet);
    case 'KeepAlive':
      return frameOf(FRAME_TYPE.KeepAlive);
    case 'NotePreferred':
      return frameOf(FRAME_TYPE.NotePreferred, new Uint8Array([frame.preferred ? 1 : 0]));
    case 'PeerGone':
      checkKey('peer', frame.peer);
      checkByte('reason', frame.reason);
      return frameOf(FRAME_TYPE.PeerGone, frame.peer, new Uint8Array([frame.reason]));
    case 'PeerPresent': {
      checkKey('peer', frame.peer);
      if (frame.ip === undefined) return frameOf(FRAME_TYPE.PeerPresent, frame.peer);
      if (frame.ip.length !== 16) throw new RangeError(`ip must be 16 bytes, got ${frame.ip.length}`);
      const port = frame.port ?? 0;
      if (!Number.isInteger(port) || port < 0 || port > 0xffff)
        throw new RangeError(`port out of range: ${port}`);
      const tail = new Uint8Array(frame.flags === undefined ? 2 : 3);
      tail[0] = port >>> 8;
      tail[1] = port & 0xff;
      if (frame.flags !== undefined) {
        checkByte('flags', frame.flags);
        tail[2] = frame.flags;
      }
      return frameOf(FRAME_TYPE.PeerPresent, frame.peer, frame.ip, tail);
    }
    case 'ForwardPacket':
      checkKey('src', frame.src);
      checkKey('dst', frame.dst);
      checkPacket(frame.packet);
      return frameOf(FRAME_TYPE.ForwardPacket, frame.src, frame.dst, frame.packet);
    case 'WatchConns':
      return frameOf(FRAME_TYPE.WatchConns);
    case 'ClosePeer':
      checkKey('peer', frame.peer);
      return frameOf(FRAME_TYPE.ClosePeer, frame.peer);
    case 'Ping':
    case 'Pong':
      return encodePingPong(frame.type, frame.data);
    case 'Health':
      return frameOf(FRAME_TYPE.Health, textEncoder.encode(frame.problem));
    case 'Restarting': {
      const b = new Uint8Array(8);
      writeU32(b, 0, checkU32('reconnectInMs', frame.reconnectInMs));
      writeU32(b, 4, checkU32('tryForMs', frame.tryForMs));
      return frameOf(FRAME_TYPE.Restarting, b);
    }
    case 'Unknown':
      checkByte('frameType', frame.frameType);
      if (frameTypeName(frame.frameType) !== undefined) {
        throw new RangeError(`frameType 0x${frame.frameType.toString(16)} is a known type; emit it by name`);
      }
      return frameOf(frame.frameType, frame.payload);
  }
}

function checkByte(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} must be a byte, got ${v}`);
}

function checkU32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new RangeError(`${name} must be a u32, got ${v}`);
  return v;
}

/** The name of a frame type for logs: `SendPacket` or `0x2a`. */
export function describeFrameType(type: number): FrameTypeName | string {
  return frameTypeName(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}
