/**
 * SOCKS5 wire formats: RFC 1928 (method negotiation, requests, replies) and RFC 1929
 * (username/password sub-negotiation). Formats only: no sockets, no state, no policy. The server's
 * state machine is ./socks5-handshake.ts; the socket driver is ./socks5-server.ts.
 *
 * Every `parse*` function is total: it looks at the bytes it is given and answers `null` when more
 * are needed, a value when a whole message is there, or a `Socks5ParseError` value (never thrown)
 * when the bytes cannot be that message. Byte layouts (RFC 1928 §3, §4, §5, §6; RFC 1929 §2):
 *
 * ```
 * greeting   VER(5) NMETHODS METHODS[NMETHODS]
 * selection  VER(5) METHOD
 * userpass   VER(1) ULEN UNAME[ULEN] PLEN PASSWD[PLEN]
 * status     VER(1) STATUS (0 = success)
 * request    VER(5) CMD RSV(0) ATYP DST.ADDR DST.PORT(u16be)
 * reply      VER(5) REP RSV(0) ATYP BND.ADDR BND.PORT(u16be)
 * address    ATYP 1: 4 bytes | ATYP 3: LEN NAME[LEN] | ATYP 4: 16 bytes
 * ```
 */
import { IPAddr } from '@tsnet/core';

/** RFC 1928 §3: the protocol version byte. */
export const SOCKS5_VERSION = 0x05;
/** RFC 1929 §2: the version of the username/password sub-negotiation. */
export const USERPASS_VERSION = 0x01;

/** RFC 1928 §3: authentication methods. */
export const SOCKS5_METHOD = {
  noAuthRequired: 0x00,
  gssapi: 0x01,
  usernamePassword: 0x02,
  noAcceptableMethods: 0xff,
} as const;

/** RFC 1928 §4: request commands. */
export const SOCKS5_COMMAND = { connect: 0x01, bind: 0x02, udpAssociate: 0x03 } as const;

/** RFC 1928 §5: address types. */
export const SOCKS5_ATYP = { ipv4: 0x01, domainName: 0x03, ipv6: 0x04 } as const;

/** RFC 1928 §6: reply codes. */
export const SOCKS5_REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  connectionNotAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** A reply code (RFC 1928 §6). */
export type Socks5ReplyCode = (typeof SOCKS5_REPLY)[keyof typeof SOCKS5_REPLY];

/** RFC 1929 §2: status byte of a successful sub-negotiation (any other value is a failure). */
export const USERPASS_STATUS_SUCCESS = 0x00;
/** The failure status we send. */
export const USERPASS_STATUS_FAILURE = 0x01;

/** The longest greeting: VER, NMETHODS = 255, 255 methods. */
export const MAX_GREETING_BYTES = 2 + 255;
/** The longest username/password message: VER, ULEN, 255, PLEN, 255. */
export const MAX_USERPASS_BYTES = 3 + 255 + 255;
/** The longest request: VER CMD RSV ATYP, a 255-byte domain with its length byte, the port. */
export const MAX_REQUEST_BYTES = 4 + 1 + 255 + 2;

/** Why bytes are not the message asked for. */
export interface Socks5ParseError {
  error: 'bad-version' | 'bad-address-type' | 'empty-domain';
  /** The offending byte (version or ATYP), for logs. */
  value: number;
}

/** A parsed greeting (RFC 1928 §3). */
export interface Socks5Greeting {
  methods: Uint8Array;
  /** Bytes the greeting took. */
  length: number;
}

/** A parsed username/password message (RFC 1929 §2); names as raw bytes. */
export interface Socks5UserPass {
  username: Uint8Array;
  password: Uint8Array;
  length: number;
}

/** Where a request wants to go, with the host as text: dotted IPv4, RFC 5952 IPv6, or a name. */
export interface Socks5Address {
  type: 'ipv4' | 'domain' | 'ipv6';
  host: string;
  port: number;
}

/** A parsed request (RFC 1928 §4). `command` is the raw CMD byte (any value parses). */
export interface Socks5Request {
  command: number;
  address: Socks5Address;
  length: number;
}

/** A parsed reply (RFC 1928 §6), as a client sees it. */
export interface Socks5Reply {
  reply: number;
  address: Socks5Address;
  length: number;
}

/** True when `v` is a parse error rather than a message. */
export function isParseError(v: object): v is Socks5ParseError {
  return 'error' in v;
}

/** Parses a client greeting (RFC 1928 §3). */
export function parseGreeting(b: Uint8Array): Socks5Greeting | Socks5ParseError | null {
  if (b.length < 1) return null;
  if (b[0] !== SOCKS5_VERSION) return { error: 'bad-version', value: b[0] ?? 0 };
  if (b.length < 2) return null;
  const n = b[1] ?? 0;
  if (b.length < 2 + n) return null;
  return { methods: b.slice(2, 2 + n), length: 2 + n };
}

/** Parses a username/password message (RFC 1929 §2). Zero-length fields parse (and fail auth). */
export function parseUserPass(b: Uint8Array): Socks5UserPass | Socks5ParseError | null {
  if (b.length < 1) return null;
  if (b[0] !== USERPASS_VERSION) return { error: 'bad-version', value: b[0] ?? 0 };
  if (b.length < 2) return null;
  const ulen = b[1] ?? 0;
  if (b.length < 3 + ulen) return null;
  const plen = b[2 + ulen] ?? 0;
  const length = 3 + ulen + plen;
  if (b.length < length) return null;
  return { username: b.slice(2, 2 + ulen), password: b.slice(3 + ulen, length), length };
}

/**
 * Parses an address at `off` (ATYP first, RFC 1928 §5) followed by a port: the address and the
 * offset after the port, `null` when more bytes are needed, or an error.
 */
function parseAddress(
  b: Uint8Array,
  off: number,
): { address: Socks5Address; end: number } | Socks5ParseError | null {
  if (b.length < off + 1) return null;
  const atyp = b[off] ?? 0;
  let type: Socks5Address['type'];
  let host: string;
  let p: number;
  switch (atyp) {
    case SOCKS5_ATYP.ipv4: {
      if (b.length < off + 1 + 4 + 2) return null;
      host = `${b[off + 1]}.${b[off + 2]}.${b[off + 3]}.${b[off + 4]}`;
      type = 'ipv4';
      p = off + 5;
      break;
    }
    case SOCKS5_ATYP.ipv6: {
      if (b.length < off + 1 + 16 + 2) return null;
      host = IPAddr.fromBytes(b.slice(off + 1, off + 17)).toString();
      type = 'ipv6';
      p = off + 17;
      break;
    }
    case SOCKS5_ATYP.domainName: {
      if (b.length < off + 2) return null;
      const n = b[off + 1] ?? 0;
      if (n === 0) return { error: 'empty-domain', value: 0 };
      if (b.length < off + 2 + n + 2) return null;
      // A name is ASCII in practice; latin1 maps every byte to one character, so nothing is lost
      // and nothing throws. The dialer decides whether the name exists.
      host = Buffer.from(b.buffer, b.byteOffset + off + 2, n).toString('latin1');
      type = 'domain';
      p = off + 2 + n;
      break;
    }
    default:
      return { error: 'bad-address-type', value: atyp };
  }
  const port = ((b[p] ?? 0) << 8) | (b[p + 1] ?? 0);
  return { address: { type, host, port }, end: p + 2 };
}

/** Parses a request (RFC 1928 §4). The reserved byte is not checked, as most servers do. */
export function parseRequest(b: Uint8Array): Socks5Request | Socks5ParseError | null {
  if (b.length < 1) return null;
  if (b[0] !== SOCKS5_VERSION) return { error: 'bad-version', value: b[0] ?? 0 };
  if (b.length < 4) return null;
  const a = parseAddress(b, 3);
  if (a === null || isParseError(a)) return a;
  return { command: b[1] ?? 0, address: a.address, length: a.end };
}

/** Parses a reply (RFC 1928 §6): the client's side, for tests and tools. */
export function parseReply(b: Uint8Array): Socks5Reply | Socks5ParseError | null {
  if (b.length < 1) return null;
  if (b[0] !== SOCKS5_VERSION) return { error: 'bad-version', value: b[0] ?? 0 };
  if (b.length < 4) return null;
  const a = parseAddress(b, 3);
  if (a === null || isParseError(a)) return a;
  return { reply: b[1] ?? 0, address: a.address, length: a.end };
}

/** Emits a greeting offering `methods` (RFC 1928 §3). */
export function emitGreeting(methods: readonly number[]): Uint8Array {
  if (methods.length > 255) throw new RangeError(`methods: at most 255, got ${methods.length}`);
  return Uint8Array.from([SOCKS5_VERSION, methods.length, ...methods]);
}

/** Emits the server's method selection (RFC 1928 §3). */
export function emitSelection(method: number): Uint8Array {
  return Uint8Array.from([SOCKS5_VERSION, method & 0xff]);
}

/** Emits a username/password message (RFC 1929 §2); each field at most 255 bytes of UTF-8. */
export function emitUserPass(username: string, password: string): Uint8Array {
  const u = Buffer.from(username, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (u.length > 255) throw new RangeError(`username: at most 255 bytes, got ${u.length}`);
  if (p.length > 255) throw new RangeError(`password: at most 255 bytes, got ${p.length}`);
  const out = new Uint8Array(3 + u.length + p.length);
  out[0] = USERPASS_VERSION;
  out[1] = u.length;
  out.set(u, 2);
  out[2 + u.length] = p.length;
  out.set(p, 3 + u.length);
  return out;
}

/** Emits the sub-negotiation status (RFC 1929 §2). */
export function emitUserPassStatus(ok: boolean): Uint8Array {
  return Uint8Array.from([USERPASS_VERSION, ok ? USERPASS_STATUS_SUCCESS : USERPASS_STATUS_FAILURE]);
}

/** ATYP + address bytes + port for `a`. */
function emitAddress(a: Socks5Address): Uint8Array {
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) {
    throw new RangeError(`address.port must be 0..65535, got ${a.port}`);
  }
  let head: Uint8Array;
  if (a.type === 'domain') {
    const name = Buffer.from(a.host, 'latin1');
    if (name.length < 1 || name.length > 255) {
      throw new RangeError(`address.host: a name of 1..255 bytes, got ${name.length}`);
    }
    head = new Uint8Array(2 + name.length);
    head[0] = SOCKS5_ATYP.domainName;
    head[1] = name.length;
    head.set(name, 2);
  } else {
    const ip = IPAddr.parse(a.host);
    const want = a.type === 'ipv4' ? 4 : 16;
    const bytes = a.type === 'ipv4' ? ip.unmap().bytes : ip.bytes;
    if (bytes.length !== want) throw new RangeError(`address.host ${a.host} is not an ${a.type} address`);
    head = new Uint8Array(1 + want);
    head[0] = a.type === 'ipv4' ? SOCKS5_ATYP.ipv4 : SOCKS5_ATYP.ipv6;
    head.set(bytes, 1);
  }
  const out = new Uint8Array(head.length + 2);
  out.set(head, 0);
  out[head.length] = a.port >>> 8;
  out[head.length + 1] = a.port & 0xff;
  return out;
}

/** Emits a request (RFC 1928 §4): the client's side, for tests and tools. */
export function emitRequest(command: number, address: Socks5Address): Uint8Array {
  const a = emitAddress(address);
  const out = new Uint8Array(3 + a.length);
  out[0] = SOCKS5_VERSION;
  out[1] = command & 0xff;
  out[2] = 0;
  out.set(a, 3);
  return out;
}

/** The bound address of a failure reply: 0.0.0.0:0. */
export const UNSPECIFIED_BIND: Socks5Address = { type: 'ipv4', host: '0.0.0.0', port: 0 };

/** Emits a reply (RFC 1928 §6) with the bound address (0.0.0.0:0 when unknown). */
export function emitReply(reply: number, bind: Socks5Address = UNSPECIFIED_BIND): Uint8Array {
  const a = emitAddress(bind);
  const out = new Uint8Array(3 + a.length);
  out[0] = SOCKS5_VERSION;
  out[1] = reply & 0xff;
  out[2] = 0;
  out.set(a, 3);
  return out;
}
