/**
 * The one seam the loopback proxy and the HTTP clients share: a function that opens a TCP stream
 * to `host:port` on the tailnet. `Server` supplies it as
 * `(host, port) => server.dial('tcp', joinHostPort(host, port))`; tests supply a netstack `Stack`'s
 * `connect` or a loopback `net.connect`.
 */
import type { Duplex } from 'node:stream';

/** Options a dialer may honour. */
export interface TailnetDialOptions {
  /** Aborted when the caller gives up (a proxy timeout, a closed loopback listener). */
  signal?: AbortSignal;
}

/**
 * Opens a TCP connection to `host:port` and resolves once it is connected. `host` is a name
 * (MagicDNS short name or FQDN), a dotted IPv4 address or an IPv6 address without brackets.
 * Rejects with an error whose `code` is a Node errno name (`ECONNREFUSED`, `ENOTFOUND`,
 * `EHOSTUNREACH`, `ETIMEDOUT`, ...) when it cannot.
 *
 * @example
 * ```ts
 * import { connect } from 'node:net';
 * import type { TailnetDial } from 'tsnet';
 * const dial: TailnetDial = (host, port) =>
 *   new Promise((resolve, reject) => {
 *     const s = connect({ host, port });
 *     s.once('connect', () => resolve(s)).once('error', reject);
 *   });
 * ```
 */
export type TailnetDial = (host: string, port: number, options?: TailnetDialOptions) => Promise<Duplex>;

/**
 * `host:port`, bracketing an IPv6 address (`[fd7a::1]:80`), as Go's `net.JoinHostPort`; the form
 * `Server.dial` takes.
 *
 * @example
 * ```ts
 * joinHostPort('fd7a:115c:a1e0::1', 80); // '[fd7a:115c:a1e0::1]:80'
 * joinHostPort('peer', 22); // 'peer:22'
 * ```
 */
export function joinHostPort(host: string, port: number): string {
  if (typeof host !== 'string') throw new TypeError('host must be a string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer 0..65535, got ${port}`);
  }
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
