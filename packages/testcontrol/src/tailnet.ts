/**
 * `TestTailnet`: a whole tailnet in one process, for tests and demos. One call starts a control
 * server (ts2021 + HTTP/2, register, map), an embedded DERP server on the same port and a STUN
 * server on a UDP port, all on 127.0.0.1 with free ports; `close()` stops all of it.
 *
 * The admin API (create keys, approve logins, expire nodes, set the policy and capabilities,
 * inject pings, wait for a node's state) is the methods of this class, and the same over HTTP
 * (admin-http.ts) for tests written in other languages.
 *
 * Read `server.ts` for the HTTP surface, `register.ts` and `map.ts` for the protocol, `view.ts`
 * for what each node is told, `model.ts` for the state.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Clock,
  type ClockTimer,
  discardLogf,
  IPAddr,
  type Logf,
  MachinePrivate,
  NodePublic,
  systemClock,
  TsnetError,
} from '@tsnet/core';
import { DerpServer, StunServer } from '@tsnet/derp';
import { AdminHttp } from './admin-http.js';
import { MapSessions } from './map.js';
import {
  type AuthKeyInfo,
  type AuthKeyOptions,
  type NodeInfo,
  type NodeRec,
  type PendingLogin,
  TailnetState,
  type UserInfo,
} from './model.js';
import { NoiseUpgrader } from './noise/upgrade.js';
import { type Policy, validatePolicy } from './policy.js';
import { selfSignedCert } from './selfsigned.js';
import { ControlRoutes, refuseUpgrade } from './server.js';

/** Options of `TestTailnet.start`: every field is optional. */
export interface TestTailnetOptions {
  /** The tailnet's MagicDNS domain (default `tailnet.test`). */
  domain?: string;
  /** Login name of the default user that owns untagged nodes (default `user@example.com`). */
  defaultUser?: string;
  /** Key lifetime of new untagged nodes in ms (default: never expire). */
  keyExpiryMs?: number | null;
  /** `DNSConfig.Proxied` (default true). */
  magicDNS?: boolean;
  /** Send the early payload before HTTP/2, as headscale does (default false, as Tailscale's testcontrol). */
  earlyPayload?: boolean;
  /**
   * Serve DERP over HTTPS on its own port with a self-signed certificate pinned in the DERP map
   * (`CertName: "sha256-raw:..."`), so real clients need no `TS_DEBUG_USE_DERP_HTTP` (default true).
   * DERP is also served over plain HTTP on the control port either way.
   */
  derpTls?: boolean;
  /** Run a STUN server (default true). */
  stun?: boolean;
  /** Admit to DERP only node keys of this tailnet (default true). */
  verifyDerpClients?: boolean;
  /** Map stream keep-alive period (default 50 s). */
  keepAliveMs?: number;
  /** Delete an ephemeral node this long after its last map stream closed (default 10 s). */
  ephemeralTimeoutMs?: number;
  /** Refuse Noise protocol versions below this (default 1). */
  minVersion?: number;
  /** The DERP region ID (default 900). */
  derpRegionId?: number;
  /** Node capabilities every node gets (`Node.CapMap`), default none. */
  defaultCapMap?: Record<string, unknown[]>;
  /** The initial policy (default none: allow all). */
  policy?: Policy | null;
  /** Start the admin HTTP endpoint (default true). */
  adminHttp?: boolean;
  /** Bearer token of the admin endpoint (default: 32 random bytes, hex). */
  adminToken?: string;
  /** The clock (default the system clock; a fake one for key-expiry tests). */
  clock?: Clock;
  /** Verbose logs (default: discarded). */
  logf?: Logf;
}

/** A node reference: ID, hostname, MagicDNS label or name, node key text, or a Tailscale IP. */
export type NodeRef = number | string;

/** What an injected ping brought back. */
export interface PingResult {
  /** `HEAD` for a plain ping, `POST` (with the client's `PingResponse` JSON) for typed ones. */
  method: string;
  /** The body the client sent: `null` for `HEAD`, the parsed `PingResponse` JSON for `POST`. */
  body: unknown;
  /** Milliseconds from queueing to the answer. */
  elapsedMs: number;
}

/** Options of `TestTailnet.ping`. */
export interface PingOptions {
  /** `''` (the default: the client answers `HEAD URL`), or `disco`, `TSMP`, `ICMP`, `peerapi`. */
  type?: string;
  /** For typed pings: the IP the client should ping. */
  ip?: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

interface PendingPing {
  resolve: (r: PingResult) => void;
  reject: (e: Error) => void;
  started: number;
}

/**
 * A whole tailnet in one process: control server, DERP and STUN on 127.0.0.1, and the admin API (see the file
 * header). Start one with `TestTailnet.start()`.
 */
export class TestTailnet {
  readonly #clock: Clock;
  readonly #logf: Logf;
  readonly #opts: TestTailnetOptions;
  readonly #state: TailnetState;
  readonly #sessions: MapSessions;
  readonly #derp: DerpServer;
  readonly #stun: StunServer | null;
  readonly #noise: NoiseUpgrader;
  readonly #routes: ControlRoutes;
  readonly #http: HttpServer;
  readonly #closeAbort = new AbortController();
  readonly #pings = new Map<string, PendingPing>();
  #admin: AdminHttp | null = null;
  #port = 0;
  #stunPort = -1;
  #derpTlsPort = 0;
  #derpCertName = '';
  #expiryTimer: ClockTimer | null = null;
  #closed = false;
  /** The control server's Noise key. */
  readonly controlKey: MachinePrivate;

  private constructor(opts: TestTailnetOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#logf = opts.logf ?? discardLogf;
    this.controlKey = MachinePrivate.generate();
    this.#state = new TailnetState({
      clock: this.#clock,
      domain: opts.domain ?? 'tailnet.test',
      baseURL: () => this.controlURL,
      defaultUser: opts.defaultUser ?? 'user@example.com',
      keyExpiryMs: opts.keyExpiryMs ?? null,
      defaultCapMap: opts.defaultCapMap ?? {},
    });
    if (opts.policy !== undefined && opts.policy !== null) this.#state.setPolicy(validatePolicy(opts.policy));
    this.#sessions = new MapSessions({
      state: this.#state,
      clock: this.#clock,
      logf: this.#logf,
      derpMap: () => this.derpMap,
      magicDNS: opts.magicDNS ?? true,
      keepAliveMs: opts.keepAliveMs ?? 50_000,
      ephemeralTimeoutMs: opts.ephemeralTimeoutMs ?? 10_000,
    });
    const verify = opts.verifyDerpClients ?? true;
    this.#derp = new DerpServer({
      logf: this.#logf,
      ...(verify ? { admit: (r) => this.#state.nodeByKey(r.nodeKey) !== undefined } : {}),
    });
    this.#stun = opts.stun === false ? null : new StunServer({ logf: this.#logf });
    this.#noise = new NoiseUpgrader({
      controlKey: this.controlKey,
      logf: this.#logf,
      earlyPayload: opts.earlyPayload ?? false,
      minVersion: opts.minVersion ?? 1,
      onStream: (stream, headers, ctx) => this.#routes.onStream(stream, headers, ctx),
    });
    this.#routes = new ControlRoutes({
      state: this.#state,
      sessions: this.#sessions,
      clock: this.#clock,
      logf: this.#logf,
      controlKey: this.controlKey,
      pingAnswered: (id, method, body) => this.#pingAnswered(id, method, body),
      signal: this.#closeAbort.signal,
    });
    this.#http = createServer((req, res) => this.#onRequest(req, res));
    this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#onUpgrade(req, socket, head),
    );
    this.#http.on('clientError', (_e, socket) => socket.destroy());
    this.#state.on('change', () => this.#armExpiryTimer());
  }

  /**
   * Starts a tailnet on 127.0.0.1: control + DERP on one TCP port, STUN on a UDP port, the admin
   * endpoint on another TCP port.
   *
   * @example
   * ```ts
   * const tailnet = await TestTailnet.start();
   * const authKey = tailnet.createAuthKey({ reusable: true });
   * // point a tsnet Server / tailscaled at tailnet.controlURL with authKey
   * await tailnet.close();
   * ```
   */
  static async start(opts: TestTailnetOptions = {}): Promise<TestTailnet> {
    const t = new TestTailnet(opts);
    try {
      await t.#listen();
    } catch (e) {
      await t.close();
      throw new TsnetError('ERR_TESTCONTROL_START', `TestTailnet.start: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return t;
  }

  async #listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(0, '127.0.0.1', () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#http.address() as AddressInfo).port;
    if (this.#opts.derpTls !== false) {
      const c = selfSignedCert();
      this.#derpCertName = c.certName;
      this.#derpTlsPort = (
        await this.#derp.listen({ host: '127.0.0.1', port: 0, tls: { cert: c.cert, key: c.key } })
      ).port;
    }
    if (this.#stun !== null) this.#stunPort = await this.#stun.listen({ host: '127.0.0.1', port: 0 });
    if (this.#opts.adminHttp !== false) {
      this.#admin = new AdminHttp(this, this.#opts.adminToken ?? randomBytes(32).toString('hex'), this.#logf);
      await this.#admin.listen();
    }
    this.#logf('testcontrol: listening on %s', this.controlURL);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.#derp.handleRequest(req, res)) return;
    if (this.#routes.handleRequest(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ts2021') this.#noise.handleUpgrade(req, socket, new Uint8Array(head));
    else if (!this.#derp.handleUpgrade(req, socket, head)) refuseUpgrade(socket);
  }

  // ---- addresses ----

  /** `http://127.0.0.1:<port>`: the login server for clients. */
  get controlURL(): string {
    return `http://127.0.0.1:${this.#port}`;
  }
  /** The embedded DERP server's URL: HTTPS with the pinned certificate, or plain HTTP. */
  get derpURL(): string {
    return this.#derpTlsPort > 0 ? `https://127.0.0.1:${this.#derpTlsPort}/derp` : `${this.controlURL}/derp`;
  }
  /** The DERP certificate pin (`sha256-raw:<hex>`), or '' without TLS. */
  get derpCertName(): string {
    return this.#derpCertName;
  }
  /** The STUN server's UDP port, or -1 when STUN is off. */
  get stunPort(): number {
    return this.#stunPort;
  }
  /** The admin endpoint (`http://127.0.0.1:<port>`), or '' when disabled. */
  get adminURL(): string {
    return this.#admin?.url ?? '';
  }
  /** The admin endpoint's bearer token. */
  get adminToken(): string {
    return this.#admin?.token ?? '';
  }
  /** The MagicDNS domain. */
  get domain(): string {
    return this.#state.domain;
  }
  /**
   * Environment a real tailscaled or Go tsnet program needs for this tailnet: nothing with TLS
   * DERP (the default), `TS_DEBUG_USE_DERP_HTTP=1` with `derpTls: false`.
   */
  get clientEnv(): Record<string, string> {
    return this.#derpTlsPort > 0 ? {} : { TS_DEBUG_USE_DERP_HTTP: '1' };
  }
  /** The DERP map sent to nodes (`tailcfg.DERPMap` JSON): one region, one node, on 127.0.0.1. */
  get derpMap(): Record<string, unknown> {
    const id = this.#opts.derpRegionId ?? 900;
    return {
      Regions: {
        [String(id)]: {
          RegionID: id,
          RegionCode: 'test',
          RegionName: 'TestTailnet',
          Nodes: [
            {
              Name: `${id}a`,
              RegionID: id,
              HostName: '127.0.0.1',
              IPv4: '127.0.0.1',
              IPv6: 'none',
              STUNPort: this.#stunPort,
              ...(this.#derpTlsPort > 0
                ? { DERPPort: this.#derpTlsPort, CertName: this.#derpCertName }
                : { DERPPort: this.#port }),
            },
          ],
        },
      },
    };
  }
  /** Counters of every part, for tests. */
  get stats() {
    return {
      /** Counters of the Noise transport. */
      noise: { ...this.#noise.stats },
      /** Counters of the control HTTP routes. */
      http: { ...this.#routes.stats },
      /** Counters of the map sessions. */
      map: { ...this.#sessions.stats },
      /** Counters of the embedded DERP server. */
      derp: this.#derp.counters,
      /** Counters of the STUN server (absent when STUN is off). */
      stun: this.#stun?.counters,
    };
  }
  /** The DERP server (to inspect connected clients). */
  get derpServer(): DerpServer {
    return this.#derp;
  }

  // ---- admin API ----

  /** Creates (or finds) a user by login name. */
  createUser(loginName: string, displayName?: string): UserInfo {
    if (typeof loginName !== 'string' || loginName === '' || loginName.length > 256) {
      throw new TypeError('loginName must be a non-empty string');
    }
    return this.#state.ensureUser(loginName, displayName);
  }
  /** Every user of the tailnet. */
  users(): UserInfo[] {
    return this.#state.users();
  }

  /** Creates a pre-auth key; returns its secret text (`tskey-auth-...`). */
  createAuthKey(opts: AuthKeyOptions = {}): string {
    return this.#state.createAuthKey(opts);
  }
  /** Every auth key, without its secret. */
  authKeys(): AuthKeyInfo[] {
    return this.#state.authKeys();
  }

  /** Every node of the tailnet. */
  nodes(): NodeInfo[] {
    return this.#state.nodes().map((n) => this.#state.info(n));
  }

  #resolve(ref: NodeRef): NodeRec | undefined {
    if (typeof ref === 'number') return this.#state.node(ref);
    const all = this.#state.nodes();
    const ip = IPAddr.tryParse(ref);
    if (ip !== null) return all.find((n) => n.addresses.some((a) => a.addr.equals(ip)));
    if (ref.startsWith('nodekey:')) {
      const k = NodePublic.parse(ref);
      return this.#state.nodeByKey(k);
    }
    const name = ref.endsWith('.') ? ref : `${ref}.`;
    return all.find((n) => n.hostname === ref || n.label === ref || this.#state.fqdn(n) === name);
  }

  #must(ref: NodeRef): NodeRec {
    const n = this.#resolve(ref);
    if (n === undefined) throw new RangeError(`no node ${JSON.stringify(ref)}`);
    return n;
  }

  /** A node by reference, or undefined. */
  node(ref: NodeRef): NodeInfo | undefined {
    const n = this.#resolve(ref);
    return n === undefined ? undefined : this.#state.info(n);
  }

  /** Expires a node's key now (peers see it expired; the node must log in again). */
  expireNode(ref: NodeRef): void {
    const n = this.#must(ref);
    n.keyExpiry = new Date(this.#clock.wallNow() - 1000);
    this.#state.changed('expire');
  }

  /** Sets when a node's key expires (`null` = never). */
  setKeyExpiry(ref: NodeRef, at: Date | null): void {
    this.#must(ref).keyExpiry = at;
    this.#state.changed('key-expiry');
  }

  /** Deletes a node (peers get `PeersRemoved`; its map stream ends). */
  deleteNode(ref: NodeRef): void {
    this.#state.deleteNode(this.#must(ref).id);
  }

  /** Replaces a node's capabilities (`Node.CapMap`). */
  setNodeCapabilities(ref: NodeRef, capMap: Record<string, unknown[]>): void {
    const n = this.#must(ref);
    n.capMap = structuredClone(capMap);
    this.#state.changed('capabilities');
  }

  /** Sets a node's ACL tags (`[]` makes it a member node again). */
  setNodeTags(ref: NodeRef, tags: string[]): void {
    for (const t of tags)
      if (!/^tag:[A-Za-z0-9_-]{1,64}$/.test(t)) throw new RangeError(`invalid tag ${JSON.stringify(t)}`);
    const n = this.#must(ref);
    n.tags = [...tags];
    if (tags.length > 0) n.userId = this.#state.ensureUser('tagged-devices', 'Tagged Devices').id;
    this.#state.changed('tags');
  }

  /** Sets the policy (`null` = allow all). Throws `RangeError` if it is invalid. */
  setPolicy(policy: Policy | null): void {
    this.#state.setPolicy(policy === null ? null : validatePolicy(policy));
  }
  /** The current policy (`null`: everything is allowed). */
  get policy(): Policy | null {
    return this.#state.policy;
  }

  /** Interactive logins waiting for approval. */
  pendingLogins(): PendingLogin[] {
    return this.#state.pendingLogins();
  }

  /** Approves an interactive login (by ID or AuthURL) for `user` (default: the default user). */
  approveLogin(ref: string, opts: { user?: string } = {}): void {
    const u = opts.user === undefined ? this.#state.defaultUser() : this.#state.ensureUser(opts.user);
    if (!this.#state.settleLogin(ref, { userId: u.id }))
      throw new RangeError(`no pending login ${JSON.stringify(ref)}`);
  }

  /** Rejects an interactive login: the node gets `Error` in its RegisterResponse. */
  rejectLogin(ref: string): void {
    if (!this.#state.settleLogin(ref, 'rejected'))
      throw new RangeError(`no pending login ${JSON.stringify(ref)}`);
  }

  /** Waits until an interactive login is pending (optionally for `hostname`). */
  waitForLogin(opts: { hostname?: string; timeoutMs?: number } = {}): Promise<PendingLogin> {
    return this.#waitFor(
      () =>
        this.#state.pendingLogins().find((l) => opts.hostname === undefined || l.hostname === opts.hostname),
      opts.timeoutMs ?? 20_000,
      'a pending login',
    );
  }

  /**
   * Waits until a node matches `pred` (or, given a reference, exists and has the wanted state).
   *
   * @example
   * ```ts
   * const n = await tailnet.waitForNode((n) => n.hostname === 'app' && n.online);
   * ```
   */
  waitForNode(
    pred: ((n: NodeInfo) => boolean) | { ref: NodeRef; online?: boolean; endpoints?: boolean },
    opts: { timeoutMs?: number } = {},
  ): Promise<NodeInfo> {
    const match =
      typeof pred === 'function'
        ? () => this.nodes().find(pred)
        : () => {
            const n = this.node(pred.ref);
            if (n === undefined) return undefined;
            if (pred.online !== undefined && n.online !== pred.online) return undefined;
            if (pred.endpoints === true && n.endpoints.length === 0) return undefined;
            return n;
          };
    return this.#waitFor(match, opts.timeoutMs ?? 20_000, 'the node');
  }

  #waitFor<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#closed) return Promise.reject(new TsnetError('ERR_CLOSED', 'tailnet closed'));
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.#state.off('change', check);
        this.#closeAbort.signal.removeEventListener('abort', onClose);
      };
      const check = () => {
        const v = get();
        if (v !== undefined) {
          cleanup();
          resolve(v);
        }
      };
      const onClose = () => {
        cleanup();
        reject(new TsnetError('ERR_CLOSED', 'tailnet closed'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TsnetError('ETIMEDOUT', `timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#state.on('change', check);
      this.#closeAbort.signal.addEventListener('abort', onClose, { once: true });
    });
  }

  /**
   * Sends the node a `PingRequest` on its map stream and resolves when it answers. With no type,
   * the node answers `HEAD` over Noise (proves the node's control channel is alive); with a type
   * (`disco`, `TSMP`, ...) and `ip`, a real tailscaled pings that IP and POSTs the result.
   */
  ping(ref: NodeRef, opts: PingOptions = {}): Promise<PingResult> {
    const n = this.#must(ref);
    const id = randomBytes(12).toString('hex');
    const pr: Record<string, unknown> = {
      URL: `${this.controlURL}/machine/ping-response?id=${id}`,
      URLIsNoise: true,
      Log: true,
    };
    if (opts.type !== undefined && opts.type !== '') pr.Types = opts.type;
    if (opts.ip !== undefined) pr.IP = IPAddr.parse(opts.ip).toString();
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        reject(new TsnetError('ETIMEDOUT', `ping of node ${n.id} unanswered after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pings.set(id, {
        started: this.#clock.now(),
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#sessions.queuePing(n.id, pr);
    });
  }

  #pingAnswered(id: string, method: string, body: string): boolean {
    const p = this.#pings.get(id);
    if (p === undefined) return false;
    this.#pings.delete(id);
    let parsed: unknown = body;
    try {
      parsed = body === '' ? null : JSON.parse(body);
    } catch {
      // keep the text
    }
    p.resolve({ method, body: parsed, elapsedMs: this.#clock.now() - p.started });
    return true;
  }

  /** Re-sends maps when the next node key expires, so `Expired` and `MachineAuthorized` follow. */
  #armExpiryTimer(): void {
    if (this.#closed) return;
    const now = this.#clock.wallNow();
    let next = Number.POSITIVE_INFINITY;
    for (const n of this.#state.nodes()) {
      const t = n.keyExpiry?.getTime();
      if (t !== undefined && t > now && t < next) next = t;
    }
    this.#expiryTimer?.cancel();
    this.#expiryTimer = null;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#expiryTimer = this.#clock.setTimeout(
      () => {
        this.#expiryTimer = null;
        this.#state.changed('key-expired');
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    );
  }

  /** Stops everything: map streams, Noise connections, DERP, STUN, the admin endpoint. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeAbort.abort();
    this.#expiryTimer?.cancel();
    for (const p of this.#pings.values()) p.reject(new TsnetError('ERR_CLOSED', 'tailnet closed'));
    this.#pings.clear();
    this.#sessions.close();
    this.#noise.closeAll();
    await this.#derp.close();
    await this.#stun?.close();
    await this.#admin?.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#state.removeAllListeners();
  }
}
