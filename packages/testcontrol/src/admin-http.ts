/**
 * The admin API over HTTP, for tests that do not run in this process (a Go or Python test, a
 * shell script). JSON in and out, on 127.0.0.1 only, every request with
 * `Authorization: Bearer <token>` (compared in constant time).
 *
 * | method | path | body → answer |
 * |---|---|---|
 * | GET | `/api/nodes` | → `NodeInfo[]` |
 * | GET | `/api/nodes/<ref>` | → `NodeInfo` (ref: ID, hostname, MagicDNS name, node key, IP) |
 * | DELETE | `/api/nodes/<ref>` | → `{}` |
 * | POST | `/api/nodes/<ref>/expire` | → `{}` |
 * | PUT | `/api/nodes/<ref>/capabilities` | CapMap → `{}` |
 * | PUT | `/api/nodes/<ref>/tags` | `{"tags": [...]}` → `{}` |
 * | POST | `/api/nodes/<ref>/ping` | `{"type"?, "ip"?, "timeoutMs"?}` → `PingResult` |
 * | GET | `/api/nodes/<ref>/wait?online=true&timeoutMs=N` | → `NodeInfo` when it holds |
 * | GET, POST | `/api/users` | `{"loginName", "displayName"?}` → `UserInfo` |
 * | POST | `/api/keys` | `AuthKeyOptions` → `{"key": "tskey-auth-..."}` |
 * | GET | `/api/logins` | → `PendingLogin[]`; `/api/logins/wait?hostname=&timeoutMs=` waits for one |
 * | POST | `/api/logins/<id>/approve`, `/reject` | `{"user"?}` → `{}` |
 * | GET, PUT | `/api/policy` | `Policy` or `null` |
 *
 * Errors: 400 `{"error": "..."}` for bad input, 401 without the token, 404 for unknown things.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logf, TsnetError } from '@tsnet/core';
import { z } from 'zod';
import type { TestTailnet } from './tailnet.js';

const MAX_BODY = 256 << 10;
const MAX_WAIT_MS = 120_000;

const KeySchema = z.object({
  user: z.union([z.string().min(1).max(256), z.number().int().positive()]).optional(),
  reusable: z.boolean().optional(),
  ephemeral: z.boolean().optional(),
  tags: z.array(z.string().max(80)).max(64).optional(),
  expiresInMs: z.number().positive().optional(),
});
const UserSchema = z.object({
  loginName: z.string().min(1).max(256),
  displayName: z.string().max(256).optional(),
});
const PingSchema = z.object({
  type: z.string().max(32).optional(),
  ip: z.string().max(64).optional(),
  timeoutMs: z.number().positive().max(MAX_WAIT_MS).optional(),
});
const TagsSchema = z.object({ tags: z.array(z.string().max(80)).max(64) });
const CapMapSchema = z.record(z.string().min(1).max(256), z.array(z.unknown()).max(1000));
const ApproveSchema = z.object({ user: z.string().min(1).max(256).optional() });

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

function parse<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new HttpError(400, `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

function timeoutOf(u: URL): number {
  const t = Number(u.searchParams.get('timeoutMs') ?? 20_000);
  return Number.isFinite(t) && t > 0 ? Math.min(t, MAX_WAIT_MS) : 20_000;
}

export class AdminHttp {
  readonly #tailnet: TestTailnet;
  readonly #tokenDigest: Buffer;
  readonly #logf: Logf;
  readonly #server: Server;
  readonly token: string;
  url = '';

  constructor(tailnet: TestTailnet, token: string, logf: Logf) {
    if (token.length < 16) throw new RangeError('adminToken must be at least 16 characters');
    this.#tailnet = tailnet;
    this.token = token;
    this.#tokenDigest = digest(token);
    this.#logf = logf;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => this.#fail(res, e));
    });
    this.#server.on('clientError', (_e, s) => s.destroy());
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #fail(res: ServerResponse, e: unknown): void {
    let status = 500;
    if (e instanceof HttpError) status = e.status;
    else if (e instanceof RangeError || e instanceof TypeError)
      status = e.message.startsWith('no ') ? 404 : 400;
    else if (TsnetError.is(e) && e.code === 'ETIMEDOUT') status = 504;
    if (status === 500) this.#logf('testcontrol admin: %s', (e as Error).message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: (e as Error).message }));
  }

  #authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(h);
    // Compare fixed-size digests so neither length nor content leaks through timing.
    return m !== null && timingSafeEqual(digest(m[1]!), this.#tokenDigest);
  }

  #body(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BODY) {
          req.destroy();
          reject(new HttpError(413, 'body too large'));
          return;
        }
        chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') {
          resolve({});
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new HttpError(400, 'body is not JSON'));
        }
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) throw new HttpError(403, 'loopback only');
    if (!this.#authorized(req)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'missing or wrong bearer token' }));
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const parts = u.pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const out = await this.#route(method, parts, u, req);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out === undefined ? {} : out));
  }

  async #route(method: string, p: string[], u: URL, req: IncomingMessage): Promise<unknown> {
    const t = this.#tailnet;
    if (p[0] !== 'api') throw new HttpError(404, 'not found');
    const [, what, ref, action] = p;
    const nodeRef = (s: string): number | string => (/^\d+$/.test(s) ? Number(s) : s);
    if (what === 'nodes') {
      if (ref === undefined && method === 'GET') return t.nodes();
      if (ref === undefined) throw new HttpError(405, 'method not allowed');
      const r = nodeRef(ref);
      if (action === undefined && method === 'GET') {
        const n = t.node(r);
        if (n === undefined) throw new HttpError(404, `no node ${JSON.stringify(ref)}`);
        return n;
      }
      if (action === undefined && method === 'DELETE') return t.deleteNode(r);
      if (action === 'expire' && method === 'POST') return t.expireNode(r);
      if (action === 'capabilities' && method === 'PUT')
        return t.setNodeCapabilities(r, parse(CapMapSchema, await this.#body(req)));
      if (action === 'tags' && method === 'PUT')
        return t.setNodeTags(r, parse(TagsSchema, await this.#body(req)).tags);
      if (action === 'ping' && method === 'POST') {
        const o = parse(PingSchema, await this.#body(req));
        return t.ping(r, {
          ...(o.type !== undefined ? { type: o.type } : {}),
          ...(o.ip !== undefined ? { ip: o.ip } : {}),
          ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        });
      }
      if (action === 'wait' && method === 'GET') {
        const online = u.searchParams.get('online');
        return t.waitForNode(
          { ref: r, ...(online === null ? {} : { online: online === 'true' }) },
          { timeoutMs: timeoutOf(u) },
        );
      }
    }
    if (what === 'users' && ref === undefined) {
      if (method === 'GET') return t.users();
      if (method === 'POST') {
        const o = parse(UserSchema, await this.#body(req));
        return t.createUser(o.loginName, o.displayName);
      }
    }
    if (what === 'keys' && ref === undefined && method === 'POST') {
      const o = parse(KeySchema, await this.#body(req));
      const opts: Parameters<TestTailnet['createAuthKey']>[0] = {};
      if (o.user !== undefined) opts.user = o.user;
      if (o.reusable !== undefined) opts.reusable = o.reusable;
      if (o.ephemeral !== undefined) opts.ephemeral = o.ephemeral;
      if (o.tags !== undefined) opts.tags = o.tags;
      if (o.expiresInMs !== undefined) opts.expiresInMs = o.expiresInMs;
      return { key: t.createAuthKey(opts) };
    }
    if (what === 'logins') {
      if (ref === undefined && method === 'GET') return t.pendingLogins();
      if (ref === 'wait' && method === 'GET') {
        const hostname = u.searchParams.get('hostname');
        return t.waitForLogin({ ...(hostname === null ? {} : { hostname }), timeoutMs: timeoutOf(u) });
      }
      if (ref !== undefined && action === 'approve' && method === 'POST') {
        const o = parse(ApproveSchema, await this.#body(req));
        return t.approveLogin(ref, o.user === undefined ? {} : { user: o.user });
      }
      if (ref !== undefined && action === 'reject' && method === 'POST') return t.rejectLogin(ref);
    }
    if (what === 'policy' && ref === undefined) {
      if (method === 'GET') return t.policy;
      if (method === 'PUT') {
        const body = await this.#body(req);
        t.setPolicy(body === null ? null : (body as never));
        return {};
      }
    }
    throw new HttpError(404, 'not found');
  }
}
