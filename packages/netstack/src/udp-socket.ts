/**
 * `UdpSocket`: UDP (RFC 768) shaped like `dgram.Socket`: `bind`, `send`, `'message'` with
 * `rinfo`, `address()`, `close()`. Sending before `bind` binds an ephemeral port, as dgram does.
 */
import { EventEmitter } from 'node:events';
import { NetstackError } from './errors.js';
import type { Stack } from './stack.js';
import { formatIp, parseIp } from './wire/ip-address.js';

/** The address family of a UDP socket, as `dgram.createSocket(type)`. */
export type UdpSocketType = 'udp4' | 'udp6';

/** The sender of a received datagram: the `rinfo` of a `'message'` event, as in `dgram`. */
export interface RemoteInfo {
  /** The sender's IP address. */
  address: string;
  /** The sender's address family. */
  family: 'IPv4' | 'IPv6';
  /** The sender's UDP port. */
  port: number;
  /** The datagram's payload length in bytes. */
  size: number;
}

type SendCallback = (err: Error | null, bytes?: number) => void;

/**
 * A UDP socket, as `dgram.Socket`: emits `'listening'`, `'message'` `(msg: Buffer, rinfo)`,
 * `'connect'`, `'error'` and `'close'`. Create one with `stack.createUdpSocket`. Received
 * datagrams are Buffers over the packet the link delivered (no copy).
 *
 * @example
 * const sock = stack.createUdpSocket('udp4').bind(53);
 * sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
 */
export class UdpSocket extends EventEmitter {
  /** @internal */
  readonly _family: 4 | 6;
  /** @internal null when bound to every address. */
  _boundAddress: Uint8Array | null = null;
  private port = 0;
  /** The peer of a connected socket (`connect`), or null. */
  private remote: { address: string; bytes: Uint8Array; port: number } | null = null;
  private closed = false;

  /** @internal Use `stack.createUdpSocket`. */
  constructor(
    private readonly stack: Stack,
    /** The family given to `createUdpSocket`: a socket sends and receives only that family. */
    readonly type: UdpSocketType,
  ) {
    super();
    this._family = type === 'udp6' ? 6 : 4;
  }

  /** Binds to `port` (0 or absent: ephemeral) and optionally one of the stack's addresses. */
  bind(port = 0, address?: string | (() => void), callback?: () => void): this {
    const cb = typeof address === 'function' ? address : callback;
    const addr = typeof address === 'string' ? address : undefined;
    if (this.closed) throw new Error('socket is closed');
    if (this.port !== 0) throw new Error('socket is already bound');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer in [0, 65535], got ${port}`);
    }
    this._boundAddress = addr !== undefined ? this.stack._udpAddress(addr) : null;
    this.port = this.stack._bindUdp(this, port, this._boundAddress);
    if (cb) this.once('listening', cb);
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /** As `dgram.Socket#address()`: where the socket is bound. */
  address(): {
    /** The bound address, `'0.0.0.0'` or `'::'` when bound to all of the stack's addresses. */
    address: string;
    /** `'IPv4'` for `'udp4'`, `'IPv6'` for `'udp6'`. */
    family: string;
    /** The bound port; 0 before `bind` (or the first `send`). */
    port: number;
  } {
    return {
      address: this._boundAddress ? formatIp(this._boundAddress) : this._family === 4 ? '0.0.0.0' : '::',
      family: this._family === 4 ? 'IPv4' : 'IPv6',
      port: this.port,
    };
  }

  /**
   * Sends one datagram: `send(msg, port, address, cb?)` or
   * `send(msg, offset, length, port, address, cb?)`.
   */
  send(msg: Uint8Array | string, ...args: unknown[]): void {
    let data = typeof msg === 'string' ? Buffer.from(msg) : msg;
    let rest = args;
    if (typeof rest[0] === 'number' && typeof rest[1] === 'number' && typeof rest[2] === 'number') {
      const offset = rest[0];
      const length = rest[1];
      data = data.subarray(offset, offset + length);
      rest = rest.slice(2);
    }
    const cb = (typeof rest[rest.length - 1] === 'function' ? rest[rest.length - 1] : undefined) as
      | SendCallback
      | undefined;
    // A connected socket sends to its peer: `send(msg, cb?)`, as dgram.
    const connected = this.remote !== null && (rest.length === 0 || typeof rest[0] === 'function');
    const port = connected ? this.remote!.port : rest[0];
    const address = connected ? this.remote!.address : rest[1];
    if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new RangeError(`port must be an integer in [1, 65535], got ${String(port)}`);
    }
    if (typeof address !== 'string') throw new TypeError('address must be a string');
    const dst = parseIp(address);
    if (!dst || dst.length !== (this._family === 4 ? 4 : 16)) {
      throw new TypeError(`address ${JSON.stringify(address)} is not an ${this.type} address`);
    }
    if (this.closed) throw new Error('socket is closed');
    if (this.port === 0) this.bind(0);
    try {
      this.stack._sendUdp(this.port, this._boundAddress, dst, port, data);
      if (cb) process.nextTick(() => cb(null, data.length));
    } catch (err) {
      if (cb) process.nextTick(() => cb(err as Error));
      else process.nextTick(() => this.emit('error', err));
    }
  }

  /**
   * Associates the socket with one peer (as `dgram.Socket#connect`): `send` then needs no address,
   * datagrams from anyone else are dropped, and an ICMP port unreachable from the peer is
   * reported as an `'error'` with code ECONNREFUSED.
   */
  connect(port: number, address: string, callback?: () => void): void {
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new RangeError(`port must be an integer in [1, 65535], got ${port}`);
    }
    const bytes = parseIp(address);
    if (!bytes || bytes.length !== (this._family === 4 ? 4 : 16)) {
      throw new TypeError(`address ${JSON.stringify(address)} is not an ${this.type} address`);
    }
    if (this.remote) throw new Error('socket is already connected');
    if (this.port === 0) this.bind(0);
    this.remote = { address: formatIp(bytes), bytes, port };
    if (callback) this.once('connect', callback);
    process.nextTick(() => this.emit('connect'));
  }

  /** Undoes `connect`. */
  disconnect(): void {
    if (!this.remote) throw new Error('socket is not connected');
    this.remote = null;
  }

  /** The connected peer, as `dgram.Socket#remoteAddress`. */
  remoteAddress(): {
    /** The peer's IP address. */
    address: string;
    /** `'IPv4'` or `'IPv6'`. */
    family: string;
    /** The peer's port. */
    port: number;
  } {
    if (!this.remote) throw new Error('socket is not connected');
    return {
      address: this.remote.address,
      family: this._family === 4 ? 'IPv4' : 'IPv6',
      port: this.remote.port,
    };
  }

  /** @internal An ICMP error about a datagram this socket sent to `dst`:`dstPort`. */
  _icmpUnreachable(dst: Uint8Array, dstPort: number): boolean {
    const r = this.remote;
    if (this.closed || !r || r.port !== dstPort || formatIp(dst) !== r.address) return false;
    process.nextTick(() => this.emit('error', new NetstackError('ECONNREFUSED', 'recv', r.address, r.port)));
    return true;
  }

  /** Unbinds the socket and emits `'close'` on the next tick (as `dgram.Socket#close`); idempotent. */
  close(callback?: () => void): this {
    if (this.closed) return this;
    this.closed = true;
    if (this.port !== 0) this.stack._unbindUdp(this, this.port);
    if (callback) this.once('close', callback);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** As `dgram.Socket#ref()`; a no-op, since the socket holds no handle that keeps the process alive. */
  ref(): this {
    return this;
  }
  /** As `dgram.Socket#unref()`; a no-op. */
  unref(): this {
    return this;
  }

  /** @internal */
  _deliver(payload: Uint8Array, address: string, port: number): void {
    if (this.closed) return;
    if (this.remote && (this.remote.port !== port || this.remote.address !== address)) return;
    const msg = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    const rinfo: RemoteInfo = {
      address,
      family: this._family === 4 ? 'IPv4' : 'IPv6',
      port,
      size: msg.length,
    };
    this.emit('message', msg, rinfo);
  }
}
