/**
 * MACs and cookies: the DoS mitigation of WireGuard (paper §5.3, §5.4.4, §5.4.7; wireguard-go
 * `device/cookie.go`).
 *
 * Every handshake message ends with mac1 ‖ mac2:
 * - mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub_receiver), msg up to mac1): proves the sender knows our public
 *   key; always checked.
 * - mac2 = MAC(cookie, msg up to mac2), or zeros without a cookie: checked only under load. A cookie
 *   is MAC(secret, source address) with a secret that changes every COOKIE_REFRESH_TIME; the
 *   responder sends it in a cookie reply (type 3), XChaCha20-Poly1305-encrypted with
 *   HASH(LABEL_COOKIE ‖ Spub_responder) and the rejected message's mac1 as additional data.
 *
 * MAC here is keyed BLAKE2s with a 16-byte output. `CookieChecker` is the receiving side (one per
 * device, keyed by our public key); `CookieGenerator` the sending side (one per peer, keyed by its
 * public key).
 */
import { type CryptoProvider, constantTimeEqual, utf8 } from '@tsnet/core';
import {
  COOKIE_REFRESH_TIME_MS,
  MAC_SIZE,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  WG_LABEL_COOKIE,
  WG_LABEL_MAC1,
} from './constants.js';
import { readU32LE, writeU32LE } from './messages.js';

const LABEL_MAC1 = utf8(WG_LABEL_MAC1);
const LABEL_COOKIE = utf8(WG_LABEL_COOKIE);

/** Our side of the MACs: checks mac1/mac2 of incoming handshake messages, makes cookie replies. */
export class CookieChecker {
  readonly #c: CryptoProvider;
  readonly #mac1Key: Uint8Array;
  readonly #encryptionKey: Uint8Array;
  readonly #secret = new Uint8Array(32);
  #secretSet = Number.NEGATIVE_INFINITY;

  constructor(crypto: CryptoProvider, publicKey: Uint8Array) {
    this.#c = crypto;
    this.#mac1Key = crypto.blake2s([LABEL_MAC1, publicKey]);
    this.#encryptionKey = crypto.blake2s([LABEL_COOKIE, publicKey]);
  }

  /** True if the message's mac1 is valid (a handshake message of any length ≥ 32). */
  checkMAC1(msg: Uint8Array): boolean {
    if (msg.length < 2 * MAC_SIZE) return false;
    const smac2 = msg.length - MAC_SIZE;
    const smac1 = smac2 - MAC_SIZE;
    const mac1 = this.#c.blake2s(msg.subarray(0, smac1), MAC_SIZE, this.#mac1Key);
    return constantTimeEqual(mac1, msg.subarray(smac1, smac2));
  }

  /** True if mac2 is valid for a cookie we would give `src` now. */
  checkMAC2(msg: Uint8Array, src: Uint8Array, nowMs: number): boolean {
    if (msg.length < 2 * MAC_SIZE) return false;
    if (nowMs - this.#secretSet > COOKIE_REFRESH_TIME_MS) return false;
    const cookie = this.#c.blake2s(src, MAC_SIZE, this.#secret);
    const smac2 = msg.length - MAC_SIZE;
    const mac2 = this.#c.blake2s(msg.subarray(0, smac2), MAC_SIZE, cookie);
    return constantTimeEqual(mac2, msg.subarray(smac2));
  }

  /** A cookie reply (type 3) to `msg` for the sender index `receiver` at source `src`. */
  createReply(msg: Uint8Array, receiver: number, src: Uint8Array, nowMs: number): Uint8Array {
    if (nowMs - this.#secretSet > COOKIE_REFRESH_TIME_MS) {
      this.#secret.set(this.#c.randomBytes(32));
      this.#secretSet = nowMs;
    }
    const cookie = this.#c.blake2s(src, MAC_SIZE, this.#secret);
    const smac2 = msg.length - MAC_SIZE;
    const smac1 = smac2 - MAC_SIZE;
    const reply = new Uint8Array(MESSAGE_COOKIE_REPLY_SIZE);
    writeU32LE(reply, 0, MESSAGE_COOKIE_REPLY_TYPE);
    writeU32LE(reply, 4, receiver);
    const nonce = reply.subarray(8, 32);
    nonce.set(this.#c.randomBytes(24));
    this.#c.xchacha20poly1305Seal(
      this.#encryptionKey,
      nonce,
      cookie,
      msg.subarray(smac1, smac2),
      reply.subarray(32),
    );
    return reply;
  }
}

/** The peer's side of the MACs: adds mac1/mac2 to what we send it, takes its cookie replies. */
export class CookieGenerator {
  readonly #c: CryptoProvider;
  readonly #mac1Key: Uint8Array;
  readonly #encryptionKey: Uint8Array;
  readonly #cookie = new Uint8Array(MAC_SIZE);
  #cookieSet = Number.NEGATIVE_INFINITY;
  readonly #lastMAC1 = new Uint8Array(MAC_SIZE);
  #hasLastMAC1 = false;

  constructor(crypto: CryptoProvider, peerPublicKey: Uint8Array) {
    this.#c = crypto;
    this.#mac1Key = crypto.blake2s([LABEL_MAC1, peerPublicKey]);
    this.#encryptionKey = crypto.blake2s([LABEL_COOKIE, peerPublicKey]);
  }

  /** True while a cookie from the peer is fresh (mac2 will be non-zero). */
  hasCookie(nowMs: number): boolean {
    return nowMs - this.#cookieSet <= COOKIE_REFRESH_TIME_MS;
  }

  /** Decrypts a cookie reply to our last message; false (nothing changed) if it does not authenticate. */
  consumeReply(reply: Uint8Array, nowMs: number): boolean {
    if (!this.#hasLastMAC1 || reply.length !== MESSAGE_COOKIE_REPLY_SIZE) return false;
    if (readU32LE(reply, 0) !== MESSAGE_COOKIE_REPLY_TYPE) return false;
    const cookie = new Uint8Array(MAC_SIZE);
    if (
      !this.#c.xchacha20poly1305Open(
        this.#encryptionKey,
        reply.subarray(8, 32),
        reply.subarray(32),
        this.#lastMAC1,
        cookie,
      )
    ) {
      return false;
    }
    this.#cookie.set(cookie);
    this.#cookieSet = nowMs;
    return true;
  }

  /** Writes mac1, and mac2 if we hold a fresh cookie, into the last 32 bytes of `msg`. */
  addMacs(msg: Uint8Array, nowMs: number): void {
    const smac2 = msg.length - MAC_SIZE;
    const smac1 = smac2 - MAC_SIZE;
    const mac1 = this.#c.blake2s(msg.subarray(0, smac1), MAC_SIZE, this.#mac1Key);
    msg.set(mac1, smac1);
    this.#lastMAC1.set(mac1);
    this.#hasLastMAC1 = true;
    if (!this.hasCookie(nowMs)) {
      msg.fill(0, smac2);
      return;
    }
    msg.set(this.#c.blake2s(msg.subarray(0, smac2), MAC_SIZE, this.#cookie), smac2);
  }
}
