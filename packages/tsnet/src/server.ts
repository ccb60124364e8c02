/**
 * `Server`: the public API, Go's `tsnet.Server` for Node (protocol-map §10, DESIGN §4).
 *
 * `new Server(options)` validates once; `start()` opens the state store, loads or creates the
 * machine key and the login profile, and begins logging in; `up()` waits until the node is
 * Running with addresses; `listen`, `listenPacket` and `dial` give Node sockets on the tailnet;
 * `localClient()` is the LocalAPI in process; `close()` releases everything.
 *
 * Auth follows Go tsnet's precedence (protocol-map §10.3): `authKey`, `TS_AUTHKEY`, `TS_AUTH_KEY`,
 * then OAuth (`clientSecret`, `TS_CLIENT_SECRET`, or a `tskey-client-` key) and workload identity
 * (`clientId` with `idToken` or `audience`), which answer "not supported yet", then an interactive
 * login URL printed to `userLogf` every 5 s until the login completes. A node already enrolled (a
 * node key in the store) ignores the key unless `TSNET_FORCE_LOGIN=1`.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkMap } from '@tsnet/control';
import { type Logf, lineLogf, MachinePrivate, NodePrivate, TsnetError } from '@tsnet/core';
import {
  type BackendState,
  createLocalApiHandler,
  type LocalBackend,
  LocalClient,
  newLocalApiCredential,
  type Status,
} from '@tsnet/localapi';
import type { TcpServer, TcpSocket, UdpSocket } from '@tsnet/netstack';
import { TsnetNode } from './engine/node.js';
import { joinHostPort, type TailnetDial } from './http/dial.js';
import { createFetch, type TailnetFetch } from './http/fetch.js';
import { nodeLocalBackend } from './local-backend.js';
import { type Loopback, startLoopback } from './loopback/loopback.js';
import {
  DEFAULT_CONTROL_URL,
  defaultStateDir,
  programName,
  type ServerOptions,
  validateOptions,
} from './options.js';
import { loadState, newProfile, type Profile, saveMachineKey, saveProfile } from './state/profile.js';
import { FileStore, MemoryStore, type StateStore } from './state/store.js';
import { connectedUdpConn, type UdpConn, UdpListener } from './udp.js';

export { ServerOptionError, type ServerOptions } from './options.js';

const EPHEMERAL_LOW = 10002;
const EPHEMERAL_HIGH = 19999;
/** How often the login URL is printed again while the node waits for a login (Go: 5 s). */
const AUTH_URL_REPEAT_MS = 5_000;

/** Networks `listen` and `dial` take. */
export type TcpNetwork = 'tcp' | 'tcp4' | 'tcp6';
/** UDP networks. */
export type UdpNetwork = 'udp' | 'udp4' | 'udp6';

/** What comes with a `'state'` event. */
export interface StateInfo {
  /** The login URL to show a person, with `NeedsLogin` during an interactive login. */
  authURL?: string;
}

/** Events of a `Server`. */
export interface ServerEvents {
  /** The backend state changed; `authURL` is set with `NeedsLogin` for an interactive login. */
  state: [state: BackendState, info: StateInfo];
  /** A new network map from control. */
  netmap: [nm: NetworkMap];
}

/** Options of `up()`. */
export interface UpOptions {
  /** Give up when this aborts (the reason is the rejection). */
  signal?: AbortSignal;
  /** Give up after this long (default: no limit, as Go's `Up`; an interactive login waits for a person). */
  timeoutMs?: number;
}

/** Options of `dial()`. */
export interface DialOptions {
  /** Give up a TCP connect after this long (default 30 s). */
  timeoutMs?: number;
}

/** What `loopback()` returns: Go's `Loopback()` results `(addr, proxyCred, localAPICred)`. */
export interface LoopbackInfo {
  /** `127.0.0.1:port`, the SOCKS5 proxy and the LocalAPI on one port. */
  address: string;
  /** The SOCKS5 password; the username is `tsnet`. */
  proxyCred: string;
  /** The LocalAPI's Basic-auth password (any username); requests also need `Sec-Tailscale: localapi`. */
  localApiCred: string;
}

/** `Server` refused an operation; `code` says why (`ERR_CLOSED`, `ERR_NOT_STARTED`, `ERR_NOT_SUPPORTED`, …). */
export class ServerError extends TsnetError {}

/** A `host:port` split by `splitHostPort`. */
export interface HostPort {
  /** The host: a name, an IPv4 address, an IPv6 address without brackets, or `''` for `:port`. */
  host: string;
  /** The port, 0–65535. */
  port: number;
}

/** The Tailscale addresses of a node, as `tailscaleIPs()` returns them. */
export interface TailscaleIPs {
  /** The IPv4 address (`100.64.0.0/10`), undefined before the node is up. */
  ip4: string | undefined;
  /** The IPv6 address (`fd7a:115c:a1e0::/48`), undefined before the node is up. */
  ip6: string | undefined;
}

/**
 * Splits `host:port` / `[v6]:port` / `:port`, as Go's `net.SplitHostPort`.
 *
 * @example
 * ```ts
 * splitHostPort('[fd7a:115c:a1e0::1]:80'); // { host: 'fd7a:115c:a1e0::1', port: 80 }
 * ```
 */
export function splitHostPort(addr: string): HostPort {
  if (typeof addr !== 'string') throw new TypeError('address must be a string "host:port"');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr) ?? /^(.*):(\d+)$/.exec(addr);
  if (m === null) throw new TypeError(`address ${JSON.stringify(addr)} is not host:port`);
  const host = m.length === 4 ? (m[1] ?? m[2] ?? '') : (m[1] ?? '');
  const port = Number(m[m.length - 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`port out of range in ${addr}`);
  return { host, port };
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Go's default `UserLogf` is `log.Printf`: lines on stderr. */
const defaultUserLogf: Logf = lineLogf((line) => process.stderr.write(line));

/**
 * A node on the tailnet, as Go's `tsnet.Server`.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { Server } from 'tsnet';
 *
 * const srv = new Server({ hostname: 'my-service', authKey: process.env.TS_AUTHKEY });
 * const ln = await srv.listen('tcp', ':80');
 * const web = http.createServer((req, res) => res.end('hello from the tailnet\n'));
 * ln.on('connection', (sock) => web.emit('connection', sock));
 * ```
 */
export class Server extends EventEmitter<ServerEvents> {
  /** The validated, frozen options. */
  readonly options: Readonly<ServerOptions>;
  readonly #hostname: string;
  readonly #controlUrl: string;
  readonly #userLogf: Logf;
  #node: TsnetNode | undefined;
  #store: StateStore | undefined;
  #profile: Profile | undefined;
  #startPromise: Promise<void> | undefined;
  #running: Promise<void> | undefined;
  #runError: unknown;
  #state: BackendState = 'NoState';
  #authURL: string | undefined;
  #authTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #localClient: LocalClient | undefined;
  #backend: LocalBackend | undefined;
  #loopback: Promise<Loopback> | undefined;
  #fetch: TailnetFetch | undefined;
  #saving: Promise<void> = Promise.resolve();
  /** LocalAPI watch-ipn-bus subscribers. */
  readonly #stateWatchers = new Set<(state: BackendState) => void>();
  /** Aborted by close(): ends LocalAPI watches. */
  readonly #done = new AbortController();
  /** `(host, port) => dial('tcp', host:port)`: the seam the loopback proxy and the HTTP clients use. */
  readonly #tailnetDial: TailnetDial = (host, port) => this.dial('tcp', joinHostPort(host, port));
  readonly #tcpListeners = new Set<TcpServer>();
  readonly #udp = new Map<object, () => void>();
  readonly #closers = new Set<() => Promise<void> | void>();
  #nextPort = EPHEMERAL_LOW;

  /** Validates `options` (a `ServerOptionError` names the bad field); nothing starts until `start()`/`up()`. */
  constructor(options: ServerOptions = {}) {
    super();
    this.options = validateOptions(options);
    const o = this.options;
    if (o.store instanceof MemoryStore && o.ephemeral !== true) {
      throw new TsnetError(
        'ERR_INVALID_OPTION',
        'Server option store: an in-memory store is only supported for ephemeral nodes',
      );
    }
    this.#hostname = o.hostname ?? programName();
    const controlUrl = o.controlUrl ?? env('TS_CONTROL_URL') ?? DEFAULT_CONTROL_URL;
    if (!URL.canParse(controlUrl) || !/^https?:$/.test(new URL(controlUrl).protocol)) {
      throw new TsnetError('ERR_INVALID_OPTION', 'TS_CONTROL_URL: must be an http or https URL');
    }
    this.#controlUrl = controlUrl.replace(/\/+$/, '');
    this.#userLogf = o.userLogf ?? defaultUserLogf;
  }

  /** The node's host name. */
  get hostname(): string {
    return this.#hostname;
  }

  /** The control server URL in use. */
  get controlUrl(): string {
    return this.#controlUrl;
  }

  /** The backend state: `NoState`, `NeedsLogin`, `Starting`, `Running` or `Stopped`. */
  get state(): BackendState {
    return this.#state;
  }

  /** The login URL while the node waits for an interactive login. */
  get authURL(): string | undefined {
    return this.#authURL;
  }

  /** The engine, after `start()` (for status views and tests). */
  get node(): TsnetNode | undefined {
    return this.#node;
  }

  #setState(s: BackendState, info: { authURL?: string } = {}): void {
    if (s === this.#state && info.authURL === undefined) return;
    this.#state = s;
    this.emit('state', s, info);
    for (const w of this.#stateWatchers) w(s);
  }

  /**
   * Opens the state, loads or creates the keys and begins logging in, without waiting for the
   * login (as Go's `Start`). Idempotent. Rejects with `ERR_NOT_SUPPORTED` for OAuth and workload
   * identity, `ERR_STATE_STORE` for unreadable state, `ERR_CLOSED` after `close()`.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ServerError('ERR_CLOSED', 'server is closed'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  /** The auth key by Go's precedence, or a "not supported yet" error for OAuth/workload identity. */
  #resolveAuthKey(): string | undefined {
    const o = this.options;
    const key = (o.authKey !== '' ? o.authKey : undefined) ?? env('TS_AUTHKEY') ?? env('TS_AUTH_KEY');
    const clientSecret =
      key?.startsWith('tskey-client-') === true ? key : (o.clientSecret ?? env('TS_CLIENT_SECRET'));
    if (key !== undefined && !key.startsWith('tskey-client-')) {
      for (const f of ['clientSecret', 'clientId', 'idToken', 'audience'] as const) {
        if (o[f] !== undefined)
          this.#userLogf('tsnet: %s is set but an auth key takes precedence; %s ignored', f, f);
      }
      return key;
    }
    if (clientSecret !== undefined) {
      throw new ServerError(
        'ERR_NOT_SUPPORTED',
        'OAuth client secrets (clientSecret, TS_CLIENT_SECRET or a tskey-client- auth key) are not supported yet; use an auth key',
      );
    }
    const clientId = o.clientId ?? env('TS_CLIENT_ID');
    const idToken = o.idToken ?? env('TS_ID_TOKEN');
    const audience = o.audience ?? env('TS_AUDIENCE');
    if (clientId !== undefined || idToken !== undefined || audience !== undefined) {
      throw new ServerError(
        'ERR_NOT_SUPPORTED',
        'workload identity federation (clientId with idToken or audience) is not supported yet; use an auth key',
      );
    }
    return undefined;
  }

  async #start(): Promise<void> {
    const o = this.options;
    const authKey = this.#resolveAuthKey();
    let store = o.store;
    if (store === undefined) {
      const dir = o.dir ?? defaultStateDir();
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      store = new FileStore(join(dir, 'tailscaled.state'));
      o.logf?.('tsnet: state in %s', join(dir, 'tailscaled.state'));
    }
    this.#store = store;
    const loaded = await loadState(store);
    let machineKey = loaded.machineKey;
    if (machineKey === undefined) {
      machineKey = MachinePrivate.generate();
      await saveMachineKey(store, machineKey);
    }
    let profile = loaded.profile;
    if (profile !== undefined && profile.controlUrl !== '' && profile.controlUrl !== this.#controlUrl) {
      this.#userLogf(
        'tsnet: the stored profile belongs to %s; starting a new one for %s',
        profile.controlUrl,
        this.#controlUrl,
      );
      profile = undefined;
    }
    profile ??= newProfile(this.#controlUrl, this.#hostname, [...(o.advertiseTags ?? [])]);
    profile.hostname = this.#hostname;
    profile.advertiseTags = [...(o.advertiseTags ?? [])];
    this.#profile = profile;
    const enrolled = profile.nodeKey !== undefined && !profile.loggedOut;
    const force = env('TSNET_FORCE_LOGIN') === '1';
    let useKey = authKey;
    if (enrolled && !force && authKey !== undefined) {
      this.#userLogf(
        'Authkey is set; but this node is already enrolled. Ignoring authkey. Re-run with TSNET_FORCE_LOGIN=1 to force use of authkey.',
      );
      useKey = undefined;
    }
    if (this.#closed) throw new ServerError('ERR_CLOSED', 'server is closed');
    // A forced login is Go's LoginInteractive: a fresh node key, the old one sent as OldNodeKey.
    let nodeKey = enrolled ? profile.nodeKey : undefined;
    let oldNodeKey: NodePrivate | undefined;
    if (enrolled && force) {
      oldNodeKey = profile.nodeKey;
      nodeKey = NodePrivate.generate();
      profile.oldNodeKey = oldNodeKey;
    }
    const node = new TsnetNode({
      controlUrl: this.#controlUrl,
      hostname: this.#hostname,
      machineKey,
      ...(nodeKey !== undefined ? { nodeKey } : {}),
      ...(oldNodeKey !== undefined ? { oldNodeKey } : {}),
      ...(o.ephemeral !== undefined ? { ephemeral: o.ephemeral } : {}),
      ...(o.advertiseTags !== undefined && o.advertiseTags.length > 0 ? { tags: [...o.advertiseTags] } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.logf !== undefined ? { logf: o.logf } : {}),
      ...(o.listenAddress !== undefined ? { listenAddress: o.listenAddress } : {}),
      ...(o.derpUseHttp !== undefined ? { derpUseHttp: o.derpUseHttp } : {}),
    });
    this.#node = node;
    node.control.on('state', (s: string, info: { authURL?: string }) => this.#onControlState(s, info));
    node.control.on('nodeKey', () => this.#persist());
    node.on('registered', () => this.#persist());
    node.on('netmap', (nm) => {
      this.#noteNetmap(nm);
      this.emit('netmap', nm);
    });
    this.#setState('Starting');
    this.#running = node.up({ timeoutMs: 0, ...(useKey !== undefined ? { authKey: useKey } : {}) }).then(
      () => {
        this.#stopAuthLoop();
        this.#authURL = undefined;
        this.#userLogf('AuthLoop: state is Running; done');
        this.#setState('Running');
      },
      (err: unknown) => {
        this.#stopAuthLoop();
        this.#runError = err;
        if (!this.#closed) this.#setState('NoState');
        throw err;
      },
    );
    // Observed by up(); never an unhandled rejection when nobody waits.
    this.#running.catch(() => {});
  }

  #onControlState(s: string, info: StateInfo): void {
    if (this.#closed) return;
    if (s === 'NeedsLogin' && info.authURL !== undefined) {
      this.#authURL = info.authURL;
      this.#setState('NeedsLogin', { authURL: info.authURL });
      this.#printAuthURL();
      this.#stopAuthLoop();
      this.#authTimer = setInterval(() => this.#printAuthURL(), AUTH_URL_REPEAT_MS);
      this.#authTimer.unref();
    } else if (s === 'Expired') {
      this.#userLogf(
        'tsnet: the node key expired; log in again (restart with a new auth key and TSNET_FORCE_LOGIN=1)',
      );
      this.#setState('NeedsLogin');
    } else if (s === 'Running' && this.#state === 'NeedsLogin' && this.#node?.addresses.length) {
      this.#setState('Running');
    }
  }

  #printAuthURL(): void {
    if (this.#authURL !== undefined && this.#state === 'NeedsLogin') {
      this.#userLogf('To start this tsnet server, restart with TS_AUTHKEY set, or go to: %s', this.#authURL);
    }
  }

  #stopAuthLoop(): void {
    if (this.#authTimer !== undefined) clearInterval(this.#authTimer);
    this.#authTimer = undefined;
  }

  /** Saves the node key and what control told us about ourselves. Errors are logged, not thrown. */
  #persist(): void {
    const node = this.#node;
    const p = this.#profile;
    const store = this.#store;
    if (node === undefined || p === undefined || store === undefined || this.#closed) return;
    p.nodeKey = node.control.nodeKey;
    p.loggedOut = false;
    // One save at a time (each reads, merges and writes several keys); close() waits for the last.
    this.#saving = this.#saving
      .then(() => saveProfile(store, p))
      .catch((err: unknown) => this.#userLogf('tsnet: saving state: %s', (err as Error).message));
  }

  #noteNetmap(nm: NetworkMap): void {
    const self = nm.self;
    const p = this.#profile;
    if (self === undefined || p === undefined) return;
    const user = self.User !== undefined ? nm.userProfiles.get(self.User) : undefined;
    const nodeId = self.StableID;
    const name = self.Name;
    if (
      p.nodeId === nodeId &&
      p.name === name &&
      (user === undefined || p.user?.LoginName === user.LoginName)
    )
      return;
    p.nodeId = nodeId;
    p.name = name;
    if (user !== undefined)
      p.user = { ID: Number(user.ID), LoginName: user.LoginName, DisplayName: user.DisplayName };
    this.#persist();
  }

  /**
   * Starts if needed and resolves once the node is Running with its addresses, with its status
   * (Go's `Up`). Rejects with control's error (for example a `ControlLoginError` with the
   * server's words for a bad auth key), `ETIMEDOUT` after `timeoutMs`, the signal's reason, or
   * `ERR_CLOSED`.
   */
  async up(opts: UpOptions | number = {}): Promise<Status> {
    if (typeof opts === 'number') opts = { timeoutMs: opts };
    await this.start();
    const running = this.#running;
    if (running === undefined) throw new ServerError('ERR_NOT_STARTED', 'server did not start');
    const waits: Promise<unknown>[] = [running];
    const cleanups: (() => void)[] = [];
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
      const ms = opts.timeoutMs;
      waits.push(
        new Promise((_, reject) => {
          const t = setTimeout(
            () =>
              reject(new TsnetError('ETIMEDOUT', `up: not Running within ${ms} ms (state ${this.#state})`)),
            ms,
          );
          cleanups.push(() => clearTimeout(t));
        }),
      );
    }
    if (opts.signal !== undefined) {
      const signal = opts.signal;
      waits.push(
        new Promise((_, reject) => {
          if (signal.aborted) return reject(signal.reason);
          const onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          cleanups.push(() => signal.removeEventListener('abort', onAbort));
        }),
      );
    }
    try {
      await Promise.race(waits);
    } finally {
      for (const c of cleanups) c();
    }
    if (this.#closed) throw new ServerError('ERR_CLOSED', 'server is closed');
    return (await this.localClient()).status();
  }

  /**
   * A LocalAPI client for this node, in process (no socket), as Go's `Server.LocalClient()`: WhoIs
   * (who is calling: node, user or tags, capabilities), status, prefs. Starts the server if needed.
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
    if (this.#closed) throw new ServerError('ERR_CLOSED', 'localClient: server is closed');
    this.#localClient ??= new LocalClient({ backend: await this.#localBackend('localClient') });
    return this.#localClient;
  }

  /** The LocalAPI backend over the live node, shared by `localClient()` and `loopback()`. */
  async #localBackend(what: string): Promise<LocalBackend> {
    await this.start();
    const node = this.#node;
    if (node === undefined) throw new ServerError('ERR_NOT_STARTED', `${what}: server did not start`);
    this.#backend ??= nodeLocalBackend(node, {
      backendState: () => this.#state,
      controlUrl: this.#controlUrl,
      hostname: this.#hostname,
      authURL: () => this.#authURL,
      // A set of its own, not 'state' listeners: any number of watches without the
      // EventEmitter's max-listeners warning.
      onState: (listener) => {
        const l = (st: BackendState) => listener(st);
        this.#stateWatchers.add(l);
        return () => this.#stateWatchers.delete(l);
      },
      done: this.#done.signal,
    });
    return this.#backend;
  }

  /**
   * Starts (once) a listener on `127.0.0.1` that speaks SOCKS5 onto the tailnet and serves the
   * LocalAPI, as Go's `Server.Loopback()`, so programs that cannot link this library use the node:
   * a SOCKS5 client authenticates as `tsnet` with `proxyCred`; LocalAPI requests carry
   * `Sec-Tailscale: localapi` and Basic auth with `localApiCred`. Both credentials are fresh random
   * values per Server; anything else on the port is refused. Closed by `close()`.
   *
   * @example
   * ```ts
   * const { address, proxyCred } = await srv.loopback();
   * // curl --socks5-hostname tsnet:${proxyCred}@${address} http://peer/
   * ```
   */
  loopback(): Promise<LoopbackInfo> {
    if (this.#closed) return Promise.reject(new ServerError('ERR_CLOSED', 'loopback: server is closed'));
    this.#loopback ??= (async () => {
      const backend = await this.#localBackend('loopback');
      const cred = newLocalApiCredential();
      const lb = await startLoopback({
        dial: this.#tailnetDial,
        credential: { localApi: cred },
        ...(this.options.logf === undefined ? {} : { logf: this.options.logf }),
        localApi: createLocalApiHandler({ backend, requiredPassword: cred, requireSecTailscaleHeader: true }),
      });
      if (this.#closed) {
        await lb.close();
        throw new ServerError('ERR_CLOSED', 'loopback: server is closed');
      }
      this.#closers.add(() => lb.close());
      this.options.logf?.(`tsnet: loopback listener on ${lb.address}`);
      return lb;
    })();
    // A failed start may be retried.
    this.#loopback.catch(() => {
      this.#loopback = undefined;
    });
    return this.#loopback.then((lb) => ({
      address: lb.address,
      proxyCred: lb.proxyCredential,
      localApiCred: lb.localApiCredential,
    }));
  }

  /**
   * A `fetch` whose connections go over the tailnet, as Go's `Server.HTTPClient()`: URLs name
   * peers by MagicDNS name or Tailscale IP; `https:` works against peers with certificates. One per
   * Server, closed by `close()`. Its `dispatcher` serves `undici.request` and friends.
   *
   * @example
   * ```ts
   * const res = await srv.httpClient()('http://peer:8080/metrics');
   * ```
   */
  httpClient(): TailnetFetch {
    if (this.#closed) throw new ServerError('ERR_CLOSED', 'httpClient: server is closed');
    if (this.#fetch === undefined) {
      const f = createFetch(this.#tailnetDial);
      this.#fetch = f;
      // close() must not wait for a request that never ends: the node's sockets go anyway.
      this.#closers.add(() => f.dispatcher.destroy());
    }
    return this.#fetch;
  }

  /**
   * `fetch` over the tailnet: shorthand for `httpClient()(input, init)`.
   *
   * @example
   * ```ts
   * const body = await (await srv.fetch('http://peer/')).text();
   * ```
   */
  fetch(...args: Parameters<TailnetFetch>): ReturnType<TailnetFetch> {
    return this.httpClient()(...args);
  }

  /** Our status (`ipnstate.Status`), as `tailscale status --json` shows it. */
  async status(): Promise<Status> {
    return (await this.localClient()).status();
  }

  /** Our IPv4 and IPv6 Tailscale addresses (empty before the node is up). */
  tailscaleIPs(): TailscaleIPs {
    const a = this.#node?.addresses ?? [];
    return { ip4: a.find((x) => x.is4())?.toString(), ip6: a.find((x) => x.is6())?.toString() };
  }

  /** The DNS names this node may get TLS certificates for (`DNS.CertDomains` of the netmap). */
  certDomains(): string[] {
    return [...(this.#node?.netmap?.dnsConfig?.CertDomains ?? [])];
  }

  async #upNode(): Promise<TsnetNode> {
    if (this.#closed) throw new ServerError('ERR_CLOSED', 'server is closed');
    await this.up();
    const node = this.#node;
    if (node?.stack === undefined) throw new ServerError('ERR_NOT_UP', 'node is not up');
    return node;
  }

  /**
   * Listens on the tailnet. `addr` is `':port'` (all our addresses) or `'<our ip>:port'`; port 0
   * picks one in 10002–19999, as Go. TCP gives a `net.Server`-shaped `TcpServer` (`'connection'`
   * events with `net.Socket`-compatible Duplexes, or `for await`); UDP gives a `UdpListener`
   * whose connections are the flows from each remote address. Waits for `up()`.
   */
  listen(network: TcpNetwork, addr: string): Promise<TcpServer>;
  listen(network: UdpNetwork, addr: string): Promise<UdpListener>;
  async listen(network: TcpNetwork | UdpNetwork, addr: string): Promise<TcpServer | UdpListener> {
    const tcp = network === 'tcp' || network === 'tcp4' || network === 'tcp6';
    const udp = network === 'udp' || network === 'udp4' || network === 'udp6';
    if (!tcp && !udp) throw new TypeError(`listen: network ${JSON.stringify(network)} is not tcp or udp`);
    const { host, port } = splitHostPort(addr);
    const node = await this.#upNode();
    const any = host === '' || host === '0.0.0.0' || host === '::';
    if (!any && !node.addresses.some((a) => a.toString() === host)) {
      throw new ServerError('EADDRNOTAVAIL', `listen: ${host} is not one of this node's addresses`);
    }
    if (udp) {
      const sock = this.#udpSocket(node, network, any ? undefined : host, port);
      const ln = new UdpListener(sock);
      this.#udp.set(ln, () => ln.close());
      ln.once('close', () => this.#udp.delete(ln));
      return ln;
    }
    const stack = node.stack;
    if (stack === undefined) throw new ServerError('ERR_NOT_UP', 'node is not up');
    for (let tries = 0; ; tries++) {
      const p = port !== 0 ? port : this.#nextPort;
      if (port === 0) this.#nextPort = this.#nextPort >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : this.#nextPort + 1;
      try {
        const srv = stack.listen(any ? { port: p } : { port: p, host });
        this.#tcpListeners.add(srv);
        srv.once('close', () => this.#tcpListeners.delete(srv));
        return srv;
      } catch (err) {
        if (port !== 0 || tries > EPHEMERAL_HIGH - EPHEMERAL_LOW) throw err;
      }
    }
  }

  #udpSocket(node: TsnetNode, network: UdpNetwork, host: string | undefined, port: number): UdpSocket {
    const stack = node.stack;
    if (stack === undefined) throw new ServerError('ERR_NOT_UP', 'node is not up');
    const v6 = network === 'udp6' || host?.includes(':') === true;
    const sock = stack.createUdpSocket(v6 ? 'udp6' : 'udp4');
    try {
      for (let tries = 0; ; tries++) {
        const p = port !== 0 ? port : this.#nextPort;
        if (port === 0)
          this.#nextPort = this.#nextPort >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : this.#nextPort + 1;
        try {
          sock.bind(p, ...(host !== undefined ? [host] : []));
          return sock;
        } catch (err) {
          if (port !== 0 || tries > EPHEMERAL_HIGH - EPHEMERAL_LOW) throw err;
        }
      }
    } catch (err) {
      sock.close();
      throw err;
    }
  }

  /**
   * A UDP socket on the tailnet shaped as `dgram.Socket` (`send`, `'message'`, `close`), bound to
   * `'<our ip>:port'` (the IP is required, as Go's `ListenPacket`; port 0 picks one).
   */
  async listenPacket(network: UdpNetwork, addr: string): Promise<UdpSocket> {
    if (network !== 'udp' && network !== 'udp4' && network !== 'udp6') {
      throw new TypeError(`listenPacket: network ${JSON.stringify(network)} is not udp`);
    }
    const { host, port } = splitHostPort(addr);
    if (host === '')
      throw new TypeError('listenPacket: an IP address is required (use one of tailscaleIPs())');
    const node = await this.#upNode();
    if (!node.addresses.some((a) => a.toString() === host)) {
      throw new ServerError('EADDRNOTAVAIL', `listenPacket: ${host} is not one of this node's addresses`);
    }
    const sock = this.#udpSocket(node, network, host, port);
    this.#udp.set(sock, () => sock.close());
    sock.once('close', () => this.#udp.delete(sock));
    return sock;
  }

  /**
   * Connects to `host:port` on the tailnet; `host` is a peer's name (short or MagicDNS FQDN) or a
   * Tailscale IP. TCP resolves with a `net.Socket`-compatible Duplex once connected (usable as
   * `createConnection` for `http.request`, `ws` and undici); UDP with a `UdpConn` (one datagram
   * per write and per `'data'`). Waits for `up()`.
   */
  dial(network: TcpNetwork, addr: string, opts?: DialOptions | number): Promise<TcpSocket>;
  dial(network: UdpNetwork, addr: string, opts?: DialOptions | number): Promise<UdpConn>;
  async dial(
    network: TcpNetwork | UdpNetwork,
    addr: string,
    opts: DialOptions | number = {},
  ): Promise<TcpSocket | UdpConn> {
    if (typeof opts === 'number') opts = { timeoutMs: opts };
    const tcp = network === 'tcp' || network === 'tcp4' || network === 'tcp6';
    const udp = network === 'udp' || network === 'udp4' || network === 'udp6';
    if (!tcp && !udp) throw new TypeError(`dial: network ${JSON.stringify(network)} is not tcp or udp`);
    const { host, port } = splitHostPort(addr);
    if (port === 0) throw new RangeError(`dial: port 0 in ${addr}`);
    const node = await this.#upNode();
    if (tcp) return node.dial(host, port, opts.timeoutMs ?? 30_000);
    const ip = node.resolve(host);
    const stack = node.stack;
    if (stack === undefined) throw new ServerError('ERR_NOT_UP', 'node is not up');
    const sock = stack.createUdpSocket(ip.includes(':') ? 'udp6' : 'udp4');
    sock.connect(port, ip);
    const conn = connectedUdpConn(sock);
    this.#udp.set(conn, () => conn.destroy());
    conn.once('close', () => this.#udp.delete(conn));
    return conn;
  }

  /** Registers a resource (a loopback listener, an HTTP agent) to release on `close()`. */
  protected onClose(fn: () => Promise<void> | void): void {
    this.#closers.add(fn);
  }

  /**
   * Closes listeners and connections, logs an ephemeral node out (bounded to 5 s) and releases
   * every socket and timer, so the process can exit by itself. A second call does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopAuthLoop();
    for (const fn of this.#closers) await Promise.resolve(fn()).catch(() => {});
    this.#closers.clear();
    for (const l of this.#tcpListeners) l.close();
    this.#tcpListeners.clear();
    for (const close of [...this.#udp.values()]) close();
    this.#udp.clear();
    // A start in progress finishes opening the store before we close the node it made.
    await this.#startPromise?.catch(() => {});
    // State being written reaches the store before close() resolves.
    await this.#saving;
    await this.#node?.close();
    this.#setState('Stopped');
    this.#done.abort();
    this.removeAllListeners();
  }

  /** The error that stopped the login, if any (for diagnostics). */
  get lastError(): unknown {
    return this.#runError;
  }
}
