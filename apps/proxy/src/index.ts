/**
 * @tsnet/proxy: what people use onetun for, on a tsnet `Server` (no tailscaled, no root).
 *
 * - `expose({ server, target: '127.0.0.1:3000', listen: ':80' })`: a local service on the tailnet.
 * - `forward({ server, listen: '127.0.0.1:5432', target: 'db-node:5432' })`: a tailnet service on a
 *   local port (loopback only).
 *
 * Half-close, errors and close propagate both ways (./splice.ts). The command line around them is
 * `tsnet-proxy` (./main.ts, ./cli.ts).
 */
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DIAL_TIMEOUT_MS,
  type ExposeOptions,
  expose,
  type ForwardOptions,
  forward,
  isLoopback,
  joinHostPort,
  type ProxyStats,
  parseHostPort,
  type TailnetProxy,
} from './proxy.js';
export { abortSocket, type SpliceProgress, type SpliceResult, splice } from './splice.js';
