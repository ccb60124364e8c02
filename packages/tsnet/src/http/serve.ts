/**
 * Serving HTTP on a tailnet listener. A tailnet listener (`Server.listen`, a netstack `TcpServer`)
 * emits `'connection'` with a `net.Socket`-compatible Duplex, and every Node HTTP server takes a
 * connection the same way `net.Server` hands it one: `server.emit('connection', socket)`. That is
 * the whole pattern; `serveHttp` adds the bookkeeping (stop forwarding, destroy what was forwarded).
 *
 * It works for `node:http`, `node:https` (the TLS server wraps the Duplex in a `TLSSocket`),
 * `node:http2` (`createServer` for h2c and `createSecureServer`), and every framework that runs on
 * one of them: Express (`http.createServer(app)`), Fastify (`fastify.server` after `ready()`), Hono
 * (`createAdaptorServer` of `@hono/node-server`), Koa (`http.createServer(app.callback())`), and a
 * `ws` `WebSocketServer({ server })` attached to such a server.
 */
import type { Duplex } from 'node:stream';

/** What a tailnet listener looks like to `serveHttp`: a netstack `TcpServer`, a `net.Server`. */
export interface ConnectionSource {
  /** Subscribes to accepted connections. */
  on(event: 'connection', listener: (socket: Duplex) => void): unknown;
  /** Unsubscribes. */
  off(event: 'connection', listener: (socket: Duplex) => void): unknown;
  /** Stops accepting (called by `close()` unless `closeListener` is false). */
  close?(): unknown;
}

/** What takes connections: `http.Server`, `https.Server`, `Http2Server`, `Http2SecureServer`. */
export interface ConnectionSink {
  /** `server.emit('connection', socket)`, as `net.Server` does on accept. */
  emit(event: 'connection', socket: Duplex): boolean;
}

/** Options of `serveHttp`. */
export interface ServeHttpOptions {
  /** `close()` also closes the listener (default true). */
  closeListener?: boolean;
}

/** A running `serveHttp`. */
export interface HttpServing {
  /** Connections handed to the server and still open. */
  readonly connections: number;
  /** Connections handed to the server so far. */
  readonly accepted: number;
  /**
   * Stops forwarding, closes the listener (unless told not to) and destroys the connections still
   * open. The HTTP server object itself is left alone (it may serve other listeners).
   */
  close(): Promise<void>;
}

/**
 * Serves `server` (any Node HTTP server) on a tailnet `listener`: each accepted connection is
 * given to the server as if its own `net.Server` had accepted it.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const ln = await srv.listen('tcp', ':80');
 * const serving = serveHttp(ln, createServer((req, res) => res.end('hello from the tailnet\n')));
 * // ... later
 * await serving.close();
 * ```
 */
export function serveHttp(
  listener: ConnectionSource,
  server: ConnectionSink,
  options: ServeHttpOptions = {},
): HttpServing {
  if (typeof listener?.on !== 'function' || typeof listener.off !== 'function') {
    throw new TypeError('listener must be an EventEmitter that emits "connection" (a tailnet listener)');
  }
  if (typeof server?.emit !== 'function')
    throw new TypeError('server must be a node:http, https or http2 server');
  const closeListener = options.closeListener ?? true;
  const open = new Set<Duplex>();
  let accepted = 0;
  let closed: Promise<void> | undefined;

  const onConnection = (socket: Duplex) => {
    accepted++;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    server.emit('connection', socket);
  };
  listener.on('connection', onConnection);

  return {
    get connections() {
      return open.size;
    },
    get accepted() {
      return accepted;
    },
    close() {
      closed ??= (async () => {
        listener.off('connection', onConnection);
        if (closeListener) listener.close?.();
        for (const s of open) s.destroy();
        open.clear();
      })();
      return closed;
    },
  };
}
