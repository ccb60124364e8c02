/**
 * `DerpServer`: a DERP relay (tailscale `derp/derpserver/derpserver.go`, `handler.go`,
 * `websocket.go`). It forwards packets between connected clients by node key, tells clients when
 * a peer they heard from leaves (PeerGone), tells mesh watchers who comes and goes (PeerPresent /
 * PeerGone), answers pings, sends keep-alives, and keeps per-client queues bounded, counting what
 * it drops. It runs in-process: attach it to an existing `http.Server` (`attach`) or let it listen
 * on its own (`listen`).
 *
 * Read `conn.ts` for one connection's life; this file is the registry and the HTTP entry points.
 */

import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Clock,
  type CryptoProvider,
  discardLogf,
  getCryptoProvider,
  type Logf,
  NodePrivate,
  type NodePublic,
  parseHex,
  systemClock,
  toHex,
} from '@tsnet/core';
import { WebSocketServer } from 'ws';
import { DerpClient, type DerpClientOptions } from '../client/client.js';
import type { DerpTlsOptions } from '../client/dial.js';
import { type KeyId, keyId } from '../key-id.js';
import { type ByteTransport, SocketTransport, WebSocketTransport } from '../transport.js';
import {
  DERP_PUBLIC_KEY_HEADER,
  DERP_VERSION_HEADER,
  FAST_START_HEADER,
  IDEAL_NODE_HEADER,
  KEEP_ALIVE_MS,
  PEER_GONE_REASON,
  PROTOCOL_VERSION,
  WEBSOCKET_SUBPROTOCOL,
} from '../wire/constants.js';
import { emitFrame } from '../wire/frames.js';
import type { ClientInfo } from '../wire/info.js';
import { ServerConn, type ServerContext } from './conn.js';
import { type DerpServerCounters, type DropReason, newServerCounters } from './counters.js';

/** What the admission hook is asked about a connecting client. */
export interface DerpAdmitRequest {
  /** The client's node key, its DERP address (Go's `DERPAdmitClientRequest.NodePublic`). */
  nodeKey: NodePublic;
  /** `ip:port` of the client as the server sees it ('' when unknown). */
  remoteAddress: string;
  /** What the client said in its ClientInfo (version, prober, app name). */
  clientInfo: ClientInfo;
}

/** Options of `DerpServer`; all optional. */
export interface DerpServerOptions {
  /** The server's identity; a new key when omitted. */
  privateKey?: NodePrivate;
  /** Where connects, disconnects and why connections were closed are logged; default: nowhere. */
  logf?: Logf;
  /** Timers (handshake, keep-alive, write timeout, rate-limit pauses); default the system clock. */
  clock?: Clock;
  /** NaCl boxes for ClientInfo/ServerInfo, key generation, keep-alive jitter; default `getCryptoProvider()`. */
  crypto?: CryptoProvider;
  /**
   * A mesh pre-shared key (64 hex digits). Clients presenting it may WatchConns, ClosePeer and
   * ForwardPacket, skip admission and rate limits, as in Go's derper `-mesh-psk-file`.
   */
  meshKey?: string;
  /**
   * Admission hook: admit (true) or refuse (false) a client after its ClientInfo opened, as Go's
   * `--verify-client-url` does. A throw or rejection refuses. Mesh peers are not asked.
   */
  admit?: (req: DerpAdmitRequest) => boolean | Promise<boolean>;
  /** Per-client receive rate limit; reading pauses when exceeded. Also advertised in ServerInfo. */
  rateLimit?: {
    /** The sustained rate, in bytes per second. */
    bytesPerSecond: number;
    /** The burst allowed above it, in bytes. */
    burstBytes: number;
  };
  /** Packets queued per client and kind (disco / other) before the oldest is dropped; default 32. */
  sendQueueDepth?: number;
  /** Keep-alive period; default 60 s (plus 0–5 s jitter per connection). */
  keepAliveMs?: number;
  /** Close a client that has not read for this long while we have data for it; default 2 s, 0 = never. */
  writeTimeoutMs?: number;
  /** How long a new connection has to complete the handshake; default 10 s. */
  clientInfoTimeoutMs?: number;
}

/** Options of `DerpServer.listen`. */
export interface DerpListenOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: {
    /** The certificate chain, PEM. */
    cert: string | Buffer;
    /** The private key, PEM. */
    key: string | Buffer;
  };
}

interface ClientSet {
  conns: ServerConn[];
  active: ServerConn | null;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * A DERP server.
 *
 * @example
 * ```ts
 * import { DerpServer } from '@tsnet/derp';
 * const server = new DerpServer();
 * const { url } = await server.listen({ port: 0 }); // http://127.0.0.1:PORT/derp
 * // ...clients connect to url...
 * await server.close();
 * ```
 */
export class DerpServer {
  /** The server's public key: sent in ServerKey and the `Derp-Public-Key` response header. */
  readonly publicKey: NodePublic;
  /** Live counters, readable at any time. */
  readonly counters: DerpServerCounters = newServerCounters();
  readonly #ctx: ServerContext;
  readonly #logf: Logf;
  readonly #admitHook: DerpServerOptions['admit'];
  readonly #clients = new Map<KeyId, ClientSet>();
  readonly #peerGoneWatchers = new Map<KeyId, Set<ServerConn>>();
  readonly #watchers = new Set<ServerConn>();
  readonly #conns = new Set<ServerConn>();
  readonly #dirty = new Set<ServerConn>();
  #flushScheduled = false;
  readonly #wss: WebSocketServer;
  #listener: HttpServer | null = null;
  #closed = false;
  readonly #privateKey: NodePrivate;
  readonly #meshKeyHex: string | null;
  readonly #crypto: CryptoProvider;
  /** Keys connected to a mesh peer, and the client to that peer. */
  readonly #meshRoutes = new Map<KeyId, DerpClient>();
  readonly #meshClients: DerpClient[] = [];

  constructor(options: DerpServerOptions = {}) {
    const crypto = options.crypto ?? getCryptoProvider();
    const priv = options.privateKey ?? NodePrivate.generate(crypto);
    this.publicKey = priv.public(crypto);
    this.#privateKey = priv;
    this.#crypto = crypto;
    this.#meshKeyHex = options.meshKey?.trim() ?? null;
    this.#logf = options.logf ?? discardLogf;
    this.#admitHook = options.admit;
    let meshKey: Uint8Array | null = null;
    if (options.meshKey !== undefined) {
      meshKey = parseHex(options.meshKey.trim());
      if (meshKey === null || meshKey.length !== 32) throw new RangeError('meshKey must be 64 hex digits');
    }
    const rl = options.rateLimit;
    if (rl !== undefined && !(rl.bytesPerSecond > 0 && rl.burstBytes > 0)) {
      throw new RangeError('rateLimit.bytesPerSecond and rateLimit.burstBytes must be > 0');
    }
    const depth = options.sendQueueDepth ?? 32;
    if (!Number.isInteger(depth) || depth < 1)
      throw new RangeError(`sendQueueDepth must be >= 1, got ${depth}`);
    this.#ctx = {
      clock: options.clock ?? systemClock,
      logf: this.#logf,
      counters: this.counters,
      privateKeyRaw: priv.raw,
      publicKeyRaw: this.publicKey.raw,
      crypto,
      meshKey,
      sendQueueDepth: depth,
      keepAliveMs: options.keepAliveMs ?? KEEP_ALIVE_MS,
      writeTimeoutMs: options.writeTimeoutMs ?? 2000,
      clientInfoTimeoutMs: options.clientInfoTimeoutMs ?? 10_000,
      rateLimit: rl ?? null,
      admit: (conn, info) => this.#admit(conn, info),
      register: (conn) => this.#register(conn),
      unregister: (conn) => this.#unregister(conn),
      forget: (conn) => {
        this.#conns.delete(conn);
        this.#dirty.delete(conn);
      },
      lookup: (dst) => this.#lookup(dst),
      forwardToMesh: (src, dstId, dst, packet) => this.#forwardToMesh(src, dstId, dst, packet),
      noteActivity: (conn) => this.#noteActivity(conn),
      watchPeerGone: (src, conn) => this.#watchPeerGone(src, conn),
      unwatchPeerGone: (src, conn) => this.#unwatchPeerGone(src, conn),
      addWatcher: (conn) => this.#addWatcher(conn),
      closePeer: (target, by) => this.#closePeer(target, by),
      recordDrop: (len, reason) => this.#recordDrop(len, reason),
      scheduleFlush: (conn) => this.#scheduleFlush(conn),
      setPreferred: (conn, v) => this.#setPreferred(conn, v),
    };
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 4 << 20,
      handleProtocols: (protocols) => (protocols.has(WEBSOCKET_SUBPROTOCOL) ? WEBSOCKET_SUBPROTOCOL : false),
    });
  }

  // ---- HTTP entry points -------------------------------------------------------------------

  /**
   * Handles the plain (non-upgrade) requests of a DERP server and returns true, or returns false
   * for paths that are not DERP's: `/derp/probe` and `/derp/latency-check` answer 200 (latency
   * probes), `/derp` without an upgrade answers 426.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/derp/probe' || path === '/derp/latency-check') {
      if (req.method === 'GET' || req.method === 'HEAD') {
        res.writeHead(200, { 'Access-Control-Allow-Origin': '*' });
        res.end();
      } else {
        res.writeHead(405, { 'Content-Type': 'text/plain' });
        res.end('bogus probe method\n');
      }
      return true;
    }
    if (path === '/derp') {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('DERP requires connection upgrade\n');
      return true;
    }
    return false;
  }

  /**
   * Handles an HTTP upgrade (`http.Server` 'upgrade' event) to `/derp` and returns true; returns
   * false, touching nothing, for other paths. `Upgrade: DERP` (or an old client's `websocket`
   * without the derp subprotocol) gets the raw 101 and the frame stream on the socket;
   * `Upgrade: websocket` with `Sec-WebSocket-Protocol: derp` gets a WebSocket.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Uint8Array): boolean {
    if (pathOf(req) !== '/derp') return false;
    const sock = socket as Socket;
    if (this.#closed) {
      sock.destroy();
      return true;
    }
    const up = (req.headers.upgrade ?? '').toLowerCase();
    const idealNode = req.headers[IDEAL_NODE_HEADER.toLowerCase()];
    const notIdeal = typeof idealNode === 'string' && idealNode !== '';
    const protocols = req.headers['sec-websocket-protocol'] ?? '';
    if (up === 'websocket' && protocols.includes(WEBSOCKET_SUBPROTOCOL)) {
      this.#wss.handleUpgrade(req, sock, Buffer.from(head), (ws) => {
        if (ws.protocol !== WEBSOCKET_SUBPROTOCOL) {
          ws.close(1008, 'client must speak the derp subprotocol');
          return;
        }
        this.counters.websocketAccepts++;
        const addr = sock.remoteAddress === undefined ? '' : addrOf(sock.remoteAddress, sock.remotePort ?? 0);
        this.accept(new WebSocketTransport(ws, addr), { notIdeal });
      });
      return true;
    }
    if (up !== 'derp' && up !== 'websocket') {
      sock.end(
        'HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nDERP requires connection upgrade\n',
      );
      return true;
    }
    if (req.headers[FAST_START_HEADER.toLowerCase()] !== '1') {
      sock.write(
        'HTTP/1.1 101 Switching Protocols\r\n' +
          'Upgrade: DERP\r\n' +
          'Connection: Upgrade\r\n' +
          `${DERP_VERSION_HEADER}: ${PROTOCOL_VERSION}\r\n` +
          `${DERP_PUBLIC_KEY_HEADER}: ${toHex(this.publicKey.raw)}\r\n\r\n`,
      );
    }
    this.accept(new SocketTransport(sock), { notIdeal, initial: head });
    return true;
  }

  /**
   * Serves DERP on an existing HTTP(S) server: its 'upgrade' events for `/derp` (other upgrades
   * are left to the server's other 'upgrade' listeners). Plain requests are the application's: call
   * `handleRequest(req, res)` first in your request handler for the probe paths. A server with no
   * request handler at all gets one that serves them and answers 404 to everything else.
   */
  attach(server: HttpServer): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head);
    });
    if (server.listenerCount('request') === 0) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (this.handleRequest(req, res)) return;
        res.writeHead(404);
        res.end();
      });
    }
  }

  /**
   * Listens on its own HTTP (or, with `tls`, HTTPS) server. Resolves with the port and the URL
   * clients use (`http://127.0.0.1:PORT/derp`).
   */
  async listen(options: DerpListenOptions = {}): Promise<{
    /** The port listened on. */
    port: number;
    /** The URL clients use, `http(s)://<host>:<port>/derp`. */
    url: string;
  }> {
    if (this.#listener !== null) throw new Error('DerpServer is already listening');
    const host = options.host ?? '127.0.0.1';
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (this.handleRequest(req, res)) return;
      if (pathOf(req) === '/') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('DERP\nThis is a Tailscale DERP server (@tsnet/derp).\n');
        return;
      }
      res.writeHead(404);
      res.end();
    };
    const srv =
      options.tls === undefined
        ? createHttpServer(onRequest)
        : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
    srv.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.handleUpgrade(req, socket, head)) socket.destroy();
    });
    srv.on('clientError', (_err, socket) => socket.destroy());
    this.#listener = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(options.port ?? 0, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    const port = (srv.address() as AddressInfo).port;
    const h = host.includes(':') ? `[${host}]` : host;
    return { port, url: `${options.tls === undefined ? 'http' : 'https'}://${h}:${port}/derp` };
  }

  /** Serves one already-upgraded byte stream (a socket after the 101, a WebSocket, a test pipe). */
  accept(transport: ByteTransport, opts: { notIdeal?: boolean; initial?: Uint8Array } = {}): void {
    if (this.#closed) {
      transport.destroy();
      return;
    }
    this.counters.accepts++;
    const conn = new ServerConn(this.#ctx, transport, opts);
    if (conn.state !== 'Closed') this.#conns.add(conn);
  }

  // ---- regional mesh -------------------------------------------------------------------------

  /**
   * Meshes with another DERP server of the same region (both need the same `meshKey`): a client
   * with our key and the mesh key subscribes to the peer's connections (WatchConns), and packets
   * for a key connected there are handed over as ForwardPacket, as Go's `derper -mesh-with` does.
   * Returns the mesh client (reconnecting on its own until `close()`).
   */
  meshWith(url: string, options: { tls?: DerpTlsOptions } = {}): DerpClient {
    if (this.#meshKeyHex === null) throw new TypeError('meshWith needs the meshKey option');
    const opts: DerpClientOptions = {
      privateKey: this.#privateKey,
      url,
      meshKey: this.#meshKeyHex,
      watchConnectionChanges: true,
      clock: this.#ctx.clock,
      crypto: this.#crypto,
      logf: this.#logf,
    };
    if (options.tls !== undefined) opts.tls = options.tls;
    const c = new DerpClient(opts);
    c.on('peerPresent', (peer) => {
      if (!peer.equals(this.publicKey)) this.#meshRoutes.set(keyId(peer.raw), c);
    });
    c.on('peerGone', (peer) => {
      const id = keyId(peer.raw);
      if (this.#meshRoutes.get(id) === c) this.#meshRoutes.delete(id);
    });
    c.on('disconnected', () => {
      for (const [id, via] of this.#meshRoutes) if (via === c) this.#meshRoutes.delete(id);
    });
    c.connect().catch((err: unknown) => this.#logf('derp: mesh with %s: %s', url, (err as Error).message));
    this.#meshClients.push(c);
    return c;
  }

  #forwardToMesh(src: Uint8Array, dstId: KeyId, dst: Uint8Array, packet: Uint8Array): boolean {
    const via = this.#meshRoutes.get(dstId);
    if (via === undefined || via.state !== 'connected') return false;
    via.forwardPacket(src, dst, packet);
    this.counters.packetsForwardedOut++;
    return true;
  }

  // ---- operations --------------------------------------------------------------------------

  /** Whether a client with this key is connected and active. */
  isConnected(key: NodePublic): boolean {
    return this.#clients.get(keyId(key.raw))?.active != null;
  }

  /** The keys of the connected clients. */
  connectedKeys(): NodePublic[] {
    const out: NodePublic[] = [];
    for (const set of this.#clients.values()) {
      const c = set.active ?? set.conns[0];
      if (c?.key != null) out.push(c.key);
    }
    return out;
  }

  /** Sends a Health frame (empty = healthy again) to every connection of `key`. */
  setHealth(key: NodePublic, problem: string): void {
    const frame = emitFrame({ type: 'Health', problem });
    for (const c of this.#clients.get(keyId(key.raw))?.conns ?? []) c.queueControl(frame);
  }

  /** Tells every client the server is restarting (FrameRestarting). */
  broadcastRestarting(reconnectInMs: number, tryForMs: number): void {
    const frame = emitFrame({ type: 'Restarting', reconnectInMs, tryForMs });
    for (const c of this.#conns) if (c.state === 'Active') c.queueControl(frame);
  }

  /** Closes every connection of `key`. */
  closeClient(key: NodePublic): void {
    for (const c of [...(this.#clients.get(keyId(key.raw))?.conns ?? [])]) c.close();
  }

  /**
   * Stops accepting, closes every connection (after a Restarting frame if `restarting` is given)
   * and the listener if `listen` made one.
   */
  async close(options: { restarting?: { reconnectInMs: number; tryForMs: number } } = {}): Promise<void> {
    if (this.#closed) return;
    if (options.restarting !== undefined) {
      this.broadcastRestarting(options.restarting.reconnectInMs, options.restarting.tryForMs);
    }
    this.#closed = true;
    for (const c of [...this.#conns]) c.close();
    await Promise.all(this.#meshClients.map((c) => c.close()));
    this.#meshRoutes.clear();
    this.#wss.close();
    const l = this.#listener;
    this.#listener = null;
    if (l !== null) {
      l.closeAllConnections();
      await new Promise<void>((resolve) => l.close(() => resolve()));
    }
  }

  // ---- the registry (ServerContext) ---------------------------------------------------------

  #admit(conn: ServerConn, info: ClientInfo): boolean | Promise<boolean> {
    const hook = this.#admitHook;
    if (hook === undefined) return true;
    return hook({ nodeKey: conn.key!, remoteAddress: conn.remoteAddress, clientInfo: info });
  }

  #register(conn: ServerConn): void {
    const id = conn.id!;
    let set = this.#clients.get(id);
    if (set === undefined) {
      set = { conns: [], active: null };
      this.#clients.set(id, set);
    }
    set.conns.push(conn);
    if (set.conns.length === 2) this.counters.duplicateClientKeys++;
    // lastWriterIsActive: the newest connection is active until another one speaks.
    set.active = conn;
    this.counters.currentClients++;
    for (const w of this.#watchers) w.sendPeerPresent(conn.key!.raw, conn.remoteAddress, conn.presentFlags());
    this.#logf('derp: %s: connected (conn %d)', conn.toString(), conn.connNum);
  }

  #unregister(conn: ServerConn): void {
    this.#watchers.delete(conn);
    const id = conn.id!;
    const set = this.#clients.get(id);
    this.counters.currentClients--;
    if (conn.preferred) this.counters.currentHomeClients--;
    if (set === undefined) return;
    const i = set.conns.indexOf(conn);
    if (i !== -1) set.conns.splice(i, 1);
    if (set.conns.length === 0) {
      this.#clients.delete(id);
      // Tell whoever received packets from this key that it is gone (notePeerGoneFromRegion).
      const watchers = this.#peerGoneWatchers.get(id);
      this.#peerGoneWatchers.delete(id);
      if (watchers !== undefined) {
        for (const w of watchers) {
          w.sawSrc.delete(id);
          w.sendPeerGone(conn.key!.raw, PEER_GONE_REASON.Disconnected);
        }
      }
      for (const w of this.#watchers) w.sendPeerGone(conn.key!.raw, PEER_GONE_REASON.Disconnected);
    } else {
      if (set.conns.length === 1) this.counters.duplicateClientKeys--;
      if (set.active === conn || set.active === null) set.active = set.conns[set.conns.length - 1] ?? null;
    }
    this.#logf('derp: %s: disconnected (conn %d)', conn.toString(), conn.connNum);
  }

  #lookup(dst: KeyId): ServerConn | 'unknown' | 'dup' {
    const set = this.#clients.get(dst);
    if (set === undefined) return 'unknown';
    if (set.active !== null) return set.active;
    return set.conns.length > 1 ? 'dup' : 'unknown';
  }

  #noteActivity(conn: ServerConn): void {
    const set = this.#clients.get(conn.id!);
    if (set !== undefined && set.conns.length > 1) set.active = conn;
  }

  #watchPeerGone(src: KeyId, conn: ServerConn): void {
    let s = this.#peerGoneWatchers.get(src);
    if (s === undefined) {
      s = new Set();
      this.#peerGoneWatchers.set(src, s);
    }
    s.add(conn);
  }

  #unwatchPeerGone(src: KeyId, conn: ServerConn): void {
    const s = this.#peerGoneWatchers.get(src);
    if (s === undefined) return;
    s.delete(conn);
    if (s.size === 0) this.#peerGoneWatchers.delete(src);
  }

  #addWatcher(conn: ServerConn): void {
    if (conn.id === keyId(this.publicKey.raw)) return; // ourselves
    for (const set of this.#clients.values()) {
      const a = set.active;
      if (a !== null && a.key !== null) conn.sendPeerPresent(a.key.raw, a.remoteAddress, a.presentFlags());
    }
    this.#watchers.add(conn);
  }

  #closePeer(target: KeyId, by: ServerConn): void {
    const set = this.#clients.get(target);
    if (set === undefined) {
      this.#logf('derp: %s: ClosePeer for a peer not here', by.toString());
      return;
    }
    for (const c of [...set.conns]) c.close();
  }

  #recordDrop(len: number, reason: DropReason): void {
    const c = this.counters;
    c.packetsDropped++;
    c.bytesDropped += len;
    c.dropsByReason[reason]++;
  }

  #scheduleFlush(conn: ServerConn): void {
    this.#dirty.add(conn);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // After the current input chunk is processed: one batched write per connection.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      for (const c of this.#dirty) c.flush();
      this.#dirty.clear();
    });
  }

  #setPreferred(conn: ServerConn, v: boolean): void {
    if (conn.preferred === v) return;
    conn.preferred = v;
    const c = this.counters;
    c.currentHomeClients += v ? 1 : -1;
    if (this.#ctx.clock.now() - conn.connectedAt > 5000) {
      if (v) c.homeMovesIn++;
      else c.homeMovesOut++;
    }
  }
}

function addrOf(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A fresh random 64-hex-digit mesh key. */
export function generateMeshKey(): string {
  return randomBytes(32).toString('hex');
}
