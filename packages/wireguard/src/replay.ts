/**
 * The anti-replay sliding window for transport counters (WireGuard paper §5.4.6; RFC 6479 "IPsec
 * Anti-Replay Algorithm without Bit Shifting"; wireguard-go `replay/replay.go`).
 *
 * A ring of RING_BLOCKS 32-bit blocks. Moving the window forward clears whole blocks instead of
 * shifting bits; the newest block is always partly in use, so the window that is guaranteed is
 * (RING_BLOCKS − 1) × 32 = 8160 counters behind the greatest counter seen.
 *
 * Counters are numbers ≤ 2^53 (see constants.ts). Call `validateCounter` only after the packet has
 * been authenticated: it updates the window.
 */

const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // must be a power of two
const BLOCK_MASK = RING_BLOCKS - 1;
/** Counters more than this far behind the greatest seen are rejected. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS;

/**
 * A per-keypair replay filter over the last REPLAY_WINDOW_SIZE counters (wireguard-go `ReplayFilter`).
 *
 * @example
 * const f = new ReplayFilter();
 * f.validateCounter(5, REJECT_AFTER_MESSAGES); // true
 * f.validateCounter(5, REJECT_AFTER_MESSAGES); // false: a replay
 */
export class ReplayFilter {
  #last = 0;
  readonly #ring = new Uint32Array(RING_BLOCKS);

  /** Empties the filter (a new keypair). */
  reset(): void {
    this.#last = 0;
    this.#ring.fill(0);
  }

  /**
   * True if `counter` has not been seen and is inside the window (and below `limit`); marks it seen.
   * False for a replay, a counter too old, or one ≥ `limit`.
   */
  validateCounter(counter: number, limit: number): boolean {
    if (!(counter < limit) || counter < 0) return false;
    const indexBlock = Math.floor(counter / BLOCK_BITS);
    if (counter > this.#last) {
      // Move the window forward, clearing the blocks it enters (at most the whole ring).
      const current = Math.floor(this.#last / BLOCK_BITS);
      const diff = Math.min(indexBlock - current, RING_BLOCKS);
      for (let i = 1; i <= diff; i++) this.#ring[(current + i) & BLOCK_MASK] = 0;
      this.#last = counter;
    } else if (this.#last - counter > REPLAY_WINDOW_SIZE) {
      return false; // behind the window
    }
    // `&` works modulo 2^32 on integers, so these are exact for any counter ≤ 2^53.
    const block = indexBlock & BLOCK_MASK;
    const bit = 1 << (counter & (BLOCK_BITS - 1));
    const old = this.#ring[block]!;
    if ((old & bit) !== 0) return false;
    this.#ring[block] = old | bit;
    return true;
  }
}
