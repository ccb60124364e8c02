/**
 * `DerpRegionManager`: the DERP side of magicsock (tailscale `wgengine/magicsock/derp.go`,
 * `net/netcheck`): given a DERP map, measure each region's latency, choose a home region (say so
 * with NotePreferred), reach any other region on demand, and close non-home connections after
 * 60 s without a send (checked every 15 s, `derpInactiveCleanupTime`).
 *
 * Latency is measured over HTTP(S) (`HEAD /derp/latency-check` on the region's first DERP node),
 * netcheck's fallback when UDP STUN is unavailable. Home selection: the lowest latency among
 * regions without `Avoid` / `NoMeasureNoHome`; a current home is kept unless another is faster
 * by a third (hysteresis, so the home does not flap).
 */

import { EventEmitter } from 'node:events';
import {
  type Clock,
  type ClockTimer,
  type CryptoProvider,
  discardLogf,
  type Logf,
  type NodePrivate,
  type NodePublic,
  systemClock,
} from '@tsnet/core';
import { DerpClient, type DerpClientOptions } from '../client/client.js';
import { probeLatency } from '../client/dial.js';
import { type DerpMap, type DerpRegion, nodeTarget } from './derp-map.js';

/** Options of `DerpRegionManager`. */
export interface DerpRegionManagerOptions {
  /** This node's key: its DERP address in every region. */
  privateKey: NodePrivate;
  /** The regions to use; replace it later with `setDerpMap`. */
  derpMap: DerpMap;
  /** Plain HTTP instead of HTTPS for every node (Go's `TS_DEBUG_USE_DERP_HTTP`). */
  useHttp?: boolean;
  /** DERP over WebSocket for every node (latency probes still use HTTP(S)). */
  websocket?: boolean;
  /** Where probes, home changes and idle closes are logged (also passed to each client). */
  logf?: Logf;
  /** The clock for idle checks and the clients' timers; default the system clock. */
  clock?: Clock;
  /** Passed to each `DerpClient`; default `getCryptoProvider()`. */
  crypto?: CryptoProvider;
  /** Non-home connections unused for this long are closed (default 60 s). */
  idleTimeoutMs?: number;
  /** How often idle connections are looked for (default 15 s). */
  idleCheckMs?: number;
  /** Options for every DerpClient (queue size, backoff…). */
  clientOptions?: Partial<Omit<DerpClientOptions, 'privateKey' | 'url' | 'region'>>;
  /** Replaces the latency measurement (tests, or a STUN-based one); null = unreachable. */
  measure?: (region: DerpRegion) => Promise<number | null>;
}

/** The events of a `DerpRegionManager`, with their listener arguments. */
export interface DerpRegionManagerEvents {
  /** A packet from `src` via `regionId`; `packet` aliases the read buffer. */
  packet: [packet: Uint8Array, src: NodePublic, regionId: number];
  /** A `DerpClient` `peerGone` from `regionId`'s server (`reason`: `PEER_GONE_REASON`). */
  peerGone: [peer: NodePublic, reason: number, regionId: number];
  /** The home region changed to `regionId` (emitted before its connection is up). */
  home: [regionId: number];
  /** A connection to a region opened or closed. */
  connection: [regionId: number, open: boolean];
}

interface RegionConn {
  client: DerpClient;
  lastUsed: number;
}

/**
 * Connections to the regions of a DERP map: one home region, others opened on demand and closed
 * when idle.
 *
 * @example
 * ```ts
 * import { NodePrivate } from '@tsnet/core';
 * import { DerpRegionManager, parseDerpMap } from '@tsnet/derp';
 * const m = new DerpRegionManager({ privateKey: NodePrivate.generate(), derpMap: parseDerpMap(json) });
 * m.on('packet', (data, src, region) => {});
 * await m.chooseHome();            // measures, connects home, NotePreferred(true)
 * m.send(peerHomeRegion, peerKey, packet); // opens that region on demand
 * await m.close();
 * ```
 */
export class DerpRegionManager extends EventEmitter<DerpRegionManagerEvents> {
  readonly #opts: DerpRegionManagerOptions;
  readonly #clock: Clock;
  readonly #logf: Logf;
  #derpMap: DerpMap;
  #home: number | null = null;
  readonly #conns = new Map<number, RegionConn>();
  #latencies = new Map<number, number>();
  #idleTimer: ClockTimer | null = null;
  #closed = false;

  constructor(options: DerpRegionManagerOptions) {
    super();
    this.#opts = options;
    this.#derpMap = options.derpMap;
    this.#clock = options.clock ?? systemClock;
    this.#logf = options.logf ?? discardLogf;
    this.#scheduleIdleCheck();
  }

  /** The home region, or null before one is chosen. */
  get home(): number | null {
    return this.#home;
  }

  /** Region IDs with an open (or opening) connection. */
  get connectedRegions(): number[] {
    return [...this.#conns.keys()].sort((a, b) => a - b);
  }

  /** The latencies of the last measurement, in ms, by region. */
  get latencies(): ReadonlyMap<number, number> {
    return this.#latencies;
  }

  /** The client for a region, if connected. */
  client(regionId: number): DerpClient | undefined {
    return this.#conns.get(regionId)?.client;
  }

  /** Replaces the DERP map: connections to regions no longer in it are closed. */
  setDerpMap(map: DerpMap): void {
    this.#derpMap = map;
    for (const id of [...this.#conns.keys()]) {
      if (map.Regions[String(id)] === undefined) this.#closeRegion(id);
    }
    if (this.#home !== null && map.Regions[String(this.#home)] === undefined) this.#home = null;
  }

  #region(id: number): DerpRegion | undefined {
    return this.#derpMap.Regions[String(id)];
  }

  /** Measures every region's latency (in parallel, each bounded by `timeoutMs`). */
  async measureLatencies(timeoutMs = 2000): Promise<Map<number, number>> {
    const regions = Object.values(this.#derpMap.Regions);
    const results = await Promise.all(
      regions.map(
        async (r): Promise<[number, number | null]> => [r.RegionID, await this.#measure(r, timeoutMs)],
      ),
    );
    const out = new Map<number, number>();
    for (const [id, ms] of results) if (ms !== null) out.set(id, ms);
    this.#latencies = out;
    return out;
  }

  async #measure(region: DerpRegion, timeoutMs: number): Promise<number | null> {
    if (this.#opts.measure !== undefined) return this.#opts.measure(region);
    for (const node of region.Nodes) {
      const nodeOpts = this.#opts.useHttp === true ? { useHttp: true } : {};
      const t = nodeTarget(node, nodeOpts);
      if (t === null) continue;
      try {
        return await probeLatency(t, timeoutMs);
      } catch (err) {
        this.#logf(
          'derp: latency probe of region %d node %s: %s',
          region.RegionID,
          node.Name,
          (err as Error).message,
        );
      }
    }
    return null;
  }

  /**
   * Measures, picks the home region, connects to it and sends NotePreferred(true) (and false to
   * the previous home). Resolves with the home region ID, or null if none is reachable.
   */
  async chooseHome(timeoutMs = 2000): Promise<number | null> {
    const lat = await this.measureLatencies(timeoutMs);
    // Closed while measuring: open nothing (a client made now would reconnect forever).
    if (this.#closed) return null;
    let best: number | null = null;
    let bestMs = Number.POSITIVE_INFINITY;
    for (const [id, ms] of lat) {
      const r = this.#region(id);
      if (r === undefined || r.Avoid === true || r.NoMeasureNoHome === true) continue;
      if (ms < bestMs || (ms === bestMs && best !== null && id < best)) {
        best = id;
        bestMs = ms;
      }
    }
    const cur = this.#home;
    if (cur !== null && best !== null && best !== cur) {
      const curMs = lat.get(cur);
      // Hysteresis: keep the current home unless the new one is clearly better.
      if (curMs !== undefined && bestMs > (curMs * 2) / 3) best = cur;
    }
    if (best !== null) await this.setHome(best);
    return best;
  }

  /** Makes `regionId` the home region: connects to it and tells it (NotePreferred). */
  async setHome(regionId: number): Promise<void> {
    if (this.#closed) return;
    if (this.#region(regionId) === undefined)
      throw new RangeError(`region ${regionId} is not in the DERP map`);
    const old = this.#home;
    this.#home = regionId;
    if (old !== null && old !== regionId) this.#conns.get(old)?.client.notePreferred(false);
    const c = this.#ensure(regionId);
    c.client.notePreferred(true);
    if (old !== regionId) this.emit('home', regionId);
    await c.client.connect().catch((err: unknown) => {
      // Keeps retrying in the background; the caller learns the first failure from the log.
      this.#logf('derp: home region %d: %s', regionId, (err as Error).message);
    });
  }

  /**
   * Sends a packet to `dst` through `regionId` (the peer's home region), opening a connection to
   * it if needed. Returns false if the packet was dropped (see `DerpClient.send`).
   */
  send(regionId: number, dst: NodePublic | Uint8Array, packet: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#region(regionId) === undefined) return false;
    const c = this.#ensure(regionId);
    c.lastUsed = this.#clock.now();
    return c.client.send(dst, packet);
  }

  #ensure(regionId: number): RegionConn {
    let c = this.#conns.get(regionId);
    if (c !== undefined) return c;
    const o = this.#opts;
    const region = this.#region(regionId)!;
    const opts: DerpClientOptions = { ...(o.clientOptions ?? {}), privateKey: o.privateKey, region };
    if (o.useHttp !== undefined) opts.useHttp = o.useHttp;
    if (o.websocket !== undefined) opts.websocket = o.websocket;
    if (o.clock !== undefined) opts.clock = o.clock;
    if (o.crypto !== undefined) opts.crypto = o.crypto;
    if (o.logf !== undefined) opts.logf = o.logf;
    const client = new DerpClient(opts);
    client.on('packet', (p, src) => this.emit('packet', p, src, regionId));
    client.on('peerGone', (peer, reason) => this.emit('peerGone', peer, reason, regionId));
    c = { client, lastUsed: this.#clock.now() };
    this.#conns.set(regionId, c);
    this.emit('connection', regionId, true);
    client.connect().catch((err: unknown) => {
      this.#logf('derp: region %d: %s', regionId, (err as Error).message);
    });
    return c;
  }

  #closeRegion(regionId: number): void {
    const c = this.#conns.get(regionId);
    if (c === undefined) return;
    this.#conns.delete(regionId);
    void c.client.close();
    this.emit('connection', regionId, false);
  }

  #scheduleIdleCheck(): void {
    const t = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.closeIdle();
      this.#scheduleIdleCheck();
    }, this.#opts.idleCheckMs ?? 15_000);
    t.unref();
    this.#idleTimer = t;
  }

  /** Closes non-home connections unused for `idleTimeoutMs`; returns the regions closed. */
  closeIdle(): number[] {
    const limit = this.#opts.idleTimeoutMs ?? 60_000;
    const now = this.#clock.now();
    const closed: number[] = [];
    for (const [id, c] of this.#conns) {
      if (id === this.#home) continue;
      if (now - c.lastUsed >= limit) closed.push(id);
    }
    for (const id of closed) {
      this.#logf('derp: closing idle region %d', id);
      this.#closeRegion(id);
    }
    return closed;
  }

  /**
   * Stops the idle checks and closes every region's client; afterwards `send` returns false and
   * `setHome` opens nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idleTimer?.cancel();
    const all = [...this.#conns.values()];
    this.#conns.clear();
    await Promise.all(all.map((c) => c.client.close()));
  }
}
