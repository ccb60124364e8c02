/**
 * The sender's SACK scoreboard (RFC 2018 §5, RFC 6675 §3–§4): which bytes above SND.UNA the peer
 * reported holding, the loss test `IsLost`, the `pipe` estimate and `NextSeg`'s search for holes.
 * Ranges are absolute sequence numbers, sorted, disjoint, and all above SND.UNA.
 */
import { seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js';

/** RFC 6675 §2: DupThresh. */
export const DUP_THRESH = 3;
/** Past this many separate ranges, new blocks are ignored (memory bound). */
const MAX_RANGES = 64;

export class SackScoreboard {
  /** Flat [start0, end0, start1, end1, ...]. */
  ranges: number[] = [];
  /** Total SACKed bytes. */
  sacked = 0;

  clear(): void {
    this.ranges = [];
    this.sacked = 0;
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** Highest SACKed sequence number + 1 (only meaningful when not empty). */
  get highest(): number {
    return this.ranges[this.ranges.length - 1]!;
  }

  /**
   * Adds the peer's blocks (flat pairs). Blocks not strictly inside (una, max] are ignored
   * (RFC 2883 D-SACK blocks fall below SND.UNA). Returns true if anything new was learned.
   */
  update(blocks: readonly number[], una: number, max: number): boolean {
    let learned = false;
    for (let i = 0; i + 1 < blocks.length; i += 2) {
      let s = blocks[i]!;
      const e = blocks[i + 1]!;
      if (!seqLt(s, e) || seqGt(e, max) || seqLe(e, una)) continue;
      s = seqMax(s, una);
      if (this.insert(s, e)) learned = true;
    }
    return learned;
  }

  private insert(s0: number, e0: number): boolean {
    let s = s0;
    let e = e0;
    const r = this.ranges;
    const out: number[] = [];
    let placed = false;
    let before = 0;
    for (let i = 0; i < r.length; i += 2) {
      const a = r[i]!;
      const b = r[i + 1]!;
      if (seqLt(b, s)) out.push(a, b);
      else if (seqGt(a, e)) {
        if (!placed) {
          out.push(s, e);
          placed = true;
        }
        out.push(a, b);
      } else {
        before += seqDiff(b, a);
        s = seqMin(s, a);
        e = seqMax(e, b);
      }
    }
    if (!placed) out.push(s, e);
    if (out.length / 2 > MAX_RANGES) return false;
    const added = seqDiff(e, s) - before;
    if (added <= 0) return false;
    this.ranges = out;
    this.sacked += added;
    return true;
  }

  /** Forgets everything below `una` (after a cumulative ACK). */
  advance(una: number): void {
    const r = this.ranges;
    let i = 0;
    while (i < r.length && seqLe(r[i + 1]!, una)) {
      this.sacked -= seqDiff(r[i + 1]!, r[i]!);
      i += 2;
    }
    if (i > 0) r.splice(0, i);
    if (r.length > 0 && seqLt(r[0]!, una)) {
      this.sacked -= seqDiff(una, r[0]!);
      r[0] = una;
    }
  }

  /** True if `seq` lies inside a SACKed range. */
  isSacked(seq: number): boolean {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (seqLt(seq, r[i]!)) return false;
      if (seqLt(seq, r[i + 1]!)) return true;
    }
    return false;
  }

  /** If `seq` is SACKed, the end of its range; else `seq`. */
  skipSacked(seq: number): number {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (seqLt(seq, r[i]!)) return seq;
      if (seqLt(seq, r[i + 1]!)) return r[i + 1]!;
    }
    return seq;
  }

  /** The start of the first SACKed range above `seq`, or `limit` when none comes first. */
  nextSackedStart(seq: number, limit: number): number {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) if (seqGt(r[i]!, seq)) return seqMin(r[i]!, limit);
    return limit;
  }

  /**
   * RFC 6675 §4 IsLost, as one boundary: every unSACKed byte below the returned sequence number
   * is lost, because DupThresh discontiguous ranges or more than (DupThresh − 1) × SMSS bytes are
   * SACKed above it. Returns `una` when nothing is deemed lost.
   */
  lostLimit(una: number, smss: number): number {
    const r = this.ranges;
    let bytes = 0;
    let count = 0;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      bytes += seqDiff(r[i + 1]!, r[i]!);
      count++;
      if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss) return r[i]!;
    }
    return una;
  }

  /** SACKed bytes within [from, to). */
  sackedBetween(from: number, to: number): number {
    let n = 0;
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      const a = seqMax(r[i]!, from);
      const b = seqMin(r[i + 1]!, to);
      if (seqGt(b, a)) n += seqDiff(b, a);
    }
    return n;
  }

  /** The first unSACKed sequence number ≥ `from` and < `to`, or -1. */
  firstHole(from: number, to: number): number {
    let s = from;
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (seqGe(s, to)) return -1;
      if (seqLt(s, r[i]!)) return s;
      if (seqLt(s, r[i + 1]!)) s = r[i + 1]!;
    }
    return seqLt(s, to) ? s : -1;
  }
}
