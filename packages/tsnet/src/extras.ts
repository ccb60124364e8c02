/**
 * The pieces of the public API that stand beside `Server` and that it wires in (re-exported from
 * ./index.ts):
 *
 * - ./loopback/: `startLoopback`, Go tsnet's `Server.Loopback()`: a SOCKS5 proxy onto the tailnet
 *   and the LocalAPI over HTTP on one 127.0.0.1 port.
 * - ./http/: Go tsnet's `HTTPClient()` for Node: `createFetch` (undici), `httpAgent`/`httpsAgent`,
 *   `tailnetCreateConnection`; and `serveHttp`, which feeds a tailnet listener's connections to any
 *   Node HTTP server (http, https, http2, Express, Fastify, Hono, ws).
 *
 * All of them take the same seam, a `TailnetDial` (`(host, port) => Promise<Duplex>`), so they work
 * with a `Server`, a bare netstack `Stack`, or anything else that opens TCP streams.
 */
export {
  type CreateConnectionCallback,
  httpAgent,
  httpsAgent,
  type TailnetCreateConnection,
  TailnetHttpAgent,
  TailnetHttpsAgent,
  tailnetCreateConnection,
} from './http/agent.js';
export { joinHostPort, type TailnetDial, type TailnetDialOptions } from './http/dial.js';
export { createDispatcher, createFetch, type TailnetFetch, type TailnetFetchOptions } from './http/fetch.js';
export {
  type ConnectionSink,
  type ConnectionSource,
  type HttpServing,
  type ServeHttpOptions,
  serveHttp,
} from './http/serve.js';
export {
  LOOPBACK_DIAL_TIMEOUT_MS,
  LOOPBACK_HANDSHAKE_TIMEOUT_MS,
  LOOPBACK_MAX_PENDING_HANDSHAKES,
  LOOPBACK_PROXY_USERNAME,
  type Loopback,
  type LoopbackCredentials,
  type LoopbackHttpHandler,
  type LoopbackOptions,
  type LoopbackStats,
  startLoopback,
} from './loopback/loopback.js';
export type { Socks5Refusal } from './loopback/socks5-handshake.js';
export type { Socks5Stats } from './loopback/socks5-server.js';
