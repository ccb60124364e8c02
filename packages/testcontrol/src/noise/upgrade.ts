/**
 * The server side of the ts2021 transport (tailscale/tailscale
 * `control/controlhttp/controlhttpserver/controlhttpserver.go AcceptHTTP`, `acceptWebsocket`;
 * protocol-map.md §2.2, §2.5): the HTTP upgrade on `/ts2021` (POST or GET with
 * `Upgrade: tailscale-control-protocol` and the initiation in `X-Tailscale-Handshake`) or its
 * WebSocket variant (`?X-Tailscale-Handshake=` and subprotocol `tailscale-control-protocol`), the
 * Noise response, an optional early payload, then HTTP/2 with prior knowledge over the Noise
 * stream, served by `node:http2`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NoiseConn, WebSocketStream, websocketAccept } from '@tsnet/control';
import {
  type CryptoProvider,
  type Logf,
  type MachinePrivate,
  type MachinePublic,
  parseBase64,
} from '@tsnet/core';
import { encodeErrorMessage, respondToInitiation } from './responder.js';

const UPGRADE_VALUE = 'tailscale-control-protocol';

/** Who is on the other end of a Noise connection. */
export interface NoiseContext {
  readonly machineKey: MachinePublic;
  readonly version: number;
  /** Aborted when the connection closes. */
  readonly signal: AbortSignal;
}

export type StreamHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  ctx: NoiseContext,
) => void;

export interface NoiseUpgradeOptions {
  controlKey: MachinePrivate;
  onStream: StreamHandler;
  logf: Logf;
  crypto?: CryptoProvider;
  /** Send the early payload (`{"nodeKeyChallenge": ...}`) before HTTP/2, as headscale does. */
  earlyPayload: boolean;
  /** Refuse protocol versions below this (closed after the handshake, as headscale does). */
  minVersion: number;
  /** Noise connections open at once (default 1024); more are refused with 503. */
  maxConnections?: number;
}

/** Counters of the transport. */
export interface NoiseStats {
  /** ts2021 upgrades accepted. */
  upgrades: number;
  /** Handshakes that failed (bad messages, refused versions). */
  handshakeFailures: number;
  /** Noise connections open now. */
  open: number;
  /** Upgrades refused because too many handshakes were in progress. */
  refusedBusy: number;
}

function rawResponse(socket: Duplex, status: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Accepts ts2021 upgrades; owns every Noise connection and HTTP/2 session it creates. */
export class NoiseUpgrader {
  readonly #o: NoiseUpgradeOptions;
  readonly #conns = new Set<NoiseConn>();
  readonly stats: NoiseStats = { upgrades: 0, handshakeFailures: 0, open: 0, refusedBusy: 0 };

  constructor(o: NoiseUpgradeOptions) {
    this.#o = o;
  }

  /** Handles an HTTP upgrade request for `/ts2021`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Uint8Array): void {
    socket.on('error', () => {});
    if (this.#conns.size >= (this.#o.maxConnections ?? 1024)) {
      this.stats.refusedBusy++;
      rawResponse(socket, '503 Service Unavailable', 'too many connections\n');
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    let initB64: string | null;
    let inner: Duplex;
    if (upgrade === 'websocket') {
      const protos = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim());
      const key = String(req.headers['sec-websocket-key'] ?? '');
      if (!protos.includes(UPGRADE_VALUE) || key === '') {
        rawResponse(socket, '400 Bad Request', 'bad websocket upgrade\n');
        return;
      }
      initB64 = u.searchParams.get('X-Tailscale-Handshake');
      const accept = websocketAccept(key);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${UPGRADE_VALUE}\r\n\r\n`,
      );
      inner = new WebSocketStream(socket as Socket, head, 'server');
      inner.on('error', () => {});
    } else if (upgrade === UPGRADE_VALUE) {
      const h = req.headers['x-tailscale-handshake'];
      initB64 = typeof h === 'string' ? h : null;
      if (initB64 === null || initB64 === '') {
        rawResponse(socket, '400 Bad Request', 'missing Tailscale handshake header\n');
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${UPGRADE_VALUE}\r\nConnection: upgrade\r\n\r\n`,
      );
      inner = socket;
    } else {
      rawResponse(socket, '400 Bad Request', 'unknown next protocol\n');
      return;
    }
    const init = initB64 === null ? null : parseBase64(initB64);
    const r =
      init === null
        ? { error: 'bad handshake initiation' }
        : respondToInitiation(this.#o.controlKey, init, this.#o.crypto);
    if ('error' in r) {
      this.stats.handshakeFailures++;
      this.#o.logf('testcontrol: noise handshake refused: %s', r.error);
      inner.end(encodeErrorMessage(r.error));
      return;
    }
    if (r.version < this.#o.minVersion) {
      this.stats.handshakeFailures++;
      this.#o.logf('testcontrol: refusing protocol version %d', r.version);
      inner.destroy();
      return;
    }
    inner.write(r.response);
    const conn = new NoiseConn(inner, {
      keys: r.keys,
      stripEarlyPayload: false,
      // Records the client sent right behind its upgrade request (the WebSocket keeps its own).
      ...(upgrade === UPGRADE_VALUE && head.length > 0 ? { head } : {}),
      ...(this.#o.crypto ? { crypto: this.#o.crypto } : {}),
    });
    conn.on('error', (e) => this.#o.logf('testcontrol: noise connection: %s', e.message));
    this.stats.upgrades++;
    this.stats.open++;
    this.#conns.add(conn);
    if (this.#o.earlyPayload && upgrade === UPGRADE_VALUE) {
      // Real control sends a challenge public key; no client uses it, so any curve point will do.
      const json = Buffer.from(
        JSON.stringify({ nodeKeyChallenge: `chalpub:${randomBytes(32).toString('hex')}` }),
      );
      const hdr = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0, 0, 0, 0]);
      hdr.writeUInt32BE(json.length, 5);
      conn.write(Buffer.concat([hdr, json]));
    }
    const ac = new AbortController();
    const ctx: NoiseContext = { machineKey: r.machinePublic, version: r.version, signal: ac.signal };
    const h2 = http2.createServer({ maxSessionMemory: 64, settings: { maxConcurrentStreams: 100 } });
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      this.#o.onStream(stream, headers, ctx);
    });
    h2.on('sessionError', (e) => this.#o.logf('testcontrol: http2 session: %s', e.message));
    h2.on('session', (s) => s.on('error', () => {}));
    conn.on('close', () => {
      this.stats.open--;
      this.#conns.delete(conn);
      ac.abort();
      h2.close();
    });
    h2.emit('connection', conn);
  }

  /** Closes every Noise connection (and with it every HTTP/2 session and map stream). */
  closeAll(): void {
    for (const c of [...this.#conns]) c.destroy();
  }
}
