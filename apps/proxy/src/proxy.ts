/**
 * The two proxies people use onetun for, on a tsnet `Server`:
 *
 * - `expose`: a local TCP service (`127.0.0.1:3000`) becomes a port of the node on the tailnet
 *   (`:80`): each tailnet connection opens one to the service.
 * - `forward`: a tailnet service (`db-node:5432`) becomes reachable on a local port
 *   (`127.0.0.1:5432`, loopback only): each local connection dials the tailnet.
 *
 * Each accepted connection is spliced to the one it opened (./splice.ts: half-close, errors and
 * close propagate both ways). A proxy keeps live counters (`stats`) and logs a line per connection
 * opened and closed, with its bytes. `close()` stops listening and resets what is still open. The
 * proxy never closes the `Server`: the caller owns it.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { discardLogf, type Logf } from '@tsnet/core';
import { type Server, splitHostPort } from 'tsnet';
import { abortSocket, splice } from './splice.js';

/** Counters of a proxy, live (read them at any time). */
export interface ProxyStats {
  /** Connections accepted by the proxy's listener. */
  accepted: number;
  /** Connections open now (accepted and not yet closed). */
  active: number;
  /** Connections that ended with an error: the other side refused, reset or timed out. */
  failed: number;
  /** Bytes carried from the connecting client to the target. */
  bytesToTarget: number;
  /** Bytes carried from the target back to the client. */
  bytesFromTarget: number;
}

/** A running proxy. */
export interface TailnetProxy {
  /** `'expose'` or `'forward'`. */
  readonly mode: 'expose' | 'forward';
  /** Where the proxy listens: `':80'`-style on the tailnet for expose, `'127.0.0.1:5432'` for forward. */
  readonly listenAddress: string;
  /** Where each connection goes: `'127.0.0.1:3000'` for expose, `'db-node:5432'` for forward. */
  readonly target: string;
  /** Live counters. */
  readonly stats: Readonly<ProxyStats>;
  /**
   * Stops accepting, waits up to `graceMs` (default 0) for open connections to finish by
   * themselves, then resets the rest; resolves once every socket of the proxy has closed.
   * Idempotent. The `Server` stays open.
   */
  close(graceMs?: number): Promise<void>;
}

/** Options of `expose`. */
export interface ExposeOptions {
  /** The tailnet node to listen on (started by `listen` if needed; never closed by the proxy). */
  server: Server;
  /** The local service: `'host:port'`, `'port'` or a port number (host `127.0.0.1`). */
  target: string | number;
  /** The tailnet address to listen on: `':80'`, `'80'`, a port number or `'<tailscale ip>:80'`. */
  listen: string | number;
  /** Give up connecting to the target after this long (default 10 s); the tailnet peer gets an RST. */
  connectTimeoutMs?: number;
  /** A line per connection opened and closed (default: none). */
  logf?: Logf;
}

/** Options of `forward`. */
export interface ForwardOptions {
  /** The tailnet node to dial from (started by `dial` if needed; never closed by the proxy). */
  server: Server;
  /**
   * The local address to listen on: `'127.0.0.1:5432'`, `'[::1]:5432'`, `'5432'` or a port number
   * (host `127.0.0.1`; port 0 picks a free one). Loopback only: a tailnet service must not leak
   * onto the LAN past the tailnet's access rules.
   */
  listen: string | number;
  /** The tailnet service: `'host:port'`, where host is a peer's name, MagicDNS name or Tailscale IP. */
  target: string;
  /** Give up dialing the tailnet after this long (default 30 s); the local client gets an RST. */
  dialTimeoutMs?: number;
  /** A line per connection opened and closed (default: none). */
  logf?: Logf;
}

/** Default for `ExposeOptions.connectTimeoutMs`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Default for `ForwardOptions.dialTimeoutMs`. */
export const DEFAULT_DIAL_TIMEOUT_MS = 30_000;

/** `host:port`, with brackets around an IPv6 host. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `'host:port'`, `'port'` or a number, with `defaultHost` when the host is absent. */
export function parseHostPort(
  addr: string | number,
  defaultHost: string,
  what: string,
): { host: string; port: number } {
  if (typeof addr === 'number' || /^\d+$/.test(addr)) {
    const port = Number(addr);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`${what}: port must be an integer in [0, 65535], got ${addr}`);
    }
    return { host: defaultHost, port };
  }
  if (typeof addr !== 'string') throw new TypeError(`${what} must be "host:port" or a port`);
  const { host, port } = splitHostPort(addr);
  return { host: host === '' ? defaultHost : host, port };
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

const DEFAULT_LOCAL_HOST = '127.0.0.1';

/** The bookkeeping both proxies share: counters, the log lines, and the set of open pairs. */
class Connections {
  readonly stats: ProxyStats = { accepted: 0, active: 0, failed: 0, bytesToTarget: 0, bytesFromTarget: 0 };
  readonly #open = new Set<Promise<void>>();
  readonly #sockets = new Set<Duplex>();
  #seq = 0;

  constructor(
    readonly mode: 'expose' | 'forward',
    readonly logf: Logf,
  ) {}

  /** Counts a new connection from `client` and returns its number. */
  accept(client: Duplex, from: string, to: string): number {
    const id = ++this.#seq;
    this.stats.accepted++;
    this.stats.active++;
    this.track(client);
    this.logf('%s #%d: %s → %s (%d open)', this.mode, id, from, to, this.stats.active);
    return id;
  }

  /** Keeps `s` until it closes, so `close()` can reset it. */
  track(s: Duplex): void {
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
  }

  /** Splices `client` to `target`, counting bytes; logs and settles the counters when both close. */
  join(id: number, client: Duplex, target: Duplex): void {
    this.track(target);
    const started = Date.now();
    const done = splice(client, target, {
      onAToB: (n) => {
        this.stats.bytesToTarget += n;
      },
      onBToA: (n) => {
        this.stats.bytesFromTarget += n;
      },
    }).then((r) => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const how = r.error === undefined ? 'closed' : `failed (${r.error.message})`;
      this.finish(
        id,
        r.error !== undefined,
        `${how} after ${secs} s: ${r.aToB} B to the target, ${r.bToA} B back`,
      );
    });
    this.#hold(done);
  }

  /** A connection that ended before it was joined (the target could not be reached). */
  fail(id: number, client: Duplex, err: Error): void {
    abortSocket(client);
    // Not events.once: that rejects on an 'error' before 'close', and a reset client has one.
    const closed = client.closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => client.once('close', () => resolve()));
    this.#hold(closed.then(() => this.finish(id, true, `failed: ${err.message}`)));
  }

  finish(id: number, failed: boolean, what: string): void {
    this.stats.active--;
    if (failed) this.stats.failed++;
    this.logf(
      '%s #%d %s (%d open, %d total, %d failed)',
      this.mode,
      id,
      what,
      this.stats.active,
      this.stats.accepted,
      this.stats.failed,
    );
  }

  #hold(p: Promise<void>): void {
    this.#open.add(p);
    void p.finally(() => this.#open.delete(p));
  }

  /** Waits up to `graceMs` for open connections, resets the rest and waits for them to close. */
  async drain(graceMs: number): Promise<void> {
    if (graceMs > 0 && this.#open.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.#open]),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const s of this.#sockets) abortSocket(s);
    while (this.#open.size > 0) await Promise.all([...this.#open]);
  }
}

/**
 * Exposes a local TCP service on the tailnet: every connection to `listen` on the node opens a
 * connection to `target` and the two are spliced. Resolves once the node listens (it waits for
 * `server.up()`).
 *
 * @example
 * ```ts
 * import { Server } from 'tsnet';
 * import { expose } from '@tsnet/proxy';
 *
 * const server = new Server({ hostname: 'devbox', dir: './state' }); // TS_AUTHKEY from the env
 * const proxy = await expose({ server, target: '127.0.0.1:3000', listen: ':80' });
 * // http://devbox/ on the tailnet now reaches the service on 127.0.0.1:3000
 * await proxy.close();
 * await server.close();
 * ```
 */
export async function expose(opts: ExposeOptions): Promise<TailnetProxy> {
  const { server, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, logf = discardLogf } = opts;
  const target = parseHostPort(opts.target, DEFAULT_LOCAL_HOST, 'target');
  if (target.port === 0) throw new RangeError('target: port 0 is not a service');
  const listenAt = parseHostPort(opts.listen, '', 'listen');
  if (listenAt.port === 0) throw new RangeError('listen: give the tailnet port to expose (not 0)');
  if (!(connectTimeoutMs > 0)) throw new RangeError('connectTimeoutMs must be > 0');
  const listenAddress = joinHostPort(listenAt.host, listenAt.port);
  const targetAddress = joinHostPort(target.host, target.port);
  const conns = new Connections('expose', logf);
  const ln = await server.listen('tcp', listenAddress);
  ln.on('connection', (client: Duplex & { remoteAddress?: string; remotePort?: number }) => {
    const from = joinHostPort(client.remoteAddress ?? '?', client.remotePort ?? 0);
    const id = conns.accept(client, from, targetAddress);
    const local = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    local.setTimeout(connectTimeoutMs, () =>
      local.destroy(
        Object.assign(new Error(`connect ETIMEDOUT ${targetAddress} after ${connectTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      ),
    );
    local.once('connect', () => local.setTimeout(0));
    conns.join(id, client, local);
  });
  let closing: Promise<void> | undefined;
  return {
    mode: 'expose',
    listenAddress,
    target: targetAddress,
    stats: conns.stats,
    close(graceMs = 0) {
      closing ??= (async () => {
        if (ln.listening) {
          const lnClosed = once(ln, 'close');
          ln.close();
          await lnClosed;
        }
        await conns.drain(graceMs);
      })();
      return closing;
    },
  };
}

/**
 * Forwards a local port to a tailnet service: every connection to `listen` (loopback only) dials
 * `target` over the tailnet and the two are spliced. Resolves once the local port listens; the
 * node comes up on the first dial if it is not up yet.
 *
 * @example
 * ```ts
 * import { Server } from 'tsnet';
 * import { forward } from '@tsnet/proxy';
 *
 * const server = new Server({ hostname: 'laptop-proxy', dir: './state' });
 * const proxy = await forward({ server, listen: '127.0.0.1:5432', target: 'db-node:5432' });
 * // psql -h 127.0.0.1 -p 5432 now reaches db-node:5432 on the tailnet
 * ```
 */
export async function forward(opts: ForwardOptions): Promise<TailnetProxy> {
  const { server, dialTimeoutMs = DEFAULT_DIAL_TIMEOUT_MS, logf = discardLogf } = opts;
  const listenAt = parseHostPort(opts.listen, DEFAULT_LOCAL_HOST, 'listen');
  if (!isLoopback(listenAt.host)) {
    throw new RangeError(
      `listen: forward listens on loopback only (127.0.0.1, ::1 or localhost), got ${listenAt.host}: ` +
        'anything else would open the tailnet service to the LAN',
    );
  }
  if (typeof opts.target !== 'string') throw new TypeError('target must be "host:port" on the tailnet');
  const target = splitHostPort(opts.target);
  if (target.host === '' || target.port === 0) {
    throw new RangeError(`target: ${JSON.stringify(opts.target)} needs a host and a port`);
  }
  if (!(dialTimeoutMs > 0)) throw new RangeError('dialTimeoutMs must be > 0');
  const targetAddress = joinHostPort(target.host, target.port);
  const conns = new Connections('forward', logf);
  let closed = false;
  // pauseOnConnect: nothing is read from a client until its tailnet connection exists.
  const ln = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const from = joinHostPort(client.remoteAddress ?? '?', client.remotePort ?? 0);
    const id = conns.accept(client, from, targetAddress);
    client.on('error', () => {}); // reported through splice or fail() below
    server.dial('tcp', targetAddress, { timeoutMs: dialTimeoutMs }).then(
      (remote) => {
        if (closed || client.destroyed) {
          abortSocket(remote);
          conns.fail(id, client, new Error('the local client went away while dialing'));
          return;
        }
        conns.join(id, client, remote);
      },
      (err: unknown) => conns.fail(id, client, err instanceof Error ? err : new Error(String(err))),
    );
  });
  const host = listenAt.host === 'localhost' ? DEFAULT_LOCAL_HOST : listenAt.host;
  await new Promise<void>((resolve, reject) => {
    ln.once('error', reject);
    ln.listen({ host, port: listenAt.port }, () => {
      ln.off('error', reject);
      resolve();
    });
  });
  const bound = ln.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    mode: 'forward',
    listenAddress: joinHostPort(bound.address, bound.port),
    target: targetAddress,
    stats: conns.stats,
    close(graceMs = 0) {
      closing ??= (async () => {
        closed = true;
        const lnClosed = new Promise<void>((resolve) => ln.close(() => resolve()));
        await conns.drain(graceMs);
        await lnClosed;
      })();
      return closing;
    },
  };
}
