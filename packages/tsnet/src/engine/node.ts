/**
 * `TsnetNode`: the engine. It joins the layers into a Tailscale node (protocol-map §13):
 * ControlClient (register, streaming map) → each netmap → WireGuard peers (node keys, allowed IPs;
 * the endpoint of each is its node key, routed by magicsock), magicsock peers (disco keys, home DERP,
 * endpoints) and DERP map, the packet filter; netstack on the node's IPv4 and IPv6 addresses with MTU
 * 1280, joined to WireGuard through the filter (`Datapath`). Our disco key, endpoints and home DERP
 * go to control as lite updates.
 *
 * This is the internal API the public `Server` stands on: `up()`, `listen(port)`, `dial(host, port)`,
 * `close()`, plus path and counter views for tests.
 */
import { EventEmitter } from 'node:events';
import { ControlClient, type NetworkMap, type Node } from '@tsnet/control';
import {
  type Clock,
  type ClockTimer,
  type CryptoProvider,
  DiscoPublic,
  discardLogf,
  getCryptoProvider,
  type IPAddr,
  IPPrefix,
  type Logf,
  MachinePrivate,
  type NodePrivate,
  NodePublic,
  systemClock,
  TsnetError,
} from '@tsnet/core';
import { parseDerpMap } from '@tsnet/derp';
import { type Clock as NetstackClock, Stack, type TcpServer, type TcpSocket } from '@tsnet/netstack';
import { Device } from '@tsnet/wireguard';
import { PacketFilter } from '../filter/filter.js';
import type { PeerPath } from '../magicsock/endpoint.js';
import { Magicsock } from '../magicsock/magicsock.js';
import { Datapath, TAILSCALE_MTU } from './datapath.js';

/** Options of a `TsnetNode` (the `Server` fills them from its own). */
export interface TsnetNodeOptions {
  /** The control server URL, e.g. `http://127.0.0.1:8080`. */
  controlUrl: string;
  /** The host name sent to control (`Hostinfo.Hostname`); control may make it unique. */
  hostname: string;
  /** A pre-auth key; without one, control's answer carries a login URL (interactive login). */
  authKey?: string;
  /** Register as ephemeral: control removes the node once it is offline (and on logout). */
  ephemeral?: boolean;
  /** ACL tags to request (`Hostinfo.RequestTags`). */
  tags?: string[];
  /** Persisted keys; fresh ones when absent. */
  machineKey?: MachinePrivate;
  /** The node key (WireGuard's static key); fresh when absent. */
  nodeKey?: NodePrivate;
  /** The key `nodeKey` replaces, sent as `OldNodeKey` at registration (a forced re-login). */
  oldNodeKey?: NodePrivate;
  /** UDP socket address (default `::`, dual-stack; `0.0.0.0` where there is no IPv6). */
  listenAddress?: string;
  /** UDP port for magicsock (default 0: any free port). */
  port?: number;
  /** DERP only: no direct UDP paths. */
  disableDirect?: boolean;
  /** Plain HTTP to DERP (Go's TS_DEBUG_USE_DERP_HTTP). */
  derpUseHttp?: boolean;
  /** Time source for timers (a `FakeClock` in tests); default the system clock. */
  clock?: Clock;
  /** Verbose logs of every layer; never given a key. Default: discarded. */
  logf?: Logf;
  /** The crypto provider; default `getCryptoProvider()`. */
  crypto?: CryptoProvider;
}

/** Events of a `TsnetNode`. */
export interface TsnetNodeEvents {
  /** A network map from control was applied (peers, filter, DNS). */
  netmap: [nm: NetworkMap];
  /** Control accepted the node (its key is registered): persist the node key now. */
  registered: [];
  /** The node has addresses and a stack: listen and dial work. */
  up: [];
}

interface WgPeer {
  allowed: string;
}

/**
 * The engine of one node. Several can run in one process.
 *
 * @example
 * ```ts
 * import { TsnetNode } from 'tsnet';
 * const node = new TsnetNode({ controlUrl: 'http://127.0.0.1:8080', authKey, hostname: 'tsnode' });
 * await node.up();
 * node.listen(8080, (sock) => sock.pipe(sock));
 * const s = await node.dial('100.64.0.2', 7);
 * await node.close();
 * ```
 */
export class TsnetNode extends EventEmitter<TsnetNodeEvents> {
  /** The control client (registration, map poll, lite updates). */
  readonly control: ControlClient;
  #magicsock!: Magicsock;
  #device!: Device;
  /** The node key the device and magicsock were built with. */
  #builtKey: NodePrivate | undefined;
  /** The packet path between WireGuard and netstack (filter, TSMP, counters). */
  readonly datapath = new Datapath();
  #stack: Stack | undefined;
  #filter: PacketFilter | undefined;
  #addresses: IPAddr[] = [];
  #netmap: NetworkMap | undefined;
  readonly #wgPeers = new Map<string, WgPeer>();
  /** Tailscale IP text → peer node key text. */
  readonly #byIp = new Map<string, string>();
  /** Dials in progress by `remoteIp|remotePort|localPort`, to fail on a TSMP reject. */
  readonly #pendingDials = new Map<string, (err: Error) => void>();
  #derpMapJson = '';
  readonly #opts: TsnetNodeOptions;
  readonly #logf: Logf;
  readonly #clock: Clock;
  readonly #crypto: CryptoProvider;
  #state: 'new' | 'starting' | 'up' | 'closed' = 'new';

  constructor(opts: TsnetNodeOptions) {
    super();
    this.#opts = opts;
    this.#logf = opts.logf ?? discardLogf;
    this.#clock = opts.clock ?? systemClock;
    this.#crypto = opts.crypto ?? getCryptoProvider();
    const machineKey = opts.machineKey ?? MachinePrivate.generate(this.#crypto);
    this.control = new ControlClient({
      serverURL: opts.controlUrl,
      machineKey,
      ...(opts.nodeKey !== undefined ? { nodeKey: opts.nodeKey } : {}),
      ...(opts.authKey !== undefined ? { authKey: opts.authKey } : {}),
      ...(opts.ephemeral !== undefined ? { ephemeral: opts.ephemeral } : {}),
      ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
      hostinfo: { Hostname: opts.hostname, Package: 'tsnet' },
      clock: this.#clock,
      logf: this.#logf,
      crypto: this.#crypto,
    });
    this.#build(this.control.nodeKey);
    this.datapath.onDiscoAdvert = (src, key) => {
      const peer = this.#byIp.get(ipText(src));
      if (peer !== undefined) this.magicsock.notePeerDiscoKey(peer, DiscoPublic.fromBytes(key));
    };
    this.datapath.onReject = (src, r) => {
      // A peer's filter refused our SYN: fail that dial now instead of letting it time out.
      if (r.proto !== 6) return;
      const pending = this.#pendingDials.get(`${ipText(src)}|${r.theirPort}|${r.ourPort}`);
      pending?.(
        new TsnetError('ECONNREFUSED', `connection refused by the peer's policy (reason ${r.reason})`),
      );
    };
    this.control.on('netmap', (nm: NetworkMap) => this.#applyNetmap(nm));
  }

  /**
   * Builds magicsock and the WireGuard device for `nodeKey`. Called again (before anything was
   * started) when registration rotated the node key.
   */
  #build(nodeKey: NodePrivate): void {
    const opts = this.#opts;
    this.#builtKey = nodeKey;
    this.#magicsock = new Magicsock({
      nodeKey,
      clock: this.#clock,
      logf: this.#logf,
      crypto: this.#crypto,
      ...(opts.listenAddress !== undefined ? { listenAddress: opts.listenAddress } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.disableDirect !== undefined ? { disableDirect: opts.disableDirect } : {}),
      ...(opts.derpUseHttp !== undefined ? { derpUseHttp: opts.derpUseHttp } : {}),
    });
    this.#device = new Device({
      privateKey: nodeKey.raw,
      bind: this.#magicsock,
      tun: this.datapath,
      mtu: TAILSCALE_MTU,
      clock: this.#clock,
      logf: this.#logf,
      crypto: this.#crypto,
    });
    this.#magicsock.on('endpoints', (eps) => {
      this.#lite({ endpoints: eps.map((e) => ({ addr: e.addr, type: e.type })) });
    });
    this.#magicsock.on('home', (region) => {
      this.#logf('tsnet: home DERP region %d', region);
      this.#lite({ preferredDERP: region });
    });
  }

  /** Magicsock, the WireGuard bind (paths, DERP, disco). */
  get magicsock(): Magicsock {
    return this.#magicsock;
  }

  /** The WireGuard device. */
  get device(): Device {
    return this.#device;
  }

  #lite(u: Parameters<ControlClient['update']>[0]): void {
    if (this.#state === 'closed') return;
    this.control
      .update(u)
      .catch((err: unknown) => this.#logf('tsnet: lite update: %s', (err as Error).message));
  }

  /** Our Tailscale addresses (after `up`). */
  get addresses(): readonly IPAddr[] {
    return this.#addresses;
  }

  /** The last network map applied (undefined before the first). */
  get netmap(): NetworkMap | undefined {
    return this.#netmap;
  }

  /** The packet filter compiled from the netmap's `PacketFilters` (undefined before the first). */
  get filter(): PacketFilter | undefined {
    return this.#filter;
  }

  /** The node's netstack on its Tailscale addresses (undefined before `up`). */
  get stack(): Stack | undefined {
    return this.#stack;
  }

  /**
   * Registers with control (with the auth key if one is given, else interactively: the control
   * client's `'state'` event carries the login URL), starts WireGuard and magicsock, polls the map,
   * and resolves once the first netmap gave the node its addresses. Rejects with `ETIMEDOUT` after
   * `timeoutMs` (0: no limit), with the signal's reason when `signal` aborts, or with control's
   * error (for example `ControlLoginError` with the server's words for a bad key).
   */
  async up(
    opts: number | { timeoutMs?: number; signal?: AbortSignal; authKey?: string } = {},
  ): Promise<void> {
    const o = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    if (this.#state !== 'new') throw new TsnetError('ERR_NODE_STATE', `up: node is ${this.#state}`);
    this.#state = 'starting';
    const timeoutMs = o.timeoutMs ?? 30_000;
    const ac = new AbortController();
    const timer =
      timeoutMs > 0
        ? this.#clock.setTimeout(
            () => ac.abort(new TsnetError('ETIMEDOUT', `node not up within ${timeoutMs} ms`)),
            timeoutMs,
          )
        : undefined;
    const onAbort = () => ac.abort(o.signal?.reason);
    if (o.signal?.aborted === true) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let onUp: (() => void) | undefined;
    let onStop: (() => void) | undefined;
    try {
      const authKey = o.authKey ?? this.#opts.authKey;
      const res = await this.control
        .register({
          signal: ac.signal,
          ...(authKey !== undefined ? { authKey } : {}),
          ...(this.#opts.oldNodeKey !== undefined ? { oldNodeKey: this.#opts.oldNodeKey } : {}),
        })
        .catch((err: unknown) => {
          throw ac.signal.aborted ? ac.signal.reason : err;
        });
      this.emit('registered');
      // A rotated key (control said the old one expired): nothing has started yet, so rebuild.
      if (res.nodeKey !== this.#builtKey) this.#build(res.nodeKey);
      if (this.#state !== 'starting') throw new TsnetError('ERR_CLOSED', 'node closed while starting');
      await this.#device.up();
      await this.control.update({
        discoKey: this.#magicsock.discoPublic,
        endpoints: this.#magicsock.endpoints().map((e) => ({ addr: e.addr, type: e.type })),
      });
      const ready = new Promise<void>((resolve, reject) => {
        onUp = resolve;
        onStop = () => reject(ac.signal.reason);
        this.once('up', onUp);
        ac.signal.addEventListener('abort', onStop, { once: true });
      });
      this.control.start();
      await ready;
    } finally {
      timer?.cancel();
      o.signal?.removeEventListener('abort', onAbort);
      if (onUp !== undefined) this.off('up', onUp);
      if (onStop !== undefined) ac.signal.removeEventListener('abort', onStop);
    }
  }

  #applyNetmap(nm: NetworkMap): void {
    if (this.#state === 'closed') return;
    this.#netmap = nm;
    const self = nm.self;
    // DERP map first: peers' home regions refer to it.
    if (nm.derpMap?.Regions !== undefined) {
      const regions: Record<string, unknown> = {};
      for (const [id, r] of nm.derpMap.Regions) regions[String(id)] = r;
      const json = JSON.stringify(regions);
      if (json !== this.#derpMapJson) {
        this.#derpMapJson = json;
        try {
          this.magicsock.setDerpMap(parseDerpMap({ Regions: regions }));
        } catch (err) {
          this.#logf('tsnet: unusable DERP map: %s', (err as Error).message);
        }
      }
    }
    // Peers: WireGuard (allowed IPs, endpoint = node key) and magicsock (paths).
    const peers: Node[] = [];
    for (const [, n] of nm.peerTable.entries()) peers.push(n);
    const seen = new Set<string>();
    this.#byIp.clear();
    const msPeers = [];
    const selfKey = this.control.nodeKey.public().toString();
    for (const n of peers) {
      if (n.Expired === true) continue;
      const key = n.Key.toString();
      // A peer with our own node key (headscale lists the old node when a forced re-login under
      // another user made a new one with the same key): not a peer we can talk to; skip it.
      if (key === selfKey) {
        this.#logf('tsnet: netmap peer %s has our own node key; skipped', n.Name ?? n.ID);
        continue;
      }
      seen.add(key);
      const allowedIps = (n.AllowedIPs ?? n.Addresses ?? []).map((p) => p.toString());
      for (const a of n.Addresses ?? []) this.#byIp.set(a.addr.toString(), key);
      const allowed = allowedIps.join(',');
      const cur = this.#wgPeers.get(key);
      try {
        if (cur === undefined) {
          this.device.addPeer({ publicKey: n.Key.raw, endpoint: key, allowedIps, disableRoaming: true });
          this.#wgPeers.set(key, { allowed });
        } else if (cur.allowed !== allowed) {
          this.device.updatePeer(n.Key.raw, { allowedIps });
          cur.allowed = allowed;
        }
      } catch (err) {
        // One peer WireGuard refuses must not cost us the rest of the netmap.
        this.#logf('tsnet: netmap peer %s skipped: %s', n.Name ?? n.ID, (err as Error).message);
        seen.delete(key);
        continue;
      }
      msPeers.push({
        nodeKey: n.Key,
        discoKey: n.DiscoKey !== undefined && !n.DiscoKey.isZero() ? n.DiscoKey : undefined,
        homeDerp: n.HomeDERP ?? 0,
        endpoints: n.Endpoints ?? [],
      });
    }
    for (const key of [...this.#wgPeers.keys()]) {
      if (seen.has(key)) continue;
      this.device.removePeer(NodePublic.parse(key).raw);
      this.#wgPeers.delete(key);
    }
    this.magicsock.setPeers(msPeers);
    // Self: addresses, stack and filter.
    if (self === undefined) return;
    const addrs = (self.Addresses ?? []).map((p) => p.addr);
    const capIps = (cap: string): IPPrefix[] => {
      const out: IPPrefix[] = [];
      for (const n of peers) {
        if (n.CapMap !== undefined && n.CapMap !== null && cap in n.CapMap) {
          for (const a of n.Addresses ?? []) out.push(new IPPrefix(a.addr, a.addr.bitLen));
        }
      }
      return out;
    };
    const filterOpts = { localAddresses: addrs, rules: nm.packetFilter, capIps };
    if (this.#filter === undefined) {
      this.#filter = new PacketFilter(filterOpts);
    } else {
      this.#filter.update(filterOpts);
    }
    if (this.#stack === undefined && addrs.length > 0) {
      this.#addresses = addrs;
      this.#stack = new Stack({
        link: this.datapath,
        addresses: addrs.map((a) => a.toString()),
        clock: stackClock(this.#clock),
        logf: this.#logf,
      });
      this.datapath.filter = this.#filter;
      this.#logf('tsnet: up as %s', addrs.map(String).join(', '));
      this.#state = 'up';
      this.emit('up');
    } else if (this.#stack !== undefined && addrs.map(String).join() !== this.#addresses.map(String).join()) {
      this.#logf('tsnet: self addresses changed; the stack keeps %s', this.#addresses.map(String).join(', '));
    }
    this.emit('netmap', nm);
  }

  #needStack(): Stack {
    if (this.#stack === undefined) throw new TsnetError('ERR_NOT_UP', 'node is not up');
    return this.#stack;
  }

  /** Listens for TCP on `port` of all our addresses. */
  listen(port: number, onConnection?: (socket: TcpSocket) => void): TcpServer {
    return this.#needStack().listen({ port }, onConnection);
  }

  /** Opens a TCP connection to a peer's Tailscale IP (or a peer's name from the netmap). */
  dial(host: string, port: number, timeoutMs = 30_000): Promise<TcpSocket> {
    const stack = this.#needStack();
    const ip = this.resolve(host);
    return new Promise((resolve, reject) => {
      const sock = stack.connect({ host: ip, port });
      const key = `${sock.remoteAddress}|${port}|${sock.localPort}`;
      const fail = (err: Error) => {
        t.cancel();
        this.#pendingDials.delete(key);
        sock.off('error', fail);
        sock.on('error', () => {});
        sock.destroy();
        reject(err);
      };
      const t = this.#clock.setTimeout(
        () => fail(new TsnetError('ETIMEDOUT', `dial ${host}:${port}: timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#pendingDials.set(key, fail);
      sock.once('connect', () => {
        t.cancel();
        this.#pendingDials.delete(key);
        sock.off('error', fail);
        resolve(sock);
      });
      sock.once('error', fail);
    });
  }

  /** A peer name (host name, MagicDNS name) or IP to an IP address text. */
  resolve(host: string): string {
    if (/^[0-9.]+$/.test(host) || host.includes(':')) return host;
    const want = host.replace(/\.$/, '').toLowerCase();
    for (const [, n] of this.#netmap?.peerTable.entries() ?? []) {
      const name = (n.Name ?? '').replace(/\.$/, '').toLowerCase();
      if (name === want || name.split('.')[0] === want || n.ComputedName === host) {
        const a = (n.Addresses ?? []).find((p) => p.addr.is4()) ?? n.Addresses?.[0];
        if (a !== undefined) return a.addr.toString();
      }
    }
    throw new TsnetError('ENOTFOUND', `no peer named ${host}`);
  }

  /** The magicsock path to the peer with this Tailscale IP or node key. */
  peerPath(ipOrKey: string): PeerPath | undefined {
    const key = this.#byIp.get(ipOrKey) ?? ipOrKey;
    return this.magicsock.peerPath(key);
  }

  /**
   * Stops the map poll, logs an ephemeral node out (bounded), closes listeners, connections, the
   * WireGuard device, magicsock (UDP socket and DERP) and every timer. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasUp = this.#state === 'up';
    this.#state = 'closed';
    if (this.#opts.ephemeral === true && wasUp) {
      // An ephemeral node logs out on close (best effort, bounded), as tailscaled's Shutdown does.
      let timer: ClockTimer | undefined;
      await Promise.race([
        this.control
          .logout()
          .catch((err: unknown) => this.#logf('tsnet: logout: %s', (err as Error).message)),
        new Promise<void>((r) => {
          timer = this.#clock.setTimeout(r, 5_000);
        }),
      ]);
      timer?.cancel();
    }
    this.#stack?.close();
    this.datapath.close();
    await this.device.close?.();
    await this.magicsock.close();
    await this.control.close();
    this.removeAllListeners();
  }
}

/** netstack's clock shape over a core `Clock`. */
function stackClock(clock: Clock): NetstackClock {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => {
      const t = clock.setTimeout(fn, ms);
      t.unref();
      return t;
    },
    clearTimeout: (h) => (h as ClockTimer).cancel(),
  };
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  return IPPrefix.parse(`${parts.join(':')}/128`).addr.toString();
}
