/**
 * The loopback listener of Go tsnet's `Server.Loopback()` (tailscale v1.102.3 `tsnet/tsnet.go`,
 * `net/proxymux`): one TCP port on 127.0.0.1 that serves
 *
 * - a SOCKS5 proxy onto the tailnet (RFC 1928 CONNECT, RFC 1929 username `tsnet` and a random
 *   password), by ./socks5-server.ts, and
 * - the LocalAPI over HTTP, for requests that carry `Sec-Tailscale: localapi` and HTTP Basic auth
 *   whose password is the LocalAPI credential (protocol-map §9.1).
 *
 * A connection is routed by its first byte, as `proxymux.SplitSOCKSAndHTTP` does: 0x05 (the SOCKS
 * version) goes to the proxy, anything else to the HTTP server. Read ./socks5-handshake.ts for the
 * proxy's policy.
 *
 * Bounds (the port is reachable by every local user and process): a connection must finish its
 * SOCKS5 handshake, or send the headers of its first HTTP request, within `handshakeTimeoutMs`
 * (Go: 15 s for the first byte only); at most `maxPendingHandshakes` connections may be in that
 * phase at once (more are closed at accept, and counted); `close()` destroys every socket, proxied
 * targets included. Nothing a client sends can throw out of here.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { discardLogf, IPAddr, type Logf } from '@tsnet/core';
import { checkRequest } from '@tsnet/localapi';
import { joinHostPort, type TailnetDial } from '../http/dial.js';
import { newSocks5Stats, type Socks5Stats, serveSocks5 } from './socks5-server.js';
import { SOCKS5_VERSION } from './socks5-wire.js';

/** The SOCKS5 username Go tsnet's loopback proxy requires. */
export const LOOPBACK_PROXY_USERNAME = 'tsnet';
/** Default time a connection has to finish its handshake (SOCKS5) or first request headers (HTTP). */
export const LOOPBACK_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default limit of connections in their handshake at once. */
export const LOOPBACK_MAX_PENDING_HANDSHAKES = 64;
/** Default time a SOCKS5 CONNECT may take to reach its target. */
export const LOOPBACK_DIAL_TIMEOUT_MS = 15_000;

/** A `node:http` request handler, e.g. `createLocalApiHandler(...)` from `@tsnet/localapi`. */
export type LoopbackHttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The secrets of a loopback listener; each at most 255 bytes (the RFC 1929 limit). */
export interface LoopbackCredentials {
  /** The SOCKS5 password (username `tsnet`). */
  proxy?: string;
  /** The LocalAPI Basic-auth password. */
  localApi?: string;
}

/** Options of `startLoopback`. */
export interface LoopbackOptions {
  /** Opens the proxied connections (`Server.dial` for TCP). */
  dial: TailnetDial;
  /**
   * Serves LocalAPI requests that passed the loopback's checks (`Sec-Tailscale: localapi`, Basic
   * auth with the LocalAPI credential, no Origin/Referer, a loopback Host), unchanged. As in Go
   * (`lah.RequiredPassword = s.localAPICred`), make it with the same credential:
   * `createLocalApiHandler({ backend, requiredPassword: cred, requireSecTailscaleHeader: true })`
   * and pass `credential: { localApi: cred }`. (A handler without a password refuses the
   * `Host: 127.0.0.1:port` that clients send here, as Go's `validHost` does.)
   */
  localApi: LoopbackHttpHandler;
  /** A loopback address to listen on (default `127.0.0.1`, as Go). */
  host?: string;
  /** The port (default 0: the OS picks one). */
  port?: number;
  /** Verbose logs (refusals, dial failures); never given a credential. */
  logf?: Logf;
  /** Fixed credentials instead of fresh random ones (each 16 random bytes as hex by default). */
  credential?: LoopbackCredentials;
  /** Default `LOOPBACK_HANDSHAKE_TIMEOUT_MS`. */
  handshakeTimeoutMs?: number;
  /** Default `LOOPBACK_MAX_PENDING_HANDSHAKES`. */
  maxPendingHandshakes?: number;
  /** Default `LOOPBACK_DIAL_TIMEOUT_MS`. */
  dialTimeoutMs?: number;
}

/** Counters of a loopback listener, readable by users and tests. */
export interface LoopbackStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections closed at accept because `maxPendingHandshakes` were in progress. */
  busy: number;
  /** Connections closed because their handshake or first request did not finish in time. */
  handshakeTimeouts: number;
  /** The SOCKS5 proxy. */
  socks: Socks5Stats;
  /** The LocalAPI side. */
  localApi: {
    /** Requests passed to the LocalAPI handler. */
    requests: number;
    /** Requests refused by the header/auth checks (401/403). */
    refused: number;
    /** Connections that did not speak HTTP (answered 400 and closed). */
    badRequests: number;
    /** The handler threw (answered 500). */
    handlerErrors: number;
  };
}

/** A running loopback listener (see `startLoopback`). */
export interface Loopback {
  /** `127.0.0.1:port` (Go's `addr`). */
  readonly address: string;
  /** The port listened on. */
  readonly port: number;
  /** The SOCKS5 username: always `tsnet`. */
  readonly proxyUsername: string;
  /** The SOCKS5 password (Go's `proxyCred`). */
  readonly proxyCredential: string;
  /** The LocalAPI Basic-auth password (Go's `localAPICred`). */
  readonly localApiCredential: string;
  /** Client connections open now (proxied or HTTP, in handshake or not). */
  readonly connections: number;
  /** Counters. */
  readonly stats: LoopbackStats;
  /** Stops listening and destroys every connection, proxied targets included. Idempotent. */
  close(): Promise<void>;
}

function isLoopbackHost(host: string): boolean {
  const ip = IPAddr.tryParse(host);
  if (ip === null || ip.zone !== '') return false;
  const u = ip.unmap();
  if (u.is4()) return u.bytes[0] === 127;
  return u.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

function positiveInt(name: string, v: number | undefined, def: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function credentialOption(name: string, v: string | undefined): string {
  if (v === undefined) return randomBytes(16).toString('hex');
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > 255) {
    throw new RangeError(`${name} must be a non-empty string of at most 255 bytes`);
  }
  return v;
}

/** Go `http.Error`: text/plain, nosniff, the message and a newline. */
function httpError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(`${message}\n`);
}

/**
 * Starts the loopback listener: a SOCKS5 proxy onto the tailnet and the LocalAPI over HTTP, on one
 * port of 127.0.0.1 (Go tsnet's `Server.Loopback()`). Resolves once listening; rejects with the
 * listen error (`EADDRINUSE`...), or a `TypeError`/`RangeError` naming a bad option.
 *
 * @example
 * ```ts
 * import { createLocalApiHandler, newLocalApiCredential } from '@tsnet/localapi';
 * const cred = newLocalApiCredential();
 * const lb = await startLoopback({
 *   dial: (host, port) => server.dial('tcp', joinHostPort(host, port)),
 *   localApi: createLocalApiHandler({ backend, requiredPassword: cred, requireSecTailscaleHeader: true }),
 *   credential: { localApi: cred },
 * });
 * // curl --socks5-hostname ${lb.address} --proxy-user tsnet:${lb.proxyCredential} http://peer/
 * // curl -u :${lb.localApiCredential} -H 'Sec-Tailscale: localapi' http://${lb.address}/localapi/v0/status
 * await lb.close();
 * ```
 */
export async function startLoopback(options: LoopbackOptions): Promise<Loopback> {
  if (typeof options?.dial !== 'function') throw new TypeError('options.dial must be a function');
  if (typeof options.localApi !== 'function') throw new TypeError('options.localApi must be a function');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !isLoopbackHost(host)) {
    throw new RangeError(`options.host must be a loopback IP address, got ${JSON.stringify(host)}`);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`options.port must be an integer 0..65535, got ${port}`);
  }
  const handshakeTimeoutMs = positiveInt(
    'options.handshakeTimeoutMs',
    options.handshakeTimeoutMs,
    LOOPBACK_HANDSHAKE_TIMEOUT_MS,
  );
  const maxPending = positiveInt(
    'options.maxPendingHandshakes',
    options.maxPendingHandshakes,
    LOOPBACK_MAX_PENDING_HANDSHAKES,
  );
  const dialTimeoutMs = positiveInt('options.dialTimeoutMs', options.dialTimeoutMs, LOOPBACK_DIAL_TIMEOUT_MS);
  const proxyCredential = credentialOption('options.credential.proxy', options.credential?.proxy);
  const localApiCredential = credentialOption('options.credential.localApi', options.credential?.localApi);
  const logf = options.logf ?? discardLogf;
  const dial = options.dial;
  const localApi = options.localApi;

  const stats: LoopbackStats = {
    accepted: 0,
    busy: 0,
    handshakeTimeouts: 0,
    socks: newSocks5Stats(),
    localApi: { requests: 0, refused: 0, badRequests: 0, handlerErrors: 0 },
  };
  const clients = new Set<Socket>();
  const upstreams = new Set<Duplex>();
  /** Connections in their handshake, with the timer that bounds it. */
  const pending = new Map<Duplex, NodeJS.Timeout>();
  const closing = new AbortController();

  const release = (sock: Duplex) => {
    const t = pending.get(sock);
    if (t === undefined) return;
    clearTimeout(t);
    pending.delete(sock);
  };

  const policy = { requireSecTailscaleHeader: true, requiredPassword: localApiCredential };
  /**
   * Arms the deadline for `sock`'s handshake, or for the headers of its next HTTP request on a
   * kept-alive connection (node:http enforces `headersTimeout` only on servers it listens with).
   */
  const arm = (sock: Duplex) => {
    release(sock);
    pending.set(
      sock,
      setTimeout(() => {
        pending.delete(sock);
        stats.handshakeTimeouts++;
        logf('loopback: no handshake or request within %d ms', handshakeTimeoutMs);
        sock.destroy();
      }, handshakeTimeoutMs),
    );
  };
  /** HTTP requests in progress per connection (pipelined ones included). */
  const inflight = new WeakMap<Duplex, number>();

  const http = createHttpServer({ requestTimeout: 0 }, (req, res) => {
    const sock = req.socket;
    release(sock);
    inflight.set(sock, (inflight.get(sock) ?? 0) + 1);
    res.once('close', () => {
      const n = (inflight.get(sock) ?? 1) - 1;
      inflight.set(sock, n);
      if (n === 0 && !sock.destroyed && !closing.signal.aborted) arm(sock);
    });
    const failure = checkRequest(req.headers, policy);
    if (failure !== null) {
      stats.localApi.refused++;
      logf('loopback: localapi %s refused: %d %s', req.url, failure.status, failure.message);
      if (failure.status === 403 && failure.message.startsWith('missing')) {
        // Go's localSecHandler: the status and the bare message (Go sniffs the type).
        res.statusCode = 403;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(failure.message);
      } else {
        httpError(res, failure.status, failure.message);
      }
      return;
    }
    stats.localApi.requests++;
    try {
      localApi(req, res);
    } catch (e) {
      stats.localApi.handlerErrors++;
      logf('loopback: localapi handler threw: %s', (e as Error)?.message);
      if (!res.headersSent) httpError(res, 500, 'internal error');
      else res.destroy();
    }
  });
  http.on('clientError', (err: Error, socket: Duplex) => {
    stats.localApi.badRequests++;
    logf('loopback: not HTTP: %s', err.message);
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', () => socket.destroy());
    else socket.destroy();
  });

  const onFirstBytes = (sock: Socket, first: Buffer) => {
    if (first[0] === SOCKS5_VERSION) {
      serveSocks5(sock, first, {
        dial,
        username: LOOPBACK_PROXY_USERNAME,
        password: proxyCredential,
        dialTimeoutMs,
        logf,
        stats: stats.socks,
        signal: closing.signal,
        onHandshakeEnd: () => release(sock),
        track: (up) => {
          if (closing.signal.aborted) {
            up.destroy();
            return;
          }
          upstreams.add(up);
          up.once('close', () => upstreams.delete(up));
          up.on('error', () => up.destroy());
        },
      });
      return;
    }
    // HTTP: give the byte back and let node:http parse the stream from the start.
    sock.pause();
    sock.unshift(first);
    http.emit('connection', sock);
    sock.resume();
  };

  const net = createNetServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    stats.accepted++;
    sock.on('error', (e: Error) => logf('loopback: connection: %s', e.message));
    if (closing.signal.aborted) {
      sock.destroy();
      return;
    }
    if (pending.size >= maxPending) {
      stats.busy++;
      sock.destroy();
      return;
    }
    clients.add(sock);
    sock.once('close', () => {
      clients.delete(sock);
      release(sock);
    });
    arm(sock);
    // A client that half-closes before its first byte will never speak (allowHalfOpen keeps it).
    const onEarlyEnd = () => sock.destroy();
    sock.once('end', onEarlyEnd);
    sock.once('data', (first: Buffer) => {
      sock.off('end', onEarlyEnd);
      onFirstBytes(sock, first);
    });
  });

  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen({ host, port, exclusive: true }, () => {
      net.off('error', reject);
      resolve();
    });
  });
  net.on('error', (e: Error) => logf('loopback: listener: %s', e.message));
  const bound = net.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  const address = joinHostPort(host, boundPort);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort();
      net.close(() => resolve());
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
      for (const s of clients) s.destroy();
      for (const s of upstreams) s.destroy();
      http.closeAllConnections();
    });
    return closed;
  };

  return {
    address,
    port: boundPort,
    proxyUsername: LOOPBACK_PROXY_USERNAME,
    proxyCredential,
    localApiCredential,
    get connections() {
      return clients.size;
    },
    stats,
    close,
  };
}
