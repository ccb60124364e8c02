/**
 * A ts2021 Noise connection as a Node `Duplex`: plaintext in and out, records on the underlying
 * stream (a TCP socket after the HTTP upgrade, or a WebSocket adapter). The early payload is
 * stripped from the read side, so the stream can be handed straight to `node:http2`.
 *
 * Errors from the server side (a bad record, a failed authentication) destroy the stream with a
 * `ControlProtocolError`; closing either side closes both.
 */
import { Duplex } from 'node:stream';
import type { CryptoProvider } from '@tsnet/core';
import { ControlClosedError } from '../errors.js';
import type { EarlyNoise } from '../tailcfg/map.js';
import { EarlyPayloadStripper } from './early.js';
import type { TransportKeys } from './handshake.js';
import { RecordOpener, RecordSealer } from './records.js';

export interface NoiseConnOptions {
  keys: TransportKeys;
  /** Bytes that arrived on `inner` after the handshake response and belong to the record stream. */
  head?: Uint8Array;
  crypto?: CryptoProvider;
  /** Strip the early payload (true for the HTTP upgrade; the WebSocket path never sends one). */
  stripEarlyPayload?: boolean;
}

/** Counters of one Noise connection. */
export interface NoiseConnStats {
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** A Noise transport connection to control as a Duplex: records sealed on write, opened on read (ts2021). */
export class NoiseConn extends Duplex {
  readonly #inner: Duplex;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #early: EarlyPayloadStripper | null;
  readonly #earlyWaiters: Array<(p: EarlyNoise | null) => void> = [];
  /** The protocol version agreed in the handshake (the capability version). */
  readonly version: number;
  /** The final handshake hash, binding other messages to this connection. */
  readonly handshakeHash: Uint8Array;
  /** Counters, live. */
  readonly stats: NoiseConnStats = { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0 };

  constructor(inner: Duplex, opts: NoiseConnOptions) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.#sealer = new RecordSealer(opts.keys.tx, opts.crypto);
    this.#opener = new RecordOpener(opts.keys.rx, opts.crypto);
    this.#early = opts.stripEarlyPayload === false ? null : new EarlyPayloadStripper();
    this.version = opts.keys.version;
    this.handshakeHash = opts.keys.handshakeHash;
    inner.on('data', (chunk: Uint8Array) => this.#onData(chunk));
    inner.resume();
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    if (opts.head !== undefined && opts.head.length > 0) {
      const head = opts.head;
      queueMicrotask(() => this.#onData(head));
    }
  }

  /** The early payload: resolves once the first 9 bytes have arrived (`null` if there was none). */
  earlyPayload(): Promise<EarlyNoise | null> {
    if (this.#early === null) return Promise.resolve(null);
    if (this.#early.payload !== undefined) return Promise.resolve(this.#early.payload);
    return new Promise((resolve) => this.#earlyWaiters.push(resolve));
  }

  #onData(chunk: Uint8Array): void {
    if (this.destroyed) return;
    this.stats.bytesIn += chunk.length;
    let plaintexts: Uint8Array[];
    try {
      plaintexts = this.#opener.push(chunk);
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    this.stats.recordsIn = this.#opener.counter;
    for (const pt of plaintexts) {
      let parts: Uint8Array[] = [pt];
      if (this.#early !== null && !this.#early.passing) {
        try {
          parts = this.#early.push(pt);
        } catch (e) {
          this.destroy(e as Error);
          return;
        }
        if (this.#early.payload !== undefined && this.#earlyWaiters.length > 0) {
          for (const w of this.#earlyWaiters.splice(0)) w(this.#early.payload);
        }
      }
      for (const p of parts) {
        if (p.length > 0 && !this.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength)))
          this.#inner.pause();
      }
    }
  }

  /** @internal Node's Duplex hook: resumes the inner stream when the reader wants more. */
  override _read(): void {
    // Backpressure: the inner stream is paused when our buffer is full and resumed here.
    if (this.#inner.isPaused()) this.#inner.resume();
  }

  /** @internal Node's Duplex hook: seals `chunk` into records and writes them. */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let frames: Uint8Array;
    try {
      frames = this.#sealer.seal(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    this.stats.recordsOut = this.#sealer.counter;
    this.stats.bytesOut += frames.length;
    if (this.#inner.destroyed || this.#inner.writableEnded) {
      cb(new ControlClosedError('noise connection closed'));
      return;
    }
    this.#inner.write(frames, cb);
  }

  /** @internal Node's Duplex hook: ends the inner stream. */
  override _final(cb: (err?: Error | null) => void): void {
    this.#inner.end();
    cb();
  }

  /** @internal Node's Duplex hook: destroys the inner stream. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    for (const w of this.#earlyWaiters.splice(0)) w(null);
    this.#inner.destroy();
    cb(err);
  }

  // net.Socket-like no-ops that HTTP/2 may call.
  /** A no-op, as `net.Socket#setNoDelay` (HTTP/2 calls it). */
  setNoDelay(): this {
    return this;
  }
  /** A no-op, as `net.Socket#setKeepAlive`. */
  setKeepAlive(): this {
    return this;
  }
  /** A no-op, as `net.Socket#setTimeout`. */
  setTimeout(): this {
    return this;
  }
  /** A no-op, as `net.Socket#ref`. */
  ref(): this {
    return this;
  }
  /** A no-op, as `net.Socket#unref`. */
  unref(): this {
    return this;
  }
}
