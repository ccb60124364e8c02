/**
 * Errors the stack reports on sockets, shaped like Node's system errors (`code`, `errno`,
 * `syscall`) so code written for `net.Socket` recognises them. Branded with
 * `Symbol.for('tsnet.error')` so checks work across copies of the package.
 */
import type { TcpErrorCode } from './tcp/options.js';

const BRAND = Symbol.for('tsnet.error');
const ERRNO: Record<TcpErrorCode | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'EHOSTUNREACH', number> = {
  ECONNREFUSED: -111,
  ECONNRESET: -104,
  ETIMEDOUT: -110,
  EADDRINUSE: -98,
  EADDRNOTAVAIL: -99,
  EHOSTUNREACH: -113,
};
const MESSAGE: Record<keyof typeof ERRNO, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EHOSTUNREACH: 'host unreachable',
};

/**
 * The Node errno names a `NetstackError` carries: a connection's failures (`TcpErrorCode`) plus
 * `EADDRINUSE`, `EADDRNOTAVAIL` (an address that is not the stack's) and `EHOSTUNREACH` (which
 * the stack itself does not raise at present).
 */
export type NetstackErrorCode = keyof typeof ERRNO;

/** An operational failure on a socket, with a Node errno `code`. */
export class NetstackError extends Error {
  /** The brand `NetstackError.is` checks (`Symbol.for('tsnet.error')`, so it works across copies). */
  readonly [BRAND] = true;
  /** The errno name, as `err.code` of a Node system error (e.g. `'ECONNREFUSED'`). */
  readonly code: NetstackErrorCode;
  /** Linux's negative errno number for `code`, as Node reports it (e.g. -111 for ECONNREFUSED). */
  readonly errno: number;
  /** What failed: `'connect'`, `'read'`, `'write'`, `'listen'`, `'bind'`, `'send'`, `'recv'` or `'ping'`. */
  readonly syscall: string;
  /** The address involved, when there is one: the peer's, or our own for `bind` and `listen`. */
  readonly address: string | undefined;
  /** The port involved, when there is one. */
  readonly port: number | undefined;

  constructor(
    code: NetstackErrorCode,
    syscall: string,
    address?: string,
    port?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `${syscall} ${code}${address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : ''} (${MESSAGE[code]})`,
      options,
    );
    this.name = 'NetstackError';
    this.code = code;
    this.errno = ERRNO[code];
    this.syscall = syscall;
    this.address = address;
    this.port = port;
  }

  /** True for any NetstackError, including one made by another installed copy of this package. */
  static is(x: unknown): x is NetstackError {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }
}
