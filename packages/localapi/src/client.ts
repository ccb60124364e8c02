/**
 * `LocalClient`: a typed client of the LocalAPI (tailscale v1.102.3 `client/local/local.go`), over
 * any `LocalTransport`: a real tailscaled's unix socket, tsnet's loopback listener with its
 * credential, or a handler/backend in this process. Responses are validated with the zod schemas of
 * ./types.ts; failures are `LocalApiError`s with stable codes (./errors.ts).
 */

import { StringDecoder } from 'node:string_decoder';
import {
  type DERPMap,
  DERPMapSchema,
  type DNSConfig,
  DNSConfigSchema,
  type FilterRule,
  FilterRuleSchema,
  type Node,
  NodeSchema,
  type UserProfile,
  UserProfileSchema,
} from '@tsnet/control';
import type { AddrPort, IPAddr, NodePublic } from '@tsnet/core';
import { z } from 'zod';
import type { LocalBackend } from './backend.js';
import { AccessDeniedError, LocalApiError, PeerNotFoundError } from './errors.js';
import { createLocalApiHandler, type LocalApiRequestHandler } from './handler.js';
import {
  httpTransport,
  inProcessTransport,
  type LocalResponse,
  type LocalTransport,
  unixSocketTransport,
} from './transport.js';
import {
  type Notify,
  NotifySchema,
  type PingResult,
  PingResultSchema,
  type PingType,
  type Prefs,
  PrefsSchema,
  type Status,
  StatusSchema,
  StringListSchema,
  type WhoIsResponse,
  WhoIsResponseSchema,
} from './types.js';

/** tailscaled's default socket on Linux (`paths.DefaultTailscaledSocket`). */
export const DEFAULT_TAILSCALED_SOCKET = '/var/run/tailscale/tailscaled.sock';

/** Where a `LocalClient` sends its requests: exactly one of these. */
export type LocalClientTarget =
  | {
      /** A tailscaled's LocalAPI Unix socket, e.g. `DEFAULT_TAILSCALED_SOCKET`. */
      socketPath: string;
    }
  | {
      /** A LocalAPI over HTTP, e.g. tsnet's loopback listener (`http://127.0.0.1:<port>`). */
      url: string | URL;
      /** The Basic-auth password that LocalAPI requires. */
      credential: string;
    }
  | {
      /** A LocalAPI request handler to call in process (no socket). */
      handler: LocalApiRequestHandler;
    }
  | {
      /** A backend to serve the LocalAPI from, in process (`createLocalApiHandler` over it). */
      backend: LocalBackend;
    }
  | {
      /** Any way of sending a request and reading the response. */
      transport: LocalTransport;
    };

/** Options of `new LocalClient(…)`: where requests go (`LocalClientTarget`) and a timeout. */
export type LocalClientOptions = LocalClientTarget & {
  /** Bound on each request (default 10 s). */
  timeoutMs?: number;
};

/** Options of `whoIs`. */
export interface WhoIsOptions {
  /** `tcp` or `udp`: which table of proxied connections an ip:port is looked up in. */
  proto?: 'tcp' | 'udp';
  /** Scope `CapMap` to this destination (a VIP service address, one of our addresses...). */
  dstIP?: IPAddr | string;
  /** Scope `CapMap` to this VIP service (`svc:<name>`). */
  svcName?: string;
}

/** The largest single `ipn.Notify` line read from `watch-ipn-bus` (a full netmap can be large). */
export const MAX_NOTIFY_BYTES = 64 << 20;

/** The IPN bus as an async iterator of `Notify` messages; `close()` ends the stream. */
export interface IpnBusWatcher extends AsyncIterableIterator<Notify> {
  /** Ends the stream; the iterator then finishes. */
  close(): void;
}

const FilterRulesSchema = z
  .array(FilterRuleSchema)
  .nullable()
  .transform((v) => v ?? []);

function errorMessageFromBody(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const j = JSON.parse(text) as { Error?: unknown; error?: unknown };
    const e = j.Error ?? j.error;
    if (typeof e === 'string' && e !== '') return e;
  } catch {
    // Not JSON: a Go http.Error reply, whose text is the message.
    return text.trim();
  }
  return text.trim();
}

/**
 * A LocalAPI client.
 *
 * @example
 * ```ts
 * const lc = new LocalClient({ socketPath: '/var/run/tailscale/tailscaled.sock' });
 * const who = await lc.whoIs('100.64.0.2');
 * console.log(`Hello, ${who.UserProfile.LoginName}!`);
 * ```
 */
export class LocalClient {
  readonly #transport: LocalTransport;
  readonly #timeoutMs: number;

  constructor(opts: LocalClientOptions = { socketPath: DEFAULT_TAILSCALED_SOCKET }) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('opts.timeoutMs must be > 0');
    this.#timeoutMs = timeoutMs;
    if ('socketPath' in opts) {
      if (typeof opts.socketPath !== 'string' || opts.socketPath === '')
        throw new TypeError('opts.socketPath must be a non-empty string');
      this.#transport = unixSocketTransport(opts.socketPath);
    } else if ('url' in opts) {
      if (typeof opts.credential !== 'string') throw new TypeError('opts.credential must be a string');
      this.#transport = httpTransport(opts.url, opts.credential);
    } else if ('handler' in opts) {
      if (typeof opts.handler !== 'function') throw new TypeError('opts.handler must be a function');
      this.#transport = inProcessTransport(opts.handler);
    } else if ('backend' in opts) {
      this.#transport = inProcessTransport(createLocalApiHandler({ backend: opts.backend }));
    } else if ('transport' in opts) {
      if (typeof opts.transport !== 'function') throw new TypeError('opts.transport must be a function');
      this.#transport = opts.transport;
    } else {
      throw new TypeError('opts needs one of socketPath, url + credential, handler, backend, transport');
    }
  }

  /**
   * A raw LocalAPI request (`path` like `/localapi/v0/status`). Throws only for transport failures
   * and 401/403; any other status is returned.
   */
  async request(method: string, path: string, body?: unknown): Promise<LocalResponse> {
    const res = await this.#transport({
      method,
      path,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.#timeoutMs,
    });
    if (res.status === 401 || res.status === 403) {
      throw new AccessDeniedError(res.status, errorMessageFromBody(res.body));
    }
    return res;
  }

  async #call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    opts: { body?: unknown; notFound?: () => Error } = {},
  ): Promise<z.output<S>> {
    const res = await this.request(method, path, opts.body);
    if (res.status === 404 && opts.notFound !== undefined) throw opts.notFound();
    if (res.status !== 200) {
      const route = path.split('?')[0] ?? path;
      throw new LocalApiError(
        'ERR_LOCALAPI_HTTP',
        `${route}: ${res.status} ${res.statusText}: ${errorMessageFromBody(res.body)}`,
        { status: res.status },
      );
    }
    let raw: unknown;
    try {
      raw = JSON.parse(res.body.toString('utf8'));
    } catch (e) {
      throw new LocalApiError('ERR_LOCALAPI_DECODE', `${path}: invalid JSON: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      const field = issue === undefined ? '' : issue.path.map(String).join('.');
      throw new LocalApiError(
        'ERR_LOCALAPI_DECODE',
        `${path}: unexpected response at ${field || '(root)'}: ${issue?.message ?? 'invalid'}`,
        { cause: r.error },
      );
    }
    return r.data;
  }

  /**
   * Who owns `addr` (an IP, `ip:port`, or a node key): the node, its user (the tagged-devices
   * pseudo-user for a tagged node) and the capabilities it holds towards this node. Throws
   * `PeerNotFoundError` when no node has it.
   */
  whoIs(addr: string | IPAddr | AddrPort | NodePublic, opts: WhoIsOptions = {}): Promise<WhoIsResponse> {
    const text = typeof addr === 'string' ? addr : addr.toString();
    if (text === '') throw new TypeError('addr must not be empty');
    const q = new URLSearchParams();
    if (opts.proto !== undefined) q.set('proto', opts.proto);
    q.set('addr', text);
    if (opts.svcName !== undefined) q.set('svc_name', opts.svcName);
    if (opts.dstIP !== undefined) q.set('dst_ip', opts.dstIP.toString());
    return this.#call(WhoIsResponseSchema, 'GET', `/localapi/v0/whois?${q.toString()}`, {
      notFound: () => new PeerNotFoundError(text),
    });
  }

  /** `whoIs` by node key. */
  whoIsNodeKey(key: NodePublic | string): Promise<WhoIsResponse> {
    return this.whoIs(typeof key === 'string' ? key : key.toString());
  }

  /** The node's full status, with peers. */
  status(): Promise<Status> {
    return this.#call(StatusSchema, 'GET', '/localapi/v0/status');
  }

  /** The node's status without the `Peer` map (cheap). */
  statusWithoutPeers(): Promise<Status> {
    return this.#call(StatusSchema, 'GET', '/localapi/v0/status?peers=false');
  }

  /** The current prefs (private keys stripped by the server). */
  prefs(): Promise<Prefs> {
    return this.#call(PrefsSchema, 'GET', '/localapi/v0/prefs');
  }

  /** `PATCH prefs` with an `ipn.MaskedPrefs` object (`{ "WantRunning": true, "WantRunningSet": true }`). */
  editPrefs(masked: Record<string, unknown>): Promise<Prefs> {
    return this.#call(PrefsSchema, 'PATCH', '/localapi/v0/prefs', { body: masked });
  }

  /** Domains the node can get TLS certificates for, sorted. */
  certDomains(): Promise<string[]> {
    return this.#call(StringListSchema, 'GET', '/localapi/v0/cert-domains');
  }

  /** The DERP map in use, or `null`. */
  async derpMap(): Promise<DERPMap | null> {
    return this.#call(DERPMapSchema.nullable(), 'GET', '/localapi/v0/derpmap');
  }

  /** The netmap's DNS config (a 503 error before the first netmap). */
  dnsConfig(): Promise<DNSConfig> {
    return this.#call(DNSConfigSchema, 'GET', '/localapi/v0/dns-config');
  }

  /** A peer's current node by NodeID. */
  peerByID(id: number): Promise<Node> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError('id must be a positive integer');
    return this.#call(NodeSchema, 'GET', `/localapi/v0/peer-by-id?id=${id}`);
  }

  /** A user profile by UserID. */
  userProfile(id: number): Promise<UserProfile> {
    if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError('id must be a positive integer');
    return this.#call(UserProfileSchema, 'GET', `/localapi/v0/user-profile?id=${id}`);
  }

  /** The packet filter rules the node enforces (tailscaled's debug endpoint; not served by this package). */
  debugPacketFilterRules(): Promise<FilterRule[]> {
    return this.#call(FilterRulesSchema, 'POST', '/localapi/v0/debug-packet-filter-rules');
  }

  /**
   * Watches the IPN bus (`watch-ipn-bus?mask=`, bits in `NotifyWatchOpt`): the initial messages the
   * mask asks for, then changes, until `close()` or `signal` aborts.
   *
   * @example
   * ```ts
   * const w = await lc.watchIPNBus(NotifyWatchOpt.InitialState);
   * for await (const n of w) if (n.State != null && IPN_STATES[n.State] === 'Running') break;
   * w.close();
   * ```
   */
  async watchIPNBus(mask: number, opts: { signal?: AbortSignal } = {}): Promise<IpnBusWatcher> {
    if (!Number.isSafeInteger(mask) || mask < 0) throw new RangeError('mask must be a non-negative integer');
    const stream = this.#transport.stream;
    if (stream === undefined) throw new TypeError('this transport cannot stream (watch-ipn-bus)');
    const path = `/localapi/v0/watch-ipn-bus?mask=${mask}`;
    const res = await stream({ method: 'GET', path, timeoutMs: this.#timeoutMs });
    if (res.status !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c);
      res.close();
      const body = Buffer.concat(chunks);
      if (res.status === 401 || res.status === 403)
        throw new AccessDeniedError(res.status, errorMessageFromBody(body));
      throw new LocalApiError(
        'ERR_LOCALAPI_HTTP',
        `${path}: ${res.status} ${res.statusText}: ${errorMessageFromBody(body)}`,
        {
          status: res.status,
        },
      );
    }
    const onAbort = () => res.close();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted === true) res.close();
    async function* lines(): AsyncGenerator<Notify> {
      const dec = new StringDecoder('utf8');
      let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += dec.write(chunk);
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim() === '') continue;
            let raw: unknown;
            try {
              raw = JSON.parse(line);
            } catch (e) {
              throw new LocalApiError(
                'ERR_LOCALAPI_DECODE',
                `${path}: invalid JSON: ${(e as Error).message}`,
                { cause: e },
              );
            }
            const r = NotifySchema.safeParse(raw);
            if (!r.success) {
              throw new LocalApiError(
                'ERR_LOCALAPI_DECODE',
                `${path}: unexpected Notify: ${r.error.issues[0]?.message ?? ''}`,
                {
                  cause: r.error,
                },
              );
            }
            yield r.data;
          }
          if (buf.length > MAX_NOTIFY_BYTES)
            throw new LocalApiError('ERR_LOCALAPI_DECODE', `${path}: message over ${MAX_NOTIFY_BYTES} bytes`);
        }
      } catch (e) {
        // Closing the stream ends the iteration quietly.
        if (opts.signal?.aborted !== true && !closed) throw e;
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
        res.close();
      }
    }
    let closed = false;
    const it = lines();
    return Object.assign(it, {
      close: () => {
        closed = true;
        res.close();
      },
    });
  }

  /**
   * Pings a tailnet IP through the node (`disco`, `TSMP`, `ICMP` or `peerapi`). Resolves with the
   * result also when the ping failed: check `Err`.
   */
  ping(ip: IPAddr | string, type: PingType = 'disco', opts: { size?: number } = {}): Promise<PingResult> {
    const q = new URLSearchParams({ ip: ip.toString(), size: String(opts.size ?? 0), type });
    return this.#call(PingResultSchema, 'POST', `/localapi/v0/ping?${q.toString()}`);
  }

  /** Logs the node out. */
  async logout(): Promise<void> {
    await this.#expectOk('POST', '/localapi/v0/logout');
  }

  /** Starts an interactive login; the URL shows up as `AuthURL` in status. */
  async startLoginInteractive(): Promise<void> {
    await this.#expectOk('POST', '/localapi/v0/login-interactive');
  }

  async #expectOk(method: string, path: string): Promise<void> {
    const res = await this.request(method, path);
    if (res.status < 200 || res.status > 299) {
      throw new LocalApiError(
        'ERR_LOCALAPI_HTTP',
        `${path}: ${res.status} ${res.statusText}: ${errorMessageFromBody(res.body)}`,
        { status: res.status },
      );
    }
  }
}
