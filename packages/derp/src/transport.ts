/**
 * The byte-stream seam under both the server and the client: a DERP connection is a stream of
 * frames over either a TCP/TLS socket (after the HTTP upgrade) or a WebSocket (binary messages
 * whose concatenation is the same stream, subprotocol `derp`). `ByteTransport` hides which.
 *
 * Writes are batched: the caller hands over every frame it has ready and the transport puts them
 * on the wire together (`cork`/`uncork` → one `writev` on a socket; one binary message on a
 * WebSocket). Backpressure is explicit: `needDrain` says the kernel buffer is full, `onDrain`
 * says it emptied; callers queue (bounded) meanwhile instead of writing more.
 */

import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** What a `ByteTransport` calls back with. */
export interface TransportHandlers {
  /** The next bytes of the stream, in order; chunk boundaries mean nothing (not frames). */
  onData(chunk: Uint8Array): void;
  /** The transport's buffer emptied after `needDrain`: queued frames may be written again. */
  onDrain(): void;
  /** Called once, when the transport is closed for any reason. */
  onClose(error?: Error): void;
}

/** One DERP byte stream, whatever carries it (see the module doc for batching and backpressure). */
export interface ByteTransport {
  /** Writes the chunks in order as one batch. Takes ownership of the chunks. */
  writeBatch(chunks: readonly Uint8Array[]): void;
  /** True while the transport's buffer is over its high-water mark: wait for `onDrain`. */
  readonly needDrain: boolean;
  /** Bytes buffered by the transport and not yet sent. */
  readonly bufferedBytes: number;
  /** Installs (or replaces) the handlers and starts delivering data. */
  setHandlers(h: TransportHandlers): void;
  /** Stops delivering data until `resume` (backpressure toward the peer). */
  pause(): void;
  /** Delivers data again after `pause`. */
  resume(): void;
  /** Ends the stream after what was written is flushed. */
  end(): void;
  /** Closes at once. */
  destroy(error?: Error): void;
  /** True once the transport is closed, by either side (`onClose` has been called). */
  readonly closed: boolean;
  /** `ip:port` of the peer when known, else ''. */
  readonly remoteAddress: string;
  /** A raw socket after the HTTP upgrade (`Upgrade: DERP`), or a WebSocket (subprotocol `derp`). */
  readonly kind: 'socket' | 'websocket';
}

function addrOf(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined || port === undefined) return '';
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Bytes a socket may hold in user space before `needDrain`: Node's `write()` says "full" at 16 KiB,
 * far below a kernel socket buffer, which is what Go's blocking writes wait on. Using Node's mark
 * would make the server drop packets that TCP would simply have carried a moment later.
 */
const SOCKET_HIGH_WATER = 1 << 20;

/** A transport over a connected `net.Socket` or `tls.TLSSocket`. */
export class SocketTransport implements ByteTransport {
  readonly kind = 'socket';
  readonly #socket: Socket;
  #handlers: TransportHandlers | null = null;
  #closed = false;
  #needDrain = false;
  readonly remoteAddress: string;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddress = addrOf(socket.remoteAddress, socket.remotePort);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#handlers?.onData(chunk));
    socket.on('drain', () => {
      // Node emits 'drain' once its buffer is empty after a write() that returned false.
      this.#needDrain = false;
      this.#handlers?.onDrain();
    });
    socket.on('error', (err) => this.#finish(err));
    socket.on('close', () => this.#finish());
    // Half-close from the peer: DERP has no use for it.
    socket.on('end', () => socket.end());
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#handlers?.onClose(error);
  }

  /** Installs the handlers and starts the flow of data. */
  setHandlers(h: TransportHandlers): void {
    this.#handlers = h;
    if (this.#socket.destroyed) this.#finish();
    else this.#socket.resume();
  }

  get needDrain(): boolean {
    return this.#needDrain;
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  get closed(): boolean {
    return this.#closed;
  }

  writeBatch(chunks: readonly Uint8Array[]): void {
    if (this.#closed || chunks.length === 0) return;
    const s = this.#socket;
    if (chunks.length === 1) {
      s.write(chunks[0]!);
    } else {
      s.cork();
      for (const c of chunks) s.write(c);
      s.uncork();
    }
    if (s.writableLength >= SOCKET_HIGH_WATER) this.#needDrain = true;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    if (this.#closed) return;
    this.#socket.end();
  }

  destroy(error?: Error): void {
    this.#socket.destroy();
    this.#finish(error);
  }
}

/** The largest WebSocket message we send (Go's coder/websocket reads at most 32 KiB by default). */
const WS_MAX_MESSAGE = 16 * 1024;

function totalLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Above this many bytes buffered in a WebSocket, the transport reports `needDrain`. */
const WS_HIGH_WATER = 256 * 1024;

/** A transport over an open `ws` WebSocket carrying DERP in binary messages. */
export class WebSocketTransport implements ByteTransport {
  readonly kind = 'websocket';
  readonly #ws: WebSocket;
  #handlers: TransportHandlers | null = null;
  #closed = false;
  #needDrain = false;
  #early: Uint8Array[] = [];
  readonly remoteAddress: string;

  constructor(ws: WebSocket, remoteAddress = '') {
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) return; // DERP is binary; text messages are not part of the stream
      const chunks = Array.isArray(data) ? data : [data instanceof ArrayBuffer ? new Uint8Array(data) : data];
      // Messages that arrive before the handlers are installed wait (bounded by ws's maxPayload
      // per message and by the pause below).
      if (this.#handlers === null) this.#early.push(...chunks);
      else for (const c of chunks) this.#handlers.onData(c);
    });
    ws.pause();
    ws.on('error', (err) => this.#finish(err));
    ws.on('close', () => this.#finish());
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.terminate();
    this.#handlers?.onClose(error);
  }

  /** Installs the handlers, delivers what arrived before, and starts the flow of data. */
  setHandlers(h: TransportHandlers): void {
    this.#handlers = h;
    const early = this.#early;
    this.#early = [];
    for (const c of early) h.onData(c);
    if (this.#ws.readyState >= 2) this.#finish();
    else this.#ws.resume();
  }

  get needDrain(): boolean {
    return this.#needDrain;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  writeBatch(chunks: readonly Uint8Array[]): void {
    if (this.#closed || chunks.length === 0) return;
    // Pack the stream into messages of at most WS_MAX_MESSAGE bytes: Go's WebSocket library
    // (coder/websocket, used by derper) refuses messages over 32 KiB by default, and message
    // boundaries mean nothing to DERP.
    let msg = new Uint8Array(Math.min(WS_MAX_MESSAGE, totalLength(chunks)));
    let off = 0;
    const send = () => {
      this.#ws.send(off === msg.length ? msg : msg.subarray(0, off), { binary: true, compress: false }, () =>
        this.#checkDrain(),
      );
    };
    let remaining = totalLength(chunks);
    for (const c of chunks) {
      let pos = 0;
      while (pos < c.length) {
        const n = Math.min(c.length - pos, msg.length - off);
        msg.set(c.subarray(pos, pos + n), off);
        off += n;
        pos += n;
        remaining -= n;
        if (off === msg.length) {
          send();
          msg = new Uint8Array(Math.min(WS_MAX_MESSAGE, remaining));
          off = 0;
        }
      }
    }
    if (off > 0) send();
    if (this.#ws.bufferedAmount > WS_HIGH_WATER) this.#needDrain = true;
  }

  #checkDrain(): void {
    if (this.#needDrain && !this.#closed && this.#ws.bufferedAmount <= WS_HIGH_WATER / 2) {
      this.#needDrain = false;
      this.#handlers?.onDrain();
    }
  }

  pause(): void {
    this.#ws.pause();
  }

  resume(): void {
    this.#ws.resume();
  }

  end(): void {
    if (this.#closed) return;
    this.#ws.close(1000);
  }

  destroy(error?: Error): void {
    this.#finish(error);
  }
}
