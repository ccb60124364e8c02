/**
 * TCP tunables and the connection's outward interface (what it tells its driver). Constants cite
 * where their defaults come from.
 */
import type { TcpRepr } from '../wire/tcp.js';
import type { CongestionAlgorithm } from './congestion.js';
import { RTO_MIN_MS } from './rtt.js';

/** RFC 9293 §3.3.2 state names. LISTEN is held by the listener, not by a connection. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** Why a connection failed, as Node errno names. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT';

/**
 * TCP tunables of a stack (`StackOptions.tcp`, defaults in `DEFAULT_TCP_CONFIG`). Sizes are in
 * bytes, times in milliseconds.
 */
export interface TcpConfig {
  /** The MSS we announce: the largest segment payload our link can carry (MTU − 40 or − 60). */
  mss: number;
  /** Send buffer per connection in bytes (default 1 MiB): unacknowledged plus not-yet-sent data. */
  sendBufferSize: number;
  /** Receive buffer per connection in bytes (default 1 MiB): the largest window we advertise. */
  recvBufferSize: number;
  /** The congestion control algorithm of new connections (default `'cubic'`). */
  congestion: CongestionAlgorithm;
  /** Offer SACK (RFC 2018). */
  sack: boolean;
  /** Offer timestamps (RFC 7323 §3). */
  timestamps: boolean;
  /** Offer window scaling (RFC 7323 §2). */
  windowScaling: boolean;
  /** Grow the advertised window with what the app drains (dynamic right-sizing), up to `recvBufferSize`. */
  autotune: boolean;
  /** RACK-TLP loss detection (RFC 8985), used when SACK is negotiated. */
  rack: boolean;
  /** Disable Nagle's algorithm (RFC 9293 §3.7.4). */
  noDelay: boolean;
  /** Delayed-ACK timeout; 0 acknowledges every segment at once (RFC 9293 §3.8.6.3). */
  delayedAckMs: number;
  /** Time spent in TIME-WAIT: 2 × MSL (RFC 9293 §3.4.2). */
  timeWaitMs: number;
  /** Lower bound of the retransmission timeout (default 200 ms as Linux; RFC 6298 §2.4 says 1 s). */
  rtoMinMs: number;
  /** Retransmissions of one segment before the connection fails with ETIMEDOUT. */
  maxRetries: number;
  /** Retransmissions of a SYN before connecting fails with ETIMEDOUT. */
  synRetries: number;
  /** Idle time before the first keepalive probe (RFC 9293 §3.8.4), used once keepalive is enabled. */
  keepIdleMs: number;
  /** Time between unanswered keepalive probes (default 75 s, Linux's `tcp_keepalive_intvl`). */
  keepIntervalMs: number;
  /** Unanswered keepalive probes before the connection fails with ETIMEDOUT (default 9, as Linux). */
  keepCount: number;
}

/** The defaults `StackOptions.tcp` overrides: Linux's choices where RFC 9293 leaves one open. */
export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mss: 1240,
  sendBufferSize: 1 << 20,
  recvBufferSize: 1 << 20,
  congestion: 'cubic',
  sack: true,
  timestamps: true,
  windowScaling: true,
  rack: true,
  autotune: true,
  noDelay: false,
  delayedAckMs: 40, // Linux's minimum; RFC 9293 requires < 0.5 s
  timeWaitMs: 60_000, // MSL of 30 s, as Linux
  rtoMinMs: RTO_MIN_MS,
  maxRetries: 15, // Linux tcp_retries2
  synRetries: 6, // Linux tcp_syn_retries
  keepIdleMs: 2 * 60 * 60 * 1000, // RFC 1122 §4.2.3.6: no less than two hours by default
  keepIntervalMs: 75_000,
  keepCount: 9,
};

/** What a connection tells its driver. Called synchronously from the connection's methods. */
export interface TcpHooks {
  /** Sends a segment. `seg` (and its payload) is only valid during the call: copy it. */
  output(seg: TcpRepr): void;
  /** The three-way handshake completed. */
  onEstablished(): void;
  /** In-order data or the peer's FIN became readable. */
  onReadable(): void;
  /** Send-buffer space was freed. */
  onWritable(): void;
  /** The connection reached CLOSED; `error` is null after an orderly close or a local abort. */
  onClosed(error: TcpErrorCode | null): void;
}
