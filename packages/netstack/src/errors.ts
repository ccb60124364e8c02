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

export type NetstackErrorCode = keyof typeof ERRNO;

/** An operational failure on a socket, with a Node errno `code`. */
export class NetstackError extends Error {
  readonly [BRAND] = true;
  readonly code: NetstackErrorCode;
  readonly errno: number;
  readonly syscall: string;
  readonly address: string | undefined;
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

  static is(x: unknown): x is NetstackError {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }
}
