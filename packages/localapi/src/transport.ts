/**
 * How a `LocalClient` reaches a LocalAPI: a function from a request to a response, with three
 * implementations.
 *
 * - `unixSocketTransport(path)`: a real tailscaled's socket (`--socket=`, default
 *   `/var/run/tailscale/tailscaled.sock`), `http.request({ socketPath })` with `Host:
 *   local-tailscaled.sock` as Go's `local.Client` sends it.
 * - `httpTransport(url, credential)`: tsnet's loopback LocalAPI on 127.0.0.1 (protocol-map §9.1),
 *   with `Sec-Tailscale: localapi` and Basic auth `("", credential)`.
 * - `inProcessTransport(handler)`: a handler in this process, through an in-memory stream pair
 *   and a `node:http` server that never listens: real HTTP framing, no socket. Go tsnet does the same
 *   with `memnet` (`tsnet/tsnet.go start`).
 *
 * Every request carries `Tailscale-Cap: <capver>` (`local.go DoLocalRequest`) and is bounded by a
 * timeout.
 */

import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type RequestOptions,
} from 'node:http';
import { Duplex } from 'node:stream';
import { LOCAL_API_HOST, SEC_TAILSCALE_VALUE } from './auth.js';
import { LocalApiConnectError } from './errors.js';
import { LOCAL_API_CAPABILITY_VERSION, type LocalApiRequestHandler } from './handler.js';

/** One LocalAPI request. */
export interface LocalRequest {
  /** The HTTP method. */
  method: string;
  /** Path and query, e.g. `/localapi/v0/whois?addr=100.64.0.1`. */
  path: string;
  /** The request body (JSON text), if any. */
  body?: string | undefined;
  /** Bound on the request in milliseconds. */
  timeoutMs: number;
}

/** A LocalAPI response read in full. */
export interface LocalResponse {
  /** The HTTP status code. */
  status: number;
  /** The HTTP status text. */
  statusText: string;
  /** The response headers. */
  headers: IncomingHttpHeaders;
  /** The whole body. */
  body: Buffer;
}

/** A response whose body is read as it arrives (`watch-ipn-bus`). */
export interface LocalStreamResponse {
  /** The HTTP status code. */
  status: number;
  /** The HTTP status text. */
  statusText: string;
  /** The response headers. */
  headers: IncomingHttpHeaders;
  /** The body; `close()` ends the request. */
  body: AsyncIterable<Buffer>;
  /** Ends the request (the body then ends). */
  close(): void;
}

/**
 * Sends one request and reads the whole response. `stream`, where present, resolves on the
 * response headers instead and hands over the body as it comes (only the wait for the headers is
 * bounded by `timeoutMs`).
 */
export type LocalTransport = ((req: LocalRequest) => Promise<LocalResponse>) & {
  /** Sends one request and resolves on the response headers, with the body as it arrives. */
  stream?: (req: LocalRequest) => Promise<LocalStreamResponse>;
};

/** The largest LocalAPI response read (a 10k-peer status is a few MB). */
export const MAX_RESPONSE_BYTES = 256 << 20;

function errnoCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ECONNRESET';
}

function connectError(path: string, target: string, e: unknown): LocalApiConnectError {
  const code = errnoCode(e);
  const route = path.split('?')[0] ?? path;
  return new LocalApiConnectError(
    code,
    `Failed to connect to local Tailscale daemon for ${route} at ${target}: ${(e as Error).message ?? String(e)}`,
    { cause: e },
  );
}

function send(
  base: RequestOptions,
  req: LocalRequest,
  target: string,
  extraHeaders: Record<string, string>,
): Promise<LocalResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Host: LOCAL_API_HOST,
      'Tailscale-Cap': String(LOCAL_API_CAPABILITY_VERSION),
      ...extraHeaders,
    };
    if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }
    let settled = false;
    const r = httpRequest({ ...base, method: req.method, path: req.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_RESPONSE_BYTES) {
          r.destroy(
            new LocalApiConnectError('ERR_LOCALAPI_TOO_LARGE', `response over ${MAX_RESPONSE_BYTES} bytes`),
          );
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        settled = true;
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(connectError(req.path, target, e));
      });
    });
    const timer = setTimeout(() => {
      const e = Object.assign(new Error(`no answer within ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      r.destroy(e);
    }, req.timeoutMs);
    r.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e instanceof LocalApiConnectError ? e : connectError(req.path, target, e));
    });
    r.end(req.body);
  });
}

function sendStream(
  base: RequestOptions,
  req: LocalRequest,
  target: string,
  extraHeaders: Record<string, string>,
  onDone: () => void = () => {},
): Promise<LocalStreamResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Host: LOCAL_API_HOST,
      'Tailscale-Cap': String(LOCAL_API_CAPABILITY_VERSION),
      ...extraHeaders,
    };
    let answered = false;
    const r = httpRequest({ ...base, method: req.method, path: req.path, headers }, (res) => {
      answered = true;
      clearTimeout(timer);
      res.on('close', onDone);
      resolve({
        status: res.statusCode ?? 0,
        statusText: res.statusMessage ?? '',
        headers: res.headers,
        body: res,
        close: () => {
          r.destroy();
          res.destroy();
          onDone();
        },
      });
    });
    const timer = setTimeout(() => {
      r.destroy(Object.assign(new Error(`no answer within ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, req.timeoutMs);
    r.on('error', (e) => {
      clearTimeout(timer);
      if (!answered) {
        onDone();
        reject(connectError(req.path, target, e));
      }
    });
    r.end(req.body);
  });
}

/** A real tailscaled's LocalAPI unix socket. */
export function unixSocketTransport(socketPath: string): LocalTransport {
  const base = { socketPath, agent: false } as const;
  return Object.assign((req: LocalRequest) => send(base, req, socketPath, {}), {
    stream: (req: LocalRequest) => sendStream(base, req, socketPath, {}),
  });
}

/**
 * tsnet's loopback LocalAPI (`Server.loopback()`): `url` like `http://127.0.0.1:PORT`, and the
 * LocalAPI credential it returned (sent as the Basic-auth password; never logged).
 */
export function httpTransport(url: string | URL, credential: string): LocalTransport {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new TypeError(`url must be an http: URL, got ${u.protocol}`);
  const auth = `Basic ${Buffer.from(`:${credential}`, 'utf8').toString('base64')}`;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const base = { host, port: Number(u.port || 80), agent: false } as const;
  const extra = { Authorization: auth, 'Sec-Tailscale': SEC_TAILSCALE_VALUE };
  return Object.assign((req: LocalRequest) => send(base, req, u.host, extra), {
    stream: (req: LocalRequest) => sendStream(base, req, u.host, extra),
  });
}

/** Two Duplex streams, each reading what the other writes. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed) p.push(null);
        cb(err);
      },
    });
  ends.push(
    make(() => ends[1] as Duplex),
    make(() => ends[0] as Duplex),
  );
  return [ends[0] as Duplex, ends[1] as Duplex];
}

/** A LocalAPI handler in this process, reached without any socket. */
export function inProcessTransport(handler: LocalApiRequestHandler): LocalTransport {
  const server = createServer(handler);
  const connect = () => {
    const [clientEnd, serverEnd] = duplexPair();
    server.emit('connection', serverEnd);
    const done = () => {
      clientEnd.destroy();
      serverEnd.destroy();
    };
    // No agent: node:http then uses createConnection (agent: false would make a new Agent).
    return { base: { createConnection: () => clientEnd as never }, done };
  };
  return Object.assign(
    (req: LocalRequest) => {
      const c = connect();
      return send(c.base, req, 'in-process', {}).finally(c.done);
    },
    {
      stream: (req: LocalRequest) => {
        const c = connect();
        return sendStream(c.base, req, 'in-process', {}, c.done);
      },
    },
  );
}
