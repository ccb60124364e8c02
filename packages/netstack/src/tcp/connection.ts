/**
 * One TCP connection as a sans-IO state machine (RFC 9293). Bytes and `now` go in (`handle`,
 * `send`, `read`, `close`, `abort`, `onTimer`); segments come out through `hooks.output`; the
 * driver asks `pollAt()` when to call `onTimer` next. Nothing here touches a clock or a socket.
 *
 * Read in this order: `handle` (RFC 9293 §3.10.7, "SEGMENT ARRIVES", one branch per state), then
 * `processAck` (ACK processing, RFC 5961 §5, RFC 5681/6582/6675 loss detection), then
 * `transmit` in output.ts (what goes out: data, retransmissions, ACKs), then timers.ts
 * (RTO RFC 6298, RACK-TLP, delayed ACK, persist, keepalive, TIME-WAIT); segments.ts builds the
 * segments (options, advertised window). sack.ts, rack.ts and congestion.ts hold the loss and
 * congestion machinery.
 */
import { emptyTcpRepr, TCP_FLAG, type TcpRepr } from '../wire/tcp.js';
import { RecvBuffer, SendBuffer } from './buffer.js';
import { type CongestionControl, createCongestionControl } from './congestion.js';
import type { TcpConfig, TcpErrorCode, TcpHooks, TcpState } from './options.js';
import { transmit } from './output.js';
import { Rack } from './rack.js';
import { RttEstimator } from './rtt.js';
import { DUP_THRESH, SackScoreboard } from './sack.js';
import {
  emitRst,
  prepareSegment,
  rcvSpaceAdjust,
  rcvWindowLimit,
  sendSyn,
  windowShiftFor,
} from './segments.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import { runTimers } from './timers.js';

/** RFC 5961 §7: at most this many challenge ACKs per second per connection. */
const CHALLENGE_ACK_LIMIT = 10;
/** Starting receive window target for auto-tuning (Linux starts near 64 KiB). */
const INITIAL_RCV_SPACE = 128 * 1024;
/** RFC 9293 §3.7.1: the MSS assumed when the peer sends none. */
const DEFAULT_MSS_V4 = 536;
const DEFAULT_MSS_V6 = 1220;

export { windowShiftFor };

export interface TcpEndpoints {
  localPort: number;
  remotePort: number;
  /** True when the addresses are IPv6 (for the default MSS). */
  ipv6: boolean;
}

export class TcpConnection {
  state: TcpState = 'CLOSED';
  readonly sendBuf: SendBuffer;
  readonly recvBuf: RecvBuffer;
  readonly rtt: RttEstimator;
  readonly sack = new SackScoreboard();
  readonly rack = new Rack();
  /** Tail loss probe deadline (RFC 8985 §7.2), or Infinity. */
  tlpAt = Number.POSITIVE_INFINITY;
  /** A TLP is out and no ACK has advanced since (§7.3: one probe per episode). */
  tlpOutstanding = false;
  /** Let the next new segment ignore cwnd (it is a TLP, §7.3). */
  tlpForce = false;
  cc: CongestionControl;

  // RFC 9293 §3.3.1 send sequence variables (plus SND.MAX, the highest sequence sent).
  iss: number;
  sndUna: number;
  sndNxt: number;
  sndMax: number;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Sequence number of the first byte in `sendBuf`. */
  bufSeq: number;
  /** The app called close(): a FIN follows the buffered data, at `bufSeq + sendBuf.length`. */
  finQueued = false;
  /** Largest payload per segment, before options (min of both MSS announcements). */
  sndMss: number;

  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  /** The right edge we last advertised; never moved left (RFC 9293 §3.8.6.2.2). */
  rcvAdvEdge = 0;
  /** The peer's FIN arrived and is in sequence. */
  finReceived = false;
  /** Sequence number of a FIN that arrived out of order, or -1. */
  pendingFin = -1;
  /** Receive-window auto-tuning: the current target, bytes read since `rcvSpaceTime`, RTT seen by the receiver. */
  rcvSpace: number;
  rcvCopied = 0;
  rcvSpaceTime = 0;
  rcvRtt = 0;
  rcvRttSeen = false;

  // Negotiated options (RFC 7323, RFC 2018).
  wsOk = false;
  sndShift = 0;
  rcvShift = 0;
  sackOk = false;
  tsOk = false;
  tsRecent = 0;
  lastAckSent = 0;
  readonly tsOffset: number;

  // Loss recovery (RFC 5681 §3.2, RFC 6582, RFC 6675).
  dupAcks = 0;
  inRecovery = false;
  recoveryPoint: number;
  highRxt: number;
  /** RFC 6675 §5 rule 4: the rescue retransmission was sent in this recovery. */
  rescueDone = false;
  /** Retransmit the first unacknowledged segment at the next transmit, ignoring cwnd. */
  rtxPending = false;
  /** Karn's rule (RFC 6298 §3): timing one segment when timestamps are off; -1 when none. */
  rttSeq = -1;
  rttTime = 0;
  retries = 0;

  // ACK generation.
  ackNow = false;
  segsSinceAck = 0;

  // Timers: absolute deadlines in ms, Infinity when off.
  rtoAt = Number.POSITIVE_INFINITY;
  delAckAt = Number.POSITIVE_INFINITY;
  persistAt = Number.POSITIVE_INFINITY;
  persistBackoff = 0;
  /** Set when the persist timer fires with an open window: send a window-limited runt (§3.8.6.2.1). */
  persistOverride = false;
  keepAt = Number.POSITIVE_INFINITY;
  timeWaitAt = Number.POSITIVE_INFINITY;
  keepAlive = false;
  keepProbes = 0;
  lastRecvAt = 0;
  private challengeWindowStart = 0;
  private challengeCount = 0;
  /** The app released the connection (see `orphan`). */
  orphaned = false;
  /** Set when the connection was actively opened (for RST in SYN-RECEIVED, RFC 9293 §3.10.7.4). */
  active = false;

  /** Per-connection counters, in the spirit of Linux's `ss -ti`. */
  readonly stats = {
    segmentsOut: 0,
    retransmits: 0,
    rtos: 0,
    recoveries: 0,
    dupAcks: 0,
    challengeAcks: 0,
    tlps: 0,
  };

  /** Scratch segment reused for every output. */
  readonly seg: TcpRepr = emptyTcpRepr();
  noDelay: boolean;

  constructor(
    readonly config: TcpConfig,
    readonly ends: TcpEndpoints,
    readonly hooks: TcpHooks,
    iss: number,
    tsOffset: number,
  ) {
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.recoveryPoint = this.iss;
    this.highRxt = this.iss;
    this.tsOffset = tsOffset >>> 0;
    this.sendBuf = new SendBuffer(config.sendBufferSize);
    this.recvBuf = new RecvBuffer(config.recvBufferSize);
    this.rcvSpace = config.autotune
      ? Math.min(config.recvBufferSize, INITIAL_RCV_SPACE)
      : config.recvBufferSize;
    this.rtt = new RttEstimator(config.rtoMinMs);
    this.sndMss = Math.min(config.mss, ends.ipv6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4);
    this.cc = createCongestionControl(config.congestion, this.sndMss);
    this.noDelay = config.noDelay;
    this.seg.srcPort = ends.localPort;
    this.seg.dstPort = ends.remotePort;
  }

  // ---------------------------------------------------------------- user calls (RFC 9293 §3.10)

  /** OPEN, active (RFC 9293 §3.10.1): sends a SYN and enters SYN-SENT. */
  connect(now: number): void {
    this.active = true;
    this.state = 'SYN-SENT';
    sendSyn(this, now);
    this.rtoAt = now + this.rtt.rto;
  }

  /**
   * OPEN, passive, and the SYN that arrived in LISTEN (RFC 9293 §3.10.7.2): records the peer's
   * options, sends SYN-ACK, enters SYN-RECEIVED.
   */
  accept(syn: TcpRepr, now: number): void {
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.negotiate(syn);
    this.sndWnd = syn.window; // RFC 7323 §2.2: the window in a SYN is never scaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = syn.seq;
    this.state = 'SYN-RECEIVED';
    this.lastRecvAt = now;
    sendSyn(this, now);
    this.rtoAt = now + this.rtt.rto;
  }

  /** SEND (RFC 9293 §3.10.2): queues bytes; returns how many fit in the send buffer. */
  send(data: Uint8Array, now: number): number {
    if (this.finQueued) return 0;
    switch (this.state) {
      case 'SYN-SENT':
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'CLOSE-WAIT': {
        const n = this.sendBuf.push(data);
        if (n > 0) transmit(this, now);
        return n;
      }
      default:
        return 0;
    }
  }

  /** Free space in the send buffer. */
  get sendSpace(): number {
    return this.finQueued ? 0 : this.sendBuf.free;
  }

  /** Bytes sent or queued but not yet acknowledged. */
  get unacked(): number {
    return this.sendBuf.length;
  }

  /** RECEIVE (RFC 9293 §3.10.3): takes up to `max` in-order bytes; may send a window update. */
  read(max: number, now: number): Uint8Array {
    const out = this.recvBuf.read(max);
    if (out.length > 0 && this.isSynchronized()) {
      rcvSpaceAdjust(this, out.length, now);
      // RFC 9293 §3.8.6.2.2: tell the peer once the window has opened by enough.
      const open = rcvWindowLimit(this) - seqDiff(this.rcvAdvEdge, this.rcvNxt);
      if (open >= Math.min(this.rcvSpace / 2, 2 * this.sndMss)) {
        this.ackNow = true;
        transmit(this, now);
      }
    }
    return out;
  }

  /** Bytes readable now. */
  get readable(): number {
    return this.recvBuf.length;
  }

  /** The peer's FIN arrived and every byte before it has been read. */
  get eof(): boolean {
    return this.finReceived && this.recvBuf.length === 0;
  }

  /** CLOSE (RFC 9293 §3.10.4): a FIN after the queued data. */
  close(now: number): void {
    switch (this.state) {
      case 'CLOSED':
      case 'LISTEN':
        return;
      case 'SYN-SENT':
        // §3.10.4: delete the TCB.
        this.enterClosed(null);
        return;
      case 'SYN-RECEIVED':
        // §3.10.4: queue the FIN until ESTABLISHED.
        this.finQueued = true;
        return;
      case 'ESTABLISHED':
        this.finQueued = true;
        this.state = 'FIN-WAIT-1';
        transmit(this, now);
        return;
      case 'CLOSE-WAIT':
        this.finQueued = true;
        this.state = 'LAST-ACK';
        transmit(this, now);
        return;
      default:
        // FIN-WAIT-*, CLOSING, LAST-ACK, TIME-WAIT: already closing.
        return;
    }
  }

  /** ABORT (RFC 9293 §3.10.5): a RST in synchronized states, then CLOSED. */
  abort(): void {
    if (this.isSynchronized() || this.state === 'SYN-RECEIVED') {
      emitRst(this, this.sndNxt, 0, false);
    }
    if (this.state !== 'CLOSED') this.enterClosed(null);
  }

  /**
   * The app let go of the connection after closing it (a destroyed socket): it finishes on its
   * own, and an orphan may wait in FIN-WAIT-2 only as long as TIME-WAIT lasts (as Linux's
   * tcp_fin_timeout), since no app will ever read what the peer still sends.
   */
  orphan(now: number): void {
    this.orphaned = true;
    if (this.state === 'FIN-WAIT-2') this.timeWaitAt = now + this.config.timeWaitMs;
  }

  setNoDelay(on: boolean, now: number): void {
    this.noDelay = on;
    if (on) transmit(this, now);
  }

  /** Enables keepalive (RFC 9293 §3.8.4) with `idleMs` before the first probe. */
  setKeepAlive(on: boolean, idleMs: number, now: number): void {
    this.keepAlive = on;
    this.keepProbes = 0;
    if (idleMs > 0) this.config.keepIdleMs = idleMs;
    this.keepAt = on ? now + this.config.keepIdleMs : Number.POSITIVE_INFINITY;
  }

  /** The next time `onTimer` must run, or Infinity. */
  pollAt(): number {
    return Math.min(
      this.rtoAt,
      this.delAckAt,
      this.persistAt,
      this.keepAt,
      this.timeWaitAt,
      this.tlpAt,
      this.rack.timerAt,
    );
  }

  /** RACK-TLP is in use: configured, and SACK negotiated (RFC 8985 §2 requires SACK). */
  get rackOk(): boolean {
    return this.sackOk && this.config.rack;
  }

  isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  isSynchronized(): boolean {
    switch (this.state) {
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
      case 'CLOSING':
      case 'LAST-ACK':
      case 'TIME-WAIT':
        return true;
      default:
        return false;
    }
  }

  /** Sequence number just past the last data byte (where the FIN goes). */
  get dataEnd(): number {
    return seqAdd(this.bufSeq, this.sendBuf.length);
  }

  // ---------------------------------------------------------------- SEGMENT ARRIVES (§3.10.7)

  /** Processes one segment addressed to this connection (ports already matched). */
  handle(seg: TcpRepr, now: number): void {
    this.lastRecvAt = now;
    this.keepProbes = 0;
    switch (this.state) {
      case 'CLOSED':
        // §3.10.7.1: the driver answers for CLOSED; a stale reference just drops.
        return;
      case 'LISTEN':
        return;
      case 'SYN-SENT':
        this.handleSynSent(seg, now);
        break;
      default:
        this.handleSynchronized(seg, now);
        break;
    }
    if (!this.isClosed()) transmit(this, now);
  }

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  private handleSynSent(seg: TcpRepr, now: number): void {
    const f = seg.flags;
    const hasAck = (f & TCP_FLAG.ACK) !== 0;
    // First, the ACK bit: it must acknowledge our SYN and nothing beyond.
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if ((f & TCP_FLAG.RST) === 0) emitRst(this, seg.ack, 0, false);
      return;
    }
    // Second, RST: with an acceptable ACK the connection was refused; without, drop.
    if ((f & TCP_FLAG.RST) !== 0) {
      if (hasAck) this.enterClosed('ECONNREFUSED');
      return;
    }
    // Fourth, SYN.
    if ((f & TCP_FLAG.SYN) === 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.negotiate(seg);
    if (hasAck) {
      // Our SYN is acknowledged: ESTABLISHED (§3.10.7.3, "If SND.UNA > ISS").
      this.ackOf(seg, now);
      this.sndWnd = seg.window; // unscaled in a SYN (RFC 7323 §2.2)
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.established();
      this.ackNow = true;
    } else {
      // Simultaneous open (§3.5 Figure 8): SYN-RECEIVED, answer SYN-ACK.
      this.state = 'SYN-RECEIVED';
      this.sndWnd = seg.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      sendSyn(this, now);
    }
  }

  /** RFC 9293 §3.10.7.4: SYN-RECEIVED and every synchronized state. */
  private handleSynchronized(seg0: TcpRepr, now: number): void {
    const seg = seg0;
    let f = seg.flags;
    let payload = seg.payload;
    let seq = seg.seq;

    // A retransmitted SYN while in SYN-RECEIVED means our SYN-ACK was lost: send it again now
    // rather than waiting for our retransmission timer (as Linux does).
    if (
      this.state === 'SYN-RECEIVED' &&
      (f & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === TCP_FLAG.SYN
    ) {
      if (seg.seq === this.irs) sendSyn(this, now);
      return;
    }

    // RFC 7323 §5.3 PAWS: an old timestamp on a non-RST segment is a duplicate; ACK and drop.
    if (this.tsOk && seg.tsVal !== undefined && (f & TCP_FLAG.RST) === 0 && seqLt(seg.tsVal, this.tsRecent)) {
      this.ackNow = true;
      return;
    }

    // First: sequence number acceptability (§3.10.7.4, the four cases).
    const wnd = Math.max(seqDiff(this.rcvAdvEdge, this.rcvNxt), 0);
    const segLen = payload.length + (f & TCP_FLAG.SYN ? 1 : 0) + (f & TCP_FLAG.FIN ? 1 : 0);
    const inWindow = (s: number) => seqGe(s, this.rcvNxt) && seqLt(s, seqAdd(this.rcvNxt, wnd));
    let acceptable: boolean;
    if (segLen === 0) acceptable = wnd === 0 ? seq === this.rcvNxt : inWindow(seq);
    else if (wnd === 0) {
      // A zero window accepts nothing, but the ACK, RST and URG of an in-sequence segment
      // are still processed (§3.10.7.4, "special allowance").
      acceptable = seq === this.rcvNxt;
      payload = payload.subarray(0, 0);
      f &= ~TCP_FLAG.FIN;
    } else acceptable = inWindow(seq) || inWindow(seqAdd(seq, segLen - 1));
    if (!acceptable) {
      // §3.10.7.4: send an ACK (unless RST) and drop.
      if ((f & TCP_FLAG.RST) === 0) this.ackNow = true;
      return;
    }

    // Second: RST (RFC 5961 §3.2): exact match resets, in-window gets a challenge ACK.
    if ((f & TCP_FLAG.RST) !== 0) {
      if (seq !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      switch (this.state) {
        case 'SYN-RECEIVED':
          // §3.10.7.4: from a passive open, back to LISTEN (the listener keeps listening);
          // from an active open (simultaneous), the connection was refused.
          this.enterClosed(this.active ? 'ECONNREFUSED' : null);
          return;
        case 'ESTABLISHED':
        case 'FIN-WAIT-1':
        case 'FIN-WAIT-2':
        case 'CLOSE-WAIT':
          this.enterClosed('ECONNRESET');
          return;
        default:
          // CLOSING, LAST-ACK, TIME-WAIT: just close.
          this.enterClosed(null);
          return;
      }
    }

    // Trim what lies before RCV.NXT (already received) and beyond the window.
    if (seqLt(seq, this.rcvNxt)) {
      let cut = seqDiff(this.rcvNxt, seq);
      if (f & TCP_FLAG.SYN) {
        f &= ~TCP_FLAG.SYN;
        cut--;
        seq = seqAdd(seq, 1);
      }
      const dataCut = Math.min(cut, payload.length);
      payload = payload.subarray(dataCut);
      seq = seqAdd(seq, dataCut);
    }
    const room = seqDiff(seqAdd(this.rcvNxt, wnd), seq);
    if (payload.length > room) {
      payload = payload.subarray(0, Math.max(room, 0));
      f &= ~TCP_FLAG.FIN;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK, drop.
    if ((f & TCP_FLAG.SYN) !== 0) {
      this.challengeAck(now);
      return;
    }

    // Fifth: the ACK field. Without ACK the segment is dropped (§3.10.7.4).
    if ((f & TCP_FLAG.ACK) === 0) return;

    // RFC 7323 §4.3: remember the peer's timestamp when the segment covers Last.ACK.sent.
    if (this.tsOk && seg.tsVal !== undefined && seqLe(seq, this.lastAckSent)) this.tsRecent = seg.tsVal;

    if (this.state === 'SYN-RECEIVED') {
      // §3.10.7.4 SYN-RECEIVED: an acceptable ACK completes the handshake (RFC 5961 §5.2 range).
      if (seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndMax)) {
        this.ackOf(seg, now);
        this.sndWnd = seg.window << this.sndShift;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = seq;
        this.sndWl2 = seg.ack;
        this.established();
        if (this.finQueued) this.state = 'FIN-WAIT-1';
      } else {
        emitRst(this, seg.ack, 0, false);
        return;
      }
    } else if (!this.processAck(seg, seq, payload.length, now)) {
      return;
    }

    // The ACK may have completed our FIN (§3.10.7.4, per-state ACK processing).
    const finAcked = this.finQueued && seqGt(this.sndUna, this.dataEnd);
    switch (this.state) {
      case 'FIN-WAIT-1':
        if (finAcked) {
          this.state = 'FIN-WAIT-2';
          if (this.orphaned) this.timeWaitAt = now + this.config.timeWaitMs;
        }
        break;
      case 'CLOSING':
        if (finAcked) this.enterTimeWait(now);
        break;
      case 'LAST-ACK':
        if (finAcked) {
          this.enterClosed(null);
          return;
        }
        break;
      case 'TIME-WAIT':
        // A retransmitted FIN: acknowledge it and restart the 2 MSL timeout.
        if ((f & TCP_FLAG.FIN) !== 0) {
          this.ackNow = true;
          this.timeWaitAt = now + this.config.timeWaitMs;
        }
        return;
      default:
        break;
    }

    // Seventh: segment text, in ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 only.
    if (payload.length > 0) {
      switch (this.state) {
        case 'ESTABLISHED':
        case 'FIN-WAIT-1':
        case 'FIN-WAIT-2':
          this.receiveText(seq, payload, now, this.tsOk ? seg.tsEcr : undefined);
          break;
        default:
          // CLOSE-WAIT, CLOSING, LAST-ACK: a FIN was already received; ignore the text.
          break;
      }
    }

    // Eighth: FIN. It counts only once every byte before it has arrived.
    if ((f & TCP_FLAG.FIN) !== 0 && !this.finReceived) {
      const finSeq = seqAdd(seq, payload.length);
      if (finSeq === this.rcvNxt) this.processFin(now);
      else if (seqGt(finSeq, this.rcvNxt)) {
        this.pendingFin = finSeq;
        this.ackNow = true;
      }
    }
  }

  /**
   * ACK processing for synchronized states (§3.10.7.4 fifth step, RFC 5961 §5.2, RFC 5681 §3.2,
   * RFC 6582, RFC 6675 §5). Returns false when the segment must be dropped.
   */
  private processAck(seg: TcpRepr, seq: number, dataLen: number, now: number): boolean {
    const ack = seg.ack;
    // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA − MAX.SND.WND, SND.MAX].
    if (seqGt(ack, this.sndMax)) {
      this.ackNow = true;
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.challengeAck(now);
      return false;
    }
    const oldWnd = this.sndWnd;
    const learned =
      this.sackOk && seg.sack.length > 0 && this.sack.update(seg.sack, this.sndUna, this.sndMax);
    if (seqGt(ack, this.sndUna)) {
      this.ackOf(seg, now);
    } else if (ack === this.sndUna && this.sndMax !== this.sndUna) {
      // RFC 5681 §2: a duplicate ACK carries no data, no SYN/FIN, and does not move the window;
      // RFC 6675 §2 also counts an ACK that brings new SACK information.
      const dup =
        dataLen === 0 &&
        (seg.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) === 0 &&
        seg.window << this.sndShift === oldWnd;
      if (dup || learned) this.onDupAck(now, learned);
    }
    if (this.rackOk && this.isSynchronized()) {
      // RFC 8985 §6.2: update RACK from this ACK, then look for losses by time order.
      if (this.sackOk && isDsack(seg.sack, ack)) this.rack.onDsack(this.sndUna, this.sndMax);
      const finEnd = this.finQueued ? seqAdd(this.dataEnd, 1) : -1;
      this.rack.onAck(
        this.sndUna,
        this.sack,
        now,
        this.tsOk ? seg.tsEcr : undefined,
        (t) => this.tsNow(t),
        finEnd,
      );
      this.rack.prune(this.sndUna, this.sack);
      this.rackDetect(now);
    }
    // RFC 9293 §3.10.7.4: update the send window if this segment is newer (SND.WL1/SND.WL2).
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = seg.window << this.sndShift;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
    }
    return true;
  }

  /** SND.UNA advances to `seg.ack`: free acknowledged bytes, sample RTT, move recovery along. */
  private ackOf(seg: TcpRepr, now: number): void {
    const ack = seg.ack;
    const prevUna = this.sndUna;
    let acked = seqDiff(ack, this.sndUna);
    if (this.sndUna === this.iss) acked--; // our SYN is acknowledged
    const data = Math.min(Math.max(seqDiff(ack, this.bufSeq), 0), this.sendBuf.length);
    if (data > 0) {
      this.sendBuf.consume(data);
      this.bufSeq = seqAdd(this.bufSeq, data);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (seqLt(this.highRxt, ack)) this.highRxt = ack;
    this.sack.advance(ack);
    this.retries = 0;

    // RTT (RFC 6298 §3 Karn, RFC 7323 §4.1 timestamps).
    let sample: number | undefined;
    if (this.tsOk && seg.tsEcr !== undefined && seg.tsEcr !== 0) {
      sample = seqDiff(this.tsNow(now), seg.tsEcr);
    } else if (this.rttSeq >= 0 && seqGe(ack, this.rttSeq)) {
      sample = now - this.rttTime;
      this.rttSeq = -1;
    }
    if (sample !== undefined) this.rtt.sample(sample);
    else this.rtt.backoff = 0;
    this.cc.observe(ack, this.sndMax, sample);

    const flight = seqDiff(this.sndMax, prevUna);
    if (this.inRecovery) {
      if (seqGe(ack, this.recoveryPoint)) {
        // RFC 6582 §3.2 step 3 / RFC 6675 §5: a full acknowledgment ends recovery.
        this.inRecovery = false;
        this.dupAcks = 0;
        this.cc.onRecoveryExit(now, seqDiff(this.sndMax, this.sndUna));
        this.rack.onRecoveryExit();
      } else if (!this.sackOk) {
        // RFC 6582 §3.2 step 4: a partial ACK retransmits the next hole and deflates cwnd.
        this.rtxPending = true;
        this.cc.cwnd = Math.max(this.cc.cwnd - acked + (acked >= this.sndMss ? this.sndMss : 0), this.sndMss);
      }
    } else {
      this.dupAcks = 0;
      const cwndLimited = flight + 2 * this.sndMss >= this.cc.cwnd;
      this.cc.onAck(acked, now, this.rtt.srtt, cwndLimited);
    }

    // RFC 6298 §5.2–5.3: stop the timer when all is acknowledged, else restart it.
    this.rtoAt = this.sndMax === this.sndUna ? Number.POSITIVE_INFINITY : now + this.rtt.rto;
    // RFC 8985 §7.2: an ACK re-arms the probe timeout while data is outstanding.
    this.tlpOutstanding = false;
    this.armTlp(now);
    if (data > 0) this.hooks.onWritable();
  }

  /** RFC 8985 §7.2: PTO = 2 × SRTT (+ the worst-case delayed ACK for a lone segment), before the RTO. */
  armTlp(now: number): void {
    if (
      !this.rackOk ||
      this.inRecovery ||
      this.tlpOutstanding ||
      !this.rtt.hasSample ||
      this.sndMax === this.sndUna
    ) {
      this.tlpAt = Number.POSITIVE_INFINITY;
      return;
    }
    let pto = 2 * this.rtt.srtt;
    if (seqDiff(this.sndMax, this.sndUna) <= this.sndMss) pto += 200;
    pto = Math.max(pto, 10);
    this.tlpAt = Math.min(now + pto, this.rtoAt);
  }

  /** A duplicate ACK (RFC 5681 §3.2) or one with new SACK information (RFC 6675 §5). */
  private onDupAck(now: number, learned: boolean): void {
    if (this.inRecovery) {
      // RFC 5681 §3.2 step 4 (NewReno without SACK): inflate by one segment per duplicate.
      if (!this.sackOk && !learned) this.cc.cwnd += this.sndMss;
      return;
    }
    this.dupAcks++;
    this.stats.dupAcks++;
    const lost = this.sackOk && seqGt(this.sack.lostLimit(this.sndUna, this.sndMss), this.sndUna);
    // RFC 6582 §3.2 step 2: only when the ACK covers more than the previous recovery point.
    const fresh = seqGt(this.sndUna, this.recoveryPoint) || this.sndUna === this.recoveryPoint;
    if ((this.dupAcks >= DUP_THRESH || lost) && fresh) this.enterRecovery(now);
  }

  /** RFC 8985 §6.2 step 5 (and §6.3 when the reordering timer fires): a loss starts recovery. */
  rackDetect(now: number): void {
    if (this.rack.detectLoss(now, this.inRecovery, this.rtt.srtt) && !this.inRecovery) {
      const fresh = seqGt(this.sndUna, this.recoveryPoint) || this.sndUna === this.recoveryPoint;
      if (fresh) this.enterRecovery(now);
    }
  }

  /** Fast retransmit and the start of fast recovery (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4). */
  enterRecovery(now: number): void {
    this.stats.recoveries++;
    this.inRecovery = true;
    this.rescueDone = false;
    this.tlpAt = Number.POSITIVE_INFINITY;
    this.recoveryPoint = this.sndMax;
    this.highRxt = this.sndUna;
    const flight = seqDiff(this.sndMax, this.sndUna) - this.sack.sacked;
    this.cc.onCongestion(now, Math.max(flight, 0));
    if (!this.sackOk) this.cc.cwnd = this.cc.ssthresh + DUP_THRESH * this.sndMss; // RFC 6582 step 2
    this.rtxPending = true;
    this.rttSeq = -1;
  }

  /** Segment text (§3.10.7.4 seventh step), and the ACK policy of RFC 9293 §3.8.6.3 / RFC 5681 §4.2. */
  private receiveText(seq: number, payload: Uint8Array, now: number, tsEcr: number | undefined): void {
    // A receiver-side RTT sample from the echoed timestamp (RFC 7323 §4), for auto-tuning.
    if (tsEcr !== undefined && tsEcr !== 0) {
      const r = seqDiff(this.tsNow(now), tsEcr);
      if (r >= 0) {
        this.rcvRtt = this.rcvRttSeen ? Math.min(this.rcvRtt * 0.875 + r * 0.125, Math.max(r, 1) * 4) : r;
        this.rcvRttSeen = true;
      }
    }
    const offset = seqDiff(seq, this.rcvNxt);
    const n = this.recvBuf.write(offset, payload);
    if (n < 0) {
      this.ackNow = true;
      return;
    }
    this.rcvNxt = seqAdd(this.rcvNxt, n);
    if (offset > 0 || this.recvBuf.holes > 0 || n > payload.length) {
      // Out of order, or filling a hole: acknowledge at once (RFC 5681 §4.2).
      this.ackNow = true;
    } else {
      this.segsSinceAck++;
      if (this.segsSinceAck >= 2 || this.config.delayedAckMs === 0) this.ackNow = true;
      else if (this.delAckAt === Number.POSITIVE_INFINITY) this.delAckAt = now + this.config.delayedAckMs;
    }
    if (n > 0) {
      if (this.pendingFin >= 0 && this.pendingFin === this.rcvNxt) this.processFin(now);
      this.hooks.onReadable();
    }
  }

  /** §3.10.7.4 eighth step: the FIN is in sequence. */
  private processFin(now: number): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    this.pendingFin = -1;
    this.ackNow = true;
    switch (this.state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.state = 'CLOSE-WAIT';
        break;
      case 'FIN-WAIT-1':
        // Simultaneous close (§3.6 Figure 13) unless our FIN is already acknowledged.
        if (this.finQueued && seqGt(this.sndUna, this.dataEnd)) this.enterTimeWait(now);
        else this.state = 'CLOSING';
        break;
      case 'FIN-WAIT-2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
    this.hooks.onReadable();
  }

  /** RFC 5961 §3.2, §4.2, §5.2: a rate-limited challenge ACK. */
  challengeAck(now: number): void {
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      this.challengeCount = 0;
    }
    if (this.challengeCount++ < CHALLENGE_ACK_LIMIT) {
      this.stats.challengeAcks++;
      this.ackNow = true;
    }
  }

  private established(): void {
    this.state = 'ESTABLISHED';
    this.cc = createCongestionControl(this.config.congestion, this.sndMss);
    this.rtoAt = this.sndMax === this.sndUna ? Number.POSITIVE_INFINITY : this.rtoAt;
    if (this.keepAlive) this.keepAt = this.lastRecvAt + this.config.keepIdleMs;
    this.hooks.onEstablished();
  }

  private enterTimeWait(now: number): void {
    this.state = 'TIME-WAIT';
    this.rtoAt = Number.POSITIVE_INFINITY;
    this.persistAt = Number.POSITIVE_INFINITY;
    this.keepAt = Number.POSITIVE_INFINITY;
    this.timeWaitAt = now + this.config.timeWaitMs;
  }

  /** Enters CLOSED, stops every timer and tells the driver once. */
  enterClosed(error: TcpErrorCode | null): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.rtoAt = this.delAckAt = this.persistAt = this.keepAt = this.timeWaitAt = Number.POSITIVE_INFINITY;
    this.hooks.onClosed(error);
  }

  /** Records what the peer's SYN offered and what we therefore use (RFC 7323, RFC 2018, §3.7.1). */
  private negotiate(syn: TcpRepr): void {
    const c = this.config;
    const peerMss = syn.mss ?? (this.ends.ipv6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4);
    this.sndMss = Math.max(Math.min(peerMss, c.mss), 64);
    this.wsOk = c.windowScaling && syn.windowShift !== undefined;
    this.sndShift = this.wsOk ? syn.windowShift! : 0;
    this.rcvShift = this.wsOk ? windowShiftFor(c.recvBufferSize) : 0;
    this.sackOk = c.sack && syn.sackPermitted;
    this.tsOk = c.timestamps && syn.tsVal !== undefined;
    if (this.tsOk) this.tsRecent = syn.tsVal!;
    this.cc = createCongestionControl(c.congestion, this.sndMss);
  }

  // ---------------------------------------------------------------- timers (timers.ts)

  /** Runs whatever timers are due at `now`. */
  onTimer(now: number): void {
    runTimers(this, now);
  }

  // ---------------------------------------------------------------- segment construction (segments.ts)

  /** TSval for `now` (RFC 7323 §5.4: a millisecond clock with a per-connection offset). */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Fills the common fields of the scratch segment: ACK, window, timestamps. */
  prepare(seq: number, flags: number, now: number): TcpRepr {
    return prepareSegment(this, seq, flags, now);
  }
}

/**
 * RFC 2883 §4: the first SACK block reports a duplicate segment (D-SACK) when it lies at or below
 * the cumulative ACK, or inside the second block.
 */
export function isDsack(blocks: readonly number[], ack: number): boolean {
  if (blocks.length < 2) return false;
  const s = blocks[0]!;
  const e = blocks[1]!;
  if (!seqLt(s, e)) return false;
  if (seqLe(e, ack)) return true;
  return blocks.length >= 4 && seqGe(s, blocks[2]!) && seqLe(e, blocks[3]!);
}
