/**
 * Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5), with hard limits
 * so a flood of fragments cannot grow memory: a bounded number of datagrams in progress, a
 * bounded number of bytes held in total, and a timeout (RFC 8200 §4.5: 60 s; we use the same for
 * both families). Overlapping fragments discard the whole datagram (RFC 5722 for IPv6; applied to
 * IPv4 too, as the overlap is only ever an attack or a bug).
 */

export interface ReassemblyLimits {
  maxDatagrams: number;
  maxBytes: number;
  timeoutMs: number;
}

const DEFAULT_LIMITS: ReassemblyLimits = { maxDatagrams: 64, maxBytes: 1 << 20, timeoutMs: 60_000 };
/** Largest reassembled payload (a 16-bit total length minus the smallest header). */
const MAX_PAYLOAD = 65535;

interface PartialDatagram {
  frags: { offset: number; data: Uint8Array }[];
  bytes: number;
  /** Total payload length, known once the last fragment (M = 0) arrived; -1 before. */
  total: number;
  expires: number;
}

export class Reassembler {
  private readonly limits: ReassemblyLimits;
  private readonly pending = new Map<string, PartialDatagram>();
  private held = 0;
  /** Held fragments thrown away with their datagram (bad fragment, memory limit), not yet reported. */
  discardedBad = 0;
  /** Held fragments thrown away because their datagram timed out. */
  discardedTimeout = 0;

  constructor(limits: Partial<ReassemblyLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes held across all datagrams in progress. */
  get bytesHeld(): number {
    return this.held;
  }

  get datagrams(): number {
    return this.pending.size;
  }

  /**
   * Adds one fragment (copied). Returns the reassembled payload when complete, 'held' while the
   * datagram is incomplete, null when the fragment was bad (its datagram is discarded), 'limit'
   * when a memory limit refused it.
   */
  add(
    key: string,
    offset: number,
    more: boolean,
    data: Uint8Array,
    now: number,
  ): Uint8Array | null | 'held' | 'limit' {
    const end = offset + data.length;
    // Non-final fragments carry multiples of 8 bytes (RFC 791, RFC 8200 §4.5).
    if (end > MAX_PAYLOAD || (more && data.length % 8 !== 0) || (more && data.length === 0)) {
      this.discard(key);
      return null;
    }
    let p = this.pending.get(key);
    if (!p) {
      if (this.pending.size >= this.limits.maxDatagrams) return 'limit';
      p = { frags: [], bytes: 0, total: -1, expires: now + this.limits.timeoutMs };
      this.pending.set(key, p);
    }
    if (this.held + data.length > this.limits.maxBytes) {
      this.discard(key);
      return 'limit';
    }
    if (!more) {
      if (p.total >= 0 && p.total !== end) {
        this.discard(key);
        return null;
      }
      p.total = end;
    }
    if (p.total >= 0 && end > p.total) {
      this.discard(key);
      return null;
    }
    for (const f of p.frags) {
      if (offset < f.offset + f.data.length && f.offset < end) {
        this.discard(key);
        return null;
      }
    }
    p.frags.push({ offset, data: data.slice() });
    p.bytes += data.length;
    this.held += data.length;
    if (p.total < 0 || p.bytes !== p.total) return 'held';
    const out = new Uint8Array(p.total);
    for (const f of p.frags) out.set(f.data, f.offset);
    this.discard(key);
    return out;
  }

  private discard(key: string, timedOut = false): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.held -= p.bytes;
    this.pending.delete(key);
    if (timedOut) this.discardedTimeout += p.frags.length;
    else if (p.total < 0 || p.bytes !== p.total) this.discardedBad += p.frags.length;
  }

  /** Drops datagrams whose time is up. */
  expire(now: number): void {
    for (const [k, p] of this.pending) if (p.expires <= now) this.discard(k, true);
  }

  nextExpiry(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const p of this.pending.values()) t = Math.min(t, p.expires);
    return t;
  }
}
