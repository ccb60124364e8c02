/**
 * Disco, the path-discovery protocol of Tailscale (tailscale `disco/disco.go`): small messages
 * between the disco keys of two nodes, sealed with NaCl box, carried over UDP or DERP beside the
 * WireGuard packets.
 *
 * Wire form of a packet (protocol-map §6.1):
 * ```
 * magic "TS💬"(6) ‖ sender disco public key(32) ‖ nonce(24) ‖ box(16-byte tag ‖ plaintext)
 * plaintext = type(1) ‖ version(1) ‖ payload
 * ```
 * Parsing is total: untrusted bytes give `null`, never an exception. Trailing bytes in a payload
 * are ignored (a Ping carries zero padding for path-MTU probes).
 */
import { AddrPort, IPAddr } from '@tsnet/core';

/** "TS" followed by U+1F4AC (speech balloon) in UTF-8. */
export const DISCO_MAGIC = new Uint8Array([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
export const DISCO_KEY_LEN = 32;
export const DISCO_NONCE_LEN = 24;
/** Magic plus sender key: where the sealed box starts. */
export const DISCO_HEADER_LEN = DISCO_MAGIC.length + DISCO_KEY_LEN;
/** The smallest packet that can be disco: header, nonce and the box tag. */
export const DISCO_MIN_LEN = DISCO_HEADER_LEN + DISCO_NONCE_LEN + 16;
export const TX_ID_LEN = 12;
const V0 = 0;
const EP_LEN = 18;

export const MessageType = {
  Ping: 0x01,
  Pong: 0x02,
  CallMeMaybe: 0x03,
} as const;

/** A Ping: `txId` is echoed in the Pong; `nodeKey` (32 bytes) is the sender's WireGuard node key. */
export interface Ping {
  type: 'ping';
  txId: Uint8Array;
  nodeKey: Uint8Array | undefined;
  /** Zero bytes after the node key (MTU probes); only their count is kept. */
  padding: number;
}

/** A Pong: `src` is the address the Ping came from, as the answering node saw it. */
export interface Pong {
  type: 'pong';
  txId: Uint8Array;
  src: AddrPort;
}

/** CallMeMaybe: the sender's UDP endpoints; the receiver should ping them. Valid only via DERP. */
export interface CallMeMaybe {
  type: 'callMeMaybe';
  endpoints: AddrPort[];
}

export type DiscoMessage = Ping | Pong | CallMeMaybe;

/** True if `pkt` starts with the disco magic and is long enough to be a sealed disco packet. */
export function looksLikeDisco(pkt: Uint8Array): boolean {
  if (pkt.length < DISCO_MIN_LEN) return false;
  for (let i = 0; i < DISCO_MAGIC.length; i++) if (pkt[i] !== DISCO_MAGIC[i]) return false;
  return true;
}

/** The sender's disco public key (a view) of a packet that `looksLikeDisco`. */
export function discoSender(pkt: Uint8Array): Uint8Array {
  return pkt.subarray(DISCO_MAGIC.length, DISCO_HEADER_LEN);
}

/** Builds a packet from the header parts and the sealed box (nonce ‖ box). */
export function discoPacket(senderKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(DISCO_HEADER_LEN + sealed.length);
  out.set(DISCO_MAGIC, 0);
  out.set(senderKey, DISCO_MAGIC.length);
  out.set(sealed, DISCO_HEADER_LEN);
  return out;
}

function putAddrPort(out: Uint8Array, off: number, ap: AddrPort): void {
  const b = ap.addr.bytes;
  if (b.length === 4) {
    out[off + 10] = 0xff;
    out[off + 11] = 0xff;
    out.set(b, off + 12);
  } else {
    out.set(b, off);
  }
  out[off + 16] = ap.port >>> 8;
  out[off + 17] = ap.port & 0xff;
}

function getAddrPort(b: Uint8Array, off: number): AddrPort {
  const ip = IPAddr.fromBytes(b.subarray(off, off + 16)).unmap();
  return new AddrPort(ip, ((b[off + 16] ?? 0) << 8) | (b[off + 17] ?? 0));
}

/** The plaintext of a message (type ‖ version ‖ payload). */
export function emitMessage(m: DiscoMessage): Uint8Array {
  switch (m.type) {
    case 'ping': {
      if (m.txId.length !== TX_ID_LEN) throw new RangeError('txId must be 12 bytes');
      const hasKey = m.nodeKey !== undefined;
      const out = new Uint8Array(2 + TX_ID_LEN + (hasKey ? 32 : 0) + m.padding);
      out[0] = MessageType.Ping;
      out[1] = V0;
      out.set(m.txId, 2);
      if (m.nodeKey !== undefined) {
        if (m.nodeKey.length !== 32) throw new RangeError('nodeKey must be 32 bytes');
        out.set(m.nodeKey, 2 + TX_ID_LEN);
      }
      return out;
    }
    case 'pong': {
      if (m.txId.length !== TX_ID_LEN) throw new RangeError('txId must be 12 bytes');
      const out = new Uint8Array(2 + TX_ID_LEN + EP_LEN);
      out[0] = MessageType.Pong;
      out[1] = V0;
      out.set(m.txId, 2);
      putAddrPort(out, 2 + TX_ID_LEN, m.src);
      return out;
    }
    case 'callMeMaybe': {
      const out = new Uint8Array(2 + EP_LEN * m.endpoints.length);
      out[0] = MessageType.CallMeMaybe;
      out[1] = V0;
      for (let i = 0; i < m.endpoints.length; i++) {
        const ep = m.endpoints[i];
        if (ep !== undefined) putAddrPort(out, 2 + i * EP_LEN, ep);
      }
      return out;
    }
  }
}

/** Parses a plaintext; `null` for unknown types or short payloads (never throws). */
export function parseMessage(p: Uint8Array): DiscoMessage | null {
  if (p.length < 2) return null;
  const t = p[0];
  const body = p.subarray(2);
  switch (t) {
    case MessageType.Ping: {
      if (body.length < TX_ID_LEN) return null;
      const txId = body.slice(0, TX_ID_LEN);
      const rest = body.length - TX_ID_LEN;
      if (rest >= 32) {
        return { type: 'ping', txId, nodeKey: body.slice(TX_ID_LEN, TX_ID_LEN + 32), padding: rest - 32 };
      }
      return { type: 'ping', txId, nodeKey: undefined, padding: 0 };
    }
    case MessageType.Pong: {
      if (body.length < TX_ID_LEN + EP_LEN) return null;
      return { type: 'pong', txId: body.slice(0, TX_ID_LEN), src: getAddrPort(body, TX_ID_LEN) };
    }
    case MessageType.CallMeMaybe: {
      if (body.length % EP_LEN !== 0) return null;
      const endpoints: AddrPort[] = [];
      for (let off = 0; off + EP_LEN <= body.length; off += EP_LEN) endpoints.push(getAddrPort(body, off));
      return { type: 'callMeMaybe', endpoints };
    }
    default:
      return null;
  }
}
