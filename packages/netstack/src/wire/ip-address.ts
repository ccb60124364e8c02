/**
 * IP addresses as bytes (4 for IPv4, 16 for IPv6) and their text forms: dotted quad (RFC 791) and
 * the canonical IPv6 text form (RFC 5952: lower case, longest zero run compressed, first on ties).
 */

/** Parses an IPv4 dotted quad; null when it is not one. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (with `::`, and an embedded dotted quad at the end); null when invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 45) return null;
  const words: number[] = [];
  let gap = -1;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parseHalf = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    const groups = h.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parseHalf(halves[0]!);
  if (!head) return null;
  words.push(...head);
  if (halves.length === 2) {
    gap = words.length;
    const tail = parseHalf(halves[1]!);
    if (!tail) return null;
    if (head.length + tail.length > 7) return null;
    while (words.length + tail.length < 8) words.push(0);
    words.push(...tail);
  }
  if (words.length !== 8 || (gap < 0 && halves.length === 2)) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Parses either family; null when the text is neither. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Formats 4 or 16 bytes as text. */
export function formatIp(addr: Uint8Array): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((addr[2 * i]! << 8) | addr[2 * i + 1]!);
  // RFC 5952 §4.2: compress the longest run of two or more zero words, the first one on ties.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) =>
    w
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** Byte-wise equality of two addresses. */
export function ipEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True for 0.0.0.0 and ::. */
export function isUnspecified(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}
