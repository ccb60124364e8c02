/**
 * The ts2021 Noise IK handshake, responder (control server) side (tailscale/tailscale
 * `control/controlbase/handshake.go` `Server`; protocol-map.md §2.3–§2.4).
 *
 * @tsnet/control exports only the initiator, so the responder lives here, built on the same
 * primitives of @tsnet/core (`kdf2` is HKDF over HMAC-BLAKE2s). Sans-IO: the 101-byte initiation
 * in, the 51-byte response and the transport keys out, or the text of a type-3 error message.
 *
 * ```
 * h = ck = BLAKE2s("Noise_IK_25519_ChaChaPoly_BLAKE2s")
 * MixHash(prologue "Tailscale Control Protocol v<version>"); MixHash(s.pub)     pre-message
 * <- e, es, s, ss    MixHash(re); es; DecryptAndHash(machine pub); ss; DecryptAndHash(tag)
 * -> e, ee, se       MixHash(e.pub); ee; se; EncryptAndHash("")
 * Split: (k1, k2) = HKDF(ck, ""); server rx = k1 (client → server), tx = k2
 * ```
 */
import {
  type CryptoProvider,
  clampPrivateKey,
  getCryptoProvider,
  isAllZero,
  kdf2,
  type MachinePrivate,
  MachinePublic,
  utf8,
} from '@tsnet/core';

const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2s';
const PROLOGUE_PREFIX = 'Tailscale Control Protocol v';
const MSG_TYPE_INITIATION = 1;
const MSG_TYPE_RESPONSE = 2;
const MSG_TYPE_ERROR = 3;
/** Initiation: version(2) type(1) length(2) ephemeral(32) machine(48) tag(16). */
export const INITIATION_LEN = 101;
const INITIATION_PAYLOAD_LEN = 96;
/** Response: type(1) length(2) ephemeral(32) tag(16). */
export const RESPONSE_LEN = 51;
const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

/** A completed handshake, from the server's point of view. */
export interface Responded {
  /** The 51-byte response to write to the client. */
  readonly response: Uint8Array;
  /** Keys in @tsnet/control's `TransportKeys` shape: `tx` server → client, `rx` client → server. */
  readonly keys: {
    /** The key of server → client records. */
    tx: Uint8Array;
    /** The key of client → server records. */
    rx: Uint8Array;
    /** The final handshake hash. */
    handshakeHash: Uint8Array;
    /** The protocol version (the client's capability version). */
    version: number;
  };
  /** The client's machine key: its identity for everything that follows. */
  readonly machinePublic: MachinePublic;
  /** The protocol version (= the client's capability version). */
  readonly version: number;
}

/** A refused handshake: `message` goes back as a type-3 error (unauthenticated). */
export interface Refused {
  /** Why the handshake was refused; sent back to the client as an unauthenticated error message. */
  readonly error: string;
}

/**
 * Answers a client's initiation. Never throws on bad input: returns `{ error }` instead.
 *
 * @example
 * ```ts
 * const r = respondToInitiation(controlKey, initiation);
 * if ('error' in r) socket.end(encodeErrorMessage(r.error));
 * else socket.write(r.response);
 * ```
 */
export function respondToInitiation(
  controlKey: MachinePrivate,
  init: Uint8Array,
  crypto: CryptoProvider = getCryptoProvider(),
): Responded | Refused {
  if (init.length !== INITIATION_LEN) return { error: 'wrong handshake initiation size' };
  if (init[2] !== MSG_TYPE_INITIATION) return { error: 'unexpected handshake message type' };
  if (((init[3]! << 8) | init[4]!) !== INITIATION_PAYLOAD_LEN) {
    return { error: 'wrong handshake initiation length' };
  }
  const version = (init[0]! << 8) | init[1]!;
  let h = crypto.blake2s(utf8(PROTOCOL_NAME));
  let ck = h;
  const mixHash = (d: Uint8Array): void => {
    h = crypto.blake2s([h, d]);
  };
  const mixDH = (priv: Uint8Array, pub: Uint8Array): Uint8Array | null => {
    const shared = crypto.x25519(priv, pub);
    if (isAllZero(shared)) return null;
    const [c, k] = kdf2(crypto, ck, shared);
    shared.fill(0);
    ck = c;
    return k;
  };
  const sPriv = controlKey.raw;
  mixHash(utf8(PROLOGUE_PREFIX + String(version)));
  mixHash(crypto.x25519PublicKey(sPriv));

  const re = init.subarray(5, 37);
  mixHash(re);
  const kEs = mixDH(sPriv, re);
  if (kEs === null) return { error: 'invalid ephemeral key' };
  const encMachine = init.subarray(37, 85);
  const machine = new Uint8Array(32);
  if (!crypto.chacha20poly1305Open(kEs, ZERO_NONCE, encMachine, h, machine)) {
    return { error: 'decrypting machine key' };
  }
  mixHash(encMachine);
  const kSs = mixDH(sPriv, machine);
  if (kSs === null) return { error: 'invalid machine key' };
  const tag = init.subarray(85, 101);
  if (!crypto.chacha20poly1305Open(kSs, ZERO_NONCE, tag, h, EMPTY)) {
    return { error: 'decrypting initiation tag' };
  }
  mixHash(tag);

  const ePriv = clampPrivateKey(crypto.randomBytes(32));
  try {
    const ePub = crypto.x25519PublicKey(ePriv);
    const resp = new Uint8Array(RESPONSE_LEN);
    resp[0] = MSG_TYPE_RESPONSE;
    resp[1] = 0;
    resp[2] = RESPONSE_LEN - 3;
    resp.set(ePub, 3);
    mixHash(ePub);
    if (mixDH(ePriv, re) === null) return { error: 'invalid ephemeral key' };
    const kSe = mixDH(ePriv, machine);
    if (kSe === null) return { error: 'invalid machine key' };
    const respTag = resp.subarray(35, 51);
    crypto.chacha20poly1305Seal(kSe, ZERO_NONCE, EMPTY, h, respTag);
    mixHash(respTag);
    const [k1, k2] = kdf2(crypto, ck, EMPTY);
    return {
      response: resp,
      keys: { tx: k2, rx: k1, handshakeHash: h, version },
      machinePublic: MachinePublic.fromBytes(machine),
      version,
    };
  } finally {
    ePriv.fill(0);
  }
}

/** A type-3 error message: `03 | BE u16 length | UTF-8 text` (cut to 1 KiB). */
export function encodeErrorMessage(text: string): Uint8Array {
  const msg = utf8(text).subarray(0, 1024);
  const out = new Uint8Array(3 + msg.length);
  out[0] = MSG_TYPE_ERROR;
  out[1] = msg.length >>> 8;
  out[2] = msg.length & 0xff;
  out.set(msg, 3);
  return out;
}
