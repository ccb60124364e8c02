/**
 * The LocalAPI HTTP handler: `(req, res)` for `node:http` (or anything with the same shape), serving
 * `/localapi/v0/<name>` over an injected `LocalBackend` with tailscaled's paths, status codes, error
 * texts and JSON (tailscale v1.102.3 `ipn/localapi/localapi.go`, protocol-map §9):
 *
 * | route | backend | errors |
 * |---|---|---|
 * | `GET /` | – | answers `tailscaled\n` |
 * | `whois?addr=<ip>\|<ip:port>\|nodekey:…[&proto=][&dst_ip=][&svc_name=]` | `whoIs`, `whoIsNodeKey` | 400 missing/invalid addr, 404 `no match for IP:port` |
 * | `status[?peers=false]` | `status` | |
 * | `prefs` (GET, HEAD; PATCH) | `prefs`, `editPrefs` | 405 other methods; PATCH errors 400 `{"Error":…}` |
 * | `cert-domains`, `derpmap`, `dns-config` | `certDomains`, `derpMap`, `dnsConfig` | 503 `no netmap` |
 * | `peer-by-id?id=`, `user-profile?id=` | `peerByID`, `userProfile` | 400 invalid id, 404 |
 * | `logout`, `login-interactive` (POST) | `logout`, `loginInteractive` | 400 `want POST` |
 * | `ping?ip=&type=&size=` (POST) | `ping` | 400 as Go; backend errors 500 `{"error":…}` |
 * | `watch-ipn-bus?mask=` | `watchIPNBus` | newline-delimited Notify; 400 `bad mask` |
 *
 * Errors are Go `http.Error` replies: `text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`,
 * the message and a newline. Unknown routes (and routes the backend does not provide) are Go's
 * `404 page not found`. Request checks and auth are in ./auth.ts. A backend that throws gives a 500
 * with its message; the handler itself never throws and never rejects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AddrPort, discardLogf, IPAddr, type Logf, NodePublic } from '@tsnet/core';
import { type AuthPolicy, checkRequest } from './auth.js';
import type { LocalBackend, WhoIsLookupOptions, WhoIsResult } from './backend.js';
import { toGoJSON } from './json.js';
import type { PingType } from './types.js';

/** `tailcfg.CurrentCapabilityVersion` of tailscale v1.102.3, sent as `Tailscale-Cap`. */
export const LOCAL_API_CAPABILITY_VERSION = 142;

/** `magicsock.MaxDiscoPingSize`: the largest disco ping payload (`tstun.MaxPacketSize` − 28). */
export const MAX_DISCO_PING_SIZE = 65535 - 20 - 8;

/** The largest request body read (PATCH prefs). */
export const MAX_BODY_BYTES = 1 << 20;

/** A node:http-compatible request handler. */
export type LocalApiRequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of `createLocalApiHandler`. */
export interface LocalApiHandlerOptions {
  /** The node the handlers answer for. */
  backend: LocalBackend;
  /**
   * Basic-auth password every request must carry (the loopback listener's credential). Leave out
   * for the in-process LocalAPI, which only the process itself can reach.
   */
  requiredPassword?: string | undefined;
  /** Require `Sec-Tailscale: localapi` (tsnet's loopback listener). Default false. */
  requireSecTailscaleHeader?: boolean | undefined;
  /** Read endpoints allowed (default true). */
  permitRead?: boolean | undefined;
  /** Write endpoints allowed (default true). */
  permitWrite?: boolean | undefined;
  /** `Tailscale-Version` response header (default `'0.0.0-tsnet'`). */
  version?: string | undefined;
  /** Logs write requests (never secrets). */
  logf?: Logf | undefined;
}

/** Counters, readable by users and tests. */
export interface LocalApiHandlerStats {
  /** Requests received. */
  requests: number;
  /** Refused by the request checks or auth (Go's `localapi_invalid_requests`). */
  invalidRequests: number;
  /** Answered 500 because the backend threw. */
  backendErrors: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(`${message}\n`);
}

function sendJSON(res: ServerResponse, value: unknown, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(toGoJSON(value));
}

/** Go `strconv.ParseBool`, or `def` when the text is not a boolean (`def.Bool`). */
function parseGoBool(text: string | null, def: boolean): boolean {
  switch (text) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return def;
  }
}

/** A positive decimal int64 that fits a JS number exactly (Go `strconv.ParseInt(s, 10, 64)` > 0). */
function parsePositiveID(text: string | null): number | null {
  if (text === null || !/^\+?[0-9]{1,16}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** `tailcfg.AsServiceName`: `svc:` and a DNS label. */
function validServiceName(s: string): boolean {
  return /^svc:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(s);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', (e) => reject(e));
  });
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  query: URLSearchParams;
}

type Route = (ctx: Ctx) => Promise<void>;

/**
 * Builds the LocalAPI handler.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const handler = createLocalApiHandler({ backend });
 * createServer(handler).listen({ path: '/tmp/my.sock' });
 * ```
 */
export function createLocalApiHandler(opts: LocalApiHandlerOptions): LocalApiRequestHandler & {
  /** Counters of the requests handled, live. */
  readonly stats: LocalApiHandlerStats;
} {
  const b = opts.backend;
  const logf = opts.logf ?? discardLogf;
  const permitRead = opts.permitRead ?? true;
  const permitWrite = opts.permitWrite ?? true;
  const version = opts.version ?? '0.0.0-tsnet';
  const policy: AuthPolicy = {
    requireSecTailscaleHeader: opts.requireSecTailscaleHeader ?? false,
    requiredPassword: opts.requiredPassword,
  };
  const stats: LocalApiHandlerStats = { requests: 0, invalidRequests: 0, backendErrors: 0 };

  const needRead = (what: string) => {
    if (!permitRead) throw new HttpError(403, `${what} access denied`);
  };
  const needWrite = (what: string) => {
    if (!permitWrite) throw new HttpError(403, `${what} access denied`);
  };

  const whois: Route = async ({ res, query }) => {
    needRead('whois');
    const v = query.get('addr') ?? '';
    if (v === '') throw new HttpError(400, "missing 'addr' parameter");
    const lookup: WhoIsLookupOptions = { proto: query.get('proto') ?? '' };
    let found: WhoIsResult | null;
    if (v.startsWith('nodekey:')) {
      let key: NodePublic;
      try {
        key = NodePublic.parse(v);
      } catch {
        throw new HttpError(400, "invalid nodekey in 'addr' parameter");
      }
      found = b.whoIsNodeKey === undefined ? null : await b.whoIsNodeKey(key, lookup);
    } else {
      const ip = IPAddr.tryParse(v);
      const ipp = ip !== null ? new AddrPort(ip, 0) : AddrPort.tryParse(v);
      if (ipp === null) throw new HttpError(400, "invalid 'addr' parameter");
      // Go's LocalBackend.WhoIs looks IPv4-mapped IPv6 up as IPv4.
      found = await b.whoIs(new AddrPort(ipp.addr.unmap(), ipp.port), lookup);
    }
    if (found === null) throw new HttpError(404, 'no match for IP:port');
    const svc = query.get('svc_name') ?? '';
    const dst = query.get('dst_ip') ?? '';
    if (svc !== '' || dst !== '') {
      // Only the capability scope changes: look up again with it (Go computes caps after the lookup).
      if (svc !== '') {
        if (!validServiceName(svc)) throw new HttpError(400, 'invalid svc_name');
        lookup.svcName = svc;
      } else {
        const dstIP = IPAddr.tryParse(dst);
        if (dstIP === null) throw new HttpError(400, 'invalid dst_ip');
        lookup.dstIP = dstIP;
      }
      found = await refind(found, lookup);
      if (found === null) throw new HttpError(404, 'no match for IP:port');
    }
    const caps = found.capMap;
    sendJSON(res, {
      Node: found.node,
      UserProfile: found.userProfile,
      CapMap: caps === undefined || Object.keys(caps).length === 0 ? null : caps,
    });
  };

  /** The same node again, with the scoped capability options. */
  const refind = async (first: WhoIsResult, lookup: WhoIsLookupOptions): Promise<WhoIsResult | null> => {
    const src = first.node.Addresses?.[0];
    if (src === undefined) return { ...first, capMap: {} };
    return b.whoIs(new AddrPort(src.addr, 0), lookup);
  };

  const status: Route = async ({ res, query }) => {
    needRead('status');
    const peers = parseGoBool(query.get('peers'), true);
    const st = await b.status({ peers });
    sendJSON(res, peers ? st : { ...st, Peer: undefined });
  };

  const prefs: Route = async ({ req, res, method }) => {
    needRead('prefs');
    if (method === 'PATCH') {
      if (!permitWrite) throw new HttpError(403, 'prefs write access denied');
      if (b.editPrefs === undefined) throw new HttpError(501, 'editing prefs is not supported');
      const body = await readBody(req, MAX_BODY_BYTES);
      let masked: unknown;
      try {
        masked = JSON.parse(body);
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
      if (typeof masked !== 'object' || masked === null || Array.isArray(masked)) {
        throw new HttpError(400, 'prefs: body is not a JSON object');
      }
      logf('localapi: [PATCH] /localapi/v0/prefs');
      try {
        sendJSON(res, await b.editPrefs(masked as Record<string, unknown>));
      } catch (e) {
        sendJSON(res, { Error: e instanceof Error ? e.message : String(e) }, 400);
      }
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'unsupported method');
    sendJSON(res, await b.prefs());
  };

  const routes = new Map<string, Route>([
    ['whois', whois],
    ['status', status],
    ['prefs', prefs],
  ]);
  if (b.certDomains !== undefined) {
    const f = b.certDomains.bind(b);
    routes.set('cert-domains', async ({ res }) => {
      needRead('cert-domains');
      const domains = [...(await f())].sort();
      sendJSON(res, domains.length === 0 ? null : domains);
    });
  }
  if (b.derpMap !== undefined) {
    const f = b.derpMap.bind(b);
    routes.set('derpmap', async ({ res, method }) => {
      if (method !== 'GET') throw new HttpError(400, 'want GET');
      sendJSON(res, (await f()) ?? null);
    });
  }
  if (b.dnsConfig !== undefined) {
    const f = b.dnsConfig.bind(b);
    routes.set('dns-config', async ({ res }) => {
      needRead('dns-config');
      const dns = await f();
      if (dns === undefined) throw new HttpError(503, 'no netmap');
      sendJSON(res, dns);
    });
  }
  if (b.peerByID !== undefined) {
    const f = b.peerByID.bind(b);
    routes.set('peer-by-id', async ({ res, query }) => {
      needRead('peer-by-id');
      const id = parsePositiveID(query.get('id'));
      if (id === null) throw new HttpError(400, "invalid 'id' parameter");
      const n = await f(id);
      if (n === undefined) throw new HttpError(404, 'no peer with that NodeID');
      sendJSON(res, n);
    });
  }
  if (b.userProfile !== undefined) {
    const f = b.userProfile.bind(b);
    routes.set('user-profile', async ({ res, query }) => {
      needRead('user-profile');
      const id = parsePositiveID(query.get('id'));
      if (id === null) throw new HttpError(400, "invalid 'id' parameter");
      const u = await f(id);
      if (u === undefined) throw new HttpError(404, 'no user with that UserID');
      sendJSON(res, u);
    });
  }
  if (b.ping !== undefined) {
    const f = b.ping.bind(b);
    routes.set('ping', async ({ res, method, query }) => {
      if (method !== 'POST') throw new HttpError(400, 'want POST');
      const ipText = query.get('ip') ?? '';
      if (ipText === '') throw new HttpError(400, "missing 'ip' parameter");
      const ip = IPAddr.tryParse(ipText);
      if (ip === null) throw new HttpError(400, 'invalid IP');
      const type = query.get('type') ?? '';
      if (type === '') throw new HttpError(400, "missing 'type' parameter");
      let size = 0;
      const sizeText = query.get('size') ?? '';
      if (sizeText !== '') {
        if (!/^[+-]?[0-9]{1,10}$/.test(sizeText)) throw new HttpError(400, "invalid 'size' parameter");
        size = Number(sizeText);
        if (size !== 0 && type !== 'disco') {
          throw new HttpError(400, "'size' parameter is only supported with disco pings");
        }
        if (size > MAX_DISCO_PING_SIZE)
          throw new HttpError(400, `maximum value for 'size' is ${MAX_DISCO_PING_SIZE}`);
      }
      let result: unknown;
      try {
        result = await f(ip, type as PingType, size);
      } catch (e) {
        // Go's WriteErrorJSON.
        sendJSON(res, { error: e instanceof Error ? e.message : String(e) }, 500);
        return;
      }
      sendJSON(res, result);
    });
  }
  if (b.watchIPNBus !== undefined) {
    const f = b.watchIPNBus.bind(b);
    routes.set('watch-ipn-bus', async ({ req, res, query }) => {
      needRead('watch ipn bus');
      const text = query.get('mask') ?? '';
      let mask = 0;
      if (text !== '') {
        // Go strconv.ParseUint(s, 10, 64); the bits we know fit 32.
        if (!/^[0-9]{1,19}$/.test(text)) throw new HttpError(400, 'bad mask');
        mask = Number(BigInt(text) & 0xffffffffn);
      }
      if ((mask & (1 << 16)) !== 0) {
        throw new HttpError(
          400,
          'NotifyInProcessNoDisconnect is only valid for in-process IPN bus subscribers',
        );
      }
      const ac = new AbortController();
      const stop = () => ac.abort();
      req.on('close', stop);
      res.on('close', stop);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.flushHeaders();
      try {
        for await (const n of f(mask, ac.signal)) {
          if (ac.signal.aborted || res.destroyed) break;
          // Go's json.Encoder without indent: one compact object per line.
          res.write(toGoJSON(n, 0));
        }
      } finally {
        req.off('close', stop);
        ac.abort();
        if (!res.writableEnded) res.end();
      }
    });
  }
  for (const [name, method] of [
    ['logout', 'logout'],
    ['login-interactive', 'loginInteractive'],
  ] as const) {
    const fn = b[method];
    if (fn === undefined) continue;
    routes.set(name, async ({ res, method: m }) => {
      needWrite(name);
      if (m !== 'POST') throw new HttpError(400, 'want POST');
      logf('localapi: [POST] /localapi/v0/%s', name);
      await fn.call(b);
      res.statusCode = 204;
      res.end();
    });
  }

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    const fail = checkRequest(req.headers, policy);
    if (fail !== null) {
      stats.invalidRequests++;
      sendError(res, fail.status, fail.message);
      return;
    }
    res.setHeader('Tailscale-Version', version);
    res.setHeader('Tailscale-Cap', String(LOCAL_API_CAPABILITY_VERSION));
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; frame-ancestors 'none'; script-src 'none'; script-src-elem 'none'; script-src-attr 'none'",
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');

    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(q < 0 ? raw : raw.slice(0, q));
    } catch {
      sendError(res, 400, 'invalid URL path');
      return;
    }
    const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    if (path === '/') {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('tailscaled\n');
      return;
    }
    const prefix = '/localapi/v0/';
    const route = path.startsWith(prefix) ? routes.get(path.slice(prefix.length)) : undefined;
    if (route === undefined) {
      sendError(res, 404, '404 page not found');
      return;
    }
    try {
      await route({ req, res, method: req.method ?? 'GET', query });
    } catch (e) {
      if (e instanceof HttpError) {
        sendError(res, e.status, e.message);
        return;
      }
      stats.backendErrors++;
      logf('localapi: %s: backend error: %s', path, e instanceof Error ? e.message : String(e));
      sendError(res, 500, e instanceof Error ? e.message : String(e));
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((e: unknown) => {
      logf('localapi: unexpected error: %s', e instanceof Error ? e.message : String(e));
      if (!res.writableEnded) sendError(res, 500, 'internal error');
    });
  };
  return Object.assign(handler, { stats });
}
