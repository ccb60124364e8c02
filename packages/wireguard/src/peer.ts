/**
 * A peer: its handshake, keypairs, cookie generator, endpoint, staged packets, timers and
 * statistics, and the send path (wireguard-go `device/peer.go`, `device/send.go`).
 *
 * Send path, in processing order:
 * 1. `sendPacket`: an IP packet routed to this peer is sealed and sent at once when the current
 *    keypair is usable and nothing is queued; otherwise it waits in a bounded queue (`stagePacket`);
 * 2. `sendStagedPackets`: with a usable current keypair, each is padded to 16, given the next
 *    counter, sealed in place behind a transport header and handed to the Bind; without one, a
 *    handshake initiation is sent instead and the packets wait;
 * 3. timers are updated (`timers.ts`) and the key is checked for freshness.
 *
 * Handshake messages go out through `sendHandshakeInitiation` (rate-limited to one per
 * REKEY_TIMEOUT) and `sendHandshakeResponse`.
 */
import { toBase64 } from '@tsnet/core';
import {
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_SIZE,
  PADDING_MULTIPLE,
  QUEUE_STAGED_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import type { DeviceContext, Endpoint } from './context.js';
import { CookieGenerator } from './cookie.js';
import { writeTransportHeader, writeU32LE } from './messages.js';
import {
  beginSymmetricSession,
  createMessageInitiation,
  createMessageResponse,
  Handshake,
} from './noise/handshake.js';
import { Keypair, Keypairs } from './noise/keypair.js';
import {
  newPeerTimers,
  type PeerTimers,
  timersAnyAuthenticatedPacketSent,
  timersAnyAuthenticatedPacketTraversal,
  timersDataSent,
  timersHandshakeInitiated,
  timersSessionDerived,
} from './timers.js';

const EMPTY = new Uint8Array(0);

/** A peer's statistics, in the shape `wg show` reports them. */
export interface PeerStats {
  /** Public key, base64. */
  publicKey: string;
  /** The current endpoint (configured, or learned by roaming); undefined if none is known. */
  endpoint: Endpoint | undefined;
  /** Allowed IPs as prefixes, e.g. `10.0.0.2/32`. */
  allowedIps: string[];
  /** Unix-epoch ms of the latest completed handshake; 0 if none. */
  latestHandshake: number;
  /** Bytes received from the peer (whole datagrams, as wireguard-go counts). */
  rxBytes: number;
  /** Bytes sent to the peer. */
  txBytes: number;
  /** Seconds; 0 when off. */
  persistentKeepalive: number;
  /** True if a non-zero preshared key is configured (the key itself is never reported). */
  hasPresharedKey: boolean;
}

/** Amount of zero padding for a packet of `size` bytes (wireguard-go `calculatePaddingSize`). */
export function paddingSize(size: number, mtu: number): number {
  let last = size;
  if (mtu === 0) return ((last + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1)) - last;
  if (last > mtu) last %= mtu;
  let padded = (last + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1);
  if (padded > mtu) padded = mtu;
  return padded - last;
}

export class Peer {
  readonly ctx: DeviceContext;
  readonly publicKey: Uint8Array;
  /** Base64 of the public key: the key of the device's peer map and of events. */
  readonly publicKeyText: string;
  readonly handshake: Handshake;
  readonly keypairs = new Keypairs();
  readonly cookieGenerator: CookieGenerator;
  readonly timers: PeerTimers = newPeerTimers();
  endpoint: Endpoint | undefined;
  /** When true, authenticated packets from a new address do not move the endpoint. */
  disableRoaming = false;
  /** Persistent keepalive interval in seconds; 0 is off. */
  persistentKeepalive = 0;
  hasPresharedKey = false;
  /** IP packets waiting for a keypair (empty arrays are keepalives). */
  staged: Uint8Array[] = [];
  rxBytes = 0;
  txBytes = 0;
  /** Unix-epoch ms of the latest completed handshake; 0 if none. */
  latestHandshake = 0;
  readonly #nonce = new Uint8Array(12);

  constructor(ctx: DeviceContext, publicKey: Uint8Array, presharedKey: Uint8Array | undefined) {
    this.ctx = ctx;
    this.publicKey = new Uint8Array(publicKey);
    this.publicKeyText = toBase64(this.publicKey);
    this.handshake = new Handshake(ctx.id, this.publicKey, presharedKey);
    this.hasPresharedKey = presharedKey?.some((b) => b !== 0) === true;
    this.cookieGenerator = new CookieGenerator(ctx.crypto, this.publicKey);
  }

  /** A short name for logs: the first characters of the public key, never a secret. */
  toString(): string {
    return `peer(${this.publicKeyText.slice(0, 8)}…)`;
  }

  setPresharedKey(psk: Uint8Array | undefined): void {
    this.handshake.presharedKey.fill(0);
    if (psk !== undefined) this.handshake.presharedKey.set(psk);
    this.hasPresharedKey = psk?.some((b) => b !== 0) === true;
  }

  /** Roaming: an authenticated packet from `endpoint` makes it the peer's endpoint. */
  setEndpointFromPacket(endpoint: Endpoint): void {
    if (this.disableRoaming || endpoint === this.endpoint) return;
    this.endpoint = endpoint;
    this.ctx.out.event({ type: 'endpoint', publicKey: this.publicKeyText, endpoint });
  }

  stats(): PeerStats {
    return {
      publicKey: this.publicKeyText,
      endpoint: this.endpoint,
      allowedIps: this.ctx.allowedIps.prefixesForPeer(this),
      latestHandshake: this.latestHandshake,
      rxBytes: this.rxBytes,
      txBytes: this.txBytes,
      persistentKeepalive: this.persistentKeepalive,
      hasPresharedKey: this.hasPresharedKey,
    };
  }

  #send(data: Uint8Array): boolean {
    if (!this.ctx.send(data, this.endpoint)) return false;
    this.txBytes += data.length;
    return true;
  }

  /**
   * Sends a handshake initiation unless one went out less than REKEY_TIMEOUT ago
   * (wireguard-go `SendHandshakeInitiation`). `isRetry` keeps the attempt count.
   */
  sendHandshakeInitiation(isRetry: boolean, now: number): void {
    if (!isRetry) this.timers.handshakeAttempts = 0;
    const hs = this.handshake;
    if (now - hs.lastSentHandshake < REKEY_TIMEOUT_MS) return;
    hs.lastSentHandshake = now;
    const ctx = this.ctx;
    ctx.indexTable.delete(hs.localIndex);
    const index = ctx.indexTable.newIndexForHandshake(this, hs);
    const msg = createMessageInitiation(ctx.id, hs, index, ctx.wallNow());
    if (msg === null) {
      ctx.indexTable.delete(index);
      hs.localIndex = 0;
      ctx.logf('%s: cannot create initiation: invalid public key', this.toString());
      return;
    }
    ctx.logf('%s: sending handshake initiation', this.toString());
    this.cookieGenerator.addMacs(msg, now);
    timersAnyAuthenticatedPacketTraversal(this, now);
    timersAnyAuthenticatedPacketSent(this);
    if (this.#send(msg)) ctx.counters.txHandshakeInitiations++;
    timersHandshakeInitiated(this, now);
  }

  /** Answers a consumed initiation and derives the (unconfirmed) keypair (wireguard-go `SendHandshakeResponse`). */
  sendHandshakeResponse(now: number): void {
    const hs = this.handshake;
    const ctx = this.ctx;
    hs.lastSentHandshake = now;
    ctx.indexTable.delete(hs.localIndex);
    const index = ctx.indexTable.newIndexForHandshake(this, hs);
    const msg = createMessageResponse(ctx.id, hs, index);
    if (msg === null) {
      ctx.indexTable.delete(index);
      hs.localIndex = 0;
      ctx.logf('%s: cannot create handshake response', this.toString());
      return;
    }
    this.cookieGenerator.addMacs(msg, now);
    if (!this.deriveKeypair(now)) return;
    timersSessionDerived(this, now);
    timersAnyAuthenticatedPacketTraversal(this, now);
    timersAnyAuthenticatedPacketSent(this);
    ctx.logf('%s: sending handshake response', this.toString());
    if (this.#send(msg)) ctx.counters.txHandshakeResponses++;
  }

  /** Turns the finished handshake into a keypair and rotates it in (wireguard-go `BeginSymmetricSession`). */
  deriveKeypair(now: number): boolean {
    const ctx = this.ctx;
    const keys = beginSymmetricSession(ctx.id, this.handshake);
    if (keys === null) return false;
    const kp = new Keypair(
      keys.sendKey,
      keys.recvKey,
      keys.isInitiator,
      now,
      keys.localIndex,
      keys.remoteIndex,
    );
    ctx.indexTable.swapIndexForKeypair(keys.localIndex, kp);
    this.handshake.localIndex = 0;
    for (const old of this.keypairs.install(kp)) this.#deleteKeypair(old);
    return true;
  }

  #deleteKeypair(kp: Keypair): void {
    this.ctx.indexTable.delete(kp.localIndex);
    kp.zero();
  }

  /** Called after a transport packet authenticated with `kp`: confirms a `next` keypair. */
  receivedWithKeypair(kp: Keypair): boolean {
    const { confirmed, dropped } = this.keypairs.receivedWith(kp);
    if (dropped !== undefined) this.#deleteKeypair(dropped);
    return confirmed;
  }

  /** Queues an IP packet for this peer (takes ownership), dropping the oldest when full. */
  stagePacket(packet: Uint8Array): void {
    if (this.staged.length >= QUEUE_STAGED_SIZE) {
      this.staged.shift();
      this.ctx.counters.dropStagedOverflow++;
    }
    this.staged.push(packet);
  }

  /** Sends a keepalive (an empty transport message) unless packets are already waiting. */
  sendKeepalive(now: number): void {
    if (this.staged.length === 0) this.staged.push(EMPTY);
    this.sendStagedPackets(now);
  }

  /**
   * Sends one IP packet (takes ownership): at once when nothing is waiting and the current keypair
   * is usable (the common case, with no queueing), else through the staged queue.
   */
  sendPacket(packet: Uint8Array, now: number, inPlace = false): void {
    const kp = this.keypairs.current;
    if (
      this.staged.length > 0 ||
      kp === undefined ||
      kp.sendNonce >= REJECT_AFTER_MESSAGES ||
      now - kp.created >= REJECT_AFTER_TIME_MS
    ) {
      this.stagePacket(packet);
      this.sendStagedPackets(now);
      return;
    }
    if (this.#send(this.#seal(kp, packet, inPlace))) this.ctx.counters.txDataPackets++;
    timersAnyAuthenticatedPacketTraversal(this, now);
    timersAnyAuthenticatedPacketSent(this);
    timersDataSent(this, now);
    this.#keepKeyFreshSending(now);
  }

  /** Encrypts and sends the staged packets, or starts a handshake if there is no usable keypair. */
  sendStagedPackets(now: number): void {
    if (this.staged.length === 0) return;
    const kp = this.keypairs.current;
    if (
      kp === undefined ||
      kp.sendNonce >= REJECT_AFTER_MESSAGES ||
      now - kp.created >= REJECT_AFTER_TIME_MS
    ) {
      this.sendHandshakeInitiation(false, now);
      return;
    }
    const ctx = this.ctx;
    const packets = this.staged;
    this.staged = [];
    let dataSent = false;
    for (const packet of packets) {
      const msg = this.#seal(kp, packet);
      if (this.#send(msg)) {
        if (packet.length > 0) {
          ctx.counters.txDataPackets++;
          dataSent = true;
        } else {
          ctx.counters.txKeepalives++;
        }
      }
    }
    timersAnyAuthenticatedPacketTraversal(this, now);
    timersAnyAuthenticatedPacketSent(this);
    if (dataSent) timersDataSent(this, now);
    this.#keepKeyFreshSending(now);
  }

  /**
   * Builds a transport message: header ‖ ChaCha20-Poly1305(packet ‖ zero padding) with the next
   * counter. With `inPlace`, `packet` is a view with SEND_HEADROOM bytes before it and SEND_TAILROOM
   * after it in its buffer (checked by the caller), and the message is built around it without a copy.
   */
  #seal(kp: Keypair, packet: Uint8Array, inPlace = false): Uint8Array {
    const padded = packet.length + paddingSize(packet.length, this.ctx.mtu);
    let msg: Uint8Array;
    if (inPlace) {
      msg = new Uint8Array(
        packet.buffer,
        packet.byteOffset - MESSAGE_TRANSPORT_HEADER_SIZE,
        MESSAGE_TRANSPORT_SIZE + padded,
      );
      msg.fill(0, MESSAGE_TRANSPORT_HEADER_SIZE + packet.length, MESSAGE_TRANSPORT_HEADER_SIZE + padded);
    } else {
      msg = new Uint8Array(MESSAGE_TRANSPORT_SIZE + padded);
      msg.set(packet, MESSAGE_TRANSPORT_HEADER_SIZE);
    }
    const counter = kp.sendNonce++;
    writeTransportHeader(msg, kp.remoteIndex, counter);
    const nonce = this.#nonce;
    writeU32LE(nonce, 4, counter >>> 0);
    writeU32LE(nonce, 8, Math.floor(counter / 0x1_0000_0000));
    const body = msg.subarray(MESSAGE_TRANSPORT_HEADER_SIZE);
    this.ctx.crypto.chacha20poly1305Seal(kp.sendKey, nonce, body.subarray(0, padded), undefined, body);
    return msg;
  }

  /** Opens a transport message's content in place; the plaintext length, or -1 if it does not authenticate. */
  openTransport(kp: Keypair, counter: number, content: Uint8Array): number {
    const nonce = this.#nonce;
    writeU32LE(nonce, 4, counter >>> 0);
    writeU32LE(nonce, 8, Math.floor(counter / 0x1_0000_0000));
    if (!this.ctx.crypto.chacha20poly1305Open(kp.recvKey, nonce, content, undefined, content)) return -1;
    return content.length - 16;
  }

  /** wireguard-go `keepKeyFreshSending`: the initiator rekeys after REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES. */
  #keepKeyFreshSending(now: number): void {
    const kp = this.keypairs.current;
    if (kp === undefined) return;
    if (kp.sendNonce > REKEY_AFTER_MESSAGES || (kp.isInitiator && now - kp.created > REKEY_AFTER_TIME_MS)) {
      this.sendHandshakeInitiation(false, now);
    }
  }

  /** Drops staged packets (after giving up on a handshake). */
  flushStagedPackets(): void {
    for (const p of this.staged) if (p.length > 0) this.ctx.counters.dropStagedFlushed++;
    this.staged = [];
  }

  /** Forgets all keys and the handshake (wireguard-go `ZeroAndFlushAll`). */
  zeroAndFlushAll(): void {
    for (const kp of this.keypairs.clear()) this.#deleteKeypair(kp);
    this.ctx.indexTable.delete(this.handshake.localIndex);
    this.handshake.clear();
    this.flushStagedPackets();
  }
}
