/**
 * `ControlClient`: the control-plane client as one object. It owns one ts2021 connection (HTTP/2
 * over Noise, reconnected on demand), registers the node, runs the streaming map poll with a
 * watchdog and reconnection backoff (without re-registering), keeps the netmap by applying each
 * MapResponse with the pure `applyMapResponse`, answers control's HEAD pings, sends lite updates
 * when endpoints, disco key, home DERP or hostinfo change, and releases everything on `close()`.
 *
 * Time comes from the injected `Clock`, logs go to the injected `Logf`; keys are never logged
 * (only Go-style short forms of public keys).
 *
 * Events:
 * - `'state'` `(state, { authURL? })`: `NeedsLogin` (with the URL for an interactive login),
 *   `Starting`, `Running`, `Expired` (the self key expired), `Stopped`.
 * - `'netmap'` `(nm)`: a new immutable `NetworkMap`.
 * - `'nodeKey'` `(key)`: the node key changed (rotation): persist it.
 * - `'pollError'` `(err)`: a map session failed; the client retries with backoff.
 * - `'mapResponse'` `(resp)`: every decoded MapResponse, before it is applied (for observers and
 *   tests; do not modify it).
 */
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import {
  type AddrPort,
  type Clock,
  type ClockTimer,
  type CryptoProvider,
  type DiscoPublic,
  DiscoPublic as DiscoPublicClass,
  discardLogf,
  type Logf,
  type MachinePrivate,
  type MachinePublic,
  NodePrivate,
  systemClock,
} from '@tsnet/core';
import { ControlClosedError, ControlHttpError } from './errors.js';
import { pollMap, sendLiteUpdate } from './map/poll.js';
import { applyMapResponse, flagExpiredPeers, nextKeyExpiry } from './netmap/apply.js';
import { EMPTY_NETMAP, type NetworkMap } from './netmap/netmap.js';
import { keyExpired } from './netmap/node.js';
import { logout, type RegisterResult, register } from './register.js';
import type { MapRequest, MapResponse, PingRequest } from './tailcfg/map.js';
import { EndpointType } from './tailcfg/map.js';
import type { Hostinfo } from './tailcfg/node.js';
import { NoiseHttpClient } from './ts2021/client.js';
import { fetchServerKey } from './ts2021/dial.js';

/**
 * The capability version this client advertises (in the Noise prologue, RegisterRequest and
 * MapRequest). 115, because:
 * - headscale v0.29.x refuses anything below 113 (`MinSupportedCapabilityVersion`);
 * - every number is a promise about client behaviour (`tailcfg.CurrentCapabilityVersion` notes):
 *   113 "sends Hostinfo.IngressEnabled" (we send false, which is true: no funnel), 114 no client
 *   change, 115 "understands DERPRegion.NoMeasureNoHome" (the schema carries it to the DERP layer);
 *   116 would promise MagicDNS AAAA answers, 117 structured DisplayMessages, 119 route priorities,
 *   120 peer-relay disco, and 121+ makes tailscaled treat us as a peer relay: none of which this
 *   project does.
 */
export const CAPABILITY_VERSION = 115;

export type ControlState = 'NoState' | 'NeedsLogin' | 'Starting' | 'Running' | 'Expired' | 'Stopped';

/** One UDP endpoint candidate and its type (`tailcfg.EndpointType`, default Local). */
export interface Endpoint {
  /** The endpoint's `ip:port`. */
  addr: AddrPort;
  /** How the endpoint was found (default `EndpointType.Local`). */
  type?: EndpointType;
}

export interface ControlClientOptions {
  /** The control server, e.g. `http://127.0.0.1:8080`. */
  serverURL: string;
  /** The machine key: the node's long-term identity towards control (persist it). */
  machineKey: MachinePrivate;
  /** The node key; generated when absent (persist it from the `'nodeKey'` event). */
  nodeKey?: NodePrivate;
  /** Pre-auth key for `register()`. */
  authKey?: string;
  /** Ask for an ephemeral node (headscale only honours ephemeral pre-auth keys). */
  ephemeral?: boolean;
  /** ACL tags to request (`Hostinfo.RequestTags`); see register.ts for headscale's rule. */
  tags?: string[];
  /** Hostinfo fields to send; `Hostname`, `OS`, `IPNVersion` get defaults. */
  hostinfo?: Partial<Hostinfo>;
  /** Our disco public key, sent in map requests so peers can reach us by disco. */
  discoKey?: DiscoPublic;
  /** The capability version to announce (default `CAPABILITY_VERSION`). */
  capabilityVersion?: number;
  /** `'http'` (the upgrade, default) or `'websocket'`. */
  transport?: 'http' | 'websocket';
  /** The clock for timers and backoff (default the system clock). */
  clock?: Clock;
  /** Verbose logs (default: discarded). */
  logf?: Logf;
  /** The crypto provider (default `getCryptoProvider()`). */
  crypto?: CryptoProvider;
  /** Largest map message accepted (default 64 MiB). */
  maxMessageBytes?: number;
  /** Map watchdog (default 120 s). */
  watchdogMs?: number;
}

/** Counters readable by users and tests. */
export interface ControlClientStats {
  /** Noise connections dialled. */
  noiseDials: number;
  /** Map sessions started. */
  mapSessions: number;
  /** Map messages received (keep-alives included). */
  mapMessages: number;
  /** Keep-alive messages received. */
  keepAlives: number;
  /** Lite updates sent (endpoint, disco key or host info changes without a new map session). */
  liteUpdates: number;
  /** Ping requests from control answered. */
  pingsAnswered: number;
  /** Ping requests from control refused (types we do not answer, bad URLs). */
  pingsRefused: number;
  /** Map sessions that ended with an error. */
  pollErrors: number;
}

const BACKOFF_MS = [0, 1000, 2000, 4000, 8000, 16000, 30000];

function goOS(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macOS';
    case 'win32':
      return 'windows';
    default:
      return process.platform;
  }
}

export class ControlClient extends EventEmitter {
  readonly #opts: ControlClientOptions;
  readonly #clock: Clock;
  readonly #logf: Logf;
  readonly #version: number;
  #nodeKey: NodePrivate;
  #controlKey: MachinePublic | undefined;
  #http: NoiseHttpClient | undefined;
  #dialing: Promise<NoiseHttpClient> | undefined;
  #state: ControlState = 'NoState';
  #netmap: NetworkMap | undefined;
  #registered = false;
  #closed = false;
  #polling = false;
  #pollAbort: AbortController | undefined;
  #pollDone: Promise<void> | undefined;
  #expiryTimer: ClockTimer | undefined;
  #sleepTimer: { timer: ClockTimer; resolve: () => void } | undefined;
  #endpoints: Endpoint[] = [];
  #discoKey: DiscoPublic;
  #preferredDERP = 0;
  #hostinfoExtra: Partial<Hostinfo> = {};
  #lastLite = '';
  #liteChain: Promise<void> = Promise.resolve();
  #lastPingURL = '';
  readonly #closeAbort = new AbortController();
  /** Counters, live. */
  readonly stats: ControlClientStats = {
    noiseDials: 0,
    mapSessions: 0,
    mapMessages: 0,
    keepAlives: 0,
    liteUpdates: 0,
    pingsAnswered: 0,
    pingsRefused: 0,
    pollErrors: 0,
  };

  constructor(opts: ControlClientOptions) {
    super();
    if (typeof opts.serverURL !== 'string') throw new TypeError('serverURL must be a string');
    const u = new URL(opts.serverURL);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TypeError(`serverURL must be http: or https:, got ${JSON.stringify(u.protocol)}`);
    }
    if (opts.machineKey === undefined || opts.machineKey.isZero())
      throw new TypeError('machineKey is required');
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#logf = opts.logf ?? discardLogf;
    this.#version = opts.capabilityVersion ?? CAPABILITY_VERSION;
    if (!Number.isInteger(this.#version) || this.#version < 1 || this.#version > 0xffff) {
      throw new RangeError(`capabilityVersion must be an integer from 1 to 65535, got ${this.#version}`);
    }
    this.#nodeKey = opts.nodeKey ?? NodePrivate.generate(opts.crypto);
    this.#discoKey = opts.discoKey ?? DiscoPublicClass.zero();
  }

  /** The login state: `NoState`, `NeedsLogin`, `Starting`, `Running`, `Expired` or `Stopped`. */
  get state(): ControlState {
    return this.#state;
  }
  /** The current node key (changes on rotation). */
  get nodeKey(): NodePrivate {
    return this.#nodeKey;
  }
  /** The latest netmap, or undefined before the first map. */
  get netmap(): NetworkMap | undefined {
    return this.#netmap;
  }
  /** The capability version this client announces. */
  get capabilityVersion(): number {
    return this.#version;
  }

  #setState(s: ControlState, info: { authURL?: string } = {}): void {
    if (s === this.#state && info.authURL === undefined) return;
    this.#state = s;
    this.emit('state', s, info);
  }

  #hostinfo(): Hostinfo {
    const base = Object.assign(
      { Hostname: os.hostname(), OS: goOS(), IPNVersion: 'tsnet-ts', App: 'tsnet', Userspace: true },
      this.#opts.hostinfo,
      this.#hostinfoExtra,
    ) as Hostinfo;
    if (this.#opts.tags !== undefined && this.#opts.tags.length > 0) base.RequestTags = [...this.#opts.tags];
    if (this.#preferredDERP > 0)
      base.NetInfo = { ...base.NetInfo, PreferredDERP: this.#preferredDERP } as Hostinfo['NetInfo'];
    return base;
  }

  #mapRequest(stream: boolean): MapRequest {
    const req: MapRequest = {
      Version: this.#version,
      Compress: '',
      KeepAlive: true,
      NodeKey: this.#nodeKey.public(),
      DiscoKey: this.#discoKey,
      Stream: stream,
      Hostinfo: this.#hostinfo(),
      OmitPeers: !stream,
    };
    if (this.#endpoints.length > 0) {
      req.Endpoints = this.#endpoints.map((e) => e.addr);
      req.EndpointTypes = this.#endpoints.map((e) => e.type ?? EndpointType.Local);
    }
    return req;
  }

  /** The HTTP/2-over-Noise connection, dialed (and the server key fetched) on first use. */
  #conn(): Promise<NoiseHttpClient> {
    if (this.#closed) return Promise.reject(new ControlClosedError());
    if (this.#http !== undefined && !this.#http.isClosed) return Promise.resolve(this.#http);
    this.#dialing ??= (async () => {
      try {
        const signal = this.#closeAbort.signal;
        this.#controlKey ??= await fetchServerKey(this.#opts.serverURL, this.#version, { signal });
        this.stats.noiseDials++;
        const c = await NoiseHttpClient.connect({
          serverURL: this.#opts.serverURL,
          machineKey: this.#opts.machineKey,
          controlKey: this.#controlKey,
          version: this.#version,
          signal,
          logf: this.#logf,
          ...(this.#opts.transport ? { transport: this.#opts.transport } : {}),
          ...(this.#opts.crypto ? { crypto: this.#opts.crypto } : {}),
        });
        if (this.#closed) {
          c.destroy();
          throw new ControlClosedError();
        }
        this.#logf('control: noise connection up (v%d, %s)', this.#version, this.#controlKey.shortString());
        this.#http = c;
        return c;
      } finally {
        this.#dialing = undefined;
      }
    })();
    return this.#dialing;
  }

  /**
   * Registers the node: with `authKey` when given, else interactively (the `'state'` event
   * carries `NeedsLogin` and the URL; the call waits until the login completes). A rotated node
   * key is announced with the `'nodeKey'` event. Throws `ControlLoginError` with the server's
   * words when control refuses.
   */
  async register(
    opts: { signal?: AbortSignal; authKey?: string; oldNodeKey?: NodePrivate } = {},
  ): Promise<RegisterResult> {
    const signal = opts.signal
      ? AbortSignal.any([opts.signal, this.#closeAbort.signal])
      : this.#closeAbort.signal;
    const authKey = opts.authKey ?? this.#opts.authKey;
    const res = await register({
      http: () => this.#conn(),
      version: this.#version,
      nodeKey: this.#nodeKey,
      oldNodeKey: opts.oldNodeKey,
      hostinfo: this.#hostinfo(),
      authKey,
      ephemeral: this.#opts.ephemeral,
      clock: this.#clock,
      logf: this.#logf,
      signal,
      onAuthURL: (url) => {
        this.#logf('control: interactive login needed');
        this.#setState('NeedsLogin', { authURL: url });
      },
    });
    if (res.nodeKey !== this.#nodeKey) {
      this.#nodeKey = res.nodeKey;
      this.emit('nodeKey', res.nodeKey);
    }
    this.#registered = true;
    if (this.#state !== 'Running') this.#setState('Starting');
    return res;
  }

  /** Starts the streaming map poll (idempotent). `register()` first. */
  start(): void {
    if (this.#closed) throw new ControlClosedError();
    if (!this.#registered) throw new Error('register() before start()');
    if (this.#polling) return;
    this.#polling = true;
    this.#pollDone = this.#pollLoop();
  }

  /**
   * The netmaps as an async iterator: the current one (if any), then each new one. Intermediate
   * netmaps may be skipped when the consumer is slower than control (only the latest is kept).
   * Starts the poll. Ends when the client closes or `signal` aborts.
   */
  async *watchNetmap(signal?: AbortSignal): AsyncGenerator<NetworkMap> {
    this.start();
    let pending: NetworkMap | undefined = this.#netmap;
    let wake: (() => void) | undefined;
    const onNetmap = (nm: NetworkMap) => {
      pending = nm;
      wake?.();
    };
    const onStop = () => wake?.();
    this.on('netmap', onNetmap);
    this.once('closed', onStop);
    signal?.addEventListener('abort', onStop, { once: true });
    try {
      while (!this.#closed && !signal?.aborted) {
        if (pending !== undefined) {
          const nm = pending;
          pending = undefined;
          yield nm;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.off('netmap', onNetmap);
      this.off('closed', onStop);
      signal?.removeEventListener('abort', onStop);
    }
  }

  async #pollLoop(): Promise<void> {
    let failures = 0;
    while (this.#polling && !this.#closed) {
      const ac = new AbortController();
      this.#pollAbort = ac;
      let nm = EMPTY_NETMAP;
      let gotMap = false;
      try {
        const http = await this.#conn();
        this.stats.mapSessions++;
        await pollMap({
          http,
          request: this.#mapRequest(true),
          clock: this.#clock,
          logf: this.#logf,
          signal: ac.signal,
          ...(this.#opts.maxMessageBytes ? { maxMessageBytes: this.#opts.maxMessageBytes } : {}),
          ...(this.#opts.watchdogMs ? { watchdogMs: this.#opts.watchdogMs } : {}),
          onMessage: (r) => {
            this.stats.mapMessages++;
            this.emit('mapResponse', r);
            if (r.PingRequest) this.#answerPing(r.PingRequest);
            if (r.KeepAlive) {
              this.stats.keepAlives++;
              return;
            }
            nm = applyMapResponse(nm, r, { now: this.#clock.wallNow() });
            gotMap = true;
            failures = 0;
            this.#publish(nm, r);
          },
        });
        this.#logf('control: map stream ended by the server');
      } catch (e) {
        if (this.#closed || !this.#polling) break;
        this.stats.pollErrors++;
        const err = e as Error & { code?: string };
        this.#logf('control: map poll: %s', err.message);
        this.emit('pollError', err);
        if (err instanceof ControlHttpError && [401, 403, 404].includes(err.status)) {
          // The node is unknown to control (deleted, or logged out): a login is needed.
          this.#polling = false;
          this.#registered = false;
          this.#setState('NeedsLogin');
          break;
        }
        if (err.code === 'ETIMEDOUT') {
          // The connection may be wedged: drop it so the next session dials afresh.
          this.#http?.destroy();
          this.#http = undefined;
        }
      }
      if (!gotMap) failures++;
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
      const jittered = delay === 0 ? 0 : delay / 2 + Math.random() * (delay / 2);
      await this.#sleep(jittered);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#sleepTimer = undefined;
        resolve();
      }, ms);
      this.#sleepTimer = { timer, resolve };
    });
  }

  #publish(nm: NetworkMap, _r?: MapResponse): void {
    const now = this.#clock.wallNow();
    this.#netmap = nm;
    this.#setState(nm.self !== undefined && keyExpired(nm.self, now) ? 'Expired' : 'Running');
    this.emit('netmap', nm);
    this.#scheduleExpiry(nm, now);
  }

  #scheduleExpiry(nm: NetworkMap, now: number): void {
    this.#expiryTimer?.cancel();
    this.#expiryTimer = undefined;
    const next = nextKeyExpiry(nm, now);
    if (next === undefined) return;
    this.#expiryTimer = this.#clock.setTimeout(
      () => {
        this.#expiryTimer = undefined;
        if (this.#closed || this.#netmap !== nm) return;
        const flagged = flagExpiredPeers(nm, this.#clock.wallNow());
        this.#publish(flagged);
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    );
    this.#expiryTimer.unref();
  }

  /** Answers a `PingRequest` of the plain kind with `HEAD URL` (Go `answerHeadPing`), within 15 s. */
  #answerPing(pr: PingRequest): void {
    if (pr.URL === '' || pr.URL === this.#lastPingURL) return;
    this.#lastPingURL = pr.URL;
    if (pr.Types !== undefined && pr.Types !== '') {
      this.#logf('control: unsupported ping request type %s', JSON.stringify(pr.Types));
      return;
    }
    let url: URL;
    try {
      url = new URL(pr.URL);
    } catch {
      this.stats.pingsRefused++;
      return;
    }
    const run = async () => {
      if (pr.URLIsNoise) {
        const http = await this.#conn();
        await http.request('HEAD', url.pathname + url.search, undefined, {
          timeoutMs: 15_000,
          maxBodyBytes: 4096,
        });
      } else if (url.origin === new URL(this.#opts.serverURL).origin) {
        await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(15_000) });
      } else {
        // Control asked us to contact a third party; Go would, we do not (see README, Security).
        this.stats.pingsRefused++;
        this.#logf('control: refusing ping to another origin');
        return;
      }
      this.stats.pingsAnswered++;
    };
    run().catch((e: unknown) => this.#logf('control: answering ping: %s', (e as Error).message));
  }

  /**
   * Updates what this node reports (endpoints, disco key, home DERP, hostinfo fields) and, if it
   * changed and the map poll is running, sends a lite update. Resolves when control has it (at
   * once before `start()`: the poll's first MapRequest carries the new values).
   */
  update(u: {
    endpoints?: Endpoint[];
    discoKey?: DiscoPublic;
    preferredDERP?: number;
    hostinfo?: Partial<Hostinfo>;
  }): Promise<void> {
    if (u.endpoints !== undefined) this.#endpoints = [...u.endpoints];
    if (u.discoKey !== undefined) this.#discoKey = u.discoKey;
    if (u.preferredDERP !== undefined) this.#preferredDERP = u.preferredDERP;
    if (u.hostinfo !== undefined) this.#hostinfoExtra = { ...this.#hostinfoExtra, ...u.hostinfo };
    // Before the poll starts there is nothing to update: its first MapRequest carries all of it.
    // (headscale takes about a second to answer a lite update; sending one first delays up().)
    if (!this.#registered || !this.#polling) return Promise.resolve();
    const snapshot = JSON.stringify(this.#mapRequest(false));
    if (snapshot === this.#lastLite) return this.#liteChain;
    return this.sendLiteUpdate();
  }

  /** Sends a lite update now (`Stream: false, OmitPeers: true`), serialised after earlier ones. */
  sendLiteUpdate(): Promise<void> {
    const run = async () => {
      const req = this.#mapRequest(false);
      const http = await this.#conn();
      await sendLiteUpdate(http, req, { signal: this.#closeAbort.signal });
      this.#lastLite = JSON.stringify(req);
      this.stats.liteUpdates++;
    };
    const p = this.#liteChain.then(run, run);
    this.#liteChain = p.catch(() => {});
    return p;
  }

  /** Logs out (a register with an expiry in the past) and stops polling. */
  async logout(): Promise<void> {
    await logout({
      http: () => this.#conn(),
      version: this.#version,
      nodeKey: this.#nodeKey,
      hostinfo: this.#hostinfo(),
      ephemeral: this.#opts.ephemeral,
      clock: this.#clock,
      logf: this.#logf,
      signal: this.#closeAbort.signal,
    });
    this.#registered = false;
    await this.#stopPolling();
    this.#setState('NeedsLogin');
  }

  async #stopPolling(): Promise<void> {
    this.#polling = false;
    this.#pollAbort?.abort(new ControlClosedError('map poll stopped'));
    if (this.#sleepTimer) {
      this.#sleepTimer.timer.cancel();
      this.#sleepTimer.resolve();
      this.#sleepTimer = undefined;
    }
    await this.#pollDone?.catch(() => {});
    this.#pollDone = undefined;
  }

  /** Stops everything and releases the connection, timers and listeners. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeAbort.abort(new ControlClosedError());
    this.#expiryTimer?.cancel();
    await this.#stopPolling();
    const http = this.#http;
    this.#http = undefined;
    await this.#dialing?.catch(() => {});
    if (http !== undefined) await http.close();
    this.#setState('Stopped');
    this.emit('closed');
  }
}
