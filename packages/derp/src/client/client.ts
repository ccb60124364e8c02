/**
 * `DerpClient`: one logical connection to a DERP server (tailscale `derp/derphttp` `Client` +
 * the per-region loop of `wgengine/magicsock/derp.go`), kept up until `close()`:
 *
 *   idle ─connect()─▶ connecting ─ready─▶ connected ─closed/failed─▶ waiting ─timer─▶ connecting …
 *                                                   ─Restarting─▶ waiting (advertised delay)
 *
 * The protocol itself is the sans-IO `ClientProtocol`; this driver owns the transport (dial.ts),
 * the clock, the bounded send queue, ping bookkeeping and reconnection (n²×10 ms backoff up to 5 s
 * with 0.5–1.5× jitter, as `util/backoff`). Received packets are delivered as `'packet'` events
 * whose bytes alias the read buffer: use or copy them inside the listener.
 */

import { EventEmitter } from 'node:events';
import {
  type Clock,
  type ClockTimer,
  type CryptoProvider,
  discardLogf,
  getCryptoProvider,
  type Logf,
  type NodePrivate,
  type NodePublic,
  systemClock,
  TsnetError,
} from '@tsnet/core';
import type { DerpRegion } from '../region/derp-map.js';
import { nodeTarget } from '../region/derp-map.js';
import { TokenBucket } from '../token-bucket.js';
import type { ByteTransport } from '../transport.js';
import {
  CLIENT_READ_TIMEOUT_MS,
  FRAME_HEADER_LEN,
  KEY_LEN,
  MAX_PACKET_SIZE,
  PROTOCOL_VERSION,
} from '../wire/constants.js';
import { emitFrame, encodePingPong, encodeSendPacket } from '../wire/frames.js';
import type { ClientInfo, ServerInfo } from '../wire/info.js';
import { type DerpTlsOptions, type DialResult, type DialTarget, dialDerp, targetFromUrl } from './dial.js';
import { type ClientEvent, ClientProtocol } from './protocol.js';

/**
 * The driver's state (see the diagram above). `connected` begins at ServerKey, before the
 * `connected` event (ServerInfo); `idle` is also where a failure leaves it with `reconnect: false`.
 */
export type DerpClientState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed';

/** Options of `DerpClient`: `privateKey` and one of `url` or `region` are required. */
export interface DerpClientOptions {
  /** This node's key: its DERP address. */
  privateKey: NodePrivate;
  /** The server: `http(s)://host:port/derp` (HTTP upgrade) or `ws(s)://…` (WebSocket). */
  url?: string;
  /** Or a DERP-map region: its nodes are tried in order. */
  region?: DerpRegion;
  /** With `region`: plain HTTP instead of HTTPS (Go's `TS_DEBUG_USE_DERP_HTTP`). */
  useHttp?: boolean;
  /** With `region`: use the WebSocket transport. */
  websocket?: boolean;
  /** With `url`: certificate checks (`certName`, `sha256-raw:` pin, `insecure`). */
  tls?: DerpTlsOptions;
  /** Where connects, disconnects and dial errors are logged; default: nowhere. */
  logf?: Logf;
  /** Timers and timestamps (timeouts, backoff, ping round trips); default the system clock. */
  clock?: Clock;
  /** Key derivation, NaCl boxes and ping data; default `getCryptoProvider()`. */
  crypto?: CryptoProvider;
  /** Tell the server we answer pings (default true; we always do). */
  canAckPings?: boolean;
  /** Mesh pre-shared key (64 hex digits) for privileged frames. */
  meshKey?: string;
  /** Say `IsProber` in ClientInfo: the server counts and flags us as a prober (Go's `derpprobe`). */
  isProber?: boolean;
  /** An application name for ClientInfo's `AppName` (the server's stats). */
  appName?: string;
  /** Send NotePreferred(true) on every connection: this is our home region. */
  preferred?: boolean;
  /** Subscribe to PeerPresent/PeerGone for every client (needs the mesh key). */
  watchConnectionChanges?: boolean;
  /** Packets waiting to be written before new ones are dropped (default 512). */
  sendQueueLimit?: number;
  /** Reconnect after a failure (default true). */
  reconnect?: boolean;
  /** Backoff cap (default 5000 ms, as magicsock). */
  maxBackoffMs?: number;
  /** Dial + upgrade + ServerKey within this (default 10 s, as derphttp). */
  connectTimeoutMs?: number;
  /** No byte from the server for this long ⇒ the connection is dead (default 120 s, as `Recv`). */
  readTimeoutMs?: number;
  /** Randomness for backoff jitter (tests); default Math.random. */
  random?: () => number;
}

/** What a `DerpClient` has done, since it was created (`DerpClient.counters`). */
export interface DerpClientCounters {
  /** Connections established (ServerInfo received, the `connected` event). */
  connects: number;
  /** Attempts that failed: dial, upgrade, handshake timeout, or closed before ServerInfo. */
  connectFailures: number;
  /** Established connections (ServerInfo received) that were lost afterwards. */
  disconnects: number;
  /** Packets handed to the transport as SendPacket frames. */
  packetsSent: number;
  /** Their packet bytes, without frame header and destination key. */
  bytesSent: number;
  /** Packets received in RecvPacket frames. */
  packetsReceived: number;
  /** Their packet bytes, without frame header and source key. */
  bytesReceived: number;
  /** Sends dropped because the queue was full (the connection cannot keep up or is down). */
  packetsDroppedQueueFull: number;
  /** Sends dropped by the server-advertised rate limit (ServerInfo token bucket). */
  packetsDroppedRateLimit: number;
  /** Packets still queued when the client closed. */
  packetsDroppedClosed: number;
  /** Pings from the server (each answered with a Pong when `canAckPings`). */
  pingsReceived: number;
  /** Pongs from the server, whether or not they matched a pending `ping()`. */
  pongsReceived: number;
  /** KeepAlive frames from the server. */
  keepAlivesReceived: number;
  /** Frames ignored: unknown types, and malformed ones Go's client also skips. */
  framesSkipped: number;
  /** Restarting frames received (each drops the connection and reconnects as advertised). */
  restarts: number;
}

/** The events of a `DerpClient`, with their listener arguments. */
export interface DerpClientEvents {
  /** A packet from `src`. `packet` aliases the read buffer: copy it to keep it. */
  packet: [packet: Uint8Array, src: NodePublic];
  /** The server accepted us (ServerInfo arrived); `generation` counts connections. */
  connected: [
    info: {
      /** The server's public key. */
      serverKey: NodePublic;
      /** This connection's number (`generation`): 1, 2, 3… */
      generation: number;
    },
  ];
  /** ServerInfo (protocol version, the server's rate limit), right after `connected`. */
  serverInfo: [info: ServerInfo];
  /** An established connection was lost; the client reconnects unless `reconnect: false`. */
  disconnected: [error: Error | undefined];
  /**
   * A peer we received from left the server (`reason` 0), or a disco packet we sent found no such
   * peer there (1, NotHere); `PEER_GONE_REASON`.
   */
  peerGone: [peer: NodePublic, reason: number];
  /** With `watchConnectionChanges` (and the mesh key): a client connected to the server. */
  peerPresent: [
    peer: NodePublic,
    info: {
      /** The peer's IP as 16 bytes (IPv4 mapped), if the server sent it. */
      ip?: Uint8Array;
      /** The peer's port, if the server sent it. */
      port?: number;
      /** `PEER_PRESENT_FLAGS` bits, if the server sent them. */
      flags?: number;
    },
  ];
  /** The server's Health text about our connection; '' means the problem is gone. */
  health: [problem: string];
  /** The server is restarting: the connection is dropped and retried after `reconnectInMs`. */
  restarting: [
    info: {
      /** The server asks us to wait this long before reconnecting, in ms. */
      reconnectInMs: number;
      /** Then retry every 100 ms for this long (ms) before the normal backoff. */
      tryForMs: number;
    },
  ];
  /** A KeepAlive frame arrived (a server sends one about every 60 s). */
  keepAlive: [];
  /** `close()` finished; nothing more is emitted. */
  closed: [];
}

interface PendingPing {
  resolve(rttMs: number): void;
  reject(err: Error): void;
  sentAt: number;
  timer: ClockTimer;
}

function newCounters(): DerpClientCounters {
  return {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    packetsDroppedQueueFull: 0,
    packetsDroppedRateLimit: 0,
    packetsDroppedClosed: 0,
    pingsReceived: 0,
    pongsReceived: 0,
    keepAlivesReceived: 0,
    framesSkipped: 0,
    restarts: 0,
  };
}

/**
 * A DERP client that stays connected until closed.
 *
 * @example
 * ```ts
 * import { NodePrivate } from '@tsnet/core';
 * import { DerpClient } from '@tsnet/derp';
 * const c = new DerpClient({ privateKey: NodePrivate.generate(), url: 'http://127.0.0.1:3340/derp' });
 * c.on('packet', (data, src) => console.log(`${data.length} bytes from ${src}`));
 * await c.connect();
 * c.send(peerKey, new Uint8Array([1, 2, 3]));
 * await c.close();
 * ```
 */
export class DerpClient extends EventEmitter<DerpClientEvents> {
  /** Our node public key: the DERP address peers send to. */
  readonly publicKey: NodePublic;
  /** Live counters, readable at any time. */
  readonly counters: DerpClientCounters = newCounters();
  readonly #opts: DerpClientOptions;
  readonly #privateKey: NodePrivate;
  readonly #clock: Clock;
  readonly #crypto: CryptoProvider;
  readonly #logf: Logf;
  readonly #random: () => number;
  readonly #queueLimit: number;
  #state: DerpClientState = 'idle';
  #transport: ByteTransport | null = null;
  #protocol: ClientProtocol | null = null;
  /** `framesSkipped` of the current connection's parser already added to the counter. */
  #skippedSeen = 0;
  #generation = 0;
  /** The current connection got ServerInfo: it counts as established ('connected' was emitted). */
  #established = false;
  #serverKey: NodePublic | null = null;
  #queue: Uint8Array[] = [];
  #flushScheduled = false;
  #sendLimiter: TokenBucket | null = null;
  #preferred: boolean;
  #failures = 0;
  #retryTimer: ClockTimer | null = null;
  #connectTimer: ClockTimer | null = null;
  #readTimer: ClockTimer | null = null;
  #lastRead = 0;
  /** Until this time (clock ms), reconnect quickly: the server said it is restarting. */
  #restartUntil = 0;
  #restartDelayMs: number | null = null;
  readonly #pings = new Map<string, PendingPing>();
  #waiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  #lastError: Error | undefined;
  readonly #events: ClientEvent[] = [];

  constructor(options: DerpClientOptions) {
    super();
    if (options.url === undefined && options.region === undefined)
      throw new TypeError('url or region is required');
    if (options.url !== undefined && options.region !== undefined)
      throw new TypeError('give url or region, not both');
    if (options.url !== undefined) targetFromUrl(options.url); // validates
    this.#opts = options;
    this.#privateKey = options.privateKey;
    this.#crypto = options.crypto ?? getCryptoProvider();
    this.publicKey = options.privateKey.public(this.#crypto);
    this.#clock = options.clock ?? systemClock;
    this.#logf = options.logf ?? discardLogf;
    this.#random = options.random ?? Math.random;
    this.#queueLimit = options.sendQueueLimit ?? 512;
    this.#preferred = options.preferred ?? false;
    if (!Number.isInteger(this.#queueLimit) || this.#queueLimit < 1) {
      throw new RangeError(`sendQueueLimit must be >= 1, got ${this.#queueLimit}`);
    }
  }

  /** Where the connection is; see `DerpClientState`. */
  get state(): DerpClientState {
    return this.#state;
  }

  /** The server's key once connected. */
  get serverPublicKey(): NodePublic | null {
    return this.#serverKey;
  }

  /** Increments on every established connection (ServerInfo, the `connected` event); 0 before the first. */
  get generation(): number {
    return this.#generation;
  }

  /** Packets queued and not yet handed to the transport. */
  get queuedPackets(): number {
    return this.#queue.length;
  }

  /**
   * Starts the client and resolves once connected: the server has sent ServerInfo, so it has
   * registered us and packets to us are delivered. (Sending may start earlier: from the ServerKey
   * on, as Go's client does.) The first failure rejects (with a
   * `TsnetError`), but unless `reconnect: false` the client keeps trying in the background until
   * `close()`.
   */
  connect(): Promise<void> {
    if (this.#state === 'closed')
      return Promise.reject(new TsnetError('ERR_DERP_CLOSED', 'DERP client is closed'));
    if (this.#state === 'connected' && this.#established) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === 'idle') void this.#attempt();
    return p;
  }

  /**
   * Queues a packet for `dst` (≤ 64 KiB; copied now). Returns false when it was dropped: the
   * queue is full, the server's rate limit is exceeded, or the client is closed. Packets sent
   * while (re)connecting wait in the queue.
   */
  send(dst: NodePublic | Uint8Array, packet: Uint8Array): boolean {
    const raw = dst instanceof Uint8Array ? dst : dst.raw;
    if (raw.length !== KEY_LEN) throw new RangeError(`dst must be a 32-byte key, got ${raw.length} bytes`);
    if (!(packet instanceof Uint8Array)) throw new TypeError('packet must be a Uint8Array');
    if (packet.length > MAX_PACKET_SIZE)
      throw new RangeError(`packet must be at most 64 KiB, got ${packet.length}`);
    if (this.#state === 'closed') {
      this.counters.packetsDroppedClosed++;
      return false;
    }
    const lim = this.#sendLimiter;
    if (lim !== null && !lim.allow(FRAME_HEADER_LEN + KEY_LEN + packet.length, this.#clock.now())) {
      this.counters.packetsDroppedRateLimit++;
      return false;
    }
    if (this.#queue.length >= this.#queueLimit) {
      this.counters.packetsDroppedQueueFull++;
      return false;
    }
    this.#queue.push(encodeSendPacket(raw, packet));
    this.#scheduleFlush();
    return true;
  }

  /** Says whether this server is our home region (NotePreferred); remembered across reconnects. */
  notePreferred(preferred: boolean): void {
    this.#preferred = preferred;
    if (this.#state === 'connected') this.#writeNow([emitFrame({ type: 'NotePreferred', preferred })]);
  }

  /** Sends a Ping and resolves with the round-trip time in ms when the Pong arrives. */
  ping(timeoutMs = 5000): Promise<number> {
    if (this.#state !== 'connected') {
      return Promise.reject(new TsnetError('ERR_DERP_NOT_CONNECTED', 'DERP client is not connected'));
    }
    const data = this.#crypto.randomBytes(8);
    const id = Buffer.from(data).toString('hex');
    return new Promise<number>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pings.delete(id);
        reject(new TsnetError('ETIMEDOUT', `DERP ping: no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pings.set(id, { resolve, reject, sentAt: this.#clock.now(), timer });
      this.#writeNow([encodePingPong('Ping', data)]);
    });
  }

  /** Asks the server to close every connection of `peer` (mesh key required). */
  closePeer(peer: NodePublic): void {
    if (this.#state === 'connected') this.#writeNow([emitFrame({ type: 'ClosePeer', peer: peer.raw })]);
  }

  /** Forwards a packet as if from `src` (mesh key required). */
  forwardPacket(src: NodePublic | Uint8Array, dst: NodePublic | Uint8Array, packet: Uint8Array): void {
    if (this.#state === 'connected') {
      const s = src instanceof Uint8Array ? src : src.raw;
      const d = dst instanceof Uint8Array ? dst : dst.raw;
      this.#writeNow([emitFrame({ type: 'ForwardPacket', src: s, dst: d, packet })]);
    }
  }

  /** Closes the connection and stops reconnecting. Queued packets are dropped (and counted). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const t = this.#transport;
    if (t !== null && this.#state === 'connected') this.#flush();
    this.#state = 'closed';
    this.#clearTimers();
    this.counters.packetsDroppedClosed += this.#queue.length;
    this.#queue = [];
    this.#transport = null;
    this.#protocol = null;
    const err = new TsnetError('ERR_DERP_CLOSED', 'DERP client closed');
    for (const p of this.#pings.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    this.#pings.clear();
    this.#rejectWaiters(err);
    if (t !== null && !t.closed) {
      await new Promise<void>((resolve) => {
        // A server that never finishes the close gets 1 s (of our clock, so tests can advance it).
        const timer = this.#clock.setTimeout(() => {
          t.destroy();
          resolve();
        }, 1000);
        t.setHandlers({
          onData: () => {},
          onDrain: () => {},
          onClose: () => {
            timer.cancel();
            resolve();
          },
        });
        t.end();
      });
    }
    this.emit('closed');
  }

  // ---- connecting ----------------------------------------------------------------------------

  #targets(): DialTarget[] {
    const o = this.#opts;
    if (o.url !== undefined) return [targetFromUrl(o.url, o.tls)];
    const region = o.region!;
    const out: DialTarget[] = [];
    region.Nodes.forEach((node, i) => {
      const nodeOpts: { useHttp?: boolean; websocket?: boolean } = {};
      if (o.useHttp !== undefined) nodeOpts.useHttp = o.useHttp;
      if (o.websocket !== undefined) nodeOpts.websocket = o.websocket;
      const t = nodeTarget(node, nodeOpts);
      if (t === null) return;
      // Informational, for the server's stats: we are not on the region's ideal node.
      if (i > 0 && region.Nodes[0] !== undefined) t.headers = { 'Ideal-Node': region.Nodes[0].Name };
      out.push(t);
    });
    return out;
  }

  async #attempt(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    const timeoutMs = this.#opts.connectTimeoutMs ?? 10_000;
    let dialed: DialResult | null = null;
    let lastErr: Error = new TsnetError('ERR_DERP_NO_NODES', 'no DERP node to dial');
    for (const t of this.#targets()) {
      try {
        dialed = await dialDerp(t, timeoutMs);
        break;
      } catch (err) {
        lastErr = err instanceof Error ? err : new Error(String(err));
        this.#logf('derp: dial %s:%d: %s', t.hostname, t.port, lastErr.message);
      }
    }
    if (this.#state !== 'connecting') {
      dialed?.transport.destroy();
      return;
    }
    if (dialed === null) {
      this.#onConnectFailure(lastErr);
      return;
    }
    this.#startProtocol(dialed.transport, dialed.initial, timeoutMs);
  }

  #startProtocol(transport: ByteTransport, initial: Uint8Array, timeoutMs: number): void {
    const o = this.#opts;
    const info: ClientInfo = { version: PROTOCOL_VERSION, canAckPings: o.canAckPings ?? true };
    if (o.meshKey !== undefined) info.meshKey = o.meshKey;
    if (o.isProber === true) info.isProber = true;
    if (o.appName !== undefined) info.appName = o.appName;
    const protocol = new ClientProtocol({
      crypto: this.#crypto,
      privateKey: this.#privateKey.raw,
      publicKey: this.publicKey.raw,
      info,
    });
    this.#transport = transport;
    this.#protocol = protocol;
    this.#skippedSeen = 0;
    this.#established = false;
    this.#connectTimer = this.#clock.setTimeout(() => {
      if (this.#transport === transport && this.#state === 'connecting') {
        this.#teardown(transport, new TsnetError('ETIMEDOUT', 'DERP handshake timed out'));
      }
    }, timeoutMs);
    transport.setHandlers({
      onData: (chunk) => this.#onData(transport, chunk),
      onDrain: () => {
        if (this.#transport === transport) this.#flush();
      },
      onClose: (err) => {
        if (this.#transport === transport) {
          this.#teardown(
            transport,
            err ?? new TsnetError('ECONNRESET', 'DERP connection closed by the server'),
          );
        }
      },
    });
    this.#lastRead = this.#clock.now();
    this.#armReadTimer(transport);
    if (initial.length > 0) this.#onData(transport, initial);
  }

  #onData(transport: ByteTransport, chunk: Uint8Array): void {
    const protocol = this.#protocol;
    if (this.#transport !== transport || protocol === null) return;
    this.#lastRead = this.#clock.now();
    const events = this.#events;
    events.length = 0;
    protocol.receive(chunk, events);
    if (protocol.outbox.length > 0 && this.#state === 'connected') this.#writeNow(protocol.outbox.splice(0));
    for (const e of events) {
      this.#onEvent(transport, protocol, e);
      if (this.#transport !== transport) break;
    }
    events.length = 0;
    // Accumulated across connections, as every other counter: each connection's parser counts from 0.
    this.counters.framesSkipped += protocol.framesSkipped - this.#skippedSeen;
    this.#skippedSeen = protocol.framesSkipped;
  }

  #onEvent(transport: ByteTransport, protocol: ClientProtocol, e: ClientEvent): void {
    const c = this.counters;
    switch (e.type) {
      case 'packet':
        c.packetsReceived++;
        c.bytesReceived += e.packet.length;
        this.emit('packet', e.packet, e.src);
        return;
      case 'ready': {
        this.#connectTimer?.cancel();
        this.#connectTimer = null;
        this.#serverKey = e.serverKey;
        this.#state = 'connected';
        const first = protocol.outbox.splice(0);
        if (this.#preferred) first.push(emitFrame({ type: 'NotePreferred', preferred: true }));
        if (this.#opts.watchConnectionChanges === true) first.push(emitFrame({ type: 'WatchConns' }));
        this.#writeNow(first);
        this.#flush();
        return;
      }
      case 'serverInfo':
        // The server registered us (it sends ServerInfo right after): the connection is
        // established. Counted here, not at ServerKey, so a handshake refused in between is only a
        // failure (and backs off like one).
        if (this.#serverKey !== null && !this.#established) {
          this.#established = true;
          this.#generation++;
          this.#failures = 0;
          c.connects++;
          this.#logf('derp: connected to %s (generation %d)', transport.remoteAddress, this.#generation);
          this.emit('connected', { serverKey: this.#serverKey, generation: this.#generation });
          this.#resolveWaiters();
        }
        this.#sendLimiter =
          e.info.tokenBucketBytesPerSecond > 0
            ? new TokenBucket(
                e.info.tokenBucketBytesPerSecond,
                Math.max(e.info.tokenBucketBytesBurst, MAX_PACKET_SIZE + 64),
                this.#clock.now(),
              )
            : null;
        this.emit('serverInfo', e.info);
        return;
      case 'keepAlive':
        c.keepAlivesReceived++;
        this.emit('keepAlive');
        return;
      case 'ping':
        // The Pong is already in the protocol's outbox (written above).
        c.pingsReceived++;
        return;
      case 'pong': {
        c.pongsReceived++;
        const id = Buffer.from(e.data).toString('hex');
        const p = this.#pings.get(id);
        if (p !== undefined) {
          this.#pings.delete(id);
          p.timer.cancel();
          p.resolve(this.#clock.now() - p.sentAt);
        }
        return;
      }
      case 'peerGone':
        this.emit('peerGone', e.peer, e.reason);
        return;
      case 'peerPresent': {
        const info: { ip?: Uint8Array; port?: number; flags?: number } = {};
        if (e.ip !== undefined) info.ip = e.ip;
        if (e.port !== undefined) info.port = e.port;
        if (e.flags !== undefined) info.flags = e.flags;
        this.emit('peerPresent', e.peer, info);
        return;
      }
      case 'health':
        this.emit('health', e.problem);
        return;
      case 'restarting':
        // The server is going away: reconnect after its advertised delay, then retry quickly
        // for its advertised window before falling back to the normal backoff.
        c.restarts++;
        this.#restartDelayMs = e.reconnectInMs;
        this.#restartUntil = this.#clock.now() + e.reconnectInMs + e.tryForMs;
        this.emit('restarting', { reconnectInMs: e.reconnectInMs, tryForMs: e.tryForMs });
        this.#teardown(transport, new TsnetError('ERR_DERP_RESTARTING', 'DERP server is restarting'));
        return;
      case 'failed':
        this.#teardown(transport, new TsnetError('ERR_DERP_PROTOCOL', `DERP protocol error: ${e.reason}`));
        return;
    }
  }

  #armReadTimer(transport: ByteTransport): void {
    const ms = this.#opts.readTimeoutMs ?? CLIENT_READ_TIMEOUT_MS;
    const due = this.#lastRead + ms - this.#clock.now();
    this.#readTimer = this.#clock.setTimeout(
      () => {
        if (this.#transport !== transport) return;
        if (this.#clock.now() - this.#lastRead >= ms) {
          this.#teardown(transport, new TsnetError('ETIMEDOUT', `no data from the DERP server for ${ms} ms`));
        } else {
          this.#armReadTimer(transport);
        }
      },
      Math.max(due, 1),
    );
    this.#readTimer.unref();
  }

  /** Drops a connection that broke, and schedules the next attempt. */
  #teardown(transport: ByteTransport, err: Error): void {
    if (this.#transport !== transport) return;
    const wasConnected = this.#state === 'connected';
    this.#transport = null;
    this.#protocol = null;
    this.#sendLimiter = null;
    this.#connectTimer?.cancel();
    this.#connectTimer = null;
    this.#readTimer?.cancel();
    this.#readTimer = null;
    transport.destroy();
    for (const p of this.#pings.values()) {
      p.timer.cancel();
      p.reject(new TsnetError('ECONNRESET', 'DERP connection lost before the pong'));
    }
    this.#pings.clear();
    if (this.#state === 'closed') return;
    if (wasConnected && !this.#established) {
      // Closed between ServerKey and ServerInfo (e.g. refused by admission): a failed attempt.
      this.#onConnectFailure(err);
    } else if (wasConnected) {
      this.counters.disconnects++;
      this.#logf('derp: disconnected: %s', err.message);
      this.emit('disconnected', err);
      this.#scheduleRetry(err);
    } else {
      this.#onConnectFailure(err);
    }
  }

  #onConnectFailure(err: Error): void {
    this.counters.connectFailures++;
    this.#lastError = err;
    this.#logf('derp: connect failed: %s', err.message);
    this.#rejectWaiters(err);
    this.#scheduleRetry(err);
  }

  #scheduleRetry(_err: Error): void {
    if (this.#state === 'closed') return;
    if (this.#opts.reconnect === false) {
      this.#state = 'idle';
      return;
    }
    this.#state = 'waiting';
    let delay: number;
    const now = this.#clock.now();
    if (this.#restartDelayMs !== null) {
      delay = this.#restartDelayMs;
      this.#restartDelayMs = null;
    } else if (now < this.#restartUntil) {
      delay = 100;
    } else {
      this.#failures++;
      const n = this.#failures;
      const max = this.#opts.maxBackoffMs ?? 5000;
      delay = Math.min(n * n * 10, max) * (this.#random() + 0.5);
    }
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = null;
      if (this.#state === 'waiting') void this.#attempt();
    }, delay);
  }

  #resolveWaiters(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const x of w) x.resolve();
  }

  #rejectWaiters(err: Error): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const x of w) x.reject(err);
  }

  #clearTimers(): void {
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#connectTimer?.cancel();
    this.#connectTimer = null;
    this.#readTimer?.cancel();
    this.#readTimer = null;
  }

  // ---- writing -------------------------------------------------------------------------------

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#state !== 'connected') return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Writes queued packets unless the transport is full (then its drain event will). */
  #flush(): void {
    const t = this.#transport;
    if (t === null || this.#state !== 'connected' || t.needDrain || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    const c = this.counters;
    c.packetsSent += batch.length;
    for (const f of batch) c.bytesSent += f.length - FRAME_HEADER_LEN - KEY_LEN;
    t.writeBatch(batch);
  }

  /** Control frames bypass the packet queue. */
  #writeNow(frames: Uint8Array[]): void {
    if (frames.length > 0) this.#transport?.writeBatch(frames);
  }

  /** The last connection error, if any (for diagnostics). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }
}
