/**
 * `TcpServer`: what `stack.listen` returns, shaped like `net.Server` (`'connection'`, `'close'`,
 * `address()`, `close()`). It holds the LISTEN state's only resource, the half-open count: at most
 * `backlog` connections may sit in SYN-RECEIVED at once (the SYN-flood bound; further SYNs are
 * dropped and counted, so the peer retransmits later).
 */
import { EventEmitter, on } from 'node:events';
import type { Stack } from './stack.js';
import type { TcpSocket } from './tcp-socket.js';
import { formatIp } from './wire/ip-address.js';

/** Options of `stack.listen(…)`, as `server.listen(options)` in `net`. */
export interface TcpServerOptions {
  /** The port to listen on, 0–65535; 0 picks a free one in 49152–65535 (read it from `server.port`). */
  port: number;
  /** One of the stack's addresses; all of them when absent. */
  host?: string;
  /** Maximum half-open (SYN-RECEIVED) connections (default 128). */
  backlog?: number;
  /** Keep the writable side open after the peer's FIN (default false, as `net`). */
  allowHalfOpen?: boolean;
  /** Disable Nagle on accepted sockets. */
  noDelay?: boolean;
}

/**
 * A TCP listener, as `net.Server`: emits `'listening'` (next tick), `'connection'` with each
 * `TcpSocket` whose handshake completed, and `'close'`. Create one with `stack.listen`.
 *
 * @example
 * const server = stack.listen({ port: 8080 });
 * for await (const sock of server) sock.end('hi\n');
 */
export class TcpServer extends EventEmitter {
  /** Maximum connections in SYN-RECEIVED at once; more SYNs are dropped as `syn-queue-full`. */
  readonly backlog: number;
  /** Whether accepted sockets keep their writable side open after the peer's FIN. */
  readonly allowHalfOpen: boolean;
  /** Whether accepted sockets start with Nagle's algorithm disabled. */
  readonly noDelay: boolean;
  /** True until `close()` (as `net.Server#listening`). */
  listening = true;
  /** @internal Connections in SYN-RECEIVED. */
  halfOpen = 0;

  /** @internal */
  constructor(
    private readonly stack: Stack,
    /** The port listened on (the one chosen when `options.port` was 0). */
    readonly port: number,
    /** The one address of ours listened on, or null for all of them. */
    readonly host: Uint8Array | null,
    options: TcpServerOptions,
  ) {
    super();
    this.backlog = options.backlog ?? 128;
    if (!Number.isInteger(this.backlog) || this.backlog < 1) {
      throw new RangeError(`options.backlog must be a positive integer, got ${options.backlog}`);
    }
    this.allowHalfOpen = options.allowHalfOpen ?? false;
    this.noDelay = options.noDelay ?? false;
    process.nextTick(() => this.emit('listening'));
  }

  /** As `net.Server#address()`: the bound address (`'::'` when listening on all), family and port. */
  address(): {
    /** The address listened on, `'::'` when all of the stack's addresses. */
    address: string;
    /** `'IPv4'` for an IPv4 `host`, otherwise `'IPv6'` (as `net.Server` listening on `'::'`). */
    family: string;
    /** The port listened on. */
    port: number;
  } {
    const v6 = this.host === null || this.host.length === 16;
    return { address: this.host ? formatIp(this.host) : '::', family: v6 ? 'IPv6' : 'IPv4', port: this.port };
  }

  /** Stops accepting; established sockets are unaffected. */
  close(callback?: (err?: Error) => void): this {
    if (!this.listening) {
      if (callback) process.nextTick(() => callback(new Error('server is not running')));
      return this;
    }
    this.listening = false;
    this.stack._unlisten(this);
    if (callback) this.once('close', callback);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /**
   * Each accepted connection until the server closes: `for await (const sock of server)`.
   * Connections that arrive while the loop body runs wait in a queue.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TcpSocket> {
    if (!this.listening) return;
    for await (const [sock] of on(this, 'connection', { close: ['close'] })) yield sock as TcpSocket;
  }

  /** @internal A handshake completed: hand the socket to the app. */
  _deliver(socket: TcpSocket): void {
    process.nextTick(() => {
      if (this.listening) this.emit('connection', socket);
      else socket.destroy();
    });
  }
}
