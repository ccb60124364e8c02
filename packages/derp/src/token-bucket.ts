/**
 * A token bucket in bytes, on an injected clock: the per-client receive limit of the server
 * (`derpserver.sclient.rateLimit`, golang.org/x/time/rate semantics) and the client's send limit
 * from ServerInfo (`derp.Client.setSendRateLimiter`).
 */
export class TokenBucket {
  /** The refill rate, in bytes (tokens) per second. */
  readonly bytesPerSecond: number;
  /** The bucket's capacity in bytes; it starts full. */
  readonly burst: number;
  #tokens: number;
  #last: number;

  /** `now` is the clock's current monotonic milliseconds. */
  constructor(bytesPerSecond: number, burst: number, now: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond must be > 0, got ${bytesPerSecond}`);
    if (!(burst > 0)) throw new RangeError(`burst must be > 0, got ${burst}`);
    this.bytesPerSecond = bytesPerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.bytesPerSecond) / 1000);
      this.#last = now;
    }
  }

  /** Takes `n` tokens if available now (a send limiter that drops). */
  allow(n: number, now: number): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /**
   * Takes `n` tokens (clamped to the burst), going into debt if needed, and returns how many
   * milliseconds to wait before the debt is paid (0 = none): a reader that pauses.
   */
  take(n: number, now: number): number {
    this.#refill(now);
    this.#tokens -= Math.min(n, this.burst);
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.bytesPerSecond;
  }
}
