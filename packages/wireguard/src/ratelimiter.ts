/**
 * The handshake rate limiter used under load (wireguard-go `ratelimiter/ratelimiter.go`): a token
 * bucket per source address, 20 packets per second with a burst of 5. Entries idle for more than a
 * second are forgotten, lazily, so memory stays bounded by the recent sources.
 */
import {
  RATELIMITER_GARBAGE_COLLECT_TIME_MS,
  RATELIMITER_PACKETS_BURSTABLE,
  RATELIMITER_PACKETS_PER_SECOND,
} from './constants.js';

const PACKET_COST_MS = 1000 / RATELIMITER_PACKETS_PER_SECOND;
const MAX_TOKENS = PACKET_COST_MS * RATELIMITER_PACKETS_BURSTABLE;
/** Collect garbage when the table grows past this many entries. */
const GC_THRESHOLD = 4096;

interface Entry {
  last: number;
  tokens: number;
}

export class RateLimiter {
  readonly #table = new Map<string, Entry>();
  #lastGc = Number.NEGATIVE_INFINITY;

  /** True if a handshake from `key` (a source address) may be processed at `nowMs`. */
  allow(key: string, nowMs: number): boolean {
    if (this.#table.size > GC_THRESHOLD || nowMs - this.#lastGc > RATELIMITER_GARBAGE_COLLECT_TIME_MS) {
      this.#gc(nowMs);
    }
    const e = this.#table.get(key);
    if (e === undefined) {
      this.#table.set(key, { last: nowMs, tokens: MAX_TOKENS - PACKET_COST_MS });
      return true;
    }
    e.tokens = Math.min(MAX_TOKENS, e.tokens + Math.max(0, nowMs - e.last));
    e.last = nowMs;
    if (e.tokens > PACKET_COST_MS) {
      e.tokens -= PACKET_COST_MS;
      return true;
    }
    return false;
  }

  get size(): number {
    return this.#table.size;
  }

  #gc(nowMs: number): void {
    this.#lastGc = nowMs;
    for (const [k, e] of this.#table)
      if (nowMs - e.last > RATELIMITER_GARBAGE_COLLECT_TIME_MS) this.#table.delete(k);
  }
}
