/**
 * The state a device shares with its peers and the receive path (internal). One per `DeviceCore`;
 * nothing here is module-level, so several devices in one process are independent.
 */
import type { CryptoProvider, Logf } from '@tsnet/core';
import type { AllowedIps } from './allowed-ips.js';
import type { CookieChecker } from './cookie.js';
import type { IndexTable } from './index-table.js';
import type { NoiseIdentity } from './noise/handshake.js';
import type { Peer } from './peer.js';
import type { RateLimiter } from './ratelimiter.js';

/** A peer's address as the Bind understands it: `ip:port`, `[ipv6]:port`, or any name a custom Bind uses. */
export type Endpoint = string;

/** Where the sans-IO core puts its output. Each call passes ownership of `data`. */
export interface DeviceCoreOutput {
  /** A datagram to send to `endpoint` through the Bind. */
  sendDatagram(data: Uint8Array, endpoint: Endpoint): void;
  /** A decrypted, authenticated, allowed IP packet for the TUN side. */
  deliverPacket(packet: Uint8Array, peerPublicKey: string): void;
  /** An event (handshake completed, ...). */
  event(event: DeviceEvent): void;
}

/** Events of a device. */
export type DeviceEvent =
  | {
      /**
       * A handshake completed: as initiator when the response was consumed, as responder when the
       * first transport message confirmed the new keypair (wireguard-go `timersHandshakeComplete`).
       */
      type: 'handshake';
      /** The peer's public key, base64. */
      publicKey: string;
      /** The peer's endpoint at that moment (undefined if none is known yet). */
      endpoint: Endpoint | undefined;
      /** True if we sent the initiation. */
      initiator: boolean;
    }
  | {
      /** Roaming: an authenticated packet came from a new endpoint, which is now the peer's. */
      type: 'endpoint';
      /** The peer's public key, base64. */
      publicKey: string;
      /** The new endpoint, as the Bind reported the packet's source. */
      endpoint: Endpoint;
    };

/** Device-wide counters: packets in and out, and every drop by reason. Plain numbers, read freely. */
export interface DeviceCounters {
  /** Datagrams the Bind delivered, valid or not. */
  rxDatagrams: number;
  /** Bytes of `rxDatagrams` (WireGuard messages, without UDP/IP headers). */
  rxBytes: number;
  /** Decrypted IP packets delivered to the TUN side (after the allowed-IPs source check). */
  rxDataPackets: number;
  /** Authenticated empty transport messages (keepalives) received. */
  rxKeepalives: number;
  /** Handshake initiations consumed (wireguard-go `ConsumeMessageInitiation` succeeded). */
  rxHandshakeInitiations: number;
  /** Handshake responses consumed (`ConsumeMessageResponse` succeeded). */
  rxHandshakeResponses: number;
  /** Cookie replies that decrypted and were stored for the next mac2. */
  rxCookieReplies: number;
  /** Datagrams handed to the Bind without error, of every message type. */
  txDatagrams: number;
  /** Bytes of `txDatagrams`. */
  txBytes: number;
  /** IP packets sent encrypted in transport messages. */
  txDataPackets: number;
  /** Keepalives (empty transport messages) sent. */
  txKeepalives: number;
  /** Handshake initiations sent, retransmissions included. */
  txHandshakeInitiations: number;
  /** Handshake responses sent. */
  txHandshakeResponses: number;
  /** Cookie replies sent to handshake messages without a valid mac2 while under load. */
  txCookieReplies: number;
  /** Datagrams shorter than a keepalive. */
  dropTooShort: number;
  /** Datagrams whose first 4 bytes are not message type 1–4. */
  dropUnknownType: number;
  /** Handshake messages of the wrong size for their type. */
  dropBadLength: number;
  /** Handshake messages whose mac1 (keyed with our public key, WireGuard paper §5.4.4) does not verify. */
  dropBadMac1: number;
  /** Under load, handshake messages without a valid mac2 (answered with a cookie reply). */
  dropNeedCookie: number;
  /** Under load, handshake messages over the per-source-IP rate limit (RATELIMITER_* constants). */
  dropRateLimited: number;
  /**
   * Initiations that failed `consumeMessageInitiation`: unknown static key, bad AEAD, a replayed
   * or old TAI64N timestamp, or more than one per HANDSHAKE_INITIATION_RATE_MS.
   */
  dropInvalidInitiation: number;
  /** Responses for no handshake of ours, or that failed `consumeMessageResponse`. */
  dropInvalidResponse: number;
  /** Cookie replies that did not decrypt (or answered no mac1 we sent). */
  dropInvalidCookieReply: number;
  /** Transport or cookie messages whose receiver index is unknown. */
  dropUnknownIndex: number;
  /** Transport messages for a keypair older than REJECT_AFTER_TIME. */
  dropExpiredKeypair: number;
  /** Transport messages whose ChaCha20-Poly1305 tag did not verify. */
  dropDecryptFailed: number;
  /** Transport messages with a counter already seen or below the sliding window (RFC 6479 filter). */
  dropReplay: number;
  /** Counters at or past REJECT_AFTER_MESSAGES. */
  dropCounterLimit: number;
  /** Decrypted packets that are not IPv4/IPv6 or whose length fields do not fit. */
  dropBadIpPacket: number;
  /** Decrypted packets whose source is not in the sending peer's allowed IPs (cryptokey routing). */
  dropNotAllowedSource: number;
  /** Outbound packets with no peer for their destination. */
  dropNoRoute: number;
  /** Outbound packets that are not IPv4/IPv6. */
  dropBadOutbound: number;
  /** Staged outbound packets dropped because QUEUE_STAGED_SIZE were already waiting (oldest first). */
  dropStagedOverflow: number;
  /** Staged outbound packets flushed after giving up on the handshake, or when the keys were zeroed. */
  dropStagedFlushed: number;
  /** Datagrams not sent because the peer has no endpoint. */
  txNoEndpoint: number;
  /** Datagrams not sent because the Bind's `send` threw (logged). */
  txErrors: number;
  /** Exceptions caught at the device boundary (a bug if non-zero). */
  internalErrors: number;
}

/** A zeroed counters object, one per `DeviceCore`. */
export function newCounters(): DeviceCounters {
  return {
    rxDatagrams: 0,
    rxBytes: 0,
    rxDataPackets: 0,
    rxKeepalives: 0,
    rxHandshakeInitiations: 0,
    rxHandshakeResponses: 0,
    rxCookieReplies: 0,
    txDatagrams: 0,
    txBytes: 0,
    txDataPackets: 0,
    txKeepalives: 0,
    txHandshakeInitiations: 0,
    txHandshakeResponses: 0,
    txCookieReplies: 0,
    dropTooShort: 0,
    dropUnknownType: 0,
    dropBadLength: 0,
    dropBadMac1: 0,
    dropNeedCookie: 0,
    dropRateLimited: 0,
    dropInvalidInitiation: 0,
    dropInvalidResponse: 0,
    dropInvalidCookieReply: 0,
    dropUnknownIndex: 0,
    dropExpiredKeypair: 0,
    dropDecryptFailed: 0,
    dropReplay: 0,
    dropCounterLimit: 0,
    dropBadIpPacket: 0,
    dropNotAllowedSource: 0,
    dropNoRoute: 0,
    dropBadOutbound: 0,
    dropStagedOverflow: 0,
    dropStagedFlushed: 0,
    txNoEndpoint: 0,
    txErrors: 0,
    internalErrors: 0,
  };
}

export interface DeviceContext {
  readonly id: NoiseIdentity;
  readonly crypto: CryptoProvider;
  readonly indexTable: IndexTable<Peer>;
  readonly allowedIps: AllowedIps<Peer>;
  readonly cookieChecker: CookieChecker;
  readonly rateLimiter: RateLimiter;
  readonly out: DeviceCoreOutput;
  readonly counters: DeviceCounters;
  readonly logf: Logf;
  readonly mtu: number;
  /** Uniform in [0, 1): timer jitter. */
  readonly random: () => number;
  /** Unix-epoch ms: TAI64N timestamps and `latestHandshake`. */
  readonly wallNow: () => number;
  /** Sends a datagram, counting it; false if there is no endpoint or the Bind threw. */
  send(data: Uint8Array, endpoint: Endpoint | undefined): boolean;
  /** The configured peer with this static public key. */
  lookupPeer(publicKey: Uint8Array): Peer | undefined;
  /** A peer armed a timer for `at` (monotonic ms): `pollAt()` must not be later than that. */
  noteDeadline(at: number): void;
  /** Counts a handshake message and tells whether the device is under load (wireguard-go `IsUnderLoad`). */
  isUnderLoad(now: number): boolean;
}
