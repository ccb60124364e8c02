/**
 * Building the segments a connection sends: the common fields (ACK, window, timestamps), the
 * advertised window with receiver SWS avoidance and auto-tuning (RFC 9293 §3.8.6.2.2), SYN and
 * SYN-ACK with their options (RFC 9293 §3.7.1, RFC 7323, RFC 2018), RSTs and probes.
 */
import { TCP_FLAG, type TcpRepr } from '../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import { seqAdd, seqDiff, seqLe, seqMax } from './seq.js';

/** The window shift that lets `bufferSize` be advertised (RFC 7323 §2.3). */
export function windowShiftFor(bufferSize: number): number {
  let shift = 0;
  while (shift < 14 && 0xffff << shift < bufferSize) shift++;
  return shift;
}

/** Fills the common fields of the scratch segment: ACK, window, timestamps. */
export function prepareSegment(c: TcpConnection, seq: number, flags: number, now: number): TcpRepr {
  const s = c.seg;
  s.seq = seq;
  s.flags = flags;
  s.mss = undefined;
  s.windowShift = undefined;
  s.sackPermitted = false;
  s.sack.length = 0;
  s.urgent = 0;
  if (flags & TCP_FLAG.ACK) {
    s.ack = c.rcvNxt;
    s.window = advertiseWindow(c);
    c.lastAckSent = c.rcvNxt;
    c.ackNow = false;
    c.segsSinceAck = 0;
    c.delAckAt = Number.POSITIVE_INFINITY;
  } else {
    s.ack = 0;
    s.window = 0;
  }
  if (c.tsOk) {
    s.tsVal = c.tsNow(now);
    s.tsEcr = flags & TCP_FLAG.ACK ? c.tsRecent : 0;
  } else {
    s.tsVal = undefined;
    s.tsEcr = undefined;
  }
  return s;
}

/**
 * Receive-window growth (dynamic right-sizing, as Linux's tcp_rcv_space_adjust): once per
 * receiver-side RTT, if the app consumed more than the current target, the target becomes twice
 * that, up to the buffer's bound. The window therefore follows what the app really drains,
 * and a slow reader never holds more than it has shown it can take.
 */
export function rcvSpaceAdjust(c: TcpConnection, bytes: number, now: number): void {
  if (!c.config.autotune) return;
  c.rcvCopied += bytes;
  const rtt = c.rcvRttSeen ? Math.max(c.rcvRtt, 1) : c.rtt.hasSample ? c.rtt.srtt : 100;
  if (now - c.rcvSpaceTime < rtt) return;
  if (c.rcvCopied > c.rcvSpace / 2) {
    c.rcvSpace = Math.min(Math.max(c.rcvSpace, 2 * c.rcvCopied), c.recvBuf.capacity);
  }
  c.rcvCopied = 0;
  c.rcvSpaceTime = now;
}

/** Largest window the receive side offers now: free space, capped by the auto-tuned target. */
export function rcvWindowLimit(c: TcpConnection): number {
  const free = c.recvBuf.free;
  if (!c.config.autotune) return free;
  return Math.max(Math.min(free, c.rcvSpace - c.recvBuf.length), 0);
}

/** The window field to send, with receiver SWS avoidance and no shrinking (§3.8.6.2.2). */
export function advertiseWindow(c: TcpConnection): number {
  const current = Math.max(seqDiff(c.rcvAdvEdge, c.rcvNxt), 0);
  let wnd = rcvWindowLimit(c);
  if (wnd < current + Math.min(c.rcvSpace / 2, c.sndMss)) wnd = current;
  wnd = Math.min(wnd, 0xffff << c.rcvShift);
  const field = wnd >>> c.rcvShift;
  const edge = seqAdd(c.rcvNxt, field << c.rcvShift);
  c.rcvAdvEdge = seqMax(edge, c.rcvAdvEdge);
  return field;
}

/** SYN (active) or SYN-ACK (passive, or simultaneous open) with our options. */
export function sendSyn(c: TcpConnection, now: number): void {
  const cfg = c.config;
  const synAck = c.state === 'SYN-RECEIVED';
  const s = prepareSegment(c, c.iss, synAck ? TCP_FLAG.SYN | TCP_FLAG.ACK : TCP_FLAG.SYN, now);
  // RFC 7323 §2.2: the window in a SYN is not scaled.
  s.window = Math.min(c.recvBuf.free, 0xffff);
  c.rcvAdvEdge = seqAdd(c.rcvNxt, s.window);
  s.mss = cfg.mss;
  // On SYN-ACK, options are echoed only if the peer offered them.
  const ws = synAck ? c.wsOk : cfg.windowScaling;
  if (ws) s.windowShift = windowShiftFor(cfg.recvBufferSize);
  s.sackPermitted = synAck ? c.sackOk : cfg.sack;
  const ts = synAck ? c.tsOk : cfg.timestamps;
  if (ts) {
    s.tsVal = c.tsNow(now);
    s.tsEcr = synAck ? c.tsRecent : 0;
  } else {
    s.tsVal = undefined;
    s.tsEcr = undefined;
  }
  s.payload = s.payload.subarray(0, 0);
  c.hooks.output(s);
  if (seqLe(c.sndMax, c.iss)) c.sndMax = seqAdd(c.iss, 1);
  c.sndNxt = seqAdd(c.iss, 1);
}

/** A RST with the given sequence (and ACK, when `withAck`). */
export function emitRst(c: TcpConnection, seq: number, ack: number, withAck: boolean): void {
  const s = c.seg;
  s.seq = seq;
  s.ack = withAck ? ack : 0;
  s.flags = TCP_FLAG.RST | (withAck ? TCP_FLAG.ACK : 0);
  s.window = 0;
  s.mss = undefined;
  s.windowShift = undefined;
  s.sackPermitted = false;
  s.sack.length = 0;
  s.tsVal = undefined;
  s.tsEcr = undefined;
  s.payload = s.payload.subarray(0, 0);
  c.hooks.output(s);
}

/** An ACK carrying SND.UNA − 1: the peer must answer with an ACK (keepalive, zero-window probe). */
export function emitProbe(c: TcpConnection, now: number): void {
  const s = prepareSegment(c, seqAdd(c.sndUna, -1), TCP_FLAG.ACK, now);
  s.payload = s.payload.subarray(0, 0);
  c.hooks.output(s);
}
