/**
 * `node:http` and `node:https` clients whose connections go through the tailnet dialer (Go tsnet's
 * `HTTPClient()`: an `http.Client` whose transport dials with `Server.Dial`).
 *
 * Two ways in, both honoured by `http.request`, `http.get`, `https.request` and libraries built on
 * them (`ws`, axios' Node adapter, got with `agent`):
 *
 * - an `agent` (`httpAgent(dial)`, `httpsAgent(dial)`): keep-alive and connection pooling as usual;
 * - a `createConnection` with NO `agent` option (`tailnetCreateConnection(dial)`): one connection per
 *   request. Node consults `createConnection` only when `agent` is absent; `agent: false` makes a
 *   fresh default Agent that dials through the operating system, not the tailnet.
 *
 * Read ./dial.ts for the dialer contract and ./fetch.ts for the `fetch` counterpart.
 */
import { type AgentOptions, type ClientRequestArgs, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { TailnetDial } from './dial.js';

/** The `(err, stream)` callback Node passes to `createConnection`. */
export type CreateConnectionCallback = (err: Error | null, stream: Duplex) => void;

/** A `createConnection` for `http.request` / `https.request` options (no `agent` with it). */
export type TailnetCreateConnection = (
  options: ClientRequestArgs,
  callback: CreateConnectionCallback,
) => undefined;

function targetOf(options: ClientRequestArgs, defaultPort: number): { host: string; port: number } {
  let host = options.hostname ?? options.host ?? 'localhost';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(options.port ?? options.defaultPort ?? defaultPort);
  return { host, port };
}

/** Dials, then hands the stream (or the error) to Node's callback. */
function dialInto(
  dial: TailnetDial,
  options: ClientRequestArgs,
  defaultPort: number,
  callback: CreateConnectionCallback,
  wrap: (sock: Duplex) => Duplex = (s) => s,
): void {
  const { host, port } = targetOf(options, defaultPort);
  const fail = (e: unknown) => callback(e instanceof Error ? e : new Error(String(e)), undefined as never);
  let p: Promise<Duplex>;
  try {
    p = dial(host, port, options.signal ? { signal: options.signal } : {});
  } catch (e) {
    fail(e);
    return;
  }
  p.then((sock) => {
    let out: Duplex;
    try {
      out = wrap(sock);
    } catch (e) {
      sock.destroy();
      fail(e);
      return;
    }
    callback(null, out);
  }, fail);
}

/** TLS over a dialed stream, with the request's TLS options (`servername`, `ca`, ...). */
function tlsOver(options: ClientRequestArgs): (sock: Duplex) => Duplex {
  return (sock) => {
    const { host } = targetOf(options, 443);
    const opts = options as ClientRequestArgs & { servername?: string };
    const servername = opts.servername ?? (host.includes(':') || /^[\d.]+$/.test(host) ? undefined : host);
    return tlsConnect({
      ...(options as object),
      socket: sock,
      host,
      ...(servername !== undefined ? { servername } : {}),
    });
  };
}

/**
 * A `createConnection` for `http.request` (or `https.request` with `{ tls: true }`) that dials the
 * tailnet. Pass it with NO `agent` option: Node ignores `createConnection` when an agent is given,
 * and `agent: false` dials through the OS. Node quirks without an agent: the port defaults to 80
 * even for `https.request` (give `port: 443`), and `Host` carries the port (`peer:80`). Prefer
 * `httpAgent`/`httpsAgent` unless one connection per request is what you want.
 *
 * @example
 * ```ts
 * import { request } from 'node:http';
 * const createConnection = tailnetCreateConnection((h, p) => srv.dial('tcp', joinHostPort(h, p)));
 * request({ host: 'peer', port: 80, path: '/', createConnection }, (res) => res.resume()).end();
 * ```
 */
export function tailnetCreateConnection(
  dial: TailnetDial,
  options: { tls?: boolean } = {},
): TailnetCreateConnection {
  if (typeof dial !== 'function') throw new TypeError('dial must be a function');
  const tls = options.tls ?? false;
  return (reqOptions, callback) => {
    dialInto(dial, reqOptions, tls ? 443 : 80, callback, tls ? tlsOver(reqOptions) : undefined);
    return undefined;
  };
}

/** Keep-alive bookkeeping that tolerates dialers whose streams lack `setKeepAlive`/`ref`/`unref`. */
function keepAlive(agent: HttpAgent, socket: Duplex): true {
  const s = socket as Partial<{ setKeepAlive(on: boolean, ms: number): void; unref(): void }>;
  const ms = (agent as unknown as { keepAliveMsecs?: number }).keepAliveMsecs ?? 1000;
  s.setKeepAlive?.(true, ms);
  s.unref?.();
  // Truthy keeps the socket in the pool (a falsy return makes the Agent destroy it).
  return true;
}

/** A `node:http` Agent that dials the tailnet (see `httpAgent`). */
export class TailnetHttpAgent extends HttpAgent {
  readonly #dial: TailnetDial;
  /** Dials with `dial`; `options` are `http.Agent`'s (`keepAlive`, `maxSockets`, ...). */
  constructor(dial: TailnetDial, options?: AgentOptions) {
    if (typeof dial !== 'function') throw new TypeError('dial must be a function');
    super(options);
    this.#dial = dial;
  }
  /** Dials the request's `host:port` on the tailnet (asynchronously, through `callback`). */
  override createConnection(options: ClientRequestArgs, callback?: CreateConnectionCallback): Duplex {
    dialInto(this.#dial, options, 80, callback ?? (() => {}));
    return undefined as unknown as Duplex;
  }
  /** As Node's (keeps the socket for reuse), for any Duplex. */
  override keepSocketAlive(socket: Duplex): boolean {
    return keepAlive(this, socket);
  }
  /** As Node's, for any Duplex. */
  override reuseSocket(socket: Duplex): void {
    (socket as Partial<{ ref(): void }>).ref?.();
  }
}

/** A `node:https` Agent that dials the tailnet and runs TLS over it (see `httpsAgent`). */
export class TailnetHttpsAgent extends HttpsAgent {
  readonly #dial: TailnetDial;
  /** Dials with `dial`; `options` are `https.Agent`'s (`ca`, `rejectUnauthorized`, `keepAlive`, ...). */
  constructor(dial: TailnetDial, options?: HttpsAgentOptions) {
    if (typeof dial !== 'function') throw new TypeError('dial must be a function');
    super(options);
    this.#dial = dial;
  }
  /** Dials the request's `host:port`, then TLS with the request's and the agent's TLS options. */
  override createConnection(options: ClientRequestArgs, callback?: CreateConnectionCallback): Duplex {
    dialInto(this.#dial, options, 443, callback ?? (() => {}), tlsOver(options));
    return undefined as unknown as Duplex;
  }
  /** As Node's (keeps the socket for reuse), for any Duplex. */
  override keepSocketAlive(socket: Duplex): boolean {
    return keepAlive(this, socket);
  }
  /** As Node's, for any Duplex. */
  override reuseSocket(socket: Duplex): void {
    (socket as Partial<{ ref(): void }>).ref?.();
  }
}

/**
 * A `node:http` Agent whose connections go through `dial` (the tailnet): give it as `agent` to
 * `http.request`, `http.get`, `ws`, or any library that takes an agent.
 *
 * @example
 * ```ts
 * import { get } from 'node:http';
 * const agent = httpAgent((h, p) => srv.dial('tcp', joinHostPort(h, p)), { keepAlive: true });
 * get({ host: 'peer', path: '/', agent }, (res) => res.pipe(process.stdout));
 * ```
 */
export function httpAgent(dial: TailnetDial, options?: AgentOptions): TailnetHttpAgent {
  return new TailnetHttpAgent(dial, options);
}

/**
 * A `node:https` Agent whose connections go through `dial` and then TLS (with the agent's and the
 * request's TLS options: `ca`, `servername`, `rejectUnauthorized`, ...).
 *
 * @example
 * ```ts
 * import { get } from 'node:https';
 * const agent = httpsAgent((h, p) => srv.dial('tcp', joinHostPort(h, p)));
 * get({ host: 'peer.tailnet-name.ts.net', path: '/', agent }, (res) => res.pipe(process.stdout));
 * ```
 */
export function httpsAgent(dial: TailnetDial, options?: HttpsAgentOptions): TailnetHttpsAgent {
  return new TailnetHttpsAgent(dial, options);
}
