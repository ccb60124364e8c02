/**
 * Minimal IP address and prefix text forms for allowed IPs, endpoints and the configuration loader:
 * IPv4 dotted quads, IPv6 (RFC 4291 §2.2, with `::` and an embedded IPv4 tail; RFC 5952 output),
 * and `addr/bits` prefixes. Parsers return `null` for bad text; callers report it.
 */

/** An IP prefix: 4 or 16 address bytes and a prefix length. */
export interface IpPrefix {
  /** The network address, 4 (IPv4) or 16 (IPv6) bytes; `parsePrefix` clears the host bits. */
  readonly addr: Uint8Array;
  /** The prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  readonly bits: number;
}

/** Parses a dotted-quad IPv4 address into 4 bytes, or `null`. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses an IPv6 address (no zone) into 16 bytes, or `null`. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const out = new Uint8Array(16);
  const dbl = text.indexOf('::');
  if (dbl !== text.lastIndexOf('::')) return null;
  const parseGroups = (s: string, allowV4Tail: boolean): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === null) return null;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      words.push(Number.parseInt(g, 16));
    }
    return words;
  };
  let words: number[];
  if (dbl >= 0) {
    const head = parseGroups(text.slice(0, dbl), false);
    const tail = parseGroups(text.slice(dbl + 2), true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (all === null || all.length !== 8) return null;
    words = all;
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address (IPv6 may be in brackets), or `null`. */
export function parseIp(text: string): Uint8Array | null {
  if (text.startsWith('[') && text.endsWith(']')) return parseIpv6(text.slice(1, -1));
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Text form of a 4- or 16-byte address (RFC 5952 for IPv6). */
export function formatIp(addr: Uint8Array): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  if (addr.length !== 16) throw new RangeError(`addr must be 4 or 16 bytes, got ${addr.length}`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((addr[2 * i]! << 8) | addr[2 * i + 1]!);
  // Longest run of zero words (length ≥ 2) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/** Parses `addr/bits` (or a bare address, meaning a host prefix), masking host bits; or `null`. */
export function parsePrefix(text: string): IpPrefix | null {
  const slash = text.indexOf('/');
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) return null;
  const max = addr.length * 8;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(b)) return null;
    bits = Number(b);
    if (bits > max) return null;
  }
  return { addr: maskPrefix(addr, bits), bits };
}

/** A copy of `addr` with the bits after the first `bits` cleared. */
export function maskPrefix(addr: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(addr);
  for (let i = 0; i < out.length; i++) {
    const keep = bits - i * 8;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : out[i]! & (0xff << (8 - keep));
  }
  return out;
}

/** Text form `addr/bits`. */
export function formatPrefix(p: IpPrefix): string {
  return `${formatIp(p.addr)}/${p.bits}`;
}
