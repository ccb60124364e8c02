/**
 * `POST /machine/map` (protocol-map.md §4): lite updates, one-shot maps and the streaming map
 * session with deltas, keep-alives and injected ping requests.
 *
 * - `Stream: false, OmitPeers: true`: a lite update. Endpoints, disco key, Hostinfo and its
 *   `NetInfo.PreferredDERP` (the home DERP) are stored and peers get a patch; 200, empty body.
 * - `Stream: true`: a long poll. A full MapResponse first, then deltas (view.ts) after every change
 *   of the tailnet, `{"KeepAlive": true}` when idle. As in Tailscale's test control, a streaming
 *   request of capability version ≥ 68 is read-only (its endpoints and disco key are ignored:
 *   modern clients send them as lite updates). A node has one stream; a new one replaces the old.
 * - Frames are a 4-byte little-endian length and the body: JSON, or a zstd frame when the client
 *   asked for `Compress: "zstd"` (Go always does; see zstd.ts).
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { MapRequestSchema } from '@tsnet/control';
import type { AddrPort, Clock, ClockTimer, Logf } from '@tsnet/core';
import type { z } from 'zod';
import type { NodeRec, TailnetState } from './model.js';
import { buildView, deltaMapResponse, fullMapResponse, type View, WireCache } from './view.js';
import { zstdRawFrame } from './zstd.js';

type MapRequest = z.output<typeof MapRequestSchema>;

/** A stream whose unread output exceeds this is dropped (a client that stopped reading). */
const MAX_BUFFERED_BYTES = 16 << 20;

export interface MapEnv {
  state: TailnetState;
  clock: Clock;
  logf: Logf;
  derpMap: () => Record<string, unknown>;
  magicDNS: boolean;
  keepAliveMs: number;
  /** How long an ephemeral node may stay disconnected before it is deleted. */
  ephemeralTimeoutMs: number;
}

export interface MapStats {
  /** Map sessions started. */
  sessions: number;
  /** Map messages sent (full maps, deltas and keep-alives). */
  messages: number;
  /** Delta messages sent (changes to a map a session already has). */
  deltas: number;
  /** Keep-alives sent. */
  keepAlives: number;
  /** Lite updates received (endpoint, disco key or host info without a map session). */
  liteUpdates: number;
  /** Sessions dropped because the client read too slowly. */
  slowClientsDropped: number;
}

interface Session {
  node: NodeRec;
  stream: ServerHttp2Stream;
  compress: boolean;
  last: View | null;
  keepAlive: ClockTimer | null;
  flushQueued: boolean;
  closed: boolean;
}

const encoder = new TextEncoder();

/** Applies what a MapRequest reports about the node (endpoints, disco key, hostinfo, home DERP). */
function applyUpdate(
  state: TailnetState,
  n: NodeRec,
  req: MapRequest,
  rawHostinfo: Record<string, unknown> | null,
): void {
  n.cap = req.Version;
  if (req.Endpoints !== undefined)
    n.endpoints = req.Endpoints.slice(0, 64).filter((e: AddrPort) => e.port !== 0);
  if (req.DiscoKey !== undefined && !req.DiscoKey.isZero()) n.discoKey = req.DiscoKey;
  if (rawHostinfo !== null) {
    n.hostinfo = rawHostinfo;
    const pd = req.Hostinfo?.NetInfo?.PreferredDERP;
    if (pd !== undefined && pd > 0) n.homeDERP = pd;
    const h = req.Hostinfo?.Hostname;
    if (h !== undefined && h !== '') state.setHostname(n, h.slice(0, 256));
  }
}

export class MapSessions {
  readonly #env: MapEnv;
  readonly #sessions = new Map<number, Session>();
  readonly #ephemeralTimers = new Map<number, ClockTimer>();
  readonly #pings = new Map<number, Record<string, unknown>[]>();
  readonly #wire = new WireCache();
  readonly stats: MapStats = {
    sessions: 0,
    messages: 0,
    deltas: 0,
    keepAlives: 0,
    liteUpdates: 0,
    slowClientsDropped: 0,
  };
  #closed = false;
  readonly #onChange = () => {
    for (const s of this.#sessions.values()) this.#queueFlush(s);
  };

  constructor(env: MapEnv) {
    this.#env = env;
    env.state.on('change', this.#onChange);
  }

  /** Queues a `PingRequest` for node `id`; it goes out on the node's stream. */
  queuePing(id: number, pr: Record<string, unknown>): void {
    const q = this.#pings.get(id) ?? [];
    if (q.length >= 64) q.shift();
    q.push(pr);
    this.#pings.set(id, q);
    const s = this.#sessions.get(id);
    if (s !== undefined) this.#queueFlush(s);
  }

  /** Handles one `/machine/map` request whose body is already parsed. */
  handle(
    stream: ServerHttp2Stream,
    n: NodeRec,
    req: MapRequest,
    rawHostinfo: Record<string, unknown> | null,
  ): void {
    const { state } = this.#env;
    const readOnlyStream = req.Stream === true && req.Version >= 68;
    if (!readOnlyStream && req.ReadOnly !== true) {
      applyUpdate(state, n, req, rawHostinfo);
      state.changed('map-update');
    }
    if (req.Stream !== true && req.OmitPeers === true) {
      this.stats.liteUpdates++;
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    const s: Session = {
      node: n,
      stream,
      compress: req.Compress !== undefined && req.Compress !== '',
      last: null,
      keepAlive: null,
      flushQueued: false,
      closed: false,
    };
    if (req.Stream !== true) {
      this.#flush(s);
      stream.end();
      return;
    }
    this.stats.sessions++;
    const prev = this.#sessions.get(n.id);
    this.#sessions.set(n.id, s);
    if (prev !== undefined) this.#end(prev);
    else {
      n.sessions++;
      this.#ephemeralTimers.get(n.id)?.cancel();
      this.#ephemeralTimers.delete(n.id);
    }
    stream.on('close', () => this.#onStreamClosed(s));
    this.#flush(s);
    this.#armKeepAlive(s);
    state.changed('online');
  }

  #armKeepAlive(s: Session): void {
    s.keepAlive?.cancel();
    if (s.closed || this.#env.keepAliveMs <= 0) return;
    s.keepAlive = this.#env.clock.setTimeout(() => {
      s.keepAlive = null;
      if (s.closed) return;
      this.stats.keepAlives++;
      this.#write(s, { KeepAlive: true });
      this.#armKeepAlive(s);
    }, this.#env.keepAliveMs);
  }

  #queueFlush(s: Session): void {
    if (s.flushQueued || s.closed) return;
    s.flushQueued = true;
    setImmediate(() => {
      s.flushQueued = false;
      this.#flush(s);
    });
  }

  #flush(s: Session): void {
    if (s.closed || this.#closed) return;
    const { state } = this.#env;
    const n = state.node(s.node.id);
    if (n === undefined || n !== s.node) {
      // Deleted (logout of an ephemeral node, admin): the stream ends and the client re-registers.
      this.#end(s);
      return;
    }
    const pings = this.#pings.get(n.id);
    if (pings !== undefined) {
      this.#pings.delete(n.id);
      for (const pr of pings) this.#write(s, { PingRequest: pr });
    }
    const view = buildView(state, n, this.#env.derpMap(), this.#env.magicDNS, this.#wire);
    const first = s.last === null;
    const msg =
      s.last === null
        ? fullMapResponse(view, new Date(this.#env.clock.wallNow()))
        : deltaMapResponse(s.last, view);
    s.last = view;
    if (msg === null) return;
    if (!first) this.stats.deltas++;
    this.#write(s, msg);
    this.#armKeepAlive(s);
  }

  #write(s: Session, msg: unknown): void {
    if (s.closed || s.stream.destroyed) return;
    const json = encoder.encode(JSON.stringify(msg));
    const body = s.compress ? zstdRawFrame(json) : json;
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length, true);
    frame.set(body, 4);
    this.stats.messages++;
    s.stream.write(frame);
    if (s.stream.writableLength > MAX_BUFFERED_BYTES) {
      this.stats.slowClientsDropped++;
      this.#env.logf('testcontrol: dropping the map stream of node %d: not reading', s.node.id);
      this.#end(s);
    }
  }

  #end(s: Session): void {
    if (!s.stream.destroyed) s.stream.close();
    this.#onStreamClosed(s);
  }

  #onStreamClosed(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    s.keepAlive?.cancel();
    s.keepAlive = null;
    if (this.#sessions.get(s.node.id) !== s) return; // replaced by a newer stream
    this.#sessions.delete(s.node.id);
    const { state, clock } = this.#env;
    const n = s.node;
    n.sessions = Math.max(0, n.sessions - 1);
    if (n.sessions === 0) {
      n.lastSeen = new Date(clock.wallNow());
      if (n.ephemeral && state.node(n.id) === n && !this.#closed) {
        const t = clock.setTimeout(() => {
          this.#ephemeralTimers.delete(n.id);
          if (n.sessions === 0 && state.node(n.id) === n) {
            this.#env.logf('testcontrol: deleting ephemeral node %d after disconnect', n.id);
            state.deleteNode(n.id);
          }
        }, this.#env.ephemeralTimeoutMs);
        this.#ephemeralTimers.set(n.id, t);
      }
    }
    if (!this.#closed) state.changed('offline');
  }

  /** Ends every stream and cancels every timer. */
  close(): void {
    this.#closed = true;
    this.#env.state.off('change', this.#onChange);
    for (const s of [...this.#sessions.values()]) this.#end(s);
    for (const t of this.#ephemeralTimers.values()) t.cancel();
    this.#ephemeralTimers.clear();
  }
}
