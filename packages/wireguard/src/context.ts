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
      type: 'handshake';
      /** The peer's public key, base64. */
      publicKey: string;
      endpoint: Endpoint | undefined;
      /** True if we sent the initiation. */
      initiator: boolean;
    }
  | { type: 'endpoint'; publicKey: string; endpoint: Endpoint };

/** Device-wide counters: packets in and out, and every drop by reason. Plain numbers, read freely. */
export interface DeviceCounters {
  rxDatagrams: number;
  rxBytes: number;
  rxDataPackets: number;
  rxKeepalives: number;
  rxHandshakeInitiations: number;
  rxHandshakeResponses: number;
  rxCookieReplies: number;
  txDatagrams: number;
  txBytes: number;
  txDataPackets: number;
  txKeepalives: number;
  txHandshakeInitiations: number;
  txHandshakeResponses: number;
  txCookieReplies: number;
  /** Datagrams shorter than a keepalive. */
  dropTooShort: number;
  dropUnknownType: number;
  /** Handshake messages of the wrong size for their type. */
  dropBadLength: number;
  dropBadMac1: number;
  /** Under load, handshake messages without a valid mac2 (answered with a cookie reply). */
  dropNeedCookie: number;
  dropRateLimited: number;
  dropInvalidInitiation: number;
  dropInvalidResponse: number;
  dropInvalidCookieReply: number;
  /** Transport or cookie messages whose receiver index is unknown. */
  dropUnknownIndex: number;
  dropExpiredKeypair: number;
  dropDecryptFailed: number;
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
  /** Staged outbound packets dropped because the queue was full, or flushed after failed handshakes. */
  dropStagedOverflow: number;
  dropStagedFlushed: number;
  /** Datagrams not sent because the peer has no endpoint, or the Bind threw. */
  txNoEndpoint: number;
  txErrors: number;
  /** Exceptions caught at the device boundary (a bug if non-zero). */
  internalErrors: number;
}

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
