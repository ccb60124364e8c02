/**
 * One client connection to the server (Go's `derpserver.sclient`): the handshake, the frames the
 * client sends, and the bounded queues of frames going to it. The registry of connections and
 * everything shared between them is the server's (`server.ts`); this file sees it through the
 * `ServerContext` interface.
 *
 * Lifecycle, as `derpserver.accept` and `sclient.run`:
 *   1. send ServerKey at once; the client has `clientInfoTimeoutMs` to send ClientInfo (first frame);
 *   2. open ClientInfo with the server key; refuse mesh keys that do not match; ask the admission
 *      hook (not for mesh peers); reading pauses meanwhile;
 *   3. register, send ServerInfo, then serve frames until either side closes.
 *
 * Outgoing frames wait in three queues, written in this order at each flush: control (Pong,
 * PeerGone, PeerPresent, KeepAlive, Health, Restarting), disco packets, other packets. The packet
 * queues hold at most `sendQueueDepth` frames each; when full the oldest is dropped and counted
 * (`queue_head`), as Go's `sendPkt` does. Flushes are batched per turn of the event loop.
 */

import {
  AddrPort,
  type Clock,
  type CryptoProvider,
  constantTimeEqual,
  type Logf,
  NodePublic,
  parseHex,
} from '@tsnet/core';
import { type KeyId, keyId } from '../key-id.js';
import { TokenBucket } from '../token-bucket.js';
import type { ByteTransport } from '../transport.js';
import {
  FRAME_TYPE,
  KEEP_ALIVE_JITTER_MS,
  looksLikeDisco,
  MAX_CLIENT_INFO_LEN,
  MAX_PING_LEN,
  PEER_GONE_REASON,
  PEER_PRESENT_FLAGS,
  PING_DATA_LEN,
  PROTOCOL_VERSION,
} from '../wire/constants.js';
import {
  describeFrameType,
  emitFrame,
  encodeRecvPacket,
  KEEP_ALIVE_FRAME,
  parseFrame,
} from '../wire/frames.js';
import { type ClientInfo, openClientInfo, sealServerInfoFrame } from '../wire/info.js';
import { FrameReader, isReaderFailure } from '../wire/reader.js';
import type { DerpServerCounters, DropReason } from './counters.js';

/** What a connection needs from its server. */
export interface ServerContext {
  readonly clock: Clock;
  readonly logf: Logf;
  readonly counters: DerpServerCounters;
  readonly privateKeyRaw: Uint8Array;
  readonly publicKeyRaw: Uint8Array;
  readonly crypto: CryptoProvider;
  readonly meshKey: Uint8Array | null;
  readonly sendQueueDepth: number;
  readonly keepAliveMs: number;
  readonly writeTimeoutMs: number;
  readonly clientInfoTimeoutMs: number;
  readonly rateLimit: { bytesPerSecond: number; burstBytes: number } | null;
  admit(conn: ServerConn, info: ClientInfo): boolean | Promise<boolean>;
  register(conn: ServerConn): void;
  unregister(conn: ServerConn): void;
  /** Called once when a connection closes, registered or not. */
  forget(conn: ServerConn): void;
  /** The active connection for a key, or why there is none. */
  lookup(dst: KeyId): ServerConn | 'unknown' | 'dup';
  /** Forwards to a mesh peer that has `dst`; false when no peer does. */
  forwardToMesh(src: Uint8Array, dstId: KeyId, dst: Uint8Array, packet: Uint8Array): boolean;
  noteActivity(conn: ServerConn): void;
  /** `conn` received a packet from `src`: tell it when `src` leaves. */
  watchPeerGone(src: KeyId, conn: ServerConn): void;
  unwatchPeerGone(src: KeyId, conn: ServerConn): void;
  addWatcher(conn: ServerConn): void;
  closePeer(target: KeyId, by: ServerConn): void;
  recordDrop(packetLen: number, reason: DropReason): void;
  scheduleFlush(conn: ServerConn): void;
  setPreferred(conn: ServerConn, preferred: boolean): void;
}

export type ServerConnState = 'AwaitClientInfo' | 'Admitting' | 'Active' | 'Closed';

const CONTROL_QUEUE_MAX = 4096;
/** Header and source key in front of a relayed packet. */
const RECV_OVERHEAD = 5 + 32;

/** A simple FIFO of frames with a head index (no per-shift copying). */
class FrameQueue {
  items: Uint8Array[] = [];
  head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(b: Uint8Array): void {
    this.items.push(b);
  }
  shift(): Uint8Array | undefined {
    if (this.head >= this.items.length) return undefined;
    const b = this.items[this.head]!;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return b;
  }
  drainInto(out: Uint8Array[]): void {
    for (let i = this.head; i < this.items.length; i++) out.push(this.items[i]!);
    this.items = [];
    this.head = 0;
  }
}

export class ServerConn {
  readonly #ctx: ServerContext;
  readonly transport: ByteTransport;
  /** The server's count of accepted connections when this one came (for logs). */
  readonly connNum: number;
  readonly remoteAddress: string;
  // No valid client frame exceeds the 256 KiB ClientInfo limit: bound what one connection may buffer.
  readonly #reader = new FrameReader({ maxFrameLen: MAX_CLIENT_INFO_LEN });
  #state: ServerConnState = 'AwaitClientInfo';

  /** Set once the handshake opened ClientInfo. */
  key: NodePublic | null = null;
  id: KeyId | null = null;
  info: ClientInfo | null = null;
  canMesh = false;
  /** The client connected to a node other than its region's ideal one (`Ideal-Node` header). */
  readonly notIdeal: boolean;
  preferred = false;
  connectedAt: number;

  readonly #ctrl = new FrameQueue();
  readonly #disco = new FrameQueue();
  readonly #pkts = new FrameQueue();
  #pongPending = false;
  /** Sources this client received packets from, to be told when they leave. */
  readonly sawSrc = new Set<KeyId>();
  readonly #peerGoneLimiter: TokenBucket;
  readonly #recvLimiter: TokenBucket | null;
  #rateLimited = false;
  #paused = false;

  #handshakeTimer: { cancel(): void } | null = null;
  #keepAliveTimer: { cancel(): void } | null = null;
  #writeTimer: { cancel(): void } | null = null;
  readonly #keepAliveJitterMs: number;

  constructor(
    ctx: ServerContext,
    transport: ByteTransport,
    opts: { notIdeal?: boolean; initial?: Uint8Array },
  ) {
    this.#ctx = ctx;
    this.connNum = ctx.counters.accepts;
    this.transport = transport;
    this.remoteAddress = transport.remoteAddress;
    this.notIdeal = opts.notIdeal ?? false;
    this.connectedAt = ctx.clock.now();
    this.#peerGoneLimiter = new TokenBucket(1, 3, ctx.clock.now());
    this.#recvLimiter =
      ctx.rateLimit === null
        ? null
        : new TokenBucket(ctx.rateLimit.bytesPerSecond, ctx.rateLimit.burstBytes, ctx.clock.now());
    // 0–5 s, from the provider's randomness (injectable, unlike Math.random).
    const r = ctx.crypto.randomBytes(4);
    const u32 = new DataView(r.buffer, r.byteOffset, 4).getUint32(0);
    this.#keepAliveJitterMs = Math.floor((u32 / 2 ** 32) * KEEP_ALIVE_JITTER_MS);
    transport.setHandlers({
      onData: (chunk) => this.#onData(chunk),
      onDrain: () => this.#onDrain(),
      onClose: () => this.#onClose(true),
    });
    if (this.#state === 'Closed') return; // the transport was already closed
    // 1. ServerKey first (derpserver.sendServerKey), then wait for ClientInfo.
    transport.writeBatch([emitFrame({ type: 'ServerKey', serverKey: ctx.publicKeyRaw })]);
    this.#handshakeTimer = ctx.clock.setTimeout(
      () => this.#fail('handshake', 'no ClientInfo in time'),
      ctx.clientInfoTimeoutMs,
    );
    if (opts.initial !== undefined && opts.initial.length > 0) this.#onData(opts.initial);
  }

  get state(): ServerConnState {
    return this.#state;
  }

  /** Bytes waiting in this connection's queues and transport buffer. */
  get queuedFrames(): number {
    return this.#ctrl.length + this.#disco.length + this.#pkts.length;
  }

  toString(): string {
    return `${this.remoteAddress}${this.key === null ? '' : this.key.shortString()}`;
  }

  // ---- reading ---------------------------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'Closed') return;
    this.#reader.push(chunk);
    this.#drainReader();
  }

  /** Processes frames until the reader is empty, or reading must pause (admission, rate limit). */
  #drainReader(): void {
    while (this.#state === 'AwaitClientInfo' || this.#state === 'Active') {
      if (this.#rateLimited) return;
      const f = this.#reader.next();
      if (f === null) return;
      if (isReaderFailure(f)) {
        this.#fail(
          'protocol',
          `frame ${describeFrameType(f.offendingType)} of ${f.length} bytes is over the limit`,
        );
        return;
      }
      if (this.#state === 'AwaitClientInfo') {
        this.#onClientInfo(f.frameType, f.payload);
        continue;
      }
      this.#onFrame(f.frameType, f.payload);
      if (this.#recvLimiter !== null && !this.canMesh) {
        const waitMs = this.#recvLimiter.take(f.payload.length, this.#ctx.clock.now());
        if (waitMs > 0) {
          // Pace reading: TCP flow control pushes back on the sender (sclient.rateLimit).
          this.#ctx.counters.rateLimitWaits++;
          this.#rateLimited = true;
          this.#setPaused(true);
          this.#ctx.clock.setTimeout(() => {
            this.#rateLimited = false;
            if (this.#state !== 'Active') return;
            this.#setPaused(false);
            this.#drainReader();
          }, waitMs);
          return;
        }
      }
    }
  }

  #setPaused(p: boolean): void {
    if (p === this.#paused) return;
    this.#paused = p;
    if (p) this.transport.pause();
    else this.transport.resume();
  }

  #onClientInfo(frameType: number, payload: Uint8Array): void {
    const ctx = this.#ctx;
    if (frameType !== FRAME_TYPE.ClientInfo) {
      this.#fail('handshake', `first frame is ${describeFrameType(frameType)}, not ClientInfo`);
      return;
    }
    const opened = openClientInfo(ctx.crypto, ctx.privateKeyRaw, payload);
    if ('error' in opened) {
      this.#fail('handshake', opened.error);
      return;
    }
    this.key = NodePublic.fromBytes(opened.clientKey);
    this.id = keyId(opened.clientKey);
    this.info = opened.info;
    this.canMesh = this.#isMeshPeer(opened.info);
    this.#state = 'Admitting';
    this.#setPaused(true);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.canMesh ? true : ctx.admit(this, opened.info);
    } catch (err) {
      verdict = Promise.reject(err);
    }
    if (verdict === true || verdict === false) {
      this.#admitted(verdict);
      return;
    }
    verdict.then(
      (ok) => this.#admitted(ok === true),
      (err: unknown) => {
        ctx.logf(
          'derp: %s: admission hook failed: %s',
          this.toString(),
          err instanceof Error ? err.message : String(err),
        );
        this.#admitted(false);
      },
    );
  }

  #isMeshPeer(info: ClientInfo): boolean {
    const mine = this.#ctx.meshKey;
    if (mine === null || info.meshKey === undefined) return false;
    const theirs = parseHex(info.meshKey.trim());
    return theirs !== null && theirs.length === mine.length && constantTimeEqual(theirs, mine);
  }

  #admitted(ok: boolean): void {
    if (this.#state !== 'Admitting') return; // closed meanwhile
    const ctx = this.#ctx;
    if (!ok) {
      ctx.counters.admissionRefused++;
      ctx.logf('derp: %s: refused by the admission hook', this.toString());
      this.close();
      return;
    }
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.#state = 'Active';
    ctx.register(this);
    // 3. ServerInfo, sealed to the client, advertising our rate limit if any.
    const rl = ctx.rateLimit;
    this.#ctrl.push(
      sealServerInfoFrame(ctx.crypto, ctx.privateKeyRaw, this.key!.raw, {
        version: PROTOCOL_VERSION,
        tokenBucketBytesPerSecond: rl === null || this.canMesh ? 0 : rl.bytesPerSecond,
        tokenBucketBytesBurst: rl === null || this.canMesh ? 0 : rl.burstBytes,
      }),
    );
    this.#scheduleKeepAlive();
    ctx.scheduleFlush(this);
    this.#setPaused(false);
    this.#drainReader();
  }

  /** One frame from an active client (`sclient.run`). */
  #onFrame(frameType: number, payload: Uint8Array): void {
    const ctx = this.#ctx;
    ctx.noteActivity(this);
    const f = parseFrame(frameType, payload);
    switch (f.type) {
      case 'SendPacket':
        this.#onSendPacket(f.dst, f.packet);
        return;
      case 'NotePreferred':
        ctx.setPreferred(this, f.preferred);
        return;
      case 'Ping': {
        ctx.counters.pingsReceived++;
        if (payload.length > MAX_PING_LEN) {
          this.#fail('protocol', `ping body too large: ${payload.length}`);
          return;
        }
        // One pong pending at a time; faster pings are ignored (handleFramePing).
        if (this.#pongPending) return;
        this.#pongPending = true;
        const pong = new Uint8Array(5 + PING_DATA_LEN);
        pong[0] = FRAME_TYPE.Pong;
        pong[4] = PING_DATA_LEN;
        pong.set(f.data, 5);
        this.#ctrl.push(pong);
        ctx.counters.pongsSent++;
        ctx.scheduleFlush(this);
        return;
      }
      case 'WatchConns':
        if (!this.canMesh) {
          this.#fail('protocol', 'WatchConns without the mesh key');
          return;
        }
        ctx.addWatcher(this);
        return;
      case 'ClosePeer':
        if (!this.canMesh) {
          this.#fail('protocol', 'ClosePeer without the mesh key');
          return;
        }
        ctx.closePeer(keyId(f.peer), this);
        return;
      case 'ForwardPacket': {
        if (!this.canMesh) {
          this.#fail('protocol', 'ForwardPacket without the mesh key');
          return;
        }
        ctx.counters.packetsForwardedIn++;
        const dst = ctx.lookup(keyId(f.dst));
        if (typeof dst === 'string') {
          ctx.recordDrop(f.packet.length, dst === 'dup' ? 'dup_client' : 'unknown_dest_on_fwd');
          if (dst === 'unknown') this.#maybeNotHere(f.dst, f.packet);
          return;
        }
        dst.enqueuePacket(f.src, keyId(f.src), f.packet, looksLikeDisco(f.packet));
        return;
      }
      case 'Invalid':
        // Each of these is a frame Go's server closes the connection for.
        this.#fail('protocol', `${describeFrameType(f.frameType)}: ${f.reason}`);
        return;
      case 'Pong':
        return; // we send no pings; a stray pong is harmless
      default:
        // Unknown types and server-to-client types are skipped (handleUnknownFrame).
        ctx.counters.unknownFrames++;
        return;
    }
  }

  #onSendPacket(dst: Uint8Array, packet: Uint8Array): void {
    const ctx = this.#ctx;
    const c = ctx.counters;
    c.packetsReceived++;
    c.bytesReceived += packet.length;
    const disco = looksLikeDisco(packet);
    if (disco) c.packetsReceivedDisco++;
    else c.packetsReceivedOther++;
    const dstId = keyId(dst);
    const target = ctx.lookup(dstId);
    if (typeof target === 'string') {
      // Not here: a mesh peer of the region may have it (never for forwarded packets, as Go).
      if (target === 'unknown' && ctx.forwardToMesh(this.key!.raw, dstId, dst, packet)) return;
      ctx.recordDrop(packet.length, target === 'dup' ? 'dup_client' : 'unknown_dest');
      if (target === 'unknown') this.#maybeNotHere(dst, packet);
      return;
    }
    target.enqueuePacket(this.key!.raw, this.id!, packet, disco);
  }

  /** PeerGone(NotHere) in reply to a disco packet for an unknown peer, at most 1/s (burst 3). */
  #maybeNotHere(dst: Uint8Array, packet: Uint8Array): void {
    if (!looksLikeDisco(packet)) return;
    if (!this.#peerGoneLimiter.allow(1, this.#ctx.clock.now())) return;
    this.sendPeerGone(dst, PEER_GONE_REASON.NotHere);
  }

  // ---- writing ---------------------------------------------------------------------------

  /**
   * Queues a RecvPacket from `src` (copied now: the caller's bytes alias a reader buffer). When the
   * queue is full the oldest packet is dropped (`queue_head`).
   */
  enqueuePacket(src: Uint8Array, srcId: KeyId, packet: Uint8Array, disco: boolean): void {
    const ctx = this.#ctx;
    if (this.#state !== 'Active') {
      ctx.recordDrop(packet.length, 'gone_disconnected');
      return;
    }
    const q = disco ? this.#disco : this.#pkts;
    // A full queue is written out at once if the transport can take it; only a backpressured
    // transport makes us drop.
    if (q.length >= ctx.sendQueueDepth && !this.transport.needDrain) this.flush();
    if (q.length >= ctx.sendQueueDepth) {
      const old = q.shift()!;
      ctx.recordDrop(old.length - RECV_OVERHEAD, 'queue_head');
    }
    q.push(encodeRecvPacket(src, packet));
    if (!this.sawSrc.has(srcId)) {
      this.sawSrc.add(srcId);
      ctx.watchPeerGone(srcId, this);
    }
    ctx.scheduleFlush(this);
  }

  /**
   * Queues a control frame (bounded); false if it was dropped: the connection is closed, or the
   * control queue is full (counted as `controlFramesDropped`).
   */
  queueControl(frame: Uint8Array): boolean {
    if (this.#state === 'Closed') return false;
    if (this.#ctrl.length >= CONTROL_QUEUE_MAX) {
      this.#ctx.counters.controlFramesDropped++;
      return false;
    }
    this.#ctrl.push(frame);
    this.#ctx.scheduleFlush(this);
    return true;
  }

  sendPeerGone(peer: Uint8Array, reason: number): void {
    const c = this.#ctx.counters;
    if (reason === PEER_GONE_REASON.Disconnected) c.peerGoneDisconnectedFrames++;
    else if (reason === PEER_GONE_REASON.NotHere) c.peerGoneNotHereFrames++;
    this.queueControl(emitFrame({ type: 'PeerGone', peer, reason }));
  }

  sendPeerPresent(peer: Uint8Array, remoteAddress: string, flags: number): void {
    const ip = new Uint8Array(16);
    let port = 0;
    const ap = AddrPort.tryParse(remoteAddress);
    if (ap !== null) {
      const b = ap.addr.bytes;
      if (b.length === 4) {
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip.set(b, 12);
      } else {
        ip.set(b);
      }
      port = ap.port;
    }
    this.queueControl(emitFrame({ type: 'PeerPresent', peer, ip, port, flags }));
  }

  /** The PeerPresent flags describing this client (`sclient.presentFlags`). */
  presentFlags(): number {
    let f = 0;
    if (this.info?.isProber === true) f |= PEER_PRESENT_FLAGS.IsProber;
    if (this.canMesh) f |= PEER_PRESENT_FLAGS.IsMeshPeer;
    if (this.notIdeal) f |= PEER_PRESENT_FLAGS.NotIdeal;
    return f === 0 ? PEER_PRESENT_FLAGS.IsRegular : f;
  }

  /** Writes everything queued, unless the transport is full (then `onDrain` will). */
  flush(): void {
    if (this.#state === 'Closed') return;
    if (this.transport.needDrain) {
      if (this.queuedFrames > 0) this.#armWriteTimer();
      return;
    }
    const n = this.#ctrl.length + this.#disco.length + this.#pkts.length;
    if (n === 0) return;
    const batch: Uint8Array[] = [];
    this.#ctrl.drainInto(batch);
    this.#pongPending = false;
    const ctrlCount = batch.length;
    this.#disco.drainInto(batch);
    this.#pkts.drainInto(batch);
    const c = this.#ctx.counters;
    for (let i = ctrlCount; i < batch.length; i++) {
      c.packetsSent++;
      c.bytesSent += batch[i]!.length - RECV_OVERHEAD;
    }
    this.transport.writeBatch(batch);
    if (this.transport.needDrain) this.#armWriteTimer();
  }

  #armWriteTimer(): void {
    const ms = this.#ctx.writeTimeoutMs;
    if (ms <= 0 || this.#writeTimer !== null || this.canMesh) return;
    this.#writeTimer = this.#ctx.clock.setTimeout(() => {
      this.#writeTimer = null;
      if (this.transport.needDrain && this.#state !== 'Closed') {
        this.#ctx.counters.writeTimeouts++;
        this.#fail('write', `client did not read for ${ms} ms`);
      }
    }, ms);
  }

  #onDrain(): void {
    this.#writeTimer?.cancel();
    this.#writeTimer = null;
    this.flush();
  }

  #scheduleKeepAlive(): void {
    const t = this.#ctx.clock.setTimeout(() => {
      if (this.#state !== 'Active') return;
      // Counted only when queued (a full control queue counts it as controlFramesDropped).
      if (this.queueControl(KEEP_ALIVE_FRAME)) this.#ctx.counters.keepAlivesSent++;
      this.#scheduleKeepAlive();
    }, this.#ctx.keepAliveMs + this.#keepAliveJitterMs);
    t.unref();
    this.#keepAliveTimer = t;
  }

  // ---- closing ---------------------------------------------------------------------------

  #fail(kind: 'handshake' | 'protocol' | 'write', why: string): void {
    if (this.#state === 'Closed') return;
    const c = this.#ctx.counters;
    if (kind === 'handshake') c.handshakeFailures++;
    else if (kind === 'protocol') c.protocolErrors++;
    this.#ctx.logf('derp: %s: closing: %s', this.toString(), why);
    this.#onClose(true);
  }

  /** Flushes what is queued and closes the connection. */
  close(): void {
    if (this.#state === 'Closed') return;
    this.flush();
    const t = this.transport;
    t.end();
    // A peer that never finishes the close must not hold the server: destroy after 1 s.
    if (!t.closed) this.#ctx.clock.setTimeout(() => t.destroy(), 1000).unref();
    this.#onClose(false);
  }

  /** Tears down this connection's state; `destroy` closes the transport at once. */
  #onClose(destroy: boolean): void {
    if (this.#state === 'Closed') return;
    const wasActive = this.#state === 'Active';
    this.#state = 'Closed';
    this.#handshakeTimer?.cancel();
    this.#keepAliveTimer?.cancel();
    this.#writeTimer?.cancel();
    const ctx = this.#ctx;
    // Packets still queued are lost (onSendLoopDone).
    const left: Uint8Array[] = [];
    this.#disco.drainInto(left);
    this.#pkts.drainInto(left);
    for (const f of left) ctx.recordDrop(f.length - RECV_OVERHEAD, 'gone_disconnected');
    this.#ctrl.drainInto([]);
    for (const src of this.sawSrc) ctx.unwatchPeerGone(src, this);
    this.sawSrc.clear();
    if (destroy && !this.transport.closed) this.transport.destroy();
    ctx.forget(this);
    if (wasActive) ctx.unregister(this);
  }
}
