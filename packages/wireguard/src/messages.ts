/**
 * WireGuard message formats (WireGuard paper §5.4; wireguard-go `device/noise-protocol.go`).
 *
 * Four messages, each starting with a type byte and three zero bytes, integers little-endian:
 *
 * ```
 * 1 initiation  (148) type ‖ sender(4) ‖ ephemeral(32) ‖ static(32+16) ‖ timestamp(12+16) ‖ mac1(16) ‖ mac2(16)
 * 2 response     (92) type ‖ sender(4) ‖ receiver(4) ‖ ephemeral(32) ‖ empty(0+16) ‖ mac1(16) ‖ mac2(16)
 * 3 cookie reply (64) type ‖ receiver(4) ‖ nonce(24) ‖ cookie(16+16)
 * 4 transport (32+n) type ‖ receiver(4) ‖ counter(8) ‖ packet(n) ‖ tag(16)
 * ```
 *
 * `parse*` returns a view whose byte fields are `subarray`s of the input (no copy), or `null` when
 * the length or type is wrong: untrusted input never throws. `emit*` writes a message into a
 * caller-provided buffer (or a new one) and returns it.
 */
import {
  MAC_SIZE,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_SIZE,
  MESSAGE_TRANSPORT_TYPE,
} from './constants.js';

/** Reads a little-endian u32 at `off` (caller checks bounds). */
export function readU32LE(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Writes a little-endian u32 at `off`. */
export function writeU32LE(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/**
 * Reads a little-endian u64 counter at `off` as a number. Values above 2^53 lose precision; the
 * receive path rejects counters ≥ REJECT_AFTER_MESSAGES (2^53 − 1) before that matters, and
 * `readCounterHigh` lets it tell.
 */
export function readU64LE(b: Uint8Array, off: number): number {
  return readU32LE(b, off) + readU32LE(b, off + 4) * 0x1_0000_0000;
}

/** Writes a counter (a safe integer ≥ 0) as a little-endian u64 at `off`. */
export function writeU64LE(b: Uint8Array, off: number, v: number): void {
  writeU32LE(b, off, v >>> 0);
  writeU32LE(b, off + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
}

/** The message type of a datagram: its first byte if the next three are zero, else 0. */
export function messageType(b: Uint8Array): number {
  if (b.length < 4) return 0;
  return readU32LE(b, 0) > 0xff ? 0 : b[0]!;
}

/** Handshake initiation (type 1), fields as views into the datagram. */
export interface MessageInitiation {
  /** The initiator's index I_i (u32); the responder echoes it as `receiver`. */
  sender: number;
  /** The initiator's ephemeral public key, 32 bytes, in the clear. */
  ephemeral: Uint8Array;
  /** AEAD(initiator's static public key): 32 + 16 bytes. */
  static: Uint8Array;
  /** AEAD(TAI64N timestamp): 12 + 16 bytes. */
  timestamp: Uint8Array;
  /** MAC(HASH(LABEL_MAC1 ‖ Spub_r), message up to mac1): 16 bytes. */
  mac1: Uint8Array;
  /** MAC(cookie, message up to mac2), or 16 zero bytes without a fresh cookie. */
  mac2: Uint8Array;
}

/** Handshake response (type 2). */
export interface MessageResponse {
  /** The responder's index I_r (u32). */
  sender: number;
  /** The initiator's index, from the initiation's `sender`. */
  receiver: number;
  /** The responder's ephemeral public key, 32 bytes. */
  ephemeral: Uint8Array;
  /** AEAD(empty): just the 16-byte tag, proving the responder derived the same keys. */
  empty: Uint8Array;
  /** MAC(HASH(LABEL_MAC1 ‖ Spub_i), message up to mac1): 16 bytes. */
  mac1: Uint8Array;
  /** MAC(cookie, message up to mac2), or 16 zero bytes. */
  mac2: Uint8Array;
}

/** Cookie reply (type 3). */
export interface MessageCookieReply {
  /** The `sender` index of the handshake message this answers. */
  receiver: number;
  /** Random 24-byte XChaCha20-Poly1305 nonce. */
  nonce: Uint8Array;
  /** XAEAD(cookie) with that message's mac1 as associated data: 16 + 16 bytes. */
  cookie: Uint8Array;
}

/** Transport data header (type 4); `content` is ciphertext ‖ tag. */
export interface MessageTransport {
  /** The recipient's index for the keypair in use (its `localIndex`). */
  receiver: number;
  /** The 64-bit nonce counter, as a number (exact up to 2^53; see constants.ts). */
  counter: number;
  /** ChaCha20-Poly1305(padded IP packet) ‖ 16-byte tag; 16 bytes alone for a keepalive. */
  content: Uint8Array;
}

/** Parses a handshake initiation; `null` unless exactly 148 bytes of type 1. Fields are views into `b`. */
export function parseMessageInitiation(b: Uint8Array): MessageInitiation | null {
  if (b.length !== MESSAGE_INITIATION_SIZE || readU32LE(b, 0) !== MESSAGE_INITIATION_TYPE) return null;
  return {
    sender: readU32LE(b, 4),
    ephemeral: b.subarray(8, 40),
    static: b.subarray(40, 88),
    timestamp: b.subarray(88, 116),
    mac1: b.subarray(116, 132),
    mac2: b.subarray(132, 148),
  };
}

function put(out: Uint8Array, field: Uint8Array, off: number, size: number, name: string): void {
  if (field.length !== size) throw new RangeError(`${name} must be ${size} bytes, got ${field.length}`);
  out.set(field, off);
}

function outBuffer(out: Uint8Array | undefined, size: number): Uint8Array {
  if (out === undefined) return new Uint8Array(size);
  if (out.length !== size) throw new RangeError(`out must be ${size} bytes, got ${out.length}`);
  return out;
}

/** Writes an initiation into `out` (exactly 148 bytes) or a new array; RangeError on a wrong-sized field. */
export function emitMessageInitiation(m: MessageInitiation, out?: Uint8Array): Uint8Array {
  const b = outBuffer(out, MESSAGE_INITIATION_SIZE);
  writeU32LE(b, 0, MESSAGE_INITIATION_TYPE);
  writeU32LE(b, 4, m.sender);
  put(b, m.ephemeral, 8, 32, 'ephemeral');
  put(b, m.static, 40, 48, 'static');
  put(b, m.timestamp, 88, 28, 'timestamp');
  put(b, m.mac1, 116, MAC_SIZE, 'mac1');
  put(b, m.mac2, 132, MAC_SIZE, 'mac2');
  return b;
}

/** Parses a handshake response; `null` unless exactly 92 bytes of type 2. Fields are views into `b`. */
export function parseMessageResponse(b: Uint8Array): MessageResponse | null {
  if (b.length !== MESSAGE_RESPONSE_SIZE || readU32LE(b, 0) !== MESSAGE_RESPONSE_TYPE) return null;
  return {
    sender: readU32LE(b, 4),
    receiver: readU32LE(b, 8),
    ephemeral: b.subarray(12, 44),
    empty: b.subarray(44, 60),
    mac1: b.subarray(60, 76),
    mac2: b.subarray(76, 92),
  };
}

/** Writes a response into `out` (exactly 92 bytes) or a new array; RangeError on a wrong-sized field. */
export function emitMessageResponse(m: MessageResponse, out?: Uint8Array): Uint8Array {
  const b = outBuffer(out, MESSAGE_RESPONSE_SIZE);
  writeU32LE(b, 0, MESSAGE_RESPONSE_TYPE);
  writeU32LE(b, 4, m.sender);
  writeU32LE(b, 8, m.receiver);
  put(b, m.ephemeral, 12, 32, 'ephemeral');
  put(b, m.empty, 44, 16, 'empty');
  put(b, m.mac1, 60, MAC_SIZE, 'mac1');
  put(b, m.mac2, 76, MAC_SIZE, 'mac2');
  return b;
}

/** Parses a cookie reply; `null` unless exactly 64 bytes of type 3. Fields are views into `b`. */
export function parseMessageCookieReply(b: Uint8Array): MessageCookieReply | null {
  if (b.length !== MESSAGE_COOKIE_REPLY_SIZE || readU32LE(b, 0) !== MESSAGE_COOKIE_REPLY_TYPE) return null;
  return { receiver: readU32LE(b, 4), nonce: b.subarray(8, 32), cookie: b.subarray(32, 64) };
}

/** Writes a cookie reply into `out` (exactly 64 bytes) or a new array; RangeError on a wrong-sized field. */
export function emitMessageCookieReply(m: MessageCookieReply, out?: Uint8Array): Uint8Array {
  const b = outBuffer(out, MESSAGE_COOKIE_REPLY_SIZE);
  writeU32LE(b, 0, MESSAGE_COOKIE_REPLY_TYPE);
  writeU32LE(b, 4, m.receiver);
  put(b, m.nonce, 8, 24, 'nonce');
  put(b, m.cookie, 32, 32, 'cookie');
  return b;
}

/** Parses a transport message; `null` if shorter than 32 bytes or not type 4. */
export function parseMessageTransport(b: Uint8Array): MessageTransport | null {
  if (b.length < MESSAGE_TRANSPORT_SIZE || readU32LE(b, 0) !== MESSAGE_TRANSPORT_TYPE) return null;
  return {
    receiver: readU32LE(b, 4),
    counter: readU64LE(b, 8),
    content: b.subarray(MESSAGE_TRANSPORT_HEADER_SIZE),
  };
}

/** Writes the 16-byte transport header at the start of `b` (the packet path builds messages in place). */
export function writeTransportHeader(b: Uint8Array, receiver: number, counter: number): void {
  writeU32LE(b, 0, MESSAGE_TRANSPORT_TYPE);
  writeU32LE(b, 4, receiver);
  writeU64LE(b, 8, counter);
}

/** Emits a transport message from a header and already-sealed content (ciphertext ‖ tag). */
export function emitMessageTransport(m: MessageTransport, out?: Uint8Array): Uint8Array {
  const size = MESSAGE_TRANSPORT_HEADER_SIZE + m.content.length;
  if (m.content.length < 16)
    throw new RangeError(`content must be at least 16 bytes, got ${m.content.length}`);
  const b = outBuffer(out, size);
  writeTransportHeader(b, m.receiver, m.counter);
  b.set(m.content, MESSAGE_TRANSPORT_HEADER_SIZE);
  return b;
}
