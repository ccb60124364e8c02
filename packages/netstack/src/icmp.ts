/**
 * ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) for the stack: the echo responder (so the stack's
 * addresses answer ping), `ping` itself, port-unreachable replies for closed UDP ports
 * (RFC 1122 §3.2.2.1), and ICMP errors delivered to the TCP connection they concern — checked
 * against the sequence numbers in flight (RFC 5927 §4.1), lowering the MSS on "fragmentation
 * needed" / "packet too big" (RFC 1191, RFC 8201) and refusing a connect on a hard error
 * (RFC 1122 §4.2.3.9).
 */
import type { Clock, TimerHandle } from './clock.js';
import type { DropReason, StackCounters } from './counters.js';
import { addrKey, connKey } from './demux-key.js';
import type { Logf } from './logf.js';
import type { TcpEntry } from './stack.js';
import { seqGe, seqLe } from './tcp/seq.js';
import { ICMPV4_UNREACH, Icmpv4Packet, Icmpv4Repr } from './wire/icmpv4.js';
import { ICMPV6_UNREACH, Icmpv6Packet, Icmpv6Repr } from './wire/icmpv6.js';
import { IPV4_HEADER_LEN } from './wire/ipv4.js';
import { IPV6_HEADER_LEN } from './wire/ipv6.js';
import { IP_PROTOCOL, isWireError } from './wire/wire-error.js';

/** What the ICMP layer needs from its stack. */
export interface IcmpHost {
  readonly counters: StackCounters;
  readonly clock: Clock;
  readonly logf: Logf;
  /** Answer echo requests. */
  readonly echo: boolean;
  drop(reason: DropReason): void;
  sendIp(
    src: Uint8Array,
    dst: Uint8Array,
    protocol: number,
    bodyLen: number,
    fill: (body: Uint8Array) => void,
  ): void;
  tcpEntry(key: string): TcpEntry | undefined;
  /** Reports a hard ICMP error to the connected UDP socket that sent the datagram; false if none. */
  udpUnreachable(src: Uint8Array, srcPort: number, dst: Uint8Array, dstPort: number): boolean;
}

export class Icmp {
  private readonly pings = new Map<
    string,
    { resolve: (ms: number | null) => void; sentAt: number; timer: TimerHandle }
  >();
  private pingSeq = 0;

  constructor(private readonly host: IcmpHost) {}

  /** Sends an echo request from `src` to `dst`; resolves with the RTT in ms, or null on timeout. */
  ping(
    src: Uint8Array,
    dst: Uint8Array,
    ident: number,
    options: { timeoutMs?: number; data?: Uint8Array },
  ): Promise<number | null> {
    const seq = this.pingSeq++ & 0xffff;
    const data = options.data ?? new Uint8Array(32);
    const key = `${addrKey(dst)}|${ident}|${seq}`;
    return new Promise((resolve) => {
      const timer = this.host.clock.setTimeout(() => {
        this.pings.delete(key);
        resolve(null);
      }, options.timeoutMs ?? 3000);
      this.pings.set(key, { resolve, sentAt: this.host.clock.now(), timer });
      this.sendEcho(src, dst, 'echo-request', ident, seq, data);
    });
  }

  /** Resolves every outstanding ping with null. */
  close(): void {
    for (const p of this.pings.values()) {
      this.host.clock.clearTimeout(p.timer);
      p.resolve(null);
    }
    this.pings.clear();
  }

  v4Input(src: Uint8Array, dst: Uint8Array, bytes: Uint8Array): void {
    const pkt = Icmpv4Packet.newChecked(bytes);
    if (isWireError(pkt)) {
      this.host.drop(pkt);
      return;
    }
    const m = Icmpv4Repr.parse(pkt);
    if (isWireError(m)) {
      this.host.drop(m);
      return;
    }
    switch (m.type) {
      case 'echo-request':
        this.host.counters.icmpEchoRequestsIn++;
        if (this.host.echo) this.sendEcho(dst, src, 'echo-reply', m.ident, m.seq, m.data);
        return;
      case 'echo-reply': {
        this.onEchoReply(src, m.ident, m.seq);
        return;
      }
      case 'dest-unreachable': {
        this.host.counters.icmpErrorsIn++;
        const hard = m.code === ICMPV4_UNREACH.PORT || m.code === ICMPV4_UNREACH.PROTOCOL;
        const mtu = m.code === ICMPV4_UNREACH.FRAG_NEEDED ? m.nextHopMtu : 0;
        this.error(m.original, false, hard, mtu);
        return;
      }
      default:
        this.host.drop('icmp-ignored');
    }
  }

  v6Input(src: Uint8Array, dst: Uint8Array, bytes: Uint8Array): void {
    const pkt = Icmpv6Packet.newChecked(bytes);
    if (isWireError(pkt)) {
      this.host.drop(pkt);
      return;
    }
    const m = Icmpv6Repr.parse(pkt, src, dst);
    if (isWireError(m)) {
      this.host.drop(m);
      return;
    }
    switch (m.type) {
      case 'echo-request':
        this.host.counters.icmpEchoRequestsIn++;
        if (this.host.echo) this.sendEcho(dst, src, 'echo-reply', m.ident, m.seq, m.data);
        return;
      case 'echo-reply': {
        this.onEchoReply(src, m.ident, m.seq);
        return;
      }
      case 'dest-unreachable':
        this.host.counters.icmpErrorsIn++;
        {
          this.error(m.original, true, m.code === ICMPV6_UNREACH.PORT, 0);
          return;
        }
      case 'packet-too-big':
        this.host.counters.icmpErrorsIn++;
        {
          this.error(m.original, true, false, m.mtu);
          return;
        }
      default:
        this.host.drop('icmp-ignored');
    }
  }

  /**
   * An ICMP error about a TCP segment we sent (RFC 5927 §4.1: only if its sequence number is in
   * flight). Hard errors refuse a connection still in SYN-SENT (RFC 1122 §4.2.3.9); a smaller
   * path MTU lowers the MSS (RFC 1191, RFC 8201).
   */
  private error(original: Uint8Array, ipv6: boolean, hard: boolean, mtu: number): void {
    let hl: number;
    let proto: number;
    let src: Uint8Array;
    let dst: Uint8Array;
    if (ipv6) {
      if (original.length < IPV6_HEADER_LEN + 8) {
        this.host.drop('truncated');
        return;
      }
      hl = IPV6_HEADER_LEN;
      proto = original[6]!;
      src = original.subarray(8, 24);
      dst = original.subarray(24, 40);
    } else {
      hl = (original[0]! & 0x0f) * 4;
      if (hl < IPV4_HEADER_LEN || original.length < hl + 8) {
        this.host.drop('truncated');
        return;
      }
      proto = original[9]!;
      src = original.subarray(12, 16);
      dst = original.subarray(16, 20);
    }
    const t = original.subarray(hl);
    const srcPort = (t[0]! << 8) | t[1]!;
    const dstPort = (t[2]! << 8) | t[3]!;
    if (proto === IP_PROTOCOL.UDP) {
      // A hard error about a datagram from a connected UDP socket (RFC 1122 §4.1.3.3).
      if (!(hard && this.host.udpUnreachable(src, srcPort, dst, dstPort))) this.host.drop('icmp-ignored');
      return;
    }
    if (proto !== IP_PROTOCOL.TCP) {
      this.host.drop('icmp-ignored');
      return;
    }
    const seq = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
    const entry = this.host.tcpEntry(connKey(src, srcPort, dst, dstPort));
    if (!entry) {
      this.host.drop('icmp-ignored');
      return;
    }
    const c = entry.conn;
    if (!(seqGe(seq, c.sndUna) && seqLe(seq, c.sndMax))) {
      this.host.drop('icmp-ignored');
      return;
    }
    if (mtu > 0) {
      const mss = mtu - (ipv6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN) - 20;
      if (mss >= 536 && mss < c.sndMss) {
        this.host.logf('netstack: path MTU %d lowers MSS to %d', mtu, mss);
        c.sndMss = mss;
      }
    }
    if (hard && c.state === 'SYN-SENT') {
      c.enterClosed('ECONNREFUSED');
    }
  }

  private onEchoReply(src: Uint8Array, ident: number, seq: number): void {
    const key = `${addrKey(src)}|${ident}|${seq}`;
    const p = this.pings.get(key);
    if (!p) {
      this.host.drop('icmp-ignored');
      return;
    }
    this.pings.delete(key);
    this.host.clock.clearTimeout(p.timer);
    p.resolve(this.host.clock.now() - p.sentAt);
  }

  sendEcho(
    src: Uint8Array,
    dst: Uint8Array,
    type: 'echo-request' | 'echo-reply',
    ident: number,
    seq: number,
    data: Uint8Array,
  ): void {
    if (type === 'echo-reply') this.host.counters.icmpEchoRepliesOut++;
    if (src.length === 4) {
      const m: Icmpv4Repr = { type, ident, seq, data };
      this.host.sendIp(src, dst, IP_PROTOCOL.ICMP, Icmpv4Repr.bufferLen(m), (b) => Icmpv4Repr.emit(m, b));
    } else {
      const m: Icmpv6Repr = { type, ident, seq, data };
      this.host.sendIp(src, dst, IP_PROTOCOL.ICMPV6, Icmpv6Repr.bufferLen(m), (b) =>
        Icmpv6Repr.emit(m, src, dst, b),
      );
    }
  }

  sendPortUnreachable(remote: Uint8Array, local: Uint8Array, whole: Uint8Array): void {
    if (remote.length === 4) {
      const original = whole.subarray(0, Math.min(whole.length, 548));
      const m: Icmpv4Repr = { type: 'dest-unreachable', code: ICMPV4_UNREACH.PORT, nextHopMtu: 0, original };
      this.host.sendIp(local, remote, IP_PROTOCOL.ICMP, Icmpv4Repr.bufferLen(m), (b) =>
        Icmpv4Repr.emit(m, b),
      );
    } else {
      // RFC 4443 §2.4 (c): as much of the invoking packet as fits in the minimum MTU.
      const original = whole.subarray(0, Math.min(whole.length, 1280 - 48));
      const m: Icmpv6Repr = { type: 'dest-unreachable', code: ICMPV6_UNREACH.PORT, original };
      this.host.sendIp(local, remote, IP_PROTOCOL.ICMPV6, Icmpv6Repr.bufferLen(m), (b) =>
        Icmpv6Repr.emit(m, local, remote, b),
      );
    }
  }
}
