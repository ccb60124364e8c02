/**
 * The retransmission timer's estimator, RFC 6298 §2: SRTT and RTTVAR from RTT samples, the RTO
 * derived from them, clamped, and doubled on each expiry (§5.5). Karn's rule (§3) is the caller's:
 * samples come only from segments that were not retransmitted, or from timestamps (RFC 7323 §4).
 */

export const RTO_INITIAL_MS = 1000; // RFC 6298 §2.1
/** RFC 6298 §2.4 says a minimum of 1 s; like Linux we use 200 ms (see README, deviations). */
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 60_000; // RFC 6298 §2.5 allows a maximum of at least 60 s
const CLOCK_GRANULARITY_MS = 1;
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** The RTO before backoff. */
  private baseRto = RTO_INITIAL_MS;
  backoff = 0;
  hasSample = false;

  constructor(private readonly minRto = RTO_MIN_MS) {}

  /** Feeds one RTT measurement in milliseconds. */
  sample(rttMs: number): void {
    const r = Math.max(rttMs, 0);
    if (!this.hasSample) {
      // RFC 6298 §2.2: the first measurement.
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      // RFC 6298 §2.3: RTTVAR first, with the old SRTT.
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    this.baseRto = this.srtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttvar);
    this.backoff = 0;
  }

  /** The current RTO including exponential backoff, clamped to [min, max]. */
  get rto(): number {
    const v = this.baseRto * 2 ** this.backoff;
    return Math.min(Math.max(v, this.minRto), RTO_MAX_MS);
  }

  /** RFC 6298 §5.5: back off the timer after an expiry. */
  backOff(): void {
    if (this.rto < RTO_MAX_MS) this.backoff++;
  }
}
