/**
 * The stack's counters: plain numbers users and tests read directly (`stack.counters`). Drops are
 * counted by reason; nothing untrusted is ever thrown, so a reason here is the only trace.
 */

export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'checksum'
  | 'unsupported'
  | 'not-for-us'
  | 'fragment'
  | 'fragment-limit'
  | 'no-listener'
  | 'syn-queue-full'
  | 'too-many-connections'
  | 'no-socket'
  | 'icmp-ignored';

export interface StackCounters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Inbound packets dropped, by reason. */
  dropped: Record<DropReason, number>;
  tcpActiveOpens: number;
  tcpPassiveOpens: number;
  tcpResetsSent: number;
  tcpSegmentsIn: number;
  tcpSegmentsOut: number;
  udpDatagramsIn: number;
  udpDatagramsOut: number;
  icmpEchoRequestsIn: number;
  icmpEchoRepliesOut: number;
  icmpErrorsIn: number;
  fragmentsReassembled: number;
}

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
  };
}
