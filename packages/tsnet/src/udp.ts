/**
 * UDP as connections, as Go tsnet's `Listen("udp")` and `Dial("udp")` give them: a `UdpConn` is a
 * Duplex bound to one remote address where every `write` is one datagram and every `'data'` event
 * is one datagram; a `UdpListener` turns each new remote address that sends to its port into a
 * `UdpConn` (a `'connection'` event, or async iteration). For plain datagram sockets use
 * `Server.listenPacket`, which returns the `dgram`-shaped netstack `UdpSocket`.
 */
import { EventEmitter, on } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import type { RemoteInfo, UdpSocket } from '@tsnet/netstack';

/** The most flows one listener keeps; datagrams that would open more are dropped and counted. */
export const MAX_UDP_FLOWS = 4096;

/**
 * One UDP "connection": datagrams to and from one remote `address:port`. Writes larger than the
 * path allows are sent anyway and may be dropped on the way, as with any UDP socket.
 */
export class UdpConn extends Duplex {
  /** The remote IP address. */
  readonly remoteAddress: string;
  /** The remote port. */
  readonly remotePort: number;
  /** `'IPv4'` or `'IPv6'`. */
  readonly remoteFamily: string;
  readonly #send: (data: Uint8Array, cb: (err: Error | null) => void) => void;
  readonly #onClose: () => void;

  /** @internal Made by `Server.dial('udp', …)` and `UdpListener`. */
  constructor(
    remote: { address: string; port: number; family: string },
    local: { address: string; port: number },
    send: (data: Uint8Array, cb: (err: Error | null) => void) => void,
    onClose: () => void,
  ) {
    super({ allowHalfOpen: false });
    this.remoteAddress = remote.address;
    this.remotePort = remote.port;
    this.remoteFamily = remote.family;
    this.localAddress = local.address;
    this.localPort = local.port;
    this.#send = send;
    this.#onClose = onClose;
  }

  /** Our address (the node's Tailscale IP, or the unspecified address for a listener on all). */
  readonly localAddress: string;
  /** Our port. */
  readonly localPort: number;

  /** @internal A datagram for this flow. */
  _deliver(msg: Buffer): void {
    if (!this.destroyed) this.push(msg);
  }

  /** @internal Datagrams are pushed as they arrive; nothing to pull. */
  override _read(): void {}

  /** @internal One write is one datagram. */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send(chunk, (err) => cb(err));
  }

  /** @internal `end()` ends the flow (UDP has no half-close). */
  override _final(cb: (err?: Error | null) => void): void {
    // UDP has no half-close: ending the writable side ends the flow.
    this.push(null);
    cb();
  }

  /** @internal Releases the flow. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#onClose();
    cb(err);
  }
}

/** Counters of a `UdpListener`. */
export interface UdpListenerCounters {
  /** Flows accepted. */
  flows: number;
  /** Datagrams dropped because `MAX_UDP_FLOWS` flows were open. */
  droppedTooManyFlows: number;
}

/** Events of a `UdpListener`. */
export interface UdpListenerEvents {
  /** A new remote started sending to our port. */
  connection: [conn: UdpConn];
  /** The listener closed. */
  close: [];
  /** A socket error. */
  error: [err: Error];
}

/**
 * UDP flows on one port, in the style of `net.Server`: a `'connection'` event per new remote
 * `address:port`, or `for await (const conn of listener)`.
 */
export class UdpListener extends EventEmitter<UdpListenerEvents> {
  readonly #sock: UdpSocket;
  readonly #flows = new Map<string, UdpConn>();
  #closed = false;
  /** Counters, for tests and monitoring. */
  readonly counters: UdpListenerCounters = { flows: 0, droppedTooManyFlows: 0 };

  /** @internal Made by `Server.listen('udp', …)`. */
  constructor(sock: UdpSocket) {
    super();
    this.#sock = sock;
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.#onMessage(msg, rinfo));
    sock.on('error', (err: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** The bound address and port, as `dgram.Socket.address()`. */
  address(): AddressInfo {
    return this.#sock.address();
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let conn = this.#flows.get(key);
    if (conn === undefined) {
      if (this.#flows.size >= MAX_UDP_FLOWS) {
        this.counters.droppedTooManyFlows++;
        return;
      }
      const local = this.#sock.address();
      conn = new UdpConn(
        { address: rinfo.address, port: rinfo.port, family: rinfo.family },
        local,
        (data, cb) => {
          if (this.#closed) return cb(new Error('listener is closed'));
          this.#sock.send(data, rinfo.port, rinfo.address, (err: Error | null) => cb(err));
        },
        () => this.#flows.delete(key),
      );
      this.#flows.set(key, conn);
      this.counters.flows++;
      conn._deliver(msg);
      this.emit('connection', conn);
      return;
    }
    conn._deliver(msg);
  }

  /** Stops listening and ends every flow. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#flows.values()]) c.destroy();
    this.#flows.clear();
    this.#sock.close();
    this.emit('close');
  }

  /** Each new flow until the listener closes (`for await (const conn of listener)`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<UdpConn> {
    if (this.#closed) return;
    for await (const [conn] of on(this, 'connection', { close: ['close'] })) yield conn as UdpConn;
  }
}

/** A `UdpConn` over a connected netstack socket (what `Server.dial('udp', …)` returns). */
export function connectedUdpConn(sock: UdpSocket): UdpConn {
  const remote = sock.remoteAddress();
  const conn = new UdpConn(
    remote,
    sock.address(),
    (data, cb) => sock.send(data, (err: Error | null) => cb(err)),
    () => sock.close(),
  );
  sock.on('message', (msg: Buffer) => conn._deliver(msg));
  sock.on('error', (err: Error) => conn.destroy(err));
  return conn;
}
