/**
 * What a connection sends, decided in one place (`transmit`), in this order:
 *   1. a forced retransmission of the first hole (fast retransmit, RFC 5681 §3.2 step 2; a
 *      NewReno partial ACK, RFC 6582 §3.2 step 4);
 *   2. while the congestion window has room over `pipe` (RFC 6675 §5): retransmissions of lost
 *      bytes (NextSeg rule 1), then new data or, after an RTO, the bytes from SND.NXT again
 *      (rule 2), then unSACKed bytes below the highest SACK (rule 3) — bounded by the peer's
 *      window, Nagle (RFC 9293 §3.7.4) and sender SWS avoidance (§3.8.6.2.1); the FIN rides on
 *      the last data segment or goes alone;
 *   3. the persist timer when the peer's window is zero (§3.8.6.1);
 *   4. a bare ACK if one is owed and nothing above carried it.
 */
import { TCP_FLAG } from '../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMax, seqMin } from './seq.js';

/** Scratch for segments whose bytes wrap around the send ring. */
const EMPTY = new Uint8Array(0);

/** Bytes of SACK blocks and timestamps on a data segment from `c` now. */
function optionBytes(c: TcpConnection): number {
  let n = c.tsOk ? 12 : 0;
  if (c.sackOk && c.recvBuf.holes > 0) n += 4 + 8 * Math.min(c.recvBuf.holes, c.tsOk ? 3 : 4);
  return n;
}

/** RFC 6675 §4 SetPipe, from ranges: bytes in flight as the sender best knows it. */
export function pipe(c: TcpConnection): number {
  let p = seqDiff(c.sndNxt, c.sndUna) - c.sack.sackedBetween(c.sndUna, c.sndNxt);
  if (c.inRecovery && c.sackOk) {
    const lost = c.sack.lostLimit(c.sndUna, c.sndMss);
    const from = seqMax(c.highRxt, c.sndUna);
    if (seqGt(lost, from)) p -= seqDiff(lost, from) - c.sack.sackedBetween(from, lost);
    // RACK-marked losses outside the range just subtracted are not in flight either.
    if (c.rack.lost.length > 0) {
      p -= c.rack.lostBetween(c.sndUna, from) + c.rack.lostBetween(seqMax(lost, from), c.sndNxt);
    }
  }
  return Math.max(p, 0);
}

/** Sends bytes [seq, seq + len) (and the FIN if it follows them). Returns sequence space used. */
function sendRange(c: TcpConnection, seq: number, len: number, now: number): number {
  const fin = c.finQueued && seqAdd(seq, len) === c.dataEnd;
  const s = c.prepare(seq, TCP_FLAG.ACK | (fin ? TCP_FLAG.FIN : 0) | (len > 0 ? TCP_FLAG.PSH : 0), now);
  addSackBlocks(c);
  if (len > 0) {
    const off = seqDiff(seq, c.bufSeq);
    let view = c.sendBuf.view(off, len);
    if (!view) {
      view = new Uint8Array(len);
      c.sendBuf.copyOut(off, len, view);
    }
    s.payload = view;
  } else s.payload = EMPTY;
  c.hooks.output(s);
  c.stats.segmentsOut++;
  const retransmit = seqLt(seq, c.sndMax);
  if (retransmit) c.stats.retransmits++;
  const used = len + (fin ? 1 : 0);
  const end = seqAdd(seq, used);
  if (used > 0 && c.rackOk) c.rack.onSend(seq, end, now, retransmit);
  if (seqGt(end, c.sndMax)) c.sndMax = end;
  if (c.rtoAt === Number.POSITIVE_INFINITY) c.rtoAt = now + c.rtt.rto;
  if (used > 0 && !c.tlpOutstanding && !c.inRecovery) c.armTlp(now);
  return used;
}

/** RFC 2018 §4: SACK blocks, the most recently changed first. */
function addSackBlocks(c: TcpConnection): void {
  if (!c.sackOk || c.recvBuf.holes === 0) return;
  const r = c.recvBuf.sackRanges(c.tsOk ? 3 : 4);
  for (let i = 0; i < r.length; i++) c.seg.sack.push(seqAdd(c.rcvNxt, r[i]!));
}

/** Decides and emits everything the connection should send now. */
export function transmit(c: TcpConnection, now: number): void {
  switch (c.state) {
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'CLOSE-WAIT':
    case 'CLOSING':
    case 'LAST-ACK':
      sendData(c, now);
      break;
    default:
      break;
  }
  if (c.ackNow && c.state !== 'CLOSED' && c.state !== 'SYN-SENT' && c.state !== 'LISTEN') {
    const s = c.prepare(c.sndNxt, TCP_FLAG.ACK, now);
    s.payload = EMPTY;
    addSackBlocks(c);
    c.hooks.output(s);
  }
}

function sendData(c: TcpConnection, now: number): void {
  const maxPayload = Math.max(c.sndMss - optionBytes(c), 1);
  const dataEnd = c.dataEnd;
  // Sequence space that exists to send: data, plus the FIN if queued.
  const end = c.finQueued ? seqAdd(dataEnd, 1) : dataEnd;

  // 1. Forced retransmission of the first unacknowledged (unSACKed) segment.
  if (c.rtxPending) {
    c.rtxPending = false;
    const s = c.sack.firstHole(c.sndUna, c.sndMax);
    if (s !== -1) {
      const stop = c.sack.nextSackedStart(s, seqMin(c.sndMax, dataEnd));
      const len = Math.max(Math.min(seqDiff(stop, s), maxPayload), 0);
      sendRange(c, s, len, now);
      c.highRxt = seqMax(c.highRxt, seqAdd(s, Math.max(len, 1)));
      c.rttSeq = -1;
    }
  }

  for (let guard = 0; guard < 10_000; guard++) {
    const room = c.cc.cwnd - pipe(c);
    if (room <= 0 && !c.tlpForce) break;

    // RACK (RFC 8985 §6.2): ranges found lost by time order, lost retransmissions included.
    if (c.inRecovery && c.rack.lost.length > 0) {
      const s = c.sack.skipSacked(seqMax(c.rack.lost[0]!, c.sndUna));
      const e = c.rack.lost[1]!;
      if (seqLt(s, e) && seqLt(s, end)) {
        const stop = c.sack.nextSackedStart(s, seqMin(e, dataEnd));
        const len = Math.max(Math.min(seqDiff(stop, s), maxPayload), 0);
        const used = sendRange(c, s, len, now);
        if (seqGt(seqAdd(s, used), c.highRxt)) c.highRxt = seqAdd(s, used);
        if (used > 0) continue;
      }
      c.rack.lost.splice(0, 2);
      continue;
    }

    // Rule 1 (RFC 6675 §5): the first lost, not yet retransmitted, unSACKed bytes.
    if (c.inRecovery && c.sackOk) {
      const lost = c.sack.lostLimit(c.sndUna, c.sndMss);
      const from = seqMax(c.highRxt, c.sndUna);
      const s = seqLt(from, lost) ? c.sack.firstHole(from, lost) : -1;
      if (s !== -1) {
        const stop = c.sack.nextSackedStart(s, seqMin(lost, dataEnd));
        const len = Math.min(seqDiff(stop, s), maxPayload);
        if (len > 0 || (c.finQueued && s === dataEnd)) {
          const used = sendRange(c, s, Math.max(len, 0), now);
          c.highRxt = seqAdd(s, Math.max(used, 1));
          continue;
        }
      }
    }

    // Rule 2: SND.NXT onwards (new data, or the go-back after an RTO), skipping SACKed bytes.
    c.sndNxt = c.sack.skipSacked(c.sndNxt);
    if (seqLt(c.sndNxt, end)) {
      const isRetransmit = seqLt(c.sndNxt, c.sndMax);
      const avail = Math.max(seqDiff(dataEnd, c.sndNxt), 0);
      const wndRoom = seqDiff(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
      let len = Math.min(avail, maxPayload);
      if (isRetransmit) len = Math.min(len, seqDiff(c.sack.nextSackedStart(c.sndNxt, c.sndMax), c.sndNxt));
      len = Math.max(Math.min(len, wndRoom), 0);
      const finHere = c.finQueued && seqAdd(c.sndNxt, len) === dataEnd;
      if (len === 0 && !finHere) break; // window closed (persist timer below)
      if (len < maxPayload && !isRetransmit && !finHere) {
        // Nagle (RFC 9293 §3.7.4): hold a small segment while data is unacknowledged.
        if (!c.noDelay && c.sndMax !== c.sndUna) break;
        // Sender SWS avoidance (§3.8.6.2.1): a window-limited runt waits unless it is at least
        // half the largest window the peer has offered.
        // The persist timer's expiry is the override that sends it anyway.
        if (len < avail && len < c.maxSndWnd / 2 && !c.persistOverride) break;
      }
      if (!isRetransmit && c.rttSeq < 0 && !c.tsOk && len > 0) {
        c.rttSeq = seqAdd(c.sndNxt, len);
        c.rttTime = now;
      }
      const used = sendRange(c, c.sndNxt, len, now);
      if (c.tlpForce) {
        c.tlpForce = false;
        c.stats.tlps++;
      }
      c.persistOverride = false;
      c.sndNxt = seqAdd(c.sndNxt, used);
      if (used === 0) break;
      continue;
    }

    // Rule 3: unSACKed bytes above HighRxt below the highest SACKed byte.
    if (c.inRecovery && c.sackOk && !c.sack.empty) {
      const from = seqMax(c.highRxt, c.sndUna);
      const s = c.sack.firstHole(from, c.sack.highest);
      if (s !== -1) {
        const stop = c.sack.nextSackedStart(s, seqMin(c.sack.highest, dataEnd));
        const len = Math.min(seqDiff(stop, s), maxPayload);
        if (len > 0) {
          sendRange(c, s, len, now);
          c.highRxt = seqAdd(s, len);
          continue;
        }
      }
    }

    // Rule 4: once per recovery, a rescue retransmission of the highest unSACKed segment, so a
    // lost tail is repaired without the RTO when there is no new data to send.
    if (c.inRecovery && c.sackOk && !c.rescueDone && (c.sack.empty || seqLt(c.sack.highest, c.sndMax))) {
      c.rescueDone = true;
      probeLast(c, now);
      continue;
    }
    break;
  }

  c.tlpForce = false;

  // 3. Data waits on the peer's window and nothing in flight will bring an update: persist.
  c.persistOverride = false;
  const pending = seqLt(c.sndNxt, end) && seqGe(c.sndNxt, c.sndMax);
  if (pending && c.sndMax === c.sndUna) {
    if (c.persistAt === Number.POSITIVE_INFINITY) c.persistAt = now + c.rtt.rto;
  } else {
    c.persistAt = Number.POSITIVE_INFINITY;
    c.persistBackoff = 0;
  }
}

/** RFC 8985 §7.3: retransmit the highest-sequence segment as the tail loss probe. */
export function probeLast(c: TcpConnection, now: number): void {
  const dataEnd = c.dataEnd;
  const top = seqMin(c.sndMax, dataEnd);
  const maxPayload = Math.max(c.sndMss - optionBytes(c), 1);
  const start = seqMax(c.sndUna, seqAdd(top, -maxPayload));
  sendRange(c, start, Math.max(seqDiff(top, start), 0), now);
}
