/**
 * `TcpSocket`: a TCP connection as a Node `Duplex`, behaving like `net.Socket` so unchanged Node
 * code (http, ws, undici's `connect` hook) runs on it. Writes go into the connection's send buffer
 * and their callbacks wait while it is full (backpressure toward the app); reads are pulled from
 * the receive buffer only when the stream wants more, so a slow reader closes the TCP window
 * (backpressure toward the peer). Connection events are delivered on `process.nextTick`, never
 * from inside packet processing.
 */
import { Duplex } from 'node:stream';
import type { TimerHandle } from './clock.js';
import { NetstackError } from './errors.js';
import type { Stack, TcpEntry } from './stack.js';
import type { TcpErrorCode } from './tcp/options.js';
import { formatIp } from './wire/ip-address.js';

const READ_CHUNK = 64 * 1024;

/** @internal How the stack creates a socket. */
export interface TcpSocketOptions {
  /** Keep the writable side open after the peer's FIN. */
  allowHalfOpen: boolean;
  /** True for an active open still in SYN-SENT; false for an accepted connection. */
  connecting: boolean;
}

/** A TCP connection as a `net.Socket`-like Duplex stream. */
export class TcpSocket extends Duplex {
  /** The peer's IP address (as `net.Socket#remoteAddress`). */
  readonly remoteAddress: string;
  /** The peer's port (as `net.Socket#remotePort`). */
  readonly remotePort: number;
  /** The peer's address family (as `net.Socket#remoteFamily`). */
  readonly remoteFamily: 'IPv4' | 'IPv6';
  /** Our address on this connection (as `net.Socket#localAddress`). */
  readonly localAddress: string;
  /** Our port on this connection, ephemeral for `stack.connect` (as `net.Socket#localPort`). */
  readonly localPort: number;
  /** Our address family, always the same as `remoteFamily` (as `net.Socket#localFamily`). */
  readonly localFamily: 'IPv4' | 'IPv6';
  /** True until the handshake completes (as `net.Socket#connecting`). */
  connecting: boolean;
  /** Payload bytes handed to the reader so far (as `net.Socket#bytesRead`). */
  bytesRead = 0;
  /**
   * Payload bytes accepted into the TCP send buffer so far. Unlike `net.Socket#bytesWritten`, bytes
   * still queued in the stream (`writableLength`) are not counted.
   */
  bytesWritten = 0;
  private readonly stack: Stack;
  private readonly entry: TcpEntry;
  private pendingWrite: { data: Uint8Array; off: number; cb: (err?: Error | null) => void } | undefined;
  private wantRead = false;
  private eofPushed = false;
  private finRequested = false;
  private endAfterConnect: (() => void) | undefined;
  private ticking = false;
  private idleMs = 0;
  private idleTimer: TimerHandle | undefined;
  private lastActive = 0;

  /** @internal Sockets come from `stack.connect` and `stack.listen`. */
  constructor(stack: Stack, entry: TcpEntry, options: TcpSocketOptions) {
    super({ allowHalfOpen: options.allowHalfOpen, decodeStrings: true, emitClose: true, autoDestroy: true });
    this.stack = stack;
    this.entry = entry;
    this.connecting = options.connecting;
    this.remoteAddress = formatIp(entry.remote);
    this.remotePort = entry.remotePort;
    this.remoteFamily = entry.ipv6 ? 'IPv6' : 'IPv4';
    this.localAddress = formatIp(entry.local);
    this.localPort = entry.localPort;
    this.localFamily = this.remoteFamily;
    this.lastActive = stack._now();
  }

  /** As `net.Socket#readyState`. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** As `net.Socket#pending`: true before the connection is established. */
  get pending(): boolean {
    return this.connecting;
  }

  /** The connection's TCP state (RFC 9293 names), for diagnostics. */
  get tcpState(): string {
    return this.entry.conn.state;
  }

  /** TCP diagnostics for this connection (what Linux's `ss -ti` shows), a snapshot. */
  tcpInfo(): {
    /** The RFC 9293 state name, e.g. `'ESTABLISHED'`. */
    state: string;
    /** Send MSS in bytes: the peer's MSS option capped by our link's, lowered by ICMP path-MTU messages. */
    mss: number;
    /** Congestion window in bytes (RFC 5681). */
    cwnd: number;
    /** Slow-start threshold in bytes (RFC 5681). */
    ssthresh: number;
    /** Smoothed round-trip time in ms (RFC 6298 SRTT); 0 before the first sample. */
    srttMs: number;
    /** Current retransmission timeout in ms (RFC 6298 RTO). */
    rtoMs: number;
    /** SACK was negotiated (RFC 2018). */
    sack: boolean;
    /** Timestamps were negotiated (RFC 7323 §3). */
    timestamps: boolean;
    /** Window scale shifts `[send, receive]` when negotiated (RFC 7323 §2), else null. */
    windowScale: [number, number] | null;
    /** The congestion control algorithm running, `'cubic'` or `'newreno'`. */
    congestion: string;
    /** Segments sent on this connection, retransmissions included. */
    segmentsOut: number;
    /** Segments sent that carried already-sent sequence numbers. */
    retransmits: number;
    /** Retransmission timer expiries (RFC 6298 §5.4). */
    rtos: number;
    /** Entries into fast recovery (RFC 5681 §3.2, RFC 6675, RFC 8985). */
    recoveries: number;
  } {
    const c = this.entry.conn;
    return {
      state: c.state,
      mss: c.sndMss,
      cwnd: c.cc.cwnd,
      ssthresh: c.cc.ssthresh,
      srttMs: c.rtt.srtt,
      rtoMs: c.rtt.rto,
      sack: c.sackOk,
      timestamps: c.tsOk,
      windowScale: c.wsOk ? [c.sndShift, c.rcvShift] : null,
      congestion: c.cc.name,
      segmentsOut: c.stats.segmentsOut,
      retransmits: c.stats.retransmits,
      rtos: c.stats.rtos,
      recoveries: c.stats.recoveries,
    };
  }

  /** As `net.Socket#address()`: our end's address, family and port. */
  address(): {
    /** Our IP address on this connection. */
    address: string;
    /** `'IPv4'` or `'IPv6'`. */
    family: string;
    /** Our port on this connection. */
    port: number;
  } {
    return { address: this.localAddress, family: this.localFamily, port: this.localPort };
  }

  /** Disables (default) or enables Nagle's algorithm. */
  setNoDelay(noDelay = true): this {
    this.entry.conn.setNoDelay(noDelay, this.stack._now());
    this.stack.kick(this.entry);
    return this;
  }

  /** Enables TCP keepalive probes after `initialDelay` ms idle (0 keeps the current delay). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.entry.conn.setKeepAlive(enable, initialDelay, this.stack._now());
    this.stack.kick(this.entry);
    return this;
  }

  /** Emits `'timeout'` after `ms` of inactivity (0 disables), as `net.Socket#setTimeout`. */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`ms must be a non-negative number, got ${ms}`);
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.idleMs = ms;
    this.clearIdle();
    if (ms > 0) this.armIdle(ms);
    return this;
  }

  /** As `net.Socket#ref()`; a no-op, since the stack holds no handle that keeps the process alive. */
  ref(): this {
    return this;
  }
  /** As `net.Socket#unref()`; a no-op (the stack's timers never hold the process open). */
  unref(): this {
    return this;
  }

  /** Ends the writable side, then destroys once the FIN is sent (as `net.Socket#destroySoon`). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Like `destroy()`, always with a RST (as `net.Socket#resetAndDestroy`). */
  resetAndDestroy(): this {
    this.entry.conn.abort();
    return this.destroy();
  }

  // ---------------------------------------------------------------- Duplex implementation

  /**
   * @internal Duplex implementation (called by the stream, not by users): queues `chunk` into the send buffer;
   * `cb` waits until all of it fits, which is the backpressure `write()` returning false reflects.
   */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pendingWrite = { data: chunk, off: 0, cb };
    this.flushWrite();
  }

  /** @internal Duplex implementation of `end()`: sends our FIN (after the handshake if still connecting). */
  override _final(cb: (err?: Error | null) => void): void {
    const fin = () => {
      this.finRequested = true;
      this.entry.conn.close(this.stack._now());
      this.stack.kick(this.entry);
      cb();
    };
    // end() before the handshake completes: FIN after it (RFC 9293 §3.10.4 would drop the TCB).
    if (this.connecting) this.endAfterConnect = fin;
    else fin();
  }

  /** @internal Duplex implementation of reading: pulls from the receive buffer, which reopens the TCP window. */
  override _read(): void {
    this.wantRead = true;
    this.pump();
  }

  /** @internal Duplex implementation of `destroy()`: RST if the connection was not ended, else let it close. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    const conn = this.entry.conn;
    if (!conn.isClosed() && !this.finRequested) {
      // destroy() without end(): abort with RST (RFC 9293 §3.10.5), as a socket closed with
      // data unsent or unread is by Linux.
      conn.abort();
    } else if (!conn.isClosed()) {
      conn.orphan(this.stack._now());
      this.stack.kick(this.entry);
    }
    this.entry.socket = undefined;
    if (this.pendingWrite) {
      const p = this.pendingWrite;
      this.pendingWrite = undefined;
      p.cb(err ?? new Error('socket destroyed'));
    }
    cb(err);
  }

  // ---------------------------------------------------------------- from the stack

  /** @internal */
  _onConnect(): void {
    process.nextTick(() => {
      if (this.destroyed) return;
      this.connecting = false;
      this.touch();
      this.emit('connect');
      this.emit('ready');
      const fin = this.endAfterConnect;
      this.endAfterConnect = undefined;
      fin?.();
      this.flushWrite();
    });
  }

  /** @internal */
  _onReadable(): void {
    this.schedule();
  }

  /** @internal */
  _onWritable(): void {
    this.schedule();
  }

  /** @internal */
  _onClosed(err: TcpErrorCode | null): void {
    process.nextTick(() => {
      if (this.destroyed) return;
      if (err) {
        const e = new NetstackError(
          err,
          this.connecting ? 'connect' : 'read',
          this.remoteAddress,
          this.remotePort,
        );
        this.destroy(e);
        return;
      }
      this.pump();
      if (!this.eofPushed && this.entry.conn.readable === 0) {
        this.eofPushed = true;
        this.push(null);
      }
      if (this.pendingWrite)
        this.destroy(new NetstackError('ECONNRESET', 'write', this.remoteAddress, this.remotePort));
    });
  }

  private schedule(): void {
    if (this.ticking) return;
    this.ticking = true;
    process.nextTick(() => {
      this.ticking = false;
      if (this.destroyed) return;
      this.pump();
      this.flushWrite();
    });
  }

  private pump(): void {
    const conn = this.entry.conn;
    const now = this.stack._now();
    while (this.wantRead && conn.readable > 0) {
      const d = conn.read(READ_CHUNK, now);
      this.bytesRead += d.length;
      this.touch();
      if (!this.push(Buffer.from(d.buffer, d.byteOffset, d.length))) this.wantRead = false;
    }
    this.stack.kick(this.entry);
    if (conn.eof && !this.eofPushed && conn.readable === 0) {
      this.eofPushed = true;
      this.push(null);
    }
  }

  private flushWrite(): void {
    const p = this.pendingWrite;
    if (!p) return;
    const conn = this.entry.conn;
    if (conn.isClosed()) return;
    const n = conn.send(p.off === 0 ? p.data : p.data.subarray(p.off), this.stack._now());
    this.stack.kick(this.entry);
    if (n > 0) {
      p.off += n;
      this.bytesWritten += n;
      this.touch();
    }
    if (p.off >= p.data.length) {
      this.pendingWrite = undefined;
      p.cb();
    }
  }

  private touch(): void {
    this.lastActive = this.stack._now();
    if (this.idleMs > 0 && !this.idleTimer) this.armIdle(this.idleMs);
  }

  private armIdle(ms: number): void {
    this.idleTimer = this.stack.clock.setTimeout(() => {
      this.idleTimer = undefined;
      if (this.destroyed || this.idleMs === 0) return;
      const idle = this.stack._now() - this.lastActive;
      if (idle >= this.idleMs) this.emit('timeout');
      else this.armIdle(this.idleMs - idle);
    }, ms);
  }

  private clearIdle(): void {
    if (this.idleTimer) this.stack.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
