/**
 * A connection's timers, run by `TcpConnection.onTimer` when `pollAt()` is due: TIME-WAIT
 * (RFC 9293 §3.10.8), retransmission timeout (RFC 6298 §5), RACK's reordering timer and the tail
 * loss probe (RFC 8985 §6.3, §7), delayed ACK (§3.8.6.3), persist (§3.8.6.1) and keepalive (§3.8.4).
 */
import type { TcpConnection } from './connection.js';
import { probeLast, transmit } from './output.js';
import { emitProbe, sendSyn } from './segments.js';
import { seqAdd, seqDiff, seqLt } from './seq.js';

/** Runs whatever timers are due at `now`. */
export function runTimers(c: TcpConnection, now: number): void {
  if (now >= c.timeWaitAt) {
    // RFC 9293 §3.10.8: the TIME-WAIT timeout deletes the TCB.
    c.enterClosed(null);
    return;
  }
  if (now >= c.rtoAt) onRto(c, now);
  if (c.isClosed()) return;
  if (now >= c.rack.timerAt) {
    c.rack.timerAt = Number.POSITIVE_INFINITY;
    if (c.rackOk) c.rackDetect(now);
  }
  if (now >= c.tlpAt) onTlp(c, now);
  if (now >= c.delAckAt) {
    c.delAckAt = Number.POSITIVE_INFINITY;
    c.ackNow = true;
  }
  if (now >= c.persistAt) onPersist(c, now);
  if (now >= c.keepAt) {
    onKeepalive(c, now);
    if (c.isClosed()) return;
  }
  transmit(c, now);
}

/** RFC 6298 §5.4–5.7: retransmission timeout. */
export function onRto(c: TcpConnection, now: number): void {
  c.retries++;
  c.stats.rtos++;
  const limit = c.isSynchronized() ? c.config.maxRetries : c.config.synRetries;
  if (c.retries > limit) {
    // RFC 9293 §3.8.3 R2: give up; a passive half-open connection just disappears.
    c.enterClosed(c.state === 'SYN-RECEIVED' && !c.active ? null : 'ETIMEDOUT');
    return;
  }
  c.rtt.backOff();
  c.rttSeq = -1;
  c.rtoAt = now + c.rtt.rto;
  if (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED') {
    sendSyn(c, now);
    return;
  }
  // RFC 5681 §3.1 (eq. 4): cwnd to one segment. Go back to SND.UNA (RFC 6582 §3.2 step 1:
  // recover = SND.MAX). RFC 6675 §5.1 lets the SACK information guide the go-back, so SACKed
  // bytes are skipped; but a second timeout on the same SND.UNA suggests the receiver reneged
  // (RFC 2018 §8), and then the scoreboard is forgotten.
  c.cc.onRto(now, seqDiff(c.sndMax, c.sndUna));
  c.inRecovery = false;
  c.dupAcks = 0;
  c.recoveryPoint = c.sndMax;
  if (c.retries > 1) c.sack.clear();
  c.rack.reset();
  c.tlpAt = Number.POSITIVE_INFINITY;
  c.tlpOutstanding = false;
  c.sndNxt = c.sndUna;
  c.highRxt = c.sndUna;
}

/** RFC 8985 §7.3: the tail loss probe — new data if the window allows, else the last segment. */
export function onTlp(c: TcpConnection, now: number): void {
  c.tlpAt = Number.POSITIVE_INFINITY;
  if (!c.isSynchronized() || c.inRecovery || c.sndMax === c.sndUna) return;
  c.tlpOutstanding = true;
  c.rtoAt = now + c.rtt.rto;
  const canSendNew =
    seqLt(c.sndNxt, c.dataEnd) && c.sndNxt === c.sndMax && seqLt(c.sndNxt, seqAdd(c.sndUna, c.sndWnd));
  if (canSendNew) {
    c.tlpForce = true;
    return; // transmit() (run by onTimer) sends it
  }
  c.stats.tlps++;
  probeLast(c, now);
}

/** RFC 9293 §3.8.6.1: a zero-window probe (an old sequence number, so the peer must ACK). */
export function onPersist(c: TcpConnection, now: number): void {
  c.persistAt = Number.POSITIVE_INFINITY;
  if (c.sndWnd > 0) {
    // The window is open but too small for sender SWS avoidance: the override timeout.
    c.persistOverride = true;
    return;
  }
  emitProbe(c, now);
  c.persistBackoff = Math.min(c.persistBackoff + 1, 10);
  c.persistAt = now + Math.min(c.rtt.rto * 2 ** c.persistBackoff, 60_000);
}

/** RFC 9293 §3.8.4: after the idle time, probe; after `keepCount` unanswered probes, fail. */
export function onKeepalive(c: TcpConnection, now: number): void {
  const cfg = c.config;
  const idle = now - c.lastRecvAt;
  if (!c.keepAlive || !(c.state === 'ESTABLISHED' || c.state === 'CLOSE-WAIT')) {
    c.keepAt = c.keepAlive ? now + cfg.keepIdleMs : Number.POSITIVE_INFINITY;
    return;
  }
  if (idle < cfg.keepIdleMs && c.keepProbes === 0) {
    c.keepAt = c.lastRecvAt + cfg.keepIdleMs;
    return;
  }
  if (c.keepProbes >= cfg.keepCount) {
    c.enterClosed('ETIMEDOUT');
    return;
  }
  c.keepProbes++;
  emitProbe(c, now);
  c.keepAt = now + cfg.keepIntervalMs;
}
