/**
 * Congestion control behind one interface, so the connection does not know which algorithm runs:
 * NewReno (RFC 5681 §3.1, with RFC 6582's recovery handled by the connection) and CUBIC
 * (RFC 9438). Windows are in bytes. The loss-recovery machinery (fast retransmit, RFC 6675 pipe,
 * RTO) lives in the connection; it calls these hooks at the moments RFC 5681 names.
 */

import { seqGe } from './seq.js';

/** Congestion control: `'newreno'` (RFC 5681, RFC 6582) or `'cubic'` (RFC 9438, HyStart++ RFC 9406). */
export type CongestionAlgorithm = 'newreno' | 'cubic';

export interface CongestionControl {
  readonly name: CongestionAlgorithm;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number;
  /**
   * New data was cumulatively acknowledged outside loss recovery. `cwndLimited` is false when the
   * sender was limited by the app or the peer's window (the window then does not grow, RFC 7661 §4.3).
   */
  onAck(acked: number, now: number, srttMs: number, cwndLimited: boolean): void;
  /** Loss detected by duplicate ACKs or SACK: entering fast recovery (RFC 5681 §3.2 step 2). */
  onCongestion(now: number, flightSize: number): void;
  /** The retransmission timer expired (RFC 5681 §3.1 equation 4, and cwnd to one segment). */
  onRto(now: number, flightSize: number): void;
  /** Fast recovery ended by a full acknowledgment (RFC 6582 §3.2 step 3). */
  onRecoveryExit(now: number, flightSize: number): void;
  /**
   * Called on every ACK that advances SND.UNA, before `onAck`, with the RTT sample it produced
   * (if any): feeds HyStart++'s per-round RTT tracking (RFC 9406 §4.2).
   */
  observe(ack: number, sndMax: number, rttMs: number | undefined): void;
}

/** RFC 9406 §4.3 constants. */
const HS_MIN_RTT_THRESH = 4;
const HS_MAX_RTT_THRESH = 16;
const HS_MIN_RTT_DIVISOR = 8;
const HS_N_RTT_SAMPLE = 8;
const HS_CSS_GROWTH_DIVISOR = 4;
const HS_CSS_ROUNDS = 5;

/**
 * HyStart++ (RFC 9406): leaves slow start when the round's minimum RTT rises (the queue is
 * filling), through Conservative Slow Start, instead of overshooting into a burst of losses.
 */
export class HyStart {
  private windowEnd = -1;
  private lastRoundMin = Number.POSITIVE_INFINITY;
  private curRoundMin = Number.POSITIVE_INFINITY;
  private samples = 0;
  private cssBaseline = Number.POSITIVE_INFINITY;
  private cssRounds = 0;
  /** In Conservative Slow Start (§4.2). */
  css = false;
  /** CSS ran its rounds: the caller sets ssthresh = cwnd and enters congestion avoidance. */
  exitToCa = false;

  observe(ack: number, sndMax: number, rtt: number | undefined): void {
    if (this.windowEnd === -1 || seqGe(ack, this.windowEnd)) {
      // §4.2: a new round starts.
      this.lastRoundMin = this.curRoundMin;
      this.curRoundMin = Number.POSITIVE_INFINITY;
      this.samples = 0;
      this.windowEnd = sndMax;
      if (this.css && ++this.cssRounds >= HS_CSS_ROUNDS) this.exitToCa = true;
    }
    if (rtt === undefined) return;
    this.curRoundMin = Math.min(this.curRoundMin, rtt);
    this.samples++;
    if (this.samples < HS_N_RTT_SAMPLE || this.lastRoundMin === Number.POSITIVE_INFINITY) return;
    if (!this.css) {
      const thresh = Math.min(
        Math.max(this.lastRoundMin / HS_MIN_RTT_DIVISOR, HS_MIN_RTT_THRESH),
        HS_MAX_RTT_THRESH,
      );
      if (this.curRoundMin >= this.lastRoundMin + thresh) {
        this.css = true;
        this.cssBaseline = this.curRoundMin;
        this.cssRounds = 0;
      }
    } else if (this.curRoundMin < this.cssBaseline) {
      // §4.2: the RTT increase was spurious; resume slow start.
      this.css = false;
      this.cssBaseline = Number.POSITIVE_INFINITY;
    }
  }

  /** The slow-start increase for `acked` bytes (ABC with L = 2 SMSS, divided during CSS). */
  increase(acked: number, mss: number): number {
    const inc = Math.min(acked, 2 * mss);
    return this.css ? inc / HS_CSS_GROWTH_DIVISOR : inc;
  }

  reset(): void {
    this.css = false;
    this.exitToCa = false;
    this.cssRounds = 0;
    this.windowEnd = -1;
    this.lastRoundMin = Number.POSITIVE_INFINITY;
    this.curRoundMin = Number.POSITIVE_INFINITY;
  }
}

/** RFC 6928: an initial window of 10 segments (RFC 5681 §3.1 allows up to 4; Linux uses 10). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** NewReno's window arithmetic (RFC 5681 §3.1, §3.2; RFC 6582 §3.2 for the exit). */
export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = 0x7fffffff;
  private bytesAcked = 0;
  private readonly hystart = new HyStart();

  constructor(private readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }

  observe(ack: number, sndMax: number, rtt: number | undefined): void {
    if (this.cwnd < this.ssthresh) this.hystart.observe(ack, sndMax, rtt);
  }

  onAck(acked: number, _now: number, _srtt: number, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1 slow start, with RFC 3465 byte counting (L = 2 SMSS) and HyStart++.
      this.cwnd += this.hystart.increase(acked, this.mss);
      if (this.hystart.exitToCa) this.ssthresh = this.cwnd;
    } else {
      // RFC 5681 §3.1 congestion avoidance: about one SMSS per RTT, by byte counting.
      this.bytesAcked += acked;
      if (this.bytesAcked >= this.cwnd) {
        this.bytesAcked -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  onCongestion(_now: number, flightSize: number): void {
    this.hystart.reset();
    // RFC 5681 §3.2 step 2, equation 4.
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  onRto(_now: number, flightSize: number): void {
    this.hystart.reset();
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.mss; // RFC 5681 §3.1: loss window of one segment
    this.bytesAcked = 0;
  }

  onRecoveryExit(_now: number, flightSize: number): void {
    // RFC 6582 §3.2 step 3, option (1): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    this.cwnd = Math.min(this.ssthresh, Math.max(flightSize, this.mss) + this.mss);
  }
}

/** RFC 9438 constants. */
const CUBIC_C = 0.4; // §5.1
const CUBIC_BETA = 0.7; // §4.6
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA); // §4.3

/** CUBIC (RFC 9438), in segments internally, exposed in bytes. */
export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = 0x7fffffff;
  /** W_max in segments (§4.1). */
  private wMax = 0;
  /** Reno-friendly estimate W_est in segments (§4.3). */
  private wEst = 0;
  private k = 0;
  /** Start of the current congestion-avoidance epoch (ms), or -1 before one starts. */
  private epoch = -1;
  private readonly hystart = new HyStart();

  constructor(private readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }

  observe(ack: number, sndMax: number, rtt: number | undefined): void {
    if (this.cwnd < this.ssthresh) this.hystart.observe(ack, sndMax, rtt);
  }

  onAck(acked: number, now: number, srttMs: number, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      // §4.10: slow start as in RFC 5681 (byte counting), with HyStart++ (RFC 9406).
      this.cwnd += this.hystart.increase(acked, this.mss);
      if (this.hystart.exitToCa) this.ssthresh = this.cwnd;
      return;
    }
    const seg = this.cwnd / this.mss;
    if (this.epoch < 0) {
      // §4.2: a new epoch; if no loss yet, W_max is the current window (K = 0).
      this.epoch = now;
      if (this.wMax < seg) {
        this.wMax = seg;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - seg) / CUBIC_C);
      }
      this.wEst = seg;
    }
    const t = (now - this.epoch + srttMs) / 1000; // §4.2 uses W_cubic(t + RTT) as the target
    const wCubic = CUBIC_C * (t - this.k) ** 3 + this.wMax;
    // §4.3: the Reno-friendly region.
    this.wEst += (CUBIC_ALPHA * (acked / this.mss)) / seg;
    let target: number;
    if (wCubic < this.wEst) {
      target = this.wEst;
    } else {
      // §4.4, §4.5: concave and convex regions; the target is capped at 1.5 × cwnd.
      target = Math.min(Math.max(wCubic, seg), 1.5 * seg);
    }
    const grow = ((target - seg) / seg) * (acked / this.mss);
    if (grow > 0) this.cwnd += grow * this.mss;
  }

  onCongestion(_now: number, flightSize: number): void {
    this.hystart.reset();
    const seg = this.cwnd / this.mss;
    // §4.7 fast convergence.
    this.wMax = seg < this.wMax ? (seg * (1 + CUBIC_BETA)) / 2 : seg;
    // §4.6: ssthresh = flight × β (at least 2 segments).
    this.ssthresh = Math.max(Math.floor(flightSize * CUBIC_BETA), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.k = Math.cbrt((this.wMax * (1 - CUBIC_BETA)) / CUBIC_C);
    this.epoch = -1;
  }

  onRto(now: number, flightSize: number): void {
    // §4.8: as for a congestion event, then cwnd to one segment (the loss window).
    this.onCongestion(now, flightSize);
    this.cwnd = this.mss;
    this.epoch = -1;
  }

  onRecoveryExit(): void {
    this.cwnd = Math.max(this.cwnd, this.ssthresh);
  }
}

export function createCongestionControl(algorithm: CongestionAlgorithm, mss: number): CongestionControl {
  switch (algorithm) {
    case 'newreno':
      return new NewReno(mss);
    case 'cubic':
      return new Cubic(mss);
  }
}
