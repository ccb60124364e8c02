/**
 * The control server's HTTP surface on one 127.0.0.1 port:
 *
 * | path | what |
 * |---|---|
 * | `GET /key?v=N` | `{"legacyPublicKey": zero, "publicKey": <Noise key>}` (`tailcfg.OverTLSPublicKeyResponse`) |
 * | `POST`/`GET /ts2021` (upgrade) | ts2021: Noise IK, then HTTP/2 (noise/upgrade.ts) |
 * | `/derp`, `/derp/probe`, `/derp/latency-check` | the embedded DERP server (@tsnet/derp) |
 * | `GET /a/<id>` | the page an interactive login points at (approval is an admin call) |
 * | `HEAD`/`POST /machine/ping-response?id=` | answers to injected PingRequests (also over Noise) |
 *
 * Over Noise (HTTP/2): `POST /machine/register` (register.ts), `POST /machine/map` (map.ts),
 * `/machine/ping-response`; anything else is 404 (`/machine/set-dns` and the other optional
 * endpoints are not implemented: 501).
 *
 * Every request body is capped (1 MiB, as headscale's `noiseBodyLimit`) and must arrive within
 * 30 s; bad JSON or schema errors are a 400 naming the field, never a crash.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { MapRequestSchema, RegisterRequestSchema, validate } from '@tsnet/control';
import type { Clock, Logf, MachinePrivate } from '@tsnet/core';
import type { MapSessions } from './map.js';
import type { TailnetState } from './model.js';
import type { NoiseContext } from './noise/upgrade.js';
import { handleRegister } from './register.js';

export const MAX_BODY_BYTES = 1 << 20;
const BODY_TIMEOUT_MS = 30_000;
/** Largest Hostinfo kept per node (it is re-sent to every peer). */
const MAX_HOSTINFO_BYTES = 64 << 10;

export interface ServerEnv {
  state: TailnetState;
  sessions: MapSessions;
  clock: Clock;
  logf: Logf;
  controlKey: MachinePrivate;
  /** Resolves a ping by ID; false if unknown. */
  pingAnswered: (id: string, method: string, body: string) => boolean;
  /** Aborted on close. */
  signal: AbortSignal;
}

/** Counted request failures (untrusted input). */
export interface ServerStats {
  /** Requests refused as malformed. */
  badRequests: number;
  /** Requests refused as too large. */
  tooLarge: number;
  /** Register requests handled. */
  registers: number;
  /** Map requests handled. */
  maps: number;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function objectOrEmpty(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  if (JSON.stringify(v).length > MAX_HOSTINFO_BYTES) return {};
  return v as Record<string, unknown>;
}

/** Reads a stream's body up to `MAX_BODY_BYTES`; null (after answering 413/408) when refused. */
function readBody(stream: ServerHttp2Stream, stats: ServerStats): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      if (!stream.destroyed) stream.close();
      finish(null);
    }, BODY_TIMEOUT_MS);
    stream.on('data', (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n > MAX_BODY_BYTES) {
        stats.tooLarge++;
        if (!stream.headersSent) stream.respond({ ':status': 413 });
        stream.end('request body too large\n');
        finish(null);
        return;
      }
      chunks.push(c);
    });
    stream.on('end', () => finish(Buffer.concat(chunks).toString('utf8')));
    stream.on('close', () => finish(null));
  });
}

function reply(stream: ServerHttp2Stream, status: number, body: string, json = false): void {
  if (stream.destroyed || stream.closed) return;
  if (!stream.headersSent) {
    stream.respond({
      ':status': status,
      'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
    });
  }
  stream.end(body);
}

export class ControlRoutes {
  readonly #env: ServerEnv;
  readonly stats: ServerStats = { badRequests: 0, tooLarge: 0, registers: 0, maps: 0 };

  constructor(env: ServerEnv) {
    this.#env = env;
  }

  /** Plain HTTP requests (not upgrades). Returns false for paths it does not own. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/key') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          legacyPublicKey: `mkey:${'0'.repeat(64)}`,
          publicKey: this.#env.controlKey.public().toString(),
        }),
      );
      return true;
    }
    if (u.pathname === '/machine/ping-response') {
      this.#readPlain(req, (body) => {
        const ok = this.#env.pingAnswered(u.searchParams.get('id') ?? '', req.method ?? '', body);
        res.writeHead(ok ? 200 : 404);
        res.end();
      });
      return true;
    }
    const m = /^\/a\/([0-9a-f]{32})$/.exec(u.pathname);
    if (m !== null) {
      const l = this.#env.state.login(m[1]!);
      res.writeHead(l === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        l === undefined
          ? '<!doctype html><title>Unknown login</title><p>Unknown or completed login.</p>'
          : `<!doctype html><title>Login pending</title><p>Login of <b>${escapeHtml(l.hostname)}</b> is waiting ` +
              'for approval: <code>tailnet.approveLogin(url)</code> or <code>POST /api/logins/&lt;id&gt;/approve</code> ' +
              'on the admin endpoint.</p>',
      );
      return true;
    }
    if (u.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('@tsnet/testcontrol: a test tailnet control server.\n');
      return true;
    }
    return false;
  }

  #readPlain(req: IncomingMessage, then: (body: string) => void): void {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY_BYTES) {
        this.stats.tooLarge++;
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => {});
  }

  /** One HTTP/2 request over Noise. */
  onStream(stream: ServerHttp2Stream, headers: Record<string, unknown>, ctx: NoiseContext): void {
    const method = String(headers[':method'] ?? '');
    const path = String(headers[':path'] ?? '');
    const pathname = path.split('?')[0] ?? '';
    this.#dispatch(stream, method, path, pathname, ctx).catch((e: unknown) => {
      this.#env.logf('testcontrol: %s %s: %s', method, pathname, (e as Error).message);
      reply(stream, 500, 'internal error\n');
    });
  }

  async #dispatch(
    stream: ServerHttp2Stream,
    method: string,
    path: string,
    pathname: string,
    ctx: NoiseContext,
  ): Promise<void> {
    if (pathname === '/machine/ping-response') {
      const body = (await readBody(stream, this.stats)) ?? '';
      const id = new URL(path, 'http://x').searchParams.get('id') ?? '';
      reply(stream, this.#env.pingAnswered(id, method, body) ? 200 : 404, '');
      return;
    }
    if (pathname !== '/machine/register' && pathname !== '/machine/map') {
      const known = ['/machine/set-dns', '/machine/id-token', '/machine/feature/query', '/machine/audit-log'];
      reply(stream, known.includes(pathname) ? 501 : 404, 'not implemented by testcontrol\n');
      return;
    }
    if (method !== 'POST') {
      reply(stream, 405, 'POST only\n');
      return;
    }
    const text = await readBody(stream, this.stats);
    if (text === null) return;
    let raw: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      raw = v as Record<string, unknown>;
    } catch (e) {
      this.stats.badRequests++;
      reply(stream, 400, `bad request: ${(e as Error).message}\n`);
      return;
    }
    const hostinfo = raw.Hostinfo === undefined || raw.Hostinfo === null ? null : objectOrEmpty(raw.Hostinfo);
    if (pathname === '/machine/register') {
      let req: ReturnType<typeof RegisterRequestSchema.parse>;
      try {
        req = validate(RegisterRequestSchema, raw, 'RegisterRequest');
      } catch (e) {
        this.stats.badRequests++;
        reply(stream, 400, `bad request: ${(e as Error).message}\n`);
        return;
      }
      this.stats.registers++;
      const ac = new AbortController();
      const abort = () => ac.abort();
      stream.once('close', abort);
      const signal = AbortSignal.any([ac.signal, ctx.signal, this.#env.signal]);
      const out = await handleRegister(
        { state: this.#env.state, clock: this.#env.clock, machineKey: ctx.machineKey, signal },
        req,
        hostinfo ?? {},
      );
      stream.off('close', abort);
      if ('body' in out) reply(stream, 200, JSON.stringify(out.body), true);
      else reply(stream, out.status, `${out.text}\n`);
      return;
    }
    let req: ReturnType<typeof MapRequestSchema.parse>;
    try {
      req = validate(MapRequestSchema, raw, 'MapRequest');
    } catch (e) {
      this.stats.badRequests++;
      reply(stream, 400, `bad request: ${(e as Error).message}\n`);
      return;
    }
    this.stats.maps++;
    const n = this.#env.state.nodeByKey(req.NodeKey);
    if (n === undefined) {
      reply(stream, 404, 'node not found\n');
      return;
    }
    if (!n.machineKey.equals(ctx.machineKey)) {
      reply(stream, 403, "node doesn't match machine key\n");
      return;
    }
    this.#env.sessions.handle(stream, n, req, hostinfo);
  }
}

/** Answers an upgrade for a path nobody owns. */
export function refuseUpgrade(socket: Duplex): void {
  socket.on('error', () => {});
  socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
}
