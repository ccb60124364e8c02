/**
 * Dialing ts2021 (tailscale/tailscale `control/controlhttp/client.go tryURLUpgrade`,
 * `control/controlclient/direct.go loadServerPubKeys`, `control/tsp/tsp.go DiscoverServerKey`):
 *
 * 1. `GET {server}/key?v={capver}` → `{"publicKey":"mkey:…"}` (the Noise key of control);
 * 2. `POST {server}/ts2021` with `Upgrade: tailscale-control-protocol`, `Connection: upgrade` and
 *    `X-Tailscale-Handshake: base64(initiation)`; the server answers `101 Switching Protocols`
 *    and then writes the Noise response (or an error message) as the first raw bytes;
 * 3. the socket becomes a `NoiseConn`.
 *
 * Every step is bounded by `timeoutMs` and the caller's `AbortSignal`.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { type CryptoProvider, type MachinePrivate, MachinePublic, TsnetError, toBase64 } from '@tsnet/core';
import {
  ControlClosedError,
  ControlHandshakeError,
  ControlHttpError,
  ControlUnreachableError,
} from '../errors.js';
import { decodeJSON } from '../tailcfg/decode.js';
import { OverTLSPublicKeyResponseSchema } from '../tailcfg/register.js';
import { NoiseConn } from './conn.js';
import { createInitiation, type PendingHandshake } from './handshake.js';
import {
  HANDSHAKE_HEADER_NAME,
  HEADER_LEN,
  MSG_TYPE_ERROR,
  MSG_TYPE_RESPONSE,
  RESPONSE_LEN,
  UPGRADE_HEADER_VALUE,
  UPGRADE_PATH,
} from './messages.js';
import { dialWebSocket } from './websocket.js';

/** Largest `/key` body read (as Go: 64 KiB). */
const MAX_KEY_BODY = 64 << 10;

export const DEFAULT_DIAL_TIMEOUT_MS = 30_000;

function requester(url: URL): typeof http {
  if (url.protocol === 'http:') return http;
  if (url.protocol === 'https:') return https as unknown as typeof http;
  throw new TypeError(`serverURL must be http: or https:, got ${JSON.stringify(url.protocol)}`);
}

/** Combines a caller's signal with a timeout; `dispose` clears the timer. */
export function boundedSignal(signal: AbortSignal | undefined, timeoutMs: number, what: string) {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new TsnetError('ETIMEDOUT', `${what}: timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onAbort = () => ctl.abort(signal?.reason ?? new ControlClosedError());
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

async function readBody(res: http.IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > max) {
      res.destroy();
      throw new ControlHttpError('reading body', res.statusCode ?? 0, `body exceeds ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Fetches the control server's Noise public key (`GET /key?v=<capver>`). Falls back to a bare
 * untyped hex body as very old servers send.
 */
export async function fetchServerKey(
  serverURL: string,
  capVersion: number,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<MachinePublic> {
  const url = new URL(`/key?v=${capVersion}`, serverURL);
  const b = boundedSignal(opts.signal, opts.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS, 'fetching server key');
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = requester(url).get(
        url,
        { signal: b.signal, headers: { 'user-agent': 'tsnet-ts' } },
        resolve,
      );
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          b.signal.aborted
            ? b.signal.reason
            : new ControlUnreachableError(
                `control server ${url.origin} unreachable: ${e.code ?? e.message}`,
                { cause: e },
              ),
        ),
      );
    });
    const body = (await readBody(res, MAX_KEY_BODY)).toString('utf8');
    if (res.statusCode !== 200) throw new ControlHttpError('fetching server key', res.statusCode ?? 0, body);
    const trimmed = body.trim();
    if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return MachinePublic.parse(`mkey:${trimmed}`);
    const keys = decodeJSON(OverTLSPublicKeyResponseSchema, body, 'OverTLSPublicKeyResponse');
    if (keys.publicKey.isZero()) throw new ControlHandshakeError('control server is too old; no noise key');
    return keys.publicKey;
  } finally {
    b.dispose();
  }
}

/** Options of `dialNoise`. */
export interface DialOptions {
  /** The control server URL. */
  serverURL: string;
  /** Our machine key. */
  machineKey: MachinePrivate;
  /** Control's Noise public key (from `GET /key`). */
  controlKey: MachinePublic;
  /** Protocol version = capability version. */
  version: number;
  /** `'http'` (the upgrade, default) or `'websocket'`. */
  transport?: 'http' | 'websocket';
  /** Gives up when it aborts. */
  signal?: AbortSignal;
  /** Gives up after this long. */
  timeoutMs?: number;
  /** The crypto provider (default `getCryptoProvider()`). */
  crypto?: CryptoProvider;
}

/**
 * Reads exactly the handshake answer from `sock` (which may already have delivered `head`):
 * the 51-byte response, or an error message. Returns the response and any bytes after it.
 */
export function readHandshakeResponse(
  sock: Duplex,
  head: Uint8Array,
  signal: AbortSignal,
): Promise<{ response: Uint8Array; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.from(head);
    const done = (err: Error | null, value?: { response: Uint8Array; rest: Uint8Array }) => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      sock.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const check = (): boolean => {
      if (buf.length < HEADER_LEN) return false;
      const type = buf[0]!;
      const len = buf.readUInt16BE(1);
      if (type === MSG_TYPE_ERROR) {
        if (buf.length < HEADER_LEN + len) return false;
        const msg = buf.subarray(HEADER_LEN, HEADER_LEN + len).toString('utf8');
        done(new ControlHandshakeError(`server error: ${JSON.stringify(msg.slice(0, 500))}`));
        return true;
      }
      if (type !== MSG_TYPE_RESPONSE) {
        done(new ControlHandshakeError(`unexpected response message type ${type}`));
        return true;
      }
      if (buf.length < RESPONSE_LEN) return false;
      done(null, {
        response: new Uint8Array(buf.subarray(0, RESPONSE_LEN)),
        rest: new Uint8Array(buf.subarray(RESPONSE_LEN)),
      });
      return true;
    };
    const onData = (c: Buffer) => {
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      check();
    };
    const onEnd = () =>
      done(
        new ControlHandshakeError(
          'connection closed during the Noise handshake (the server may refuse this capability version)',
        ),
      );
    const onError = (e: Error) =>
      done(new ControlHandshakeError(`reading handshake response: ${e.message}`, { cause: e }));
    const onAbort = () => {
      sock.destroy();
      done(signal.reason as Error);
    };
    if (check()) return;
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onEnd);
    sock.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.resume();
  });
}

/** Dials ts2021 and completes the Noise handshake; returns the connection, ready for HTTP/2. */
export async function dialNoise(opts: DialOptions): Promise<NoiseConn> {
  const hs = createInitiation({
    machineKey: opts.machineKey,
    controlKey: opts.controlKey,
    version: opts.version,
    ...(opts.crypto ? { crypto: opts.crypto } : {}),
  });
  const b = boundedSignal(opts.signal, opts.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS, 'ts2021 dial');
  try {
    if (opts.transport === 'websocket') {
      const ws = await dialWebSocket(opts.serverURL, UPGRADE_PATH, hs.initiation, b.signal);
      return await finish(hs, ws, new Uint8Array(0), b.signal, false, opts.crypto);
    }
    const { socket, head } = await upgrade(opts.serverURL, hs.initiation, b.signal);
    return await finish(hs, socket, head, b.signal, true, opts.crypto);
  } finally {
    b.dispose();
  }
}

async function finish(
  hs: PendingHandshake,
  sock: Duplex,
  head: Uint8Array,
  signal: AbortSignal,
  stripEarlyPayload: boolean,
  crypto: CryptoProvider | undefined,
): Promise<NoiseConn> {
  let r: { response: Uint8Array; rest: Uint8Array };
  try {
    r = await readHandshakeResponse(sock, head, signal);
  } catch (e) {
    sock.destroy();
    throw e;
  }
  let keys: ReturnType<PendingHandshake['finish']>;
  try {
    keys = hs.finish(r.response);
  } catch (e) {
    sock.destroy();
    throw e;
  }
  return new NoiseConn(sock, { keys, head: r.rest, stripEarlyPayload, ...(crypto ? { crypto } : {}) });
}

function upgrade(
  serverURL: string,
  initiation: Uint8Array,
  signal: AbortSignal,
): Promise<{ socket: Duplex; head: Uint8Array }> {
  const url = new URL(UPGRADE_PATH, serverURL);
  return new Promise((resolve, reject) => {
    const req = requester(url).request(url, {
      method: 'POST',
      signal,
      headers: {
        Upgrade: UPGRADE_HEADER_VALUE,
        Connection: 'upgrade',
        [HANDSHAKE_HEADER_NAME]: toBase64(initiation),
        'Content-Length': '0',
        'User-Agent': 'tsnet-ts',
      },
    });
    req.on('upgrade', (res, socket, head) => {
      const next = String(res.headers.upgrade ?? '');
      if (next.toLowerCase() !== UPGRADE_HEADER_VALUE) {
        socket.destroy();
        reject(new ControlHandshakeError(`server switched to unexpected protocol ${JSON.stringify(next)}`));
        return;
      }
      socket.setNoDelay(true);
      resolve({ socket, head: new Uint8Array(head) });
    });
    req.on('response', (res) => {
      readBody(res, 4096)
        .then((body) =>
          reject(new ControlHttpError('ts2021 upgrade', res.statusCode ?? 0, body.toString('utf8'))),
        )
        .catch(reject);
    });
    req.on('error', (e) =>
      reject(
        signal.aborted
          ? signal.reason
          : new ControlHandshakeError(`ts2021 upgrade: ${e.message}`, { cause: e }),
      ),
    );
    req.end();
  });
}
