/**
 * `Server`: the beginning of the public API (issue 10), shaped as Go's `tsnet.Server` (protocol-map
 * §10): `new Server({ hostname, authKey, controlUrl })`, `up()`, `listen('tcp', ':80')`,
 * `dial('tcp', 'host:port')`, `tailscaleIPs()`, `localClient()` (WhoIs, status, prefs in process),
 * `close()`. It stands on the engine (`TsnetNode`).
 * State stores, interactive login, UDP listeners and the rest of issue 10 are not here yet.
 */
import { type Logf, TsnetError } from '@tsnet/core';
import { type BackendState, LocalClient } from '@tsnet/localapi';
import type { TcpServer, TcpSocket } from '@tsnet/netstack';
import { TsnetNode } from './engine/node.js';
import { nodeLocalBackend } from './local-backend.js';

export interface ServerOptions {
  /** The node's name on the tailnet. */
  hostname: string;
  /** State directory (keys, profile). Being wired: see issue 10. */
  dir?: string;
  /** User-facing logs (the login URL, status). */
  userLogf?: Logf;
  authKey?: string;
  /** Default: `TS_CONTROL_URL`, else `https://controlplane.tailscale.com`. */
  controlUrl?: string;
  ephemeral?: boolean;
  /** UDP port for WireGuard and disco (0 or absent: any free port). */
  port?: number;
  /** Verbose backend logs (default: discarded). */
  logf?: Logf;
  /** Address of the UDP socket (default `0.0.0.0`). */
  listenAddress?: string;
  /** Plain HTTP to DERP servers (Go's `TS_DEBUG_USE_DERP_HTTP`). */
  derpUseHttp?: boolean;
}

const EPHEMERAL_LOW = 10002;
const EPHEMERAL_HIGH = 19999;

function check(cond: boolean, field: string, why: string): void {
  if (!cond) throw new TypeError(`Server option ${field}: ${why}`);
}

/** Splits `host:port` / `[v6]:port` / `:port`. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr) ?? /^(.*):(\d+)$/.exec(addr);
  if (m === null) throw new TypeError(`address ${JSON.stringify(addr)} is not host:port`);
  const host = m.length === 4 ? (m[1] ?? m[2] ?? '') : (m[1] ?? '');
  const port = Number(m[m.length - 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`port out of range in ${addr}`);
  return { host, port };
}

/**
 * A node on the tailnet, as Go's `tsnet.Server`.
 *
 * @example
 * ```ts
 * import { Server } from 'tsnet';
 * const srv = new Server({ hostname: 'my-service', authKey: process.env.TS_AUTHKEY, controlUrl });
 * const ln = await srv.listen('tcp', ':80');
 * ln.on('connection', (sock) => sock.end('hello from the tailnet\n'));
 * const peer = await srv.dial('tcp', 'other-node:22');
 * await srv.close();
 * ```
 */
export class Server {
  readonly #node: TsnetNode;
  #upPromise: Promise<void> | undefined;
  #running = false;
  #closed = false;
  #localClient: LocalClient | undefined;
  readonly #hostname: string;
  readonly #controlUrl: string;
  readonly #listeners = new Set<TcpServer>();
  #nextPort = EPHEMERAL_LOW;

  constructor(opts: ServerOptions) {
    check(typeof opts === 'object' && opts !== null, 'options', 'must be an object');
    check(
      typeof opts.hostname === 'string' && /^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/.test(opts.hostname),
      'hostname',
      'must be a DNS label',
    );
    check(opts.authKey === undefined || typeof opts.authKey === 'string', 'authKey', 'must be a string');
    check(
      opts.port === undefined || (Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535),
      'port',
      'must be an integer in 0..65535',
    );
    const controlUrl = opts.controlUrl ?? process.env.TS_CONTROL_URL ?? 'https://controlplane.tailscale.com';
    check(URL.canParse(controlUrl), 'controlUrl', 'must be a URL');
    this.#hostname = opts.hostname;
    this.#controlUrl = controlUrl;
    this.#node = new TsnetNode({
      controlUrl,
      hostname: opts.hostname,
      ...(opts.authKey !== undefined ? { authKey: opts.authKey } : {}),
      ...(opts.ephemeral !== undefined ? { ephemeral: opts.ephemeral } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.logf !== undefined ? { logf: opts.logf } : {}),
      ...(opts.listenAddress !== undefined ? { listenAddress: opts.listenAddress } : {}),
      ...(opts.derpUseHttp !== undefined ? { derpUseHttp: opts.derpUseHttp } : {}),
    });
  }

  /** The engine, for status and tests. */
  get node(): TsnetNode {
    return this.#node;
  }

  /** Connects to control and resolves once the node has its addresses. Idempotent. */
  up(timeoutMs = 60_000): Promise<void> {
    if (this.#closed) return Promise.reject(new TsnetError('ERR_CLOSED', 'server is closed'));
    this.#upPromise ??= this.#node.up(timeoutMs).then(() => {
      this.#running = true;
    });
    return this.#upPromise;
  }

  /** `ipn.State` as the LocalAPI reports it. */
  #backendState(): BackendState {
    if (this.#closed) return 'Stopped';
    if (this.#running) return 'Running';
    return this.#upPromise === undefined ? 'NoState' : 'Starting';
  }

  /**
   * A LocalAPI client for this node, in process (no socket), as Go's `Server.LocalClient()`: WhoIs
   * (who is calling: node, user or tags, capabilities), status, prefs. Throws `ERR_NOT_STARTED` if
   * `up()` (or `listen`/`dial`, which call it) was never called, `ERR_CLOSED` after `close()`.
   *
   * @example
   * ```ts
   * const lc = await srv.localClient();
   * http.createServer(async (req, res) => {
   *   const who = await lc.whoIs(`${req.socket.remoteAddress}:${req.socket.remotePort}`);
   *   res.end(`Hello, ${who.UserProfile.LoginName}!`);
   * });
   * ```
   */
  async localClient(): Promise<LocalClient> {
    if (this.#closed) throw new TsnetError('ERR_CLOSED', 'localClient: server is closed');
    if (this.#upPromise === undefined) {
      throw new TsnetError('ERR_NOT_STARTED', 'localClient: server was never started; call up() first');
    }
    this.#localClient ??= new LocalClient({
      backend: nodeLocalBackend(this.#node, {
        backendState: () => this.#backendState(),
        controlUrl: this.#controlUrl,
        hostname: this.#hostname,
      }),
    });
    return this.#localClient;
  }

  /** Our IPv4 and IPv6 Tailscale addresses (after `up`). */
  tailscaleIPs(): { ip4: string | undefined; ip6: string | undefined } {
    const a = this.#node.addresses;
    return { ip4: a.find((x) => x.is4())?.toString(), ip6: a.find((x) => x.is6())?.toString() };
  }

  /** Listens on `':port'` (all our addresses) for TCP; port 0 picks one in 10002–19999. */
  async listen(network: 'tcp' | 'tcp4' | 'tcp6', addr: string): Promise<TcpServer> {
    if (network !== 'tcp' && network !== 'tcp4' && network !== 'tcp6') {
      throw new TypeError(`listen: network ${JSON.stringify(network)} is not supported yet`);
    }
    const { host, port } = splitHostPort(addr);
    await this.up();
    const stack = this.#node.stack;
    if (stack === undefined) throw new TsnetError('ERR_NOT_UP', 'node is not up');
    const any = host === '' || host === '0.0.0.0' || host === '::';
    for (let tries = 0; ; tries++) {
      const p = port !== 0 ? port : this.#nextPort;
      if (port === 0) this.#nextPort = this.#nextPort >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : this.#nextPort + 1;
      try {
        const srv = stack.listen(any ? { port: p } : { port: p, host });
        this.#listeners.add(srv);
        srv.once('close', () => this.#listeners.delete(srv));
        return srv;
      } catch (err) {
        if (port !== 0 || tries > EPHEMERAL_HIGH - EPHEMERAL_LOW) throw err;
      }
    }
  }

  /** Opens a TCP connection to `host:port` on the tailnet (peer name or Tailscale IP). */
  async dial(network: 'tcp' | 'tcp4' | 'tcp6', addr: string, timeoutMs = 30_000): Promise<TcpSocket> {
    if (network !== 'tcp' && network !== 'tcp4' && network !== 'tcp6') {
      throw new TypeError(`dial: network ${JSON.stringify(network)} is not supported yet`);
    }
    const { host, port } = splitHostPort(addr);
    await this.up();
    return this.#node.dial(host, port, timeoutMs);
  }

  /** Closes listeners and the node. A second call does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#listeners) l.close();
    this.#listeners.clear();
    await this.#node.close();
  }
}
