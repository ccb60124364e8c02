/**
 * The WebSocket carrier of ts2021 (tailscale/tailscale `control/controlhttp/client_js.go`,
 * `controlhttpserver.acceptWebsocket`): `GET /ts2021?X-Tailscale-Handshake=<base64>` with the
 * subprotocol `tailscale-control-protocol`; binary messages carry the same byte stream as the
 * upgraded socket, and no early payload is sent on this path.
 *
 * A minimal RFC 6455 client (no extensions, no compression): masked binary frames out; binary,
 * continuation, ping (answered), pong and close frames in. Exposed as a byte-stream `Duplex`.
 * Incoming frames are capped at 1 MiB (a Noise record is ≤ 4096 bytes).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { toBase64 } from '@tsnet/core';
import { ControlHandshakeError, ControlHttpError, ControlProtocolError } from '../errors.js';
import { HANDSHAKE_HEADER_NAME, UPGRADE_HEADER_VALUE } from './messages.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_WS_FRAME = 1 << 20;

const OP_CONT = 0x0;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/**
 * Encodes one frame with FIN set. Clients mask (RFC 6455 §5.3; pass a 4-byte `mask`), servers
 * do not (`mask` null).
 */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: Uint8Array | null): Buffer {
  const n = payload.length;
  const hdrLen = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const maskLen = mask === null ? 0 : 4;
  const out = Buffer.allocUnsafe(hdrLen + maskLen + n);
  const m = mask === null ? 0 : 0x80;
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = m | n;
  else if (n < 65536) {
    out[1] = m | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = m | 127;
    out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (mask === null) {
    out.set(payload, hdrLen);
    return out;
  }
  out.set(mask.subarray(0, 4), hdrLen);
  for (let i = 0; i < n; i++) out[hdrLen + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** A WebSocket connection as a byte stream of its binary messages. */
export class WebSocketStream extends Duplex {
  readonly #sock: Socket;
  readonly #client: boolean;
  #buf: Buffer = Buffer.alloc(0);

  /**
   * `role` `'client'` writes masked frames (RFC 6455 §5.1); `'server'` (used by @tsnet/testcontrol)
   * writes unmasked frames and refuses unmasked ones from its client. Either way a frame above the
   * limit, or buffered input above twice that, closes the stream: untrusted input never grows
   * memory without bound. Reading applies backpressure to the socket.
   */
  constructor(sock: Socket, head: Uint8Array, role: 'client' | 'server' = 'client') {
    super();
    this.#sock = sock;
    this.#client = role === 'client';
    sock.on('data', (c: Buffer) => this.#onData(c));
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    if (head.length > 0) queueMicrotask(() => this.#onData(Buffer.from(head)));
  }

  #onData(c: Buffer): void {
    if (this.destroyed) return;
    this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c]);
    if (this.#buf.length > 2 * MAX_WS_FRAME) {
      return void this.destroy(new ControlProtocolError('websocket input buffer overflow'));
    }
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      const op = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const hi = b.readUInt32BE(2);
        if (hi !== 0) return void this.destroy(new ControlProtocolError('websocket frame too large'));
        len = b.readUInt32BE(6);
        off = 10;
      }
      if (len > MAX_WS_FRAME) return void this.destroy(new ControlProtocolError('websocket frame too large'));
      if (!this.#client && !masked) {
        return void this.destroy(new ControlProtocolError('websocket: unmasked client frame'));
      }
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[maskOff + (i & 3)]!;
      this.#buf = b.subarray(off + len);
      switch (op) {
        case OP_BINARY:
        case OP_CONT:
          if (payload.length > 0 && !this.push(payload)) this.#sock.pause();
          break;
        case OP_PING:
          this.#sock.write(this.#frame(OP_PONG, payload));
          break;
        case OP_PONG:
          break;
        case OP_CLOSE:
          this.#sock.end(this.#frame(OP_CLOSE, new Uint8Array(0)));
          this.push(null);
          return;
        default:
          return void this.destroy(new ControlProtocolError(`unexpected websocket opcode ${op}`));
      }
    }
  }

  #frame(op: number, payload: Uint8Array): Buffer {
    return encodeFrame(op, payload, this.#client ? randomBytes(4) : null);
  }

  /** @internal Node's Duplex hook: resumes the socket when the reader wants more. */
  override _read(): void {
    if (this.#sock.isPaused()) this.#sock.resume();
  }

  /** @internal Node's Duplex hook: sends `chunk` as one binary WebSocket frame. */
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#sock.destroyed) {
      cb(new ControlProtocolError('websocket closed'));
      return;
    }
    this.#sock.write(this.#frame(OP_BINARY, chunk), cb);
  }

  /** @internal Node's Duplex hook: sends a close frame and ends the socket. */
  override _final(cb: (err?: Error | null) => void): void {
    this.#sock.end(this.#frame(OP_CLOSE, new Uint8Array(0)));
    cb();
  }

  /** @internal Node's Duplex hook: destroys the socket. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#sock.destroy();
    cb(err);
  }
}

/** Opens the WebSocket to `{serverURL}{path}?X-Tailscale-Handshake=…` and returns the stream. */
export function dialWebSocket(
  serverURL: string,
  path: string,
  initiation: Uint8Array,
  signal: AbortSignal,
): Promise<WebSocketStream> {
  const url = new URL(path, serverURL);
  url.searchParams.set(HANDSHAKE_HEADER_NAME, toBase64(initiation));
  const key = randomBytes(16).toString('base64');
  const expectAccept = websocketAccept(key);
  const mod = url.protocol === 'https:' ? (https as unknown as typeof http) : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: 'GET',
      signal,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Protocol': UPGRADE_HEADER_VALUE,
      },
    });
    req.on('upgrade', (res, socket, head) => {
      if (res.headers['sec-websocket-accept'] !== expectAccept) {
        socket.destroy();
        reject(new ControlHandshakeError('websocket: bad Sec-WebSocket-Accept'));
        return;
      }
      if (res.headers['sec-websocket-protocol'] !== UPGRADE_HEADER_VALUE) {
        socket.destroy();
        reject(new ControlHandshakeError('websocket: server did not select the control subprotocol'));
        return;
      }
      socket.setNoDelay(true);
      resolve(new WebSocketStream(socket, new Uint8Array(head)));
    });
    req.on('response', (res) => {
      res.resume();
      reject(new ControlHttpError('ts2021 websocket', res.statusCode ?? 0, res.statusMessage ?? ''));
    });
    req.on('error', (e) =>
      reject(
        signal.aborted ? signal.reason : new ControlHandshakeError(`websocket: ${e.message}`, { cause: e }),
      ),
    );
    req.end();
  });
}
