/**
 * The ts2021 Noise IK handshake, initiator side (tailscale/tailscale
 * `control/controlbase/handshake.go` `ClientDeferred` / `continueClientHandshake`).
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2s with HKDF over HMAC-BLAKE2s (`kdf2` of @tsnet/core, the same
 * construction WireGuard uses). The prologue binds the protocol version, which is the capability
 * version. Sans-IO: `createInitiation` returns the 101-byte message and a continuation that takes
 * the server's 51-byte response and returns the transport keys.
 *
 * ```
 * h = ck = BLAKE2s(PROTOCOL_NAME)
 * MixHash(prologue); MixHash(controlPub)                       <- s
 * MixHash(e.pub); es; EncryptAndHash(machinePub); ss; EncryptAndHash("")   -> e, es, s, ss
 * MixHash(re); ee; se; DecryptAndHash(tag)                     <- e, ee, se
 * Split: (k1, k2) = HKDF(ck, ""); client tx = k1, rx = k2
 * ```
 */
import {
  type CryptoProvider,
  clampPrivateKey,
  getCryptoProvider,
  isAllZero,
  kdf2,
  type MachinePrivate,
  type MachinePublic,
  utf8,
} from '@tsnet/core';
import { ControlHandshakeError } from '../errors.js';
import {
  HEADER_LEN,
  INITIATION_HEADER_LEN,
  INITIATION_LEN,
  INITIATION_PAYLOAD_LEN,
  MSG_TYPE_INITIATION,
  MSG_TYPE_RESPONSE,
  PROTOCOL_NAME,
  protocolVersionPrologue,
  RESPONSE_LEN,
  RESPONSE_PAYLOAD_LEN,
} from './messages.js';

const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

/** The result of a completed handshake: one key per direction and the handshake hash. */
export interface TransportKeys {
  /** Key for client → server records. */
  readonly tx: Uint8Array;
  /** Key for server → client records. */
  readonly rx: Uint8Array;
  /** The final handshake hash `h` (binds other messages to this connection). */
  readonly handshakeHash: Uint8Array;
  /** The protocol version of the handshake (the capability version). */
  readonly version: number;
}

/** What the initiator keeps between the initiation and the response. */
export interface PendingHandshake {
  /** The 101-byte initiation message. */
  readonly initiation: Uint8Array;
  /**
   * Consumes the server's 51-byte response (type 2) and returns the transport keys. Throws
   * `ControlHandshakeError` if it is malformed or does not authenticate. Single use.
   */
  finish(response: Uint8Array): TransportKeys;
}

export interface InitiationOptions {
  machineKey: MachinePrivate;
  controlKey: MachinePublic;
  /** The protocol version, which is the capability version (0..65535). */
  version: number;
  crypto?: CryptoProvider;
  /** Fixed ephemeral private key, for known-answer tests only. */
  ephemeralPrivate?: Uint8Array;
}

class SymmetricState {
  h: Uint8Array;
  ck: Uint8Array;
  constructor(private readonly crypto: CryptoProvider) {
    this.h = crypto.blake2s(utf8(PROTOCOL_NAME));
    this.ck = this.h;
  }
  mixHash(data: Uint8Array): void {
    this.h = this.crypto.blake2s([this.h, data]);
  }
  /** MixKey(X25519(priv, pub)); returns the single-use key. Rejects a low-order point (all-zero DH). */
  mixDH(priv: Uint8Array, pub: Uint8Array, what: string): Uint8Array {
    const shared = this.crypto.x25519(priv, pub);
    if (isAllZero(shared)) throw new ControlHandshakeError(`computing ${what}: low-order public key`);
    const [ck, k] = kdf2(this.crypto, this.ck, shared);
    shared.fill(0);
    this.ck = ck;
    return k;
  }
  encryptAndHash(k: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + 16);
    this.crypto.chacha20poly1305Seal(k, ZERO_NONCE, plaintext, this.h, out);
    this.mixHash(out);
    return out;
  }
  decryptAndHash(k: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    const out = new Uint8Array(Math.max(0, ciphertext.length - 16));
    if (ciphertext.length < 16 || !this.crypto.chacha20poly1305Open(k, ZERO_NONCE, ciphertext, this.h, out)) {
      return null;
    }
    this.mixHash(ciphertext);
    return out;
  }
  split(): [Uint8Array, Uint8Array] {
    return kdf2(this.crypto, this.ck, EMPTY);
  }
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
    throw new RangeError(`version must be an integer from 0 to 65535, got ${String(version)}`);
  }
}

/**
 * Starts a handshake: builds the initiation message (`ClientDeferred`).
 *
 * @example
 * ```ts
 * const hs = createInitiation({ machineKey, controlKey, version: 115 });
 * // send hs.initiation, read the 51-byte response, then:
 * const keys = hs.finish(response);
 * ```
 */
export function createInitiation(opts: InitiationOptions): PendingHandshake {
  const crypto = opts.crypto ?? getCryptoProvider();
  checkVersion(opts.version);
  const s = new SymmetricState(crypto);
  s.mixHash(protocolVersionPrologue(opts.version));
  const controlPub = opts.controlKey.raw;
  s.mixHash(controlPub);

  const ePriv = opts.ephemeralPrivate
    ? Uint8Array.from(opts.ephemeralPrivate)
    : clampPrivateKey(crypto.randomBytes(32));
  const ePub = crypto.x25519PublicKey(ePriv);
  const machinePriv = opts.machineKey.raw;
  const machinePub = crypto.x25519PublicKey(machinePriv);

  const msg = new Uint8Array(INITIATION_LEN);
  const dv = new DataView(msg.buffer);
  dv.setUint16(0, opts.version, false);
  msg[2] = MSG_TYPE_INITIATION;
  dv.setUint16(3, INITIATION_PAYLOAD_LEN, false);
  msg.set(ePub, INITIATION_HEADER_LEN);
  s.mixHash(ePub);
  const kEs = s.mixDH(ePriv, controlPub, 'es');
  msg.set(s.encryptAndHash(kEs, machinePub), INITIATION_HEADER_LEN + 32);
  const kSs = s.mixDH(machinePriv, controlPub, 'ss');
  msg.set(s.encryptAndHash(kSs, EMPTY), INITIATION_HEADER_LEN + 32 + 48);

  let used = false;
  return {
    initiation: msg,
    finish(response: Uint8Array): TransportKeys {
      if (used) throw new Error('handshake continuation used twice');
      used = true;
      try {
        if (response.length !== RESPONSE_LEN) {
          throw new ControlHandshakeError(
            `handshake response is ${response.length} bytes, want ${RESPONSE_LEN}`,
          );
        }
        if (response[0] !== MSG_TYPE_RESPONSE) {
          throw new ControlHandshakeError(`unexpected response message type ${response[0]}`);
        }
        const len = (response[1]! << 8) | response[2]!;
        if (len !== RESPONSE_PAYLOAD_LEN) {
          throw new ControlHandshakeError(`wrong length ${len} received for handshake response`);
        }
        const re = response.subarray(HEADER_LEN, HEADER_LEN + 32);
        s.mixHash(re);
        s.mixDH(ePriv, re, 'ee');
        const kSe = s.mixDH(machinePriv, re, 'se');
        if (s.decryptAndHash(kSe, response.subarray(HEADER_LEN + 32)) === null) {
          throw new ControlHandshakeError('decrypting handshake response: authentication failed');
        }
        const [k1, k2] = s.split();
        return { tx: k1, rx: k2, handshakeHash: s.h, version: opts.version };
      } finally {
        ePriv.fill(0);
      }
    },
  };
}
