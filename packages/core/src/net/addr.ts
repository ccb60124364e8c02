/**
 * IP addresses, prefixes and address-ports, parsed and formatted exactly as Go's `net/netip` does,
 * because they travel in Tailscale's JSON (`"100.64.0.1"`, `"fd7a:115c:a1e0::1/128"`,
 * `"[::1]:41641"`) and users compare them with what Go tools print.
 *
 * Parsing rules that follow Go (and differ from some other parsers): IPv4 needs exactly four
 * decimal fields with no leading zeros; IPv6 is RFC 4291 text with an optional embedded IPv4 tail
 * and an optional `%zone`; IPv6 in an address-port needs brackets, IPv4 must not have them; a
 * prefix length has no leading zeros or sign, and a prefix carries no zone. Formatting of IPv6 is
 * RFC 5952 (lowercase, the first longest run of two or more zero groups compressed), except that an
 * IPv4-mapped address prints as `::ffff:1.2.3.4`, as Go prints it.
 */
import { ParseError, quoteInput } from '../errors.js';

const V4_IN_V6_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function fail(what: string, input: string, why: string): never {
  throw new ParseError(what, `invalid ${what} ${quoteInput(input)}: ${why}`);
}

/** An IPv4 or IPv6 address, optionally with an IPv6 zone. Immutable. */
export class IPAddr {
  /** 4 bytes for IPv4, 16 for IPv6. Do not modify. */
  readonly bytes: Uint8Array;
  /** IPv6 zone (scope) without the `%`, or `''`. */
  readonly zone: string;

  private constructor(bytes: Uint8Array, zone: string) {
    this.bytes = bytes;
    this.zone = zone;
  }

  /** An address from 4 (IPv4) or 16 (IPv6) bytes; the bytes are copied. */
  static fromBytes(bytes: Uint8Array, zone = ''): IPAddr {
    if (bytes.length !== 4 && bytes.length !== 16) {
      throw new RangeError(`bytes must be 4 or 16 bytes long, got ${bytes.length}`);
    }
    if (zone !== '' && bytes.length === 4) throw new TypeError('zone is only valid on an IPv6 address');
    return new IPAddr(Uint8Array.from(bytes), zone);
  }

  /** Parses Go `netip.ParseAddr` text; throws `ParseError` showing the input otherwise. */
  static parse(text: string): IPAddr {
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '.') return new IPAddr(parseV4(text, text), '');
      if (c === ':') {
        const [bytes, zone] = parseV6(text);
        return new IPAddr(bytes, zone);
      }
      if (c === '%') fail('IP address', text, 'missing IPv6 address');
    }
    return fail('IP address', text, text === '' ? 'empty string' : 'unable to parse');
  }

  /** As `parse`, but returns `null` instead of throwing. */
  static tryParse(text: string): IPAddr | null {
    try {
      return IPAddr.parse(text);
    } catch (e) {
      if (e instanceof ParseError) return null;
      throw e;
    }
  }

  /** Whether this is an IPv4 address (4 bytes). */
  is4(): boolean {
    return this.bytes.length === 4;
  }

  /** Whether this is an IPv6 address (16 bytes, IPv4-mapped ones included). */
  is6(): boolean {
    return this.bytes.length === 16;
  }

  /** An IPv6 address of the form `::ffff:a.b.c.d`. */
  is4In6(): boolean {
    return this.is6() && V4_IN_V6_PREFIX.every((b, i) => this.bytes[i] === b);
  }

  /** The IPv4 address inside an IPv4-mapped IPv6 address; otherwise this address. */
  unmap(): IPAddr {
    return this.is4In6() ? new IPAddr(this.bytes.slice(12), '') : this;
  }

  /** The same address without its zone. */
  withoutZone(): IPAddr {
    return this.zone === '' ? this : new IPAddr(this.bytes, '');
  }

  /** Bit length: 32 or 128. */
  get bitLen(): 32 | 128 {
    return this.is4() ? 32 : 128;
  }

  /** Whether both are the same address with the same zone. */
  equals(other: IPAddr): boolean {
    return this.compare(other) === 0;
  }

  /** Orders IPv4 before IPv6, then by bytes, then by zone (as Go's `Addr.Compare`). */
  compare(other: IPAddr): number {
    if (this.bytes.length !== other.bytes.length) return this.bytes.length - other.bytes.length;
    for (let i = 0; i < this.bytes.length; i++) {
      const d = this.bytes[i]! - other.bytes[i]!;
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return this.zone < other.zone ? -1 : this.zone > other.zone ? 1 : 0;
  }

  /**
   * Go's `netip.Addr` text form: dotted IPv4, RFC 5952 IPv6, `::ffff:a.b.c.d` for IPv4-mapped, `%zone`
   * appended.
   */
  toString(): string {
    if (this.is4()) return this.bytes.join('.');
    const zone = this.zone === '' ? '' : `%${this.zone}`;
    if (this.is4In6()) return `::ffff:${this.bytes.subarray(12).join('.')}${zone}`;
    return formatV6(this.bytes) + zone;
  }

  /** The text form, as `toString()`, so `JSON.stringify` gives Go's form. */
  toJSON(): string {
    return this.toString();
  }
}

function parseV4(text: string, whole: string): Uint8Array {
  const out = new Uint8Array(4);
  const fields = text.split('.');
  if (fields.length !== 4) fail('IP address', whole, 'IPv4 address needs exactly 4 fields');
  for (let i = 0; i < 4; i++) {
    const f = fields[i]!;
    if (f.length === 0) fail('IP address', whole, 'IPv4 field must have at least one digit');
    if (f.length > 3 || !/^[0-9]+$/.test(f))
      fail('IP address', whole, `unexpected character in IPv4 field ${i}`);
    if (f.length > 1 && f[0] === '0') fail('IP address', whole, 'IPv4 field has octet with leading zero');
    const v = Number(f);
    if (v > 255) fail('IP address', whole, 'IPv4 field has value >255');
    out[i] = v;
  }
  return out;
}

function parseV6(text: string): [Uint8Array, string] {
  let s = text;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') fail('IP address', text, 'zone must be a non-empty string');
  }
  const out = new Uint8Array(16);
  let ellipsis = -1; // index in `out` where '::' sits
  let i = 0; // write position in out
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return [out, zone];
  }
  while (i < 16) {
    // Read up to four hex digits.
    let n = 0;
    let digits = 0;
    while (digits < s.length) {
      const c = s.charCodeAt(digits);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      n = (n << 4) | d;
      digits++;
      if (digits > 4) fail('IP address', text, 'IPv6 field has more than 4 hex digits');
    }
    if (digits === 0) fail('IP address', text, 'each colon-separated field must have at least one digit');
    // An IPv4 tail?
    if (digits < s.length && s[digits] === '.') {
      if (ellipsis < 0 && i !== 12)
        fail('IP address', text, 'embedded IPv4 address must replace the final 2 fields');
      if (i + 4 > 16) fail('IP address', text, 'too many hex fields to fit an embedded IPv4 at the end');
      out.set(parseV4(s, text), i);
      s = '';
      i += 4;
      break;
    }
    out[i] = n >> 8;
    out[i + 1] = n & 0xff;
    i += 2;
    s = s.slice(digits);
    if (s === '') break;
    if (s[0] !== ':') fail('IP address', text, 'unexpected character, want colon');
    if (s.length === 1) fail('IP address', text, 'colon must be followed by more characters');
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) fail('IP address', text, 'multiple :: in address');
      ellipsis = i;
      s = s.slice(1);
      if (s === '') break;
    }
  }
  if (s !== '') fail('IP address', text, 'trailing garbage after address');
  if (i < 16) {
    if (ellipsis < 0) fail('IP address', text, 'address string too short');
    const n = 16 - i;
    out.copyWithin(ellipsis + n, ellipsis, i);
    out.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    fail('IP address', text, 'the :: must expand to at least one field of zeros');
  }
  return [out, zone];
}

function formatV6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §4.2: compress the first longest run of >= 2 zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += groups[i]!.toString(16);
  }
  return s;
}

/** An IP prefix (CIDR): an address and a bit count. The address is kept as given (not masked). */
export class IPPrefix {
  /** The prefix's address, as given (see `masked()` for the network address). */
  readonly addr: IPAddr;
  /** The prefix length in bits: 0 to 32 for IPv4, 0 to 128 for IPv6. */
  readonly bits: number;

  constructor(addr: IPAddr, bits: number) {
    if (addr.zone !== '') throw new TypeError('addr of a prefix cannot have a zone');
    if (!Number.isInteger(bits) || bits < 0 || bits > addr.bitLen) {
      throw new RangeError(`bits must be an integer in 0..${addr.bitLen}, got ${bits}`);
    }
    this.addr = addr;
    this.bits = bits;
  }

  /** Parses Go `netip.ParsePrefix` text (`100.64.0.0/10`, `fd7a:115c:a1e0::/48`). */
  static parse(text: string): IPPrefix {
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    const slash = text.lastIndexOf('/');
    if (slash < 0) fail('IP prefix', text, "no '/'");
    let addr: IPAddr;
    try {
      addr = IPAddr.parse(text.slice(0, slash));
    } catch (e) {
      if (e instanceof ParseError) fail('IP prefix', text, e.message);
      throw e;
    }
    if (addr.zone !== '') fail('IP prefix', text, 'IPv6 zones cannot be present in a prefix');
    const bitsText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]*)$/.test(bitsText)) fail('IP prefix', text, 'bad bits after slash');
    const bits = Number(bitsText);
    if (bits > addr.bitLen) fail('IP prefix', text, 'prefix length out of range');
    return new IPPrefix(addr, bits);
  }

  /** As `parse`, but `null` instead of a `ParseError`. */
  static tryParse(text: string): IPPrefix | null {
    try {
      return IPPrefix.parse(text);
    } catch (e) {
      if (e instanceof ParseError) return null;
      throw e;
    }
  }

  /** The prefix with the host bits of its address zeroed. */
  masked(): IPPrefix {
    const b = Uint8Array.from(this.addr.bytes);
    for (let i = 0; i < b.length; i++) {
      const keep = Math.min(8, Math.max(0, this.bits - i * 8));
      b[i] = b[i]! & ((0xff00 >> keep) & 0xff);
    }
    return new IPPrefix(IPAddr.fromBytes(b), this.bits);
  }

  /** Whether `ip` is inside this prefix. Like Go: families must match exactly, and a zoned address is never inside. */
  contains(ip: IPAddr): boolean {
    if (ip.zone !== '' || ip.bytes.length !== this.addr.bytes.length) return false;
    let bits = this.bits;
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;
      if (((ip.bytes[i]! ^ this.addr.bytes[i]!) & mask) !== 0) return false;
    }
    return true;
  }

  /** A prefix holding exactly one address. */
  isSingleIP(): boolean {
    return this.bits === this.addr.bitLen;
  }

  /** Whether both have the same address and length. */
  equals(other: IPPrefix): boolean {
    return this.bits === other.bits && this.addr.equals(other.addr);
  }

  /** `addr/bits`, e.g. `100.64.0.0/10`. */
  toString(): string {
    return `${this.addr.toString()}/${this.bits}`;
  }

  /** The text form, as `toString()`, so `JSON.stringify` gives Go's form. */
  toJSON(): string {
    return this.toString();
  }
}

/** An IP address and a port. */
export class AddrPort {
  /** The address. */
  readonly addr: IPAddr;
  /** The port, 0 to 65535. */
  readonly port: number;

  constructor(addr: IPAddr, port: number) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer in 0..65535, got ${port}`);
    }
    this.addr = addr;
    this.port = port;
  }

  /** Parses Go `netip.ParseAddrPort` text: `1.2.3.4:80`, `[::1]:80`, `[fe80::1%eth0]:80`. */
  static parse(text: string): AddrPort {
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    const colon = text.lastIndexOf(':');
    if (colon < 0) fail('address-port', text, 'not an ip:port');
    let ipText = text.slice(0, colon);
    const portText = text.slice(colon + 1);
    if (portText === '') fail('address-port', text, 'no port');
    if (ipText === '') fail('address-port', text, 'no IP');
    let bracketed = false;
    if (ipText[0] === '[') {
      if (ipText.length < 2 || ipText[ipText.length - 1] !== ']') fail('address-port', text, 'missing ]');
      ipText = ipText.slice(1, -1);
      bracketed = true;
    }
    let addr: IPAddr;
    try {
      addr = IPAddr.parse(ipText);
    } catch (e) {
      if (e instanceof ParseError) fail('address-port', text, e.message);
      throw e;
    }
    if (bracketed && addr.is4())
      fail('address-port', text, 'square brackets can only be used with IPv6 addresses');
    if (!bracketed && addr.is6())
      fail('address-port', text, 'IPv6 addresses must be surrounded by square brackets');
    if (!/^[0-9]+$/.test(portText) || Number(portText) > 65535) fail('address-port', text, 'invalid port');
    return new AddrPort(addr, Number(portText));
  }

  /** As `parse`, but `null` instead of a `ParseError`. */
  static tryParse(text: string): AddrPort | null {
    try {
      return AddrPort.parse(text);
    } catch (e) {
      if (e instanceof ParseError) return null;
      throw e;
    }
  }

  /** Whether both have the same address and port. */
  equals(other: AddrPort): boolean {
    return this.port === other.port && this.addr.equals(other.addr);
  }

  /** `ip:port`, with brackets for IPv6: `[fd7a::1]:41641`. */
  toString(): string {
    return this.addr.is4()
      ? `${this.addr.toString()}:${this.port}`
      : `[${this.addr.toString()}]:${this.port}`;
  }

  /** The text form, as `toString()`, so `JSON.stringify` gives Go's form. */
  toJSON(): string {
    return this.toString();
  }
}
