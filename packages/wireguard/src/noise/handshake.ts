/**
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (WireGuard paper §5.4.2–§5.4.5;
 * Noise spec rev. 34 §7.5 "IK" with the psk2 modifier; wireguard-go `device/noise-protocol.go`).
 *
 * Read in this order: `NoiseIdentity` (the static key and the precomputed initial chaining key and
 * hash), `Handshake` (one per peer), then the four Create/Consume functions in message order and
 * `beginSymmetricSession`, which turns a finished handshake into transport keys.
 *
 * ```
 * Initiator                                   Responder
 * createMessageInitiation  ── type 1 ──▶      consumeMessageInitiation
 *                                             createMessageResponse
 * consumeMessageResponse   ◀── type 2 ──
 * beginSymmetricSession                       beginSymmetricSession
 * ```
 *
 * The functions never throw on bad input from the network: a Consume returns `null` and changes no
 * state. The MACs (mac1/mac2) are added and checked by `cookie.ts`, outside of Noise.
 */
import { type CryptoProvider, isAllZero, kdf1, kdf2, kdf3, utf8 } from '@tsnet/core';
import {
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  NOISE_CONSTRUCTION,
  NOISE_PUBLIC_KEY_SIZE,
  TAI64N_SIZE,
  WG_IDENTIFIER,
} from '../constants.js';
import { readU32LE, writeU32LE } from '../messages.js';
import { tai64n, tai64nAfter } from '../tai64n.js';

const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

/** The handshake state of one peer (wireguard-go `handshakeState`). */
export type HandshakeState =
  | 'zeroed'
  | 'initiation-created'
  | 'initiation-consumed'
  | 'response-created'
  | 'response-consumed';

/** Our static identity and the protocol's constant starting values, computed once per device. */
export class NoiseIdentity {
  /** The X25519, BLAKE2s and ChaCha20-Poly1305 implementation every handshake of the device uses. */
  readonly crypto: CryptoProvider;
  /** Our static private key Spriv (32 bytes; a copy of the constructor's argument). */
  readonly privateKey: Uint8Array;
  /** Our static public key Spub = X25519(Spriv, 9) (32 bytes), which peers configure. */
  readonly publicKey: Uint8Array;
  /** Ci = HASH(CONSTRUCTION) */
  readonly initialChainKey: Uint8Array;
  /** Hi = HASH(Ci ‖ IDENTIFIER) */
  readonly initialHash: Uint8Array;

  constructor(crypto: CryptoProvider, privateKey: Uint8Array) {
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
      throw new RangeError('privateKey must be a 32-byte Uint8Array');
    }
    this.crypto = crypto;
    this.privateKey = new Uint8Array(privateKey);
    this.publicKey = crypto.x25519PublicKey(this.privateKey);
    this.initialChainKey = crypto.blake2s(utf8(NOISE_CONSTRUCTION));
    this.initialHash = crypto.blake2s([this.initialChainKey, utf8(WG_IDENTIFIER)]);
  }

  /** DH(our static private, `pub`), or `null` when the result is all zeros (a low-order point). */
  sharedSecret(pub: Uint8Array): Uint8Array | null {
    const ss = this.crypto.x25519(this.privateKey, pub);
    return isAllZero(ss) ? null : ss;
  }
}

/** Per-peer handshake state (wireguard-go `Handshake`). */
export class Handshake {
  /** Where the handshake is: which Create/Consume ran last, or 'zeroed' (none, or keys derived). */
  state: HandshakeState = 'zeroed';
  /** The running transcript hash H (32 bytes). */
  hash: Uint8Array = new Uint8Array(32);
  /** The chaining key C (32 bytes), from which the transport keys are derived. */
  chainKey: Uint8Array = new Uint8Array(32);
  /** The preshared key Q mixed in by psk2 (32 bytes; all zeros when none is configured). Set in place. */
  readonly presharedKey: Uint8Array = new Uint8Array(32);
  /** Our ephemeral private key Epriv of the handshake in progress (32 bytes). */
  localEphemeral: Uint8Array = new Uint8Array(32);
  /** Our index for this handshake in the device's index table (0: none). */
  localIndex = 0;
  /** The peer's index: the receiver field of what we send. */
  remoteIndex = 0;
  /** The peer's static public key Spub_r (32 bytes), which identifies the peer. */
  readonly remoteStatic: Uint8Array;
  /** The peer's ephemeral public key Epub from its initiation (32 bytes; responder side). */
  remoteEphemeral: Uint8Array = new Uint8Array(32);
  readonly #identity: NoiseIdentity;
  #staticStatic: Uint8Array | undefined;
  /** Greatest TAI64N seen in a valid initiation from this peer (replay protection). */
  lastTimestamp: Uint8Array = new Uint8Array(TAI64N_SIZE);
  /** Monotonic ms of the last consumed initiation (flood protection); -Infinity: never. */
  lastInitiationConsumption = Number.NEGATIVE_INFINITY;
  /** Monotonic ms of the last handshake message we sent; -Infinity: never. */
  lastSentHandshake = Number.NEGATIVE_INFINITY;

  constructor(identity: NoiseIdentity, remoteStatic: Uint8Array, presharedKey?: Uint8Array) {
    this.remoteStatic = new Uint8Array(remoteStatic);
    this.#identity = identity;
    if (presharedKey !== undefined) this.presharedKey.set(presharedKey);
  }

  /**
   * DH(our static, their static), or all zeros if their key is a low-order point. Computed on first
   * use rather than when the peer is added, so adding thousands of peers (a large tailnet) costs no
   * X25519 until a handshake with each actually happens.
   */
  get precomputedStaticStatic(): Uint8Array {
    this.#staticStatic ??= this.#identity.crypto.x25519(this.#identity.privateKey, this.remoteStatic);
    return this.#staticStatic;
  }

  /** Erases the precomputed static-static secret (the device is closing). */
  zeroStatic(): void {
    this.#staticStatic?.fill(0);
  }

  /** Zeroes the ephemeral secrets and transcript (wireguard-go `Handshake.Clear`). */
  clear(): void {
    this.localEphemeral.fill(0);
    this.remoteEphemeral.fill(0);
    this.chainKey.fill(0);
    this.hash.fill(0);
    this.localIndex = 0;
    this.state = 'zeroed';
  }
}

function mixHash(c: CryptoProvider, h: Uint8Array, data: Uint8Array): Uint8Array {
  return c.blake2s([h, data]);
}

/** AEAD with the zero nonce, as every handshake message uses (each key is used once). */
function seal(
  c: CryptoProvider,
  key: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
): void {
  c.chacha20poly1305Seal(key, ZERO_NONCE, plaintext, ad, out);
}

function open(
  c: CryptoProvider,
  key: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
): boolean {
  return c.chacha20poly1305Open(key, ZERO_NONCE, ciphertext, ad, out);
}

/**
 * Builds a handshake initiation (type 1, 148 bytes, mac1/mac2 left zero) for `hs` and moves it to
 * 'initiation-created' (WireGuard paper §5.4.2). `sender` is our fresh index; `wallNowMs` stamps the
 * TAI64N timestamp. Returns `null` if the peer's static key is a low-order point.
 */
export function createMessageInitiation(
  id: NoiseIdentity,
  hs: Handshake,
  sender: number,
  wallNowMs: number,
): Uint8Array | null {
  const c = id.crypto;
  if (isAllZero(hs.precomputedStaticStatic)) return null;
  const msg = new Uint8Array(MESSAGE_INITIATION_SIZE);
  writeU32LE(msg, 0, MESSAGE_INITIATION_TYPE);
  writeU32LE(msg, 4, sender);
  const ephemeralPub = msg.subarray(8, 40);
  const staticField = msg.subarray(40, 88);
  const timestampField = msg.subarray(88, 116);

  // Hi ← HASH(Hi ‖ Spub_r); Ci ← Ci
  let hash = mixHash(c, id.initialHash, hs.remoteStatic);
  let chainKey: Uint8Array = id.initialChainKey;
  // (Epriv_i, Epub_i) ← DH-GENERATE(); Ci ← KDF1(Ci, Epub_i); Hi ← HASH(Hi ‖ Epub_i)
  const ephemeral = c.randomBytes(32);
  ephemeralPub.set(c.x25519PublicKey(ephemeral));
  chainKey = kdf1(c, chainKey, ephemeralPub);
  hash = mixHash(c, hash, ephemeralPub);
  // (Ci, κ) ← KDF2(Ci, DH(Epriv_i, Spub_r)); static ← AEAD(κ, 0, Spub_i, Hi); Hi ← HASH(Hi ‖ static)
  const es = c.x25519(ephemeral, hs.remoteStatic);
  let key: Uint8Array;
  [chainKey, key] = kdf2(c, chainKey, es);
  es.fill(0);
  seal(c, key, id.publicKey, hash, staticField);
  hash = mixHash(c, hash, staticField);
  // (Ci, κ) ← KDF2(Ci, DH(Spriv_i, Spub_r)); timestamp ← AEAD(κ, 0, TAI64N(), Hi); Hi ← HASH(Hi ‖ timestamp)
  [chainKey, key] = kdf2(c, chainKey, hs.precomputedStaticStatic);
  seal(c, key, tai64n(wallNowMs), hash, timestampField);
  key.fill(0);
  hash = mixHash(c, hash, timestampField);

  hs.hash = hash;
  hs.chainKey = chainKey;
  hs.localEphemeral.fill(0);
  hs.localEphemeral = ephemeral;
  hs.localIndex = sender;
  hs.state = 'initiation-created';
  return msg;
}

/** What `consumeMessageInitiation` learned; the caller commits it with `commitInitiation`. */
export interface ConsumedInitiation<P> {
  peer: P;
  hs: Handshake;
  hash: Uint8Array;
  chainKey: Uint8Array;
  sender: number;
  ephemeral: Uint8Array;
  timestamp: Uint8Array;
}

/**
 * Checks a handshake initiation (WireGuard paper §5.4.2, responder side): decrypts the initiator's
 * static key, finds its peer with `lookupPeer`, authenticates the timestamp, and rejects replays
 * (timestamp not after the greatest seen) and floods (less than HANDSHAKE_INITIATION_RATE since the
 * last one). Returns `null` on any failure, having changed nothing. On success nothing is changed
 * either: call `commitInitiation` to move the peer's handshake to 'initiation-consumed'.
 */
export function consumeMessageInitiation<P>(
  id: NoiseIdentity,
  msg: Uint8Array,
  lookupPeer: (publicKey: Uint8Array) => { peer: P; hs: Handshake } | undefined,
  nowMs: number,
  initiationRateMs: number,
): ConsumedInitiation<P> | null {
  if (msg.length !== MESSAGE_INITIATION_SIZE || readU32LE(msg, 0) !== MESSAGE_INITIATION_TYPE) return null;
  const c = id.crypto;
  const ephemeral = msg.subarray(8, 40);
  const staticField = msg.subarray(40, 88);
  const timestampField = msg.subarray(88, 116);

  let hash = mixHash(c, id.initialHash, id.publicKey);
  hash = mixHash(c, hash, ephemeral);
  let chainKey = kdf1(c, id.initialChainKey, ephemeral);

  // Decrypt the initiator's static public key.
  const es = id.sharedSecret(ephemeral);
  if (es === null) return null;
  let key: Uint8Array;
  [chainKey, key] = kdf2(c, chainKey, es);
  es.fill(0);
  const peerPk = new Uint8Array(NOISE_PUBLIC_KEY_SIZE);
  if (!open(c, key, staticField, hash, peerPk)) return null;
  hash = mixHash(c, hash, staticField);

  const found = lookupPeer(peerPk);
  if (found === undefined) return null;
  const hs = found.hs;

  // Verify identity: the timestamp is sealed with a key that needs DH(Spriv_i, Spub_r).
  if (isAllZero(hs.precomputedStaticStatic)) return null;
  [chainKey, key] = kdf2(c, chainKey, hs.precomputedStaticStatic);
  const timestamp = new Uint8Array(TAI64N_SIZE);
  const ok = open(c, key, timestampField, hash, timestamp);
  key.fill(0);
  if (!ok) return null;
  hash = mixHash(c, hash, timestampField);

  // Replay and flood protection (WireGuard paper §5.1).
  if (!tai64nAfter(timestamp, hs.lastTimestamp)) return null;
  if (nowMs - hs.lastInitiationConsumption <= initiationRateMs) return null;

  return {
    peer: found.peer,
    hs,
    hash,
    chainKey,
    sender: readU32LE(msg, 4),
    ephemeral: new Uint8Array(ephemeral),
    timestamp,
  };
}

/** Commits a consumed initiation to its handshake: state 'initiation-consumed'. */
export function commitInitiation<P>(ci: ConsumedInitiation<P>, nowMs: number): void {
  const hs = ci.hs;
  hs.hash = ci.hash;
  hs.chainKey = ci.chainKey;
  hs.remoteIndex = ci.sender;
  hs.remoteEphemeral = ci.ephemeral;
  if (tai64nAfter(ci.timestamp, hs.lastTimestamp)) hs.lastTimestamp = ci.timestamp;
  if (nowMs > hs.lastInitiationConsumption) hs.lastInitiationConsumption = nowMs;
  hs.state = 'initiation-consumed';
}

/**
 * Builds the handshake response (type 2, 92 bytes, MACs zero) to a consumed initiation and moves
 * the handshake to 'response-created' (WireGuard paper §5.4.3). `sender` is our fresh index.
 * Returns `null` if the state is wrong or a DH result is zero.
 */
export function createMessageResponse(id: NoiseIdentity, hs: Handshake, sender: number): Uint8Array | null {
  if (hs.state !== 'initiation-consumed') return null;
  const c = id.crypto;
  const msg = new Uint8Array(MESSAGE_RESPONSE_SIZE);
  writeU32LE(msg, 0, MESSAGE_RESPONSE_TYPE);
  writeU32LE(msg, 4, sender);
  writeU32LE(msg, 8, hs.remoteIndex);
  const ephemeralPub = msg.subarray(12, 44);
  const emptyField = msg.subarray(44, 60);

  // (Epriv_r, Epub_r) ← DH-GENERATE(); Cr ← KDF1(Cr, Epub_r); Hr ← HASH(Hr ‖ Epub_r)
  const ephemeral = c.randomBytes(32);
  ephemeralPub.set(c.x25519PublicKey(ephemeral));
  let hash = mixHash(c, hs.hash, ephemeralPub);
  let chainKey = kdf1(c, hs.chainKey, ephemeralPub);
  // Cr ← KDF1(Cr, DH(Epriv_r, Epub_i)); Cr ← KDF1(Cr, DH(Epriv_r, Spub_i))
  const ee = c.x25519(ephemeral, hs.remoteEphemeral);
  if (isAllZero(ee)) return null;
  chainKey = kdf1(c, chainKey, ee);
  ee.fill(0);
  const se = c.x25519(ephemeral, hs.remoteStatic);
  if (isAllZero(se)) return null;
  chainKey = kdf1(c, chainKey, se);
  se.fill(0);
  // (Cr, τ, κ) ← KDF3(Cr, Q); Hr ← HASH(Hr ‖ τ); empty ← AEAD(κ, 0, ε, Hr); Hr ← HASH(Hr ‖ empty)
  const [ck, tau, key] = kdf3(c, chainKey, hs.presharedKey);
  chainKey = ck;
  hash = mixHash(c, hash, tau);
  seal(c, key, EMPTY, hash, emptyField);
  key.fill(0);
  hash = mixHash(c, hash, emptyField);

  hs.hash = hash;
  hs.chainKey = chainKey;
  hs.localEphemeral.fill(0);
  hs.localEphemeral = ephemeral;
  hs.localIndex = sender;
  hs.state = 'response-created';
  return msg;
}

/**
 * Checks a handshake response against the handshake it answers (found by the caller from the
 * receiver index; WireGuard paper §5.4.3, initiator side). Returns `false`, changing nothing, if the
 * state is not 'initiation-created' or authentication fails; on success the handshake moves to
 * 'response-consumed'.
 */
export function consumeMessageResponse(id: NoiseIdentity, hs: Handshake, msg: Uint8Array): boolean {
  if (msg.length !== MESSAGE_RESPONSE_SIZE || readU32LE(msg, 0) !== MESSAGE_RESPONSE_TYPE) return false;
  if (hs.state !== 'initiation-created') return false;
  const c = id.crypto;
  const ephemeral = msg.subarray(12, 44);
  const emptyField = msg.subarray(44, 60);

  let hash = mixHash(c, hs.hash, ephemeral);
  let chainKey = kdf1(c, hs.chainKey, ephemeral);
  const ee = c.x25519(hs.localEphemeral, ephemeral);
  if (isAllZero(ee)) return false;
  chainKey = kdf1(c, chainKey, ee);
  ee.fill(0);
  const se = id.sharedSecret(ephemeral);
  if (se === null) return false;
  chainKey = kdf1(c, chainKey, se);
  se.fill(0);
  const [ck, tau, key] = kdf3(c, chainKey, hs.presharedKey);
  chainKey = ck;
  hash = mixHash(c, hash, tau);
  const ok = open(c, key, emptyField, hash, new Uint8Array(0));
  key.fill(0);
  if (!ok) return false;
  hash = mixHash(c, hash, emptyField);

  hs.hash = hash;
  hs.chainKey = chainKey;
  hs.remoteIndex = readU32LE(msg, 4);
  hs.state = 'response-consumed';
  return true;
}

/** Transport keys derived from a finished handshake. */
export interface SessionKeys {
  /** ChaCha20-Poly1305 key for messages we send (T_send, 32 bytes). */
  sendKey: Uint8Array;
  /** ChaCha20-Poly1305 key for messages we receive (T_recv, 32 bytes). */
  recvKey: Uint8Array;
  /** True if we sent the initiation (only the initiator rekeys after REKEY_AFTER_TIME). */
  isInitiator: boolean;
  /** Our index: the receiver field of the peer's transport messages. */
  localIndex: number;
  /** The peer's index: the receiver field of our transport messages. */
  remoteIndex: number;
}

/**
 * Derives the transport keys (WireGuard paper §5.4.5: (T_send, T_recv) ← KDF2(C, ε), swapped for
 * the responder) and zeroes the handshake. Returns `null` unless the state is 'response-consumed'
 * (initiator) or 'response-created' (responder).
 */
export function beginSymmetricSession(id: NoiseIdentity, hs: Handshake): SessionKeys | null {
  let isInitiator: boolean;
  if (hs.state === 'response-consumed') isInitiator = true;
  else if (hs.state === 'response-created') isInitiator = false;
  else return null;
  const [t0, t1] = kdf2(id.crypto, hs.chainKey, EMPTY);
  const keys: SessionKeys = {
    sendKey: isInitiator ? t0 : t1,
    recvKey: isInitiator ? t1 : t0,
    isInitiator,
    localIndex: hs.localIndex,
    remoteIndex: hs.remoteIndex,
  };
  hs.chainKey.fill(0);
  hs.hash.fill(0);
  hs.localEphemeral.fill(0);
  hs.state = 'zeroed';
  return keys;
}
