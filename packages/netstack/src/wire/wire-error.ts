/**
 * Why a packet was refused by a `wire/` parser. Parsers never throw on untrusted bytes: they return
 * one of these strings, which the stack counts under `dropped[reason]`.
 */
export type WireError =
  /** Fewer bytes than a header or a length field claims. */
  | 'truncated'
  /** A field holds a value the format does not allow (version, header length, option length). */
  | 'malformed'
  /** The checksum does not verify. */
  | 'checksum'
  /** Well formed, but something this stack does not handle. */
  | 'unsupported';

/** Narrows a parse result: true when it is an error string. */
export function isWireError(x: unknown): x is WireError {
  return typeof x === 'string';
}

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IP_PROTOCOL = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTING: 43,
  IPV6_FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NO_NEXT: 59,
  IPV6_DEST_OPTS: 60,
} as const;
