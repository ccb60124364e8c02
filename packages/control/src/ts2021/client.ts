/**
 * HTTP/2 over the ts2021 Noise connection (tailscale/tailscale `control/ts2021/client.go`): plain
 * HTTP/2 with prior knowledge runs inside the Noise stream, one connection for every request
 * (register, the long map poll, lite updates, ping answers). Request URLs are `https://<host>/…`
 * as Go's client makes them; the scheme is cosmetic because the transport is Noise.
 */
import * as http2 from 'node:http2';
import { discardLogf, type Logf } from '@tsnet/core';
import { ControlClosedError, ControlHttpError } from '../errors.js';
import type { NoiseConn } from './conn.js';
import { boundedSignal, type DialOptions, dialNoise } from './dial.js';

/** The default cap on a non-streaming response body. */
export const DEFAULT_MAX_BODY = 4 << 20;

/** Options of one request on the Noise HTTP/2 client. */
export interface RequestOptions {
  /** Aborts the request. */
  signal?: AbortSignal;
  /** Bound on the whole request (default 60 s; long polls pass `Infinity` and a signal). */
  timeoutMs?: number;
  /** Largest body accepted (default `DEFAULT_MAX_BODY`). */
  maxBodyBytes?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /**
   * Called synchronously when the response headers arrive, before the promise resolves: attach
   * body listeners here, or a short body can end before a later listener sees it.
   */
  onResponse?: (res: OpenResponse) => void;
}

/** A response read in full. */
export interface HttpResult {
  /** The HTTP status code. */
  status: number;
  /** The whole body. */
  body: Buffer;
  /** The `Retry-After` response header, if any. */
  retryAfter?: string;
}

/** An open HTTP/2 response whose body is read by the caller (the map stream). */
export interface OpenResponse {
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
}

/** HTTP/2 over a Noise connection to control: the ts2021 protocol's request channel. */
export class NoiseHttpClient {
  /** The Noise connection under the HTTP/2 session. */
  readonly conn: NoiseConn;
  readonly #session: http2.ClientHttp2Session;
  readonly #logf: Logf;
  #closed = false;
  readonly #closeListeners: Array<(err?: Error) => void> = [];
  /** Resolves when the session is gone, for whatever reason. */
  readonly closed: Promise<void>;

  private constructor(conn: NoiseConn, authority: string, logf: Logf) {
    this.conn = conn;
    this.#logf = logf;
    this.#session = http2.connect(authority, {
      createConnection: () => conn,
      settings: { enablePush: false },
      // A full map of a large tailnet is several MB on one stream; keep nghttp2 from refusing it.
      maxSessionMemory: 64,
    });
    let resolveClosed!: () => void;
    this.closed = new Promise((r) => {
      resolveClosed = r;
    });
    const onGone = (err?: Error) => {
      if (this.#closed) return;
      this.#closed = true;
      for (const l of this.#closeListeners.splice(0)) l(err);
      conn.destroy();
      resolveClosed();
    };
    this.#session.on('error', (err) => {
      this.#logf('control: http2 session error: %s', err.message);
      onGone(err);
    });
    this.#session.on('goaway', (code) => {
      this.#logf('control: http2 GOAWAY (code %d)', code);
    });
    this.#session.on('close', () => onGone());
    conn.on('close', () => {
      if (!this.#session.destroyed) this.#session.destroy();
      onGone();
    });
    conn.on('error', (err) => this.#logf('control: noise connection error: %s', err.message));
  }

  /** Dials, handshakes and starts HTTP/2. */
  static async connect(opts: DialOptions & { logf?: Logf }): Promise<NoiseHttpClient> {
    const conn = await dialNoise(opts);
    const host = new URL(opts.serverURL).host;
    return new NoiseHttpClient(conn, `https://${host}`, opts.logf ?? discardLogf);
  }

  /** Wraps an established Noise connection (tests, custom carriers). */
  static fromConn(conn: NoiseConn, host: string, logf: Logf = discardLogf): NoiseHttpClient {
    return new NoiseHttpClient(conn, `https://${host}`, logf);
  }

  /** Whether the HTTP/2 session has closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Calls `fn` once when the session ends. */
  onClose(fn: (err?: Error) => void): void {
    if (this.#closed) queueMicrotask(() => fn());
    else this.#closeListeners.push(fn);
  }

  /** Opens a request and resolves when the response headers arrive. */
  open(
    method: string,
    path: string,
    body: string | Uint8Array | undefined,
    opts: RequestOptions = {},
  ): Promise<OpenResponse> {
    if (this.#closed) return Promise.reject(new ControlClosedError('control connection closed'));
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.#session.request({
          ':method': method,
          ':path': path,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        });
      } catch (e) {
        reject(new ControlClosedError('control connection closed', { cause: e }));
        return;
      }
      const onAbort = () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(opts.signal?.reason ?? new ControlClosedError());
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('response', (headers) => {
        opts.signal?.removeEventListener('abort', onAbort);
        const res: OpenResponse = { status: Number(headers[':status'] ?? 0), headers, stream };
        opts.onResponse?.(res);
        resolve(res);
      });
      stream.on('error', (err) => {
        opts.signal?.removeEventListener('abort', onAbort);
        reject(new ControlClosedError(`${method} ${path}: ${err.message}`, { cause: err }));
      });
      stream.on('close', () => {
        opts.signal?.removeEventListener('abort', onAbort);
        reject(new ControlClosedError(`${method} ${path}: stream closed before a response`));
      });
      if (body !== undefined) stream.end(body);
      else stream.end();
    });
  }

  /** A whole request: resolves with the status and the body (capped). */
  async request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    opts: RequestOptions = {},
  ): Promise<HttpResult> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const b = Number.isFinite(timeoutMs) ? boundedSignal(opts.signal, timeoutMs, `${method} ${path}`) : null;
    const signal = b?.signal ?? opts.signal;
    try {
      let bodyP: Promise<Buffer> | undefined;
      const res = await this.open(method, path, body, {
        ...opts,
        ...(signal ? { signal } : {}),
        onResponse: (r) => {
          bodyP = readAll(r.stream, opts.maxBodyBytes ?? DEFAULT_MAX_BODY, signal, `${method} ${path}`);
          bodyP.catch(() => {});
        },
      });
      const data = await bodyP!;
      const ra = res.headers['retry-after'];
      return { status: res.status, body: data, ...(typeof ra === 'string' ? { retryAfter: ra } : {}) };
    } finally {
      b?.dispose();
    }
  }

  /** `request`, named for call sites that read headers such as `Retry-After`. */
  requestWithHeaders(
    method: string,
    path: string,
    body?: string | Uint8Array,
    opts: RequestOptions = {},
  ): Promise<HttpResult> {
    return this.request(method, path, body, opts);
  }

  /** A JSON POST that must answer 200: returns the body. */
  async postJSON(path: string, payload: unknown, opts: RequestOptions = {}): Promise<Buffer> {
    const res = await this.request('POST', path, JSON.stringify(payload), opts);
    if (res.status !== 200) throw new ControlHttpError(`${path}`, res.status, res.body.toString('utf8'));
    return res.body;
  }

  /** Closes the session and the Noise connection, bounded. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#session.close();
      const t = setTimeout(() => {
        this.#session.destroy();
        this.conn.destroy();
      }, 1000);
      t.unref();
      void this.closed.then(() => clearTimeout(t));
    }
    return this.closed;
  }

  /** Tears everything down now. */
  destroy(): void {
    this.#session.destroy();
    this.conn.destroy();
  }
}

/** Reads a stream to the end, refusing more than `max` bytes. */
export function readAll(
  stream: http2.ClientHttp2Stream,
  max: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onAbort = () => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(signal?.reason ?? new ControlClosedError());
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        signal?.removeEventListener('abort', onAbort);
        reject(new ControlHttpError(what, 0, `response body exceeds ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    stream.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks));
    });
    stream.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new ControlClosedError(`${what}: ${err.message}`, { cause: err }));
    });
  });
}
