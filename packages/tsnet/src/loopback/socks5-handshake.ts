/**
 * The server side of a SOCKS5 handshake as one sans-IO state machine: bytes in, bytes to send and
 * a decision out. RFC 1928 §3 (method negotiation), RFC 1929 §2 (username/password), RFC 1928 §4
 * (the request). It never touches a socket, a timer or the dialer: ./socks5-server.ts drives it.
 *
 * Policy, as Go tsnet's `Loopback()` configures `net/socks5.Server`: username/password auth is
 * required (a client offering only "no authentication" gets `0xFF`, no acceptable methods), the
 * username and password are compared in constant time, and CONNECT is the only command (BIND and
 * UDP ASSOCIATE are answered "command not supported"; Go tsnet's server also offers UDP ASSOCIATE,
 * which this dialer of TCP streams cannot). Input is untrusted: every byte sequence, split any
 * way, ends in `need-more`, a refusal or a CONNECT, and nothing is buffered beyond the longest
 * message of the current state (RFC limits: 257, 513 and 262 bytes).
 *
 * ```
 *   greeting ──(offers 0x02)──▶ auth ──(user+pass ok)──▶ request ──(CONNECT, known ATYP)──▶ connect
 *      │ no 0x02: 05 FF           │ wrong: 01 01            │ other CMD: reply 07; bad ATYP: reply 08
 *      ▼                          ▼                         ▼
 *    closed ◀────────────────────────────────────────────────
 * ```
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  emitReply,
  emitSelection,
  emitUserPassStatus,
  isParseError,
  parseGreeting,
  parseRequest,
  parseUserPass,
  SOCKS5_COMMAND,
  SOCKS5_METHOD,
  SOCKS5_REPLY,
  type Socks5Address,
} from './socks5-wire.js';

/** Why a handshake was refused; each is a counter in the loopback's stats. */
export type Socks5Refusal =
  /** A message with the wrong version byte (greeting, sub-negotiation or request). */
  | 'bad-version'
  /** The client did not offer username/password (e.g. only "no authentication"). */
  | 'no-acceptable-method'
  /** Wrong username or password. */
  | 'auth-failed'
  /** A request that cannot be parsed (an empty domain name). */
  | 'bad-request'
  /** BIND, UDP ASSOCIATE or an unknown command. */
  | 'command-not-supported'
  /** An ATYP other than IPv4, domain name or IPv6. */
  | 'address-type-not-supported';

/** Every refusal reason, in a fixed order (for counters). */
export const SOCKS5_REFUSALS: readonly Socks5Refusal[] = [
  'bad-version',
  'no-acceptable-method',
  'auth-failed',
  'bad-request',
  'command-not-supported',
  'address-type-not-supported',
];

/** The states of the machine. */
export type Socks5HandshakeState = 'greeting' | 'auth' | 'request' | 'connect' | 'closed';

/** What the driver must do after feeding bytes. */
export type Socks5Decision =
  /** Wait for more bytes. */
  | { kind: 'need-more' }
  /** Send `output`, then close: the handshake failed. */
  | { kind: 'refuse'; reason: Socks5Refusal; detail: string }
  /**
   * Dial `target`; then send `emitReply(...)` with the outcome. `rest` is what the client sent
   * after the request (early data for the target; usually empty).
   */
  | { kind: 'connect'; target: Socks5Address; rest: Uint8Array };

/** The result of `receive`: bytes to send (in order) and the decision. */
export interface Socks5Step {
  output: Uint8Array[];
  decision: Socks5Decision;
}

function digest(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

/** Constant-time equality of byte strings of any lengths (compares their SHA-256 digests). */
export function secretBytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** One client's handshake. Create one per connection. */
export class Socks5Handshake {
  #state: Socks5HandshakeState = 'greeting';
  #buf: Uint8Array = new Uint8Array(0);
  readonly #username: Buffer;
  readonly #password: Buffer;

  /** `username` and `password` are the only credentials accepted. */
  constructor(credentials: { username: string; password: string }) {
    if (typeof credentials?.username !== 'string' || typeof credentials.password !== 'string') {
      throw new TypeError('credentials: { username: string, password: string } required');
    }
    this.#username = Buffer.from(credentials.username, 'utf8');
    this.#password = Buffer.from(credentials.password, 'utf8');
    if (this.#password.length === 0) throw new RangeError('credentials.password must not be empty');
  }

  /** The current state. */
  get state(): Socks5HandshakeState {
    return this.#state;
  }

  /** Bytes held waiting for the rest of a message (never more than one message's maximum). */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Feeds bytes from the client (the machine keeps what it needs; `chunk` is not retained). */
  receive(chunk: Uint8Array): Socks5Step {
    const output: Uint8Array[] = [];
    if (this.#state === 'connect' || this.#state === 'closed') {
      return {
        output,
        decision: { kind: 'refuse', reason: 'bad-request', detail: `bytes in state ${this.#state}` },
      };
    }
    if (chunk.length > 0) {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf, 0);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    for (;;) {
      const d = this.#step(output);
      if (d !== 'again') return { output, decision: d };
    }
  }

  /** One transition; `'again'` when a message was consumed and the next state may progress. */
  #step(output: Uint8Array[]): Socks5Decision | 'again' {
    const b = this.#buf;
    switch (this.#state) {
      // RFC 1928 §3: VER NMETHODS METHODS; the server selects one method or answers 0xFF.
      case 'greeting': {
        const g = parseGreeting(b);
        if (g === null) return { kind: 'need-more' };
        if (isParseError(g)) {
          output.push(emitSelection(SOCKS5_METHOD.noAcceptableMethods));
          return this.#refuse('bad-version', `greeting version ${g.value}`);
        }
        this.#buf = b.subarray(g.length);
        if (!g.methods.includes(SOCKS5_METHOD.usernamePassword)) {
          output.push(emitSelection(SOCKS5_METHOD.noAcceptableMethods));
          return this.#refuse('no-acceptable-method', `offered methods [${[...g.methods].join(',')}]`);
        }
        output.push(emitSelection(SOCKS5_METHOD.usernamePassword));
        this.#state = 'auth';
        return 'again';
      }
      // RFC 1929 §2: VER(1) ULEN UNAME PLEN PASSWD; status 0 = success, anything else closes.
      case 'auth': {
        const a = parseUserPass(b);
        if (a === null) return { kind: 'need-more' };
        if (isParseError(a)) {
          output.push(emitUserPassStatus(false));
          return this.#refuse('bad-version', `sub-negotiation version ${a.value}`);
        }
        this.#buf = b.subarray(a.length);
        // Both compared, always, so the time taken does not say which one was wrong.
        const userOk = secretBytesEqual(a.username, this.#username);
        const passOk = secretBytesEqual(a.password, this.#password);
        if (!(userOk && passOk)) {
          output.push(emitUserPassStatus(false));
          return this.#refuse('auth-failed', 'wrong username or password');
        }
        output.push(emitUserPassStatus(true));
        this.#state = 'request';
        return 'again';
      }
      // RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT; §6 reply codes for what we refuse.
      case 'request': {
        const r = parseRequest(b);
        if (r === null) return { kind: 'need-more' };
        if (isParseError(r)) {
          switch (r.error) {
            case 'bad-address-type':
              output.push(emitReply(SOCKS5_REPLY.addressTypeNotSupported));
              return this.#refuse('address-type-not-supported', `ATYP ${r.value}`);
            case 'empty-domain':
              output.push(emitReply(SOCKS5_REPLY.generalFailure));
              return this.#refuse('bad-request', 'empty domain name');
            case 'bad-version':
              output.push(emitReply(SOCKS5_REPLY.generalFailure));
              return this.#refuse('bad-version', `request version ${r.value}`);
          }
        }
        if (r.command !== SOCKS5_COMMAND.connect) {
          output.push(emitReply(SOCKS5_REPLY.commandNotSupported));
          return this.#refuse('command-not-supported', `command ${r.command}`);
        }
        const rest = b.slice(r.length);
        this.#buf = new Uint8Array(0);
        this.#state = 'connect';
        return { kind: 'connect', target: r.address, rest };
      }
      case 'connect':
      case 'closed':
        return { kind: 'refuse', reason: 'bad-request', detail: `bytes in state ${this.#state}` };
    }
  }

  #refuse(reason: Socks5Refusal, detail: string): Socks5Decision {
    this.#state = 'closed';
    this.#buf = new Uint8Array(0);
    return { kind: 'refuse', reason, detail };
  }
}
