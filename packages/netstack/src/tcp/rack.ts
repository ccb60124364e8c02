/**
 * RACK-TLP loss detection (RFC 8985). RACK marks a segment lost when a segment sent *after* it
 * has been delivered and a reordering window has passed (§6.2) — time order rather than sequence
 * order, so lost retransmissions are detected without waiting for the RTO. TLP (§7) sends a
 * probe two SRTTs after the last transmission when the ACK stream stops, so a lost tail draws
 * SACK feedback and ends in fast recovery instead of a timeout.
 *
 * The transmission log holds one record per segment sent, in sending order; a retransmission
 * appends a new record and supersedes the older ones it covers.
 */
import type { SackScoreboard } from './sack.js';
import { seqGe, seqGt, seqLe, seqLt } from './seq.js';

interface TxRecord {
  start: number;
  end: number;
  /** Transmission time (ms). */
  ts: number;
  retransmit: boolean;
  /** Time of the first transmission of these bytes (equals `ts` unless retransmitted). */
  firstTs: number;
  /** Delivered (cumulatively ACKed or SACKed), superseded by a later transmission, or marked lost. */
  done: boolean;
}

/** Upper bound on log length; past it, the oldest records are forgotten (the RTO still covers them). */
const MAX_RECORDS = 1 << 16;

export class Rack {
  private log: TxRecord[] = [];
  private head = 0;
  /**
   * Index of the newest retransmission record (-1: none). Past it the log holds only original
   * transmissions, in sequence order, which lets `onAck` stop at the first one not delivered when
   * nothing is SACKed (an ACK then costs O(newly acked), not O(records in flight)).
   */
  private lastRtx = -1;
  /** RACK.xmit_ts / RACK.end_seq / RACK.rtt (§6.1). */
  xmitTs = Number.NEGATIVE_INFINITY;
  endSeq = 0;
  rtt = 0;
  minRtt = Number.POSITIVE_INFINITY;
  reorderingSeen = false;
  /**
   * RACK.reo_wnd_mult, RACK.reo_wnd_persist, RACK.dsack_round (§6.2 step 4): each round trip in
   * which the peer reports a D-SACK (we retransmitted what it already had: the "loss" was
   * reordering) widens the reordering window by another min_RTT/4, for 16 recoveries.
   */
  reoWndMult = 1;
  reoWndPersist = 0;
  dsackRound: number | null = null;
  /** Deadline of the reordering timer (§6.3), or Infinity. */
  timerAt = Number.POSITIVE_INFINITY;
  /** Ranges (flat pairs) RACK found lost that still need retransmitting. */
  lost: number[] = [];

  /** Records a transmission of [start, end). */
  onSend(start: number, end: number, now: number, retransmit: boolean): void {
    let firstTs = now;
    if (retransmit) {
      for (let i = this.head; i < this.log.length; i++) {
        const r = this.log[i]!;
        if (r.done || !(seqLt(r.start, end) && seqLt(start, r.end))) continue;
        firstTs = Math.min(firstTs, r.firstTs);
        // Superseded where covered; what the retransmission does not cover keeps its place.
        const left = seqLt(r.start, start);
        const right = seqGt(r.end, end);
        if (!left && !right) r.done = true;
        else if (left && !right) r.end = start;
        else if (!left && right) r.start = end;
        else {
          this.log.splice(i + 1, 0, { ...r, start: end });
          if (i + 1 <= this.lastRtx) this.lastRtx++;
          else if (r.retransmit) this.lastRtx = i + 1;
          r.end = start;
          i++;
        }
      }
      this.removeLost(start, end);
    }
    this.log.push({ start, end, ts: now, retransmit, firstTs, done: false });
    if (retransmit) this.lastRtx = this.log.length - 1;
    if (this.log.length - this.head > MAX_RECORDS) this.head++;
    if (this.head > 4096 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.lastRtx = Math.max(this.lastRtx - this.head, -1);
      this.head = 0;
    }
  }

  /**
   * §6.2 steps 1–2: on an ACK, note the most recently sent segment it delivers. `tsEcr` (when
   * timestamps are on) tells an ACK of the original transmission from one of the retransmission
   * (§6.2 step 2). `finEnd` is the sequence number just past our FIN, or -1.
   */
  onAck(
    una: number,
    sack: SackScoreboard,
    now: number,
    tsEcr: number | undefined,
    tsOffsetNow: (t: number) => number,
    finEnd: number,
  ): void {
    const nothingSacked = sack.empty;
    for (let i = this.head; i < this.log.length; i++) {
      const r = this.log[i]!;
      if (r.done) continue;
      // In-order originals with nothing SACKed: the first not cumulatively ACKed ends the scan.
      if (nothingSacked && i > this.lastRtx && seqGt(r.end, una)) break;
      // SACK blocks cover data only: a segment carrying the FIN counts as SACKed without it.
      const dataEnd = r.end === finEnd ? (r.end - 1) >>> 0 : r.end;
      const sackedTo = sack.skipSacked(r.start);
      const delivered = seqLe(r.end, una) || (sackedTo !== r.start && seqGe(sackedTo, dataEnd));
      if (!delivered) continue;
      r.done = true;
      let ts = r.ts;
      let rtt = now - r.ts;
      if (r.retransmit) {
        // The ACK may be for the original transmission (§6.2 step 2): then it is the original's
        // send time that orders it, and it gives no RTT sample.
        const forOriginal = tsEcr !== undefined ? seqLt(tsEcr, tsOffsetNow(r.ts)) : rtt < this.minRtt;
        if (forOriginal) {
          ts = r.firstTs;
          rtt = now - ts;
        }
      }
      if (!r.retransmit && rtt < this.minRtt) this.minRtt = rtt;
      // §6.2 step 3: a delivered segment sent before the newest delivered one but with a higher
      // sequence number means the network reordered.
      if (ts < this.xmitTs && seqLt(r.end, this.endSeq)) this.reorderingSeen = true;
      if (ts > this.xmitTs || (ts === this.xmitTs && seqGt(r.end, this.endSeq))) {
        this.xmitTs = ts;
        this.endSeq = r.end;
        this.rtt = rtt;
      }
    }
    while (this.head < this.log.length && this.log[this.head]!.done) this.head++;
  }

  /**
   * §6.2 step 4 (RACK_update_reo_wnd), for an ACK carrying a D-SACK block (RFC 2883): once per
   * round trip (until SND.UNA passes the SND.NXT of the last increase) the window grows.
   */
  onDsack(una: number, sndNxt: number): void {
    if (this.dsackRound !== null && seqGe(una, this.dsackRound)) this.dsackRound = null;
    if (this.dsackRound !== null) return;
    this.dsackRound = sndNxt;
    this.reoWndMult++;
    this.reoWndPersist = 16;
  }

  /** §6.2 step 4: leaving fast or RTO recovery; after 16 without a D-SACK the window shrinks back. */
  onRecoveryExit(): void {
    if (--this.reoWndPersist <= 0) this.reoWndMult = 1;
  }

  /** §6.2 step 4: the reordering window. */
  reoWnd(inRecovery: boolean, srtt: number): number {
    if (!this.reorderingSeen && inRecovery) return 0;
    if (this.minRtt === Number.POSITIVE_INFINITY) return 0;
    return Math.min((this.reoWndMult * this.minRtt) / 4, srtt);
  }

  /**
   * §6.2 step 5: marks lost every undelivered segment sent before RACK.xmit_ts whose time is up;
   * returns true if any was newly marked. Sets `timerAt` for the ones still inside the window.
   */
  detectLoss(now: number, inRecovery: boolean, srtt: number): boolean {
    const reo = this.reoWnd(inRecovery, srtt);
    let found = false;
    let wait = 0;
    for (let i = this.head; i < this.log.length; i++) {
      const r = this.log[i]!;
      if (r.done) continue;
      if (r.ts > this.xmitTs) break; // sent after the newest delivered one: not judged yet
      if (r.ts === this.xmitTs && !seqLt(r.end, this.endSeq)) continue;
      const remaining = r.ts + this.rtt + reo - now;
      if (remaining <= 0) {
        r.done = true;
        this.addLost(r.start, r.end);
        found = true;
      } else wait = Math.max(wait, remaining);
    }
    this.timerAt = wait > 0 ? now + wait : Number.POSITIVE_INFINITY;
    return found;
  }

  /** Drops lost ranges now acknowledged or SACKed. */
  prune(una: number, sack: SackScoreboard): void {
    const out: number[] = [];
    for (let i = 0; i < this.lost.length; i += 2) {
      let s = this.lost[i]!;
      const e = this.lost[i + 1]!;
      if (seqLe(e, una)) continue;
      if (seqLt(s, una)) s = una;
      if (sack.isSacked(s) && seqGe(sack.skipSacked(s), e)) continue;
      out.push(s, e);
    }
    this.lost = out;
  }

  /** Bytes in lost ranges within [from, to). */
  lostBetween(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.lost.length; i += 2) {
      const a = seqGt(this.lost[i]!, from) ? this.lost[i]! : from;
      const b = seqLt(this.lost[i + 1]!, to) ? this.lost[i + 1]! : to;
      if (seqGt(b, a)) n += (b - a) | 0;
    }
    return n;
  }

  private addLost(s: number, e: number): void {
    this.lost.push(s, e);
    if (this.lost.length > 2048) this.lost.splice(0, 2);
  }

  private removeLost(s: number, e: number): void {
    const out: number[] = [];
    for (let i = 0; i < this.lost.length; i += 2) {
      const a = this.lost[i]!;
      const b = this.lost[i + 1]!;
      if (seqLe(b, s) || seqGe(a, e)) out.push(a, b);
      else {
        if (seqLt(a, s)) out.push(a, s);
        if (seqGt(b, e)) out.push(e, b);
      }
    }
    this.lost = out;
  }

  /** Forgets everything (after an RTO every outstanding segment is retransmitted anyway). */
  reset(): void {
    this.log = [];
    this.head = 0;
    this.lost = [];
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
