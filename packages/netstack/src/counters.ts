/**
 * The stack's counters: plain numbers users and tests read directly (`stack.counters`). Drops are
 * counted by reason; nothing untrusted is ever thrown, so a reason here is the only trace.
 */

/** Why the stack discarded an inbound packet: the keys of `StackCounters.dropped`. */
export type DropReason =
  /** Fewer bytes than a header or length field claims (a `wire/` parser's `WireError`). */
  | 'truncated'
  /** A field the format does not allow, or an IP version other than 4 or 6. */
  | 'malformed'
  /** An IPv4 header, TCP, UDP or ICMP checksum that does not verify. */
  | 'checksum'
  /** Well formed but not handled: an IP protocol other than TCP, UDP and ICMP, an IPv6 jumbogram. */
  | 'unsupported'
  /** The destination address is not one of the stack's `addresses`. */
  | 'not-for-us'
  /**
   * A bad fragment (overlap, bad length, past the end), and the fragments held with it (its
   * datagram is discarded); also held fragments thrown away when the memory limit refuses more.
   */
  | 'fragment'
  /** A fragment refused by the reassembly limits (datagrams in progress, bytes held). */
  | 'fragment-limit'
  /** A held fragment whose datagram did not complete within the reassembly timeout (60 s). */
  | 'fragment-timeout'
  /** A TCP SYN to a port nobody listens on (answered with a RST, RFC 9293 §3.10.7.1). */
  | 'no-listener'
  /** A SYN dropped because the listener already has `backlog` connections in SYN-RECEIVED. */
  | 'syn-queue-full'
  /** A SYN dropped because the stack holds `maxConnections` TCP connections. */
  | 'too-many-connections'
  /**
   * A non-SYN TCP segment for no connection (answered with a RST), or a UDP datagram for no socket
   * (answered with ICMP port unreachable).
   */
  | 'no-socket'
  /**
   * An ICMP message the stack does not act on: other types, echo replies nobody waits for, errors
   * about nothing in flight (RFC 5927).
   */
  | 'icmp-ignored';

/** The counters of one `Stack`, all monotonic since construction; read them from `stack.counters`. */
export interface StackCounters {
  /** IP packets the link delivered, valid or not. */
  packetsIn: number;
  /** IP packets written to the link. */
  packetsOut: number;
  /** Bytes of `packetsIn`, IP headers included. */
  bytesIn: number;
  /** Bytes of `packetsOut`, IP headers included. */
  bytesOut: number;
  /** Inbound packets dropped, by reason. */
  dropped: Record<DropReason, number>;
  /** Connections opened by `stack.connect` (CLOSED → SYN-SENT, RFC 9293 §3.5). */
  tcpActiveOpens: number;
  /** SYNs accepted by a listener (LISTEN → SYN-RECEIVED). */
  tcpPassiveOpens: number;
  /** TCP segments with RST sent, by connections and for segments that match none. */
  tcpResetsSent: number;
  /** TCP segments that parsed and passed the checksum, whether or not a connection took them. */
  tcpSegmentsIn: number;
  /** TCP segments written, retransmissions and RSTs included. */
  tcpSegmentsOut: number;
  /** UDP datagrams delivered to a socket. */
  udpDatagramsIn: number;
  /** UDP datagrams sent by sockets. */
  udpDatagramsOut: number;
  /** ICMP / ICMPv6 echo requests received for our addresses (answered unless `icmpEcho` is false). */
  icmpEchoRequestsIn: number;
  /** Echo replies sent. */
  icmpEchoRepliesOut: number;
  /** ICMP destination unreachable and ICMPv6 packet too big messages received. */
  icmpErrorsIn: number;
  /** IPv4 and IPv6 datagrams rebuilt from fragments (RFC 791 §3.2, RFC 8200 §4.5). */
  fragmentsReassembled: number;
  /** Fragments held for reassembly (their datagram not complete yet); not a drop. */
  fragmentsHeld: number;
}

/** A zeroed counters object, one per `Stack`. */
export function newCounters(): StackCounters {
  return {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: {
      truncated: 0,
      malformed: 0,
      checksum: 0,
      unsupported: 0,
      'not-for-us': 0,
      fragment: 0,
      'fragment-limit': 0,
      'fragment-timeout': 0,
      'no-listener': 0,
      'syn-queue-full': 0,
      'too-many-connections': 0,
      'no-socket': 0,
      'icmp-ignored': 0,
    },
    tcpActiveOpens: 0,
    tcpPassiveOpens: 0,
    tcpResetsSent: 0,
    tcpSegmentsIn: 0,
    tcpSegmentsOut: 0,
    udpDatagramsIn: 0,
    udpDatagramsOut: 0,
    icmpEchoRequestsIn: 0,
    icmpEchoRepliesOut: 0,
    icmpErrorsIn: 0,
    fragmentsReassembled: 0,
    fragmentsHeld: 0,
  };
}
