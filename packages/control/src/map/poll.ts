/**
 * The map poll (`POST /machine/map`; tailscale/tailscale `control/controlclient/direct.go
 * sendMapRequest`, headscale `hscontrol/poll.go`):
 *
 * - streaming: `Stream: true`, `KeepAlive: true`, `Compress: ""`; the server answers 200 and then
 *   writes framed MapResponses (./frames.ts) for as long as the session lives, with a
 *   `{"KeepAlive":true}` about every 50–59 s. If nothing at all arrives for 120 s (the watchdog,
 *   Go's `watchdogTimeout`) the session is dropped. The first non-keep-alive message must carry
 *   `Node`.
 * - lite update: `Stream: false`, `OmitPeers: true`: control stores the endpoints, disco key and
 *   hostinfo and answers 200 with no map.
 */
import { type Clock, type Logf, TsnetError } from '@tsnet/core';
import { ControlClosedError, ControlHttpError, ControlProtocolError } from '../errors.js';
import { decodeJSON } from '../tailcfg/decode.js';
import { type MapRequest, type MapResponse, MapResponseSchema } from '../tailcfg/map.js';
import type { NoiseHttpClient, OpenResponse } from '../ts2021/client.js';
import { DEFAULT_MAX_MAP_MESSAGE, MapFrameDecoder } from './frames.js';

/** The map watchdog: a streaming session with no message (not even a keep-alive) for this long is dead. */
export const WATCHDOG_TIMEOUT_MS = 120_000;

/** What `pollMap` needs for one streaming map session. */
export interface MapPollParams {
  /** The Noise HTTP/2 client to send the request on. */
  http: NoiseHttpClient;
  /** The map request to send (`Stream: true`). */
  request: MapRequest;
  /** The clock for the watchdog. */
  clock: Clock;
  /** Verbose logs. */
  logf: Logf;
  /** Ends the session when it aborts. */
  signal?: AbortSignal;
  /** Largest message accepted (default 64 MiB). */
  maxMessageBytes?: number;
  /** Watchdog period (default `WATCHDOG_TIMEOUT_MS`). */
  watchdogMs?: number;
  /** Each decoded message, in order (keep-alives included). Throwing ends the poll with that error. */
  onMessage: (resp: MapResponse) => void;
}

/** Counters of one map session. */
export interface MapPollStats {
  /** Messages received. */
  messages: number;
  /** Keep-alives received. */
  keepAlives: number;
  /** Bytes of the stream received. */
  bytes: number;
}

/**
 * Runs one streaming map session. Resolves when the server ends the stream; rejects with the
 * reason when it fails (watchdog `ETIMEDOUT`, a malformed message, a closed connection).
 */
export function pollMap(
  p: MapPollParams,
  stats: MapPollStats = { messages: 0, keepAlives: 0, bytes: 0 },
): Promise<void> {
  const watchdogMs = p.watchdogMs ?? WATCHDOG_TIMEOUT_MS;
  const body = JSON.stringify(p.request);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let stream: { close(code?: number): void; destroyed: boolean } | undefined;
    let watchdog = p.clock.setTimeout(
      () => fail(new TsnetError('ETIMEDOUT', 'map response long-poll timed out')),
      watchdogMs,
    );
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      watchdog.cancel();
      p.signal?.removeEventListener('abort', onAbort);
      if (stream !== undefined && !stream.destroyed) stream.close(0x8); // NGHTTP2_CANCEL
      if (err) reject(err);
      else resolve();
    };
    const fail = (e: Error) => finish(e);
    const onAbort = () => fail((p.signal?.reason as Error) ?? new ControlClosedError());
    if (p.signal?.aborted) return onAbort();
    p.signal?.addEventListener('abort', onAbort, { once: true });

    const onResponse = (res: OpenResponse) => {
      stream = res.stream;
      if (settled) {
        res.stream.close(0x8);
        return;
      }
      if (res.status !== 200) {
        const chunks: Buffer[] = [];
        let n = 0;
        res.stream.on('data', (c: Buffer) => {
          n += c.length;
          if (n <= 4096) chunks.push(c);
        });
        res.stream.on('end', () =>
          fail(new ControlHttpError('map request', res.status, Buffer.concat(chunks).toString('utf8'))),
        );
        res.stream.on('error', fail);
        return;
      }
      const dec = new MapFrameDecoder(p.maxMessageBytes ?? DEFAULT_MAX_MAP_MESSAGE);
      let gotNonKeepAlive = false;
      watchdog.cancel();
      watchdog = p.clock.setTimeout(
        () => fail(new TsnetError('ETIMEDOUT', 'map response long-poll timed out')),
        watchdogMs,
      );
      res.stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        stats.bytes += chunk.length;
        try {
          for (const msg of dec.push(chunk)) {
            watchdog.cancel();
            const resp = decodeJSON(MapResponseSchema, msg, 'MapResponse');
            stats.messages++;
            if (resp.KeepAlive) stats.keepAlives++;
            else if (!gotNonKeepAlive) {
              if (resp.Node === undefined) throw new ControlProtocolError('initial MapResponse lacked node');
              gotNonKeepAlive = true;
            }
            p.onMessage(resp);
            if (settled) return;
            watchdog = p.clock.setTimeout(
              () => fail(new TsnetError('ETIMEDOUT', 'map response long-poll timed out')),
              watchdogMs,
            );
          }
        } catch (e) {
          fail(e as Error);
        }
      });
      res.stream.on('end', () => finish(null));
      res.stream.on('error', (e) => fail(new ControlClosedError(`map stream: ${e.message}`, { cause: e })));
      res.stream.on('close', () => finish(new ControlClosedError('map stream closed')));
    };
    p.http
      .open('POST', '/machine/map', body, { ...(p.signal ? { signal: p.signal } : {}), onResponse })
      .catch(fail);
  });
}

/** Sends a lite update (`Stream: false, OmitPeers: true`); resolves when control answered 200. */
export async function sendLiteUpdate(
  http: NoiseHttpClient,
  request: MapRequest,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const req: MapRequest = { ...request, Stream: false, OmitPeers: true };
  const res = await http.request('POST', '/machine/map', JSON.stringify(req), {
    timeoutMs: opts.timeoutMs ?? 30_000,
    maxBodyBytes: 1 << 20,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status !== 200)
    throw new ControlHttpError('lite map update', res.status, res.body.toString('utf8'));
}
