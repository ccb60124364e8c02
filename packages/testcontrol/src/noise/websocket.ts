/**
 * The server end of a WebSocket (RFC 6455) as a byte stream of its binary messages, for the
 * ts2021 WebSocket variant (`controlhttpserver.acceptWebsocket`). @tsnet/control has a client-side
 * one but does not export it.
 *
 * Client frames must be masked (§5.1); text frames are refused; pings are answered (§5.5.2);
 * a close frame closes (§5.5.1). A frame larger than 1 MiB, or buffered input above 2 MiB, closes
 * the connection: untrusted input never grows memory without bound.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const MAX_FRAME = 1 << 20;
const OP_CONT = 0x0;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

function header(op: number, len: number): Buffer {
  if (len < 126) return Buffer.from([0x80 | op, len]);
  if (len < 65536) {
    const b = Buffer.alloc(4);
    b[0] = 0x80 | op;
    b[1] = 126;
    b.writeUInt16BE(len, 2);
    return b;
  }
  const b = Buffer.alloc(10);
  b[0] = 0x80 | op;
  b[1] = 127;
  b.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
  b.writeUInt32BE(len >>> 0, 6);
  return b;
}

export class WebSocketServerStream extends Duplex {
  readonly #sock: Socket;
  #buf: Buffer = Buffer.alloc(0);

  constructor(sock: Socket, head: Uint8Array) {
    super();
    this.#sock = sock;
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
    if (this.#buf.length > 2 * MAX_FRAME) {
      this.destroy(new Error('websocket: input buffer overflow'));
      return;
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
        if (b.readUInt32BE(2) !== 0) {
          this.destroy(new Error('websocket: frame too large'));
          return;
        }
        len = b.readUInt32BE(6);
        off = 10;
      }
      if (!masked) {
        this.destroy(new Error('websocket: unmasked client frame'));
        return;
      }
      if (len > MAX_FRAME) {
        this.destroy(new Error('websocket: frame too large'));
        return;
      }
      if (b.length < off + 4 + len) return;
      const mask = b.subarray(off, off + 4);
      const payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
      this.#buf = b.subarray(off + 4 + len);
      if (op === OP_BINARY || op === OP_CONT) {
        if (payload.length > 0 && !this.push(payload)) this.#sock.pause();
      } else if (op === OP_PING) {
        this.#sock.write(Buffer.concat([header(OP_PONG, payload.length), payload]));
      } else if (op === OP_CLOSE) {
        this.#sock.end(header(OP_CLOSE, 0));
        this.push(null);
        return;
      } else if (op !== OP_PONG) {
        this.destroy(new Error(`websocket: unexpected opcode ${op}`));
        return;
      }
    }
  }

  override _read(): void {
    if (this.#sock.isPaused()) this.#sock.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#sock.destroyed) {
      cb(new Error('websocket closed'));
      return;
    }
    this.#sock.write(Buffer.concat([header(OP_BINARY, chunk.length), chunk]), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sock.end(header(OP_CLOSE, 0));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#sock.destroy();
    cb(err);
  }
}
