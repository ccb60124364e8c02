/**
 * A WHATWG `fetch` over the tailnet: undici's `fetch` with an undici `Agent` whose `connect` opens
 * each connection through the tailnet dialer (Go tsnet's `HTTPClient()`, whose transport's
 * `DialContext` is `Server.Dial`). For `https:` undici's own connector runs TLS over the dialed
 * stream (its `httpSocket` upgrade path), so TLS options, session reuse and HTTP/2 by ALPN
 * (`allowH2`) are undici's. Nothing is resolved by the OS: the host goes to the dialer as written in
 * the URL (a MagicDNS name or a Tailscale IP).
 *
 * undici (pinned, engines `node >=20.18.1`) is a dependency of this package; the dispatcher also
 * works with `undici.request`, `undici.stream` and `new WebSocket(url, { dispatcher })` of undici.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import type { TailnetDial } from './dial.js';

/**
 * Options of `createFetch` / `createDispatcher`: undici `Agent` options, with `connect` holding
 * only TLS options for `https:` (`ca`, `rejectUnauthorized`, `servername`, `timeout` of the TLS
 * handshake...), as undici's own `connect` object does; the TCP part is always the tailnet dialer.
 */
export interface TailnetFetchOptions extends Omit<Agent.Options, 'connect'> {
  /** TLS options for `https:` origins. */
  connect?: Partial<buildConnector.BuildOptions>;
}

/** The function `createFetch` returns: undici's `fetch`, bound to a tailnet dispatcher. */
export interface TailnetFetch {
  /**
   * Fetches `input` over the tailnet (an `init.dispatcher` is replaced by the tailnet one). Rejects
   * with `TypeError('fetch failed')` whose `cause` is the dial error.
   */
  (
    input: Parameters<typeof undiciFetch>[0],
    init?: Parameters<typeof undiciFetch>[1],
  ): ReturnType<typeof undiciFetch>;
  /** The undici Agent that dials the tailnet (for `undici.request`, `undici.stream`, ...). */
  readonly dispatcher: Agent;
  /** Closes the dispatcher's connections once their requests finish. */
  close(): Promise<void>;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * An undici `Agent` whose connections go through `dial`.
 *
 * @example
 * ```ts
 * import { request } from 'undici';
 * const dispatcher = createDispatcher((h, p) => srv.dial('tcp', joinHostPort(h, p)));
 * const { body } = await request('http://peer/', { dispatcher });
 * ```
 */
export function createDispatcher(dial: TailnetDial, options: TailnetFetchOptions = {}): Agent {
  if (typeof dial !== 'function') throw new TypeError('dial must be a function');
  const { connect: tls, ...agentOptions } = options;
  const tlsOptions = { ...tls } as buildConnector.BuildOptions;
  if (agentOptions.allowH2 !== undefined) tlsOptions.allowH2 = agentOptions.allowH2;
  const tlsConnector = buildConnector(tlsOptions);
  const connect: buildConnector.connector = (opts, callback) => {
    const https = opts.protocol === 'https:';
    const port = Number(opts.port) || (https ? 443 : 80);
    let called = false;
    const fail = (e: unknown) => {
      if (called) return;
      called = true;
      callback(e instanceof Error ? e : new Error(String(e)), null);
    };
    const ok = (sock: Socket) => {
      if (called) return;
      called = true;
      callback(null, sock);
    };
    let dialed: Promise<Duplex>;
    try {
      dialed = dial(stripBrackets(opts.hostname), port);
    } catch (e) {
      fail(e);
      return;
    }
    dialed.then((sock) => {
      if (!https) {
        ok(sock as unknown as Socket);
        return;
      }
      try {
        // undici's connector runs TLS over a socket it is given (its CONNECT-tunnel path).
        tlsConnector({ ...opts, httpSocket: sock as unknown as Socket }, (err, tlsSock) => {
          if (err !== null || tlsSock === null) {
            sock.destroy();
            fail(err);
          } else ok(tlsSock);
        });
      } catch (e) {
        sock.destroy();
        fail(e);
      }
    }, fail);
  };
  return new Agent({ ...agentOptions, connect });
}

/**
 * A `fetch` whose connections go through `dial` (the tailnet): Go tsnet's `HTTPClient()`.
 *
 * @example
 * ```ts
 * const tsFetch = createFetch((h, p) => srv.dial('tcp', joinHostPort(h, p)));
 * const res = await tsFetch('http://peer:8080/status');
 * console.log(res.status, await res.text());
 * await tsFetch.close();
 * ```
 */
export function createFetch(dial: TailnetDial, options: TailnetFetchOptions = {}): TailnetFetch {
  const dispatcher = createDispatcher(dial, options);
  const f = ((input, init) => undiciFetch(input, { ...init, dispatcher })) as TailnetFetch;
  Object.defineProperty(f, 'dispatcher', { value: dispatcher, enumerable: true });
  Object.defineProperty(f, 'close', { value: () => dispatcher.close(), enumerable: true });
  return f;
}
