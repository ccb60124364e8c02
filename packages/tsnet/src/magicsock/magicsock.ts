/**
 * `Magicsock`: the WireGuard `Bind` of a Tailscale node (tailscale `wgengine/magicsock`). It owns
 * one UDP socket and the DERP connections (home region plus regions opened on demand), tells disco
 * from WireGuard on both, and routes every WireGuard datagram to a peer by its node key: over the
 * peer's best direct UDP path when a recent Pong vouches for it, otherwise through the peer's home
 * DERP region (and, while untrusted, to the direct path as well). WireGuard's endpoint for a peer is
 * its node key text (`nodekey:<hex>`), never an `ip:port`.
 *
 * Disco runs here: a fresh disco key per instance, Pings to candidate endpoints (from the netmap,
 * CallMeMaybe and pings received), Pongs to every Ping on the path it came, CallMeMaybe via DERP,
 * heartbeats, trust timeouts and fallback to DERP. Our endpoints (local addresses, STUN) and home
 * region are reported through events, for control's lite updates.
 */
import * as dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import {
  AddrPort,
  type Clock,
  type ClockTimer,
  type CryptoProvider,
  DiscoPrivate,
  DiscoPublic,
  discardLogf,
  getCryptoProvider,
  IPAddr,
  type Logf,
  type NodePrivate,
  type NodePublic,
  systemClock,
  TsnetError,
} from '@tsnet/core';
import { type DerpMap, DerpRegionManager } from '@tsnet/derp';
import type { Bind } from '@tsnet/wireguard';
import { DiscoBox, discoSender, looksLikeDisco } from '../disco/index.js';
import {
  type DiscoPong,
  derpMagicAddr,
  type EndpointIO,
  PeerEndpoint,
  type PeerEndpoint as PeerEp,
  type PeerPath,
} from './endpoint.js';
import { isStunResponse, parseStunResponse, stunRequest } from './stun.js';

/** One of our UDP endpoints and how we learned it (tailcfg.EndpointType: 1 local, 2 STUN). */
export interface LocalEndpoint {
  /** The address and port peers may send to. */
  addr: AddrPort;
  /** 1: a local interface address; 2: learned by STUN (our public mapping). */
  type: 1 | 2;
}

/** A peer as the netmap describes it, for `setPeers`. */
export interface MagicPeer {
  /** The peer's node key (its WireGuard static key; WireGuard's endpoint for it is its text). */
  nodeKey: NodePublic;
  /** The peer's disco key for this run of it (undefined: the peer speaks no disco). */
  discoKey: DiscoPublic | undefined;
  /** The peer's home DERP region (`HomeDERP`; 0 if it has none yet). */
  homeDerp: number;
  /** The UDP endpoints it reported (candidates for disco pings). */
  endpoints: readonly AddrPort[];
}

/** Options of a `Magicsock`. */
export interface MagicsockOptions {
  /** Our node key (DERP authenticates with it; disco Pings carry its public half). */
  nodeKey: NodePrivate;
  /** Defaults to a fresh key (Tailscale makes a new disco key at every start). */
  discoKey?: DiscoPrivate;
  /**
   * Address of the UDP socket. Default `::`: one dual-stack socket on all interfaces, IPv4 and
   * IPv6 (`0.0.0.0` where the system has no IPv6). An IPv4 address gives an IPv4-only socket.
   */
  listenAddress?: string;
  /** UDP port (default 0: any free port). */
  port?: number;
  /** DERP only: no UDP socket is used for peers, no endpoints are advertised. */
  disableDirect?: boolean;
  /** Plain HTTP to DERP servers (Go's `TS_DEBUG_USE_DERP_HTTP`). */
  derpUseHttp?: boolean;
  /** Time source for the heartbeat and trust timers; default the system clock. */
  clock?: Clock;
  /** Verbose logs (paths, DERP); default discarded. */
  logf?: Logf;
  /** The crypto provider (disco boxes); default `getCryptoProvider()`. */
  crypto?: CryptoProvider;
}

/** Events of a `Magicsock`. */
export interface MagicsockEvents {
  /** Our endpoints changed. */
  endpoints: [endpoints: LocalEndpoint[]];
  /** Our home DERP region changed. */
  home: [region: number];
  /** The path to a peer changed (direct found or lost). */
  path: [nodeKey: string, path: PeerPath];
}

/** Counters: what was sent and received on which path, and what was dropped and why. */
export interface MagicsockCounters {
  /** WireGuard datagrams received over UDP. */
  rxUdpWireguard: number;
  /** WireGuard packets received through DERP. */
  rxDerpWireguard: number;
  /** Disco messages opened (from a known peer, authentic). */
  rxDisco: number;
  /** Disco messages sealed and sent (Ping, Pong, CallMeMaybe). */
  txDisco: number;
  /** STUN responses received. */
  rxStun: number;
  /** Disco packets whose box did not open (wrong or old keys, tampering). */
  dropDiscoBadBox: number;
  /** Disco packets from a disco key no netmap peer has (dropped before any crypto). */
  dropDiscoUnknownPeer: number;
  /** CallMeMaybe not via DERP or not from the peer's node key. */
  dropDiscoBadCallMeMaybe: number;
  /** Pongs for no Ping of ours in flight. */
  dropDiscoUnknownPong: number;
  /** Sends to a node key that is not a peer. */
  dropSendUnknownPeer: number;
  /** Sends after `close()`. */
  dropSendClosed: number;
  /** UDP sends the socket refused. */
  udpSendErrors: number;
  /** WireGuard handshake initiations over DERP from a node key not (yet) in our netmap, held. */
  heldInitiations: number;
  /** Held initiations handed to WireGuard once the netmap named their sender. */
  replayedInitiations: number;
}

function newCounters(): MagicsockCounters {
  return {
    rxUdpWireguard: 0,
    rxDerpWireguard: 0,
    rxDisco: 0,
    txDisco: 0,
    rxStun: 0,
    dropDiscoBadBox: 0,
    dropDiscoUnknownPeer: 0,
    dropDiscoBadCallMeMaybe: 0,
    dropDiscoUnknownPong: 0,
    dropSendUnknownPeer: 0,
    dropSendClosed: 0,
    udpSendErrors: 0,
    heldInitiations: 0,
    replayedInitiations: 0,
  };
}

const TICK_MS = 1_000;
const UNKNOWN_PREFIX = 'udp:';
/**
 * A new node's first handshake often reaches us before control's netmap naming it does; WireGuard
 * drops it and the initiator retries only after REKEY_TIMEOUT (5 s). We hold the last initiation
 * per unknown DERP sender (the DERP server vouches for the sender's key) for that long and replay
 * it when the netmap adds the peer, so a new node's first connection takes milliseconds, not 5 s.
 */
const HELD_INIT_MAX = 16;
/** How long a held initiation stays useful: the initiator sends a fresh one after REKEY_TIMEOUT. */
const HELD_INIT_TTL_MS = 5_000;
/** A WireGuard handshake initiation: type 1 (u32 little-endian), 148 bytes. */
function isInitiation(p: Uint8Array): boolean {
  return p.length === 148 && p[0] === 1 && p[1] === 0 && p[2] === 0 && p[3] === 0;
}

/** The UDP socket buffers asked for, as Go's magicsock (`socketBufferSize`, 7 MiB). */
const SOCKET_BUFFER_BYTES = 7 << 20;

/** `AddrPort` text of a UDP source Node reports as IPv6 (v4-mapped ones unmapped), or undefined. */
function udpAddrKey(address: string, port: number): string | undefined {
  try {
    return new AddrPort(IPAddr.parse(address).unmap(), port).toString();
  } catch {
    return undefined;
  }
}

/**
 * The destination text for `dgram.send` to `ip` on a socket of `family`, or null if it cannot
 * reach it: a dual-stack socket reaches IPv4 only through the v4-mapped form (plain IPv4 text
 * is EINVAL on an AF_INET6 socket).
 */
export function udpHostFor(ip: IPAddr, family: 4 | 6 | 46): string | null {
  if (ip.is4()) return family === 4 ? ip.toString() : family === 46 ? `::ffff:${ip.toString()}` : null;
  return family === 4 ? null : ip.toString();
}

function isUnspecified(host: string): boolean {
  const ip = IPAddr.tryParse(host);
  return ip?.bytes.every((b) => b === 0) === true;
}

/** Bound on the UDP source → peer map (a peer may ping from many ports). */
const MAX_ADDR_MAP = 4096;

export class Magicsock extends EventEmitter<MagicsockEvents> implements Bind {
  /** Counters, live. */
  readonly counters: MagicsockCounters = newCounters();
  readonly #opts: MagicsockOptions;
  readonly #clock: Clock;
  readonly #logf: Logf;
  readonly #crypto: CryptoProvider;
  readonly #disco: DiscoBox;
  readonly #discoPriv: DiscoPrivate;
  readonly #nodePub: Uint8Array;
  readonly #peers = new Map<string, PeerEndpoint>();
  readonly #byDisco = new Map<string, PeerEndpoint>();
  readonly #byAddr = new Map<string, PeerEndpoint>();
  readonly #heldInits = new Map<string, { pkt: Uint8Array; at: number }>();
  /** UDP host text by address object (null: not sendable on our socket's family). */
  readonly #udpHost = new WeakMap<AddrPort, string | null>();
  /** What the socket can reach: 4 (udp4), 6 (udp6 on one address), 46 (dual-stack on '::'). */
  #family: 4 | 6 | 46 = 4;
  readonly #io: EndpointIO;
  #socket: dgram.Socket | undefined;
  #localPort = 0;
  #receive: ((data: Uint8Array, from: string) => void) | undefined;
  #derp: DerpRegionManager | undefined;
  #derpMap: DerpMap | undefined;
  #home = 0;
  #localEndpoints: AddrPort[] = [];
  #stunEndpoints = new Map<string, AddrPort>();
  #stunTx = new Set<string>();
  #lastEndpointsKey = '';
  #timer: ClockTimer | undefined;
  #closed = false;
  #directDisabled: boolean;

  constructor(opts: MagicsockOptions) {
    super();
    this.#opts = opts;
    this.#directDisabled = opts.disableDirect === true;
    this.#clock = opts.clock ?? systemClock;
    this.#logf = opts.logf ?? discardLogf;
    this.#crypto = opts.crypto ?? getCryptoProvider();
    this.#discoPriv = opts.discoKey ?? DiscoPrivate.generate(this.#crypto);
    this.#disco = new DiscoBox(this.#discoPriv, this.#crypto);
    this.#nodePub = opts.nodeKey.public(this.#crypto).raw;
    const isDirect = () => !this.#directDisabled;
    this.#io = {
      nodeKey: this.#nodePub,
      get directEnabled() {
        return isDirect();
      },
      sendUdp: (addr, pkt) => this.#sendUdp(addr, pkt),
      sendDerp: (region, dst, pkt) => this.#derp?.send(region, dst, pkt) ?? false,
      sealDisco: (to, msg) => {
        this.counters.txDisco++;
        return this.#disco.seal(to, msg);
      },
      txId: () => this.#crypto.randomBytes(12),
      endpoints: () => this.endpoints().map((e) => e.addr),
      logf: (f, ...a) => this.#logf(f, ...a),
      pathChanged: (ep) => this.emit('path', ep.keyText, ep.path(this.#clock.now())),
    };
  }

  /** Our disco public key for this run (send it to control). */
  get discoPublic(): DiscoPublic {
    return this.#disco.publicKey;
  }

  /** The UDP port bound (0 before `open`). */
  get localPort(): number {
    return this.#localPort;
  }

  /** Our home DERP region (0 before one is chosen). */
  get homeRegion(): number {
    return this.#home;
  }

  /** The DERP region manager (for status and tests), once a DERP map was given. */
  get derp(): DerpRegionManager | undefined {
    return this.#derp;
  }

  /** Our current endpoints: local addresses with our port, then STUN-learned ones. */
  endpoints(): LocalEndpoint[] {
    if (this.#directDisabled) return [];
    const out: LocalEndpoint[] = this.#localEndpoints.map((addr) => ({ addr, type: 1 as const }));
    const seen = new Set(out.map((e) => e.addr.toString()));
    for (const [k, addr] of this.#stunEndpoints) if (!seen.has(k)) out.push({ addr, type: 2 });
    return out;
  }

  // ── Bind ──────────────────────────────────────────────────────────────────────────────

  async open(receive: (data: Uint8Array, from: string) => void): Promise<void> {
    if (this.#closed) throw new TsnetError('ERR_CLOSED', 'magicsock is closed');
    this.#receive = receive;
    if (this.#socket === undefined) {
      // Default: one dual-stack socket on '::' (IPv4 and IPv6, as Go's magicsock has both), or
      // IPv4 alone where the system has no IPv6.
      const asked = this.#opts.listenAddress;
      let sock: dgram.Socket;
      let host: string;
      try {
        host = asked ?? '::';
        sock = await this.#bind(host);
      } catch (err) {
        if (asked !== undefined) throw err;
        this.#logf('magicsock: no IPv6 socket (%s); IPv4 only', (err as Error).message);
        host = '0.0.0.0';
        sock = await this.#bind(host);
      }
      this.#socket = sock;
      this.#family = !host.includes(':') ? 4 : isUnspecified(host) ? 46 : 6;
      sock.on('message', (msg, rinfo) => this.#onUdp(msg, rinfo.address, rinfo.port));
      sock.on('error', (err) => this.#logf('magicsock: udp: %s', err.message));
      this.#growSocketBuffers(sock);
      this.#localPort = sock.address().port;
      this.#localEndpoints = localAddrs(host).map((ip) => new AddrPort(ip, this.#localPort));
      this.#logf('magicsock: udp bound on port %d', this.#localPort);
      this.#endpointsChanged();
    }
    this.#scheduleTick();
  }

  /** Binds a UDP socket on `host` (IPv6 ones dual-stack when unspecified). */
  async #bind(host: string): Promise<dgram.Socket> {
    const v6 = host.includes(':');
    const sock = dgram.createSocket(v6 ? { type: 'udp6', ipv6Only: false } : { type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.#opts.port ?? 0, host, () => {
        sock.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      sock.close();
      throw err;
    });
    return sock;
  }

  /**
   * Asks for Go magicsock's 7 MiB socket buffers (the kernel caps them at net.core.rmem_max /
   * wmem_max). With Linux's default ~208 KiB a burst can overflow the receive queue (seen as UDP
   * receive-buffer errors during the 50 MB interop transfer). The bulk benchmark showed no
   * throughput change either way (163 vs 171 Mbit/s TS→TS, within noise): the node is CPU-bound.
   */
  #growSocketBuffers(sock: dgram.Socket): void {
    try {
      sock.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      sock.setSendBufferSize(SOCKET_BUFFER_BYTES);
    } catch (err) {
      this.#logf('magicsock: udp buffer size: %s', (err as Error).message);
    }
  }

  send(data: Uint8Array, to: string): void {
    if (this.#closed) {
      this.counters.dropSendClosed++;
      return;
    }
    const peer = this.#peers.get(to);
    if (peer !== undefined) {
      peer.send(data, this.#clock.now());
      return;
    }
    if (to.startsWith(UNKNOWN_PREFIX)) {
      const ap = AddrPort.tryParse(to.slice(UNKNOWN_PREFIX.length));
      if (ap !== null) {
        this.#sendUdp(ap, data);
        return;
      }
    }
    this.counters.dropSendUnknownPeer++;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#receive = undefined;
    const sock = this.#socket;
    this.#socket = undefined;
    if (sock !== undefined) await new Promise<void>((r) => sock.close(() => r()));
    await this.#derp?.close();
    this.#disco.destroy();
    this.removeAllListeners();
  }

  // ── configuration ─────────────────────────────────────────────────────────────────────

  /** Sets the DERP map: connects to the regions as needed and chooses the home region. */
  setDerpMap(map: DerpMap): void {
    if (this.#closed) return;
    this.#derpMap = map;
    if (this.#derp === undefined) {
      const mgr = new DerpRegionManager({
        privateKey: this.#opts.nodeKey,
        derpMap: map,
        clock: this.#clock,
        logf: this.#logf,
        crypto: this.#crypto,
        ...(this.#opts.derpUseHttp !== undefined ? { useHttp: this.#opts.derpUseHttp } : {}),
      });
      this.#derp = mgr;
      mgr.on('packet', (pkt, src, region) => this.#onDerp(pkt, src, region));
      mgr.on('home', (region) => {
        this.#home = region;
        this.emit('home', region);
      });
    } else {
      this.#derp.setDerpMap(map);
    }
    const mgr = this.#derp;
    mgr
      .chooseHome()
      .catch((err: unknown) => this.#logf('magicsock: choosing home DERP: %s', (err as Error).message));
    this.#stun();
  }

  /**
   * Replaces the peer set from the netmap (adds, updates, removes). Call it after WireGuard knows
   * the peers: a held first handshake from a peer this adds is handed to WireGuard at once.
   */
  setPeers(peers: readonly MagicPeer[]): void {
    const keep = new Set<string>();
    for (const p of peers) {
      const k = p.nodeKey.toString();
      keep.add(k);
      let ep = this.#peers.get(k);
      if (ep === undefined) {
        ep = new PeerEndpoint(p.nodeKey, this.#io);
        this.#peers.set(k, ep);
      }
      const oldDisco = ep.discoKey?.toString();
      ep.update(p.discoKey, p.homeDerp, p.endpoints, this.#clock.now());
      if (oldDisco !== undefined && oldDisco !== ep.discoKey?.toString()) this.#byDisco.delete(oldDisco);
      if (ep.discoKey !== undefined) this.#byDisco.set(ep.discoKey.toString(), ep);
    }
    for (const [k, ep] of this.#peers) {
      if (keep.has(k)) continue;
      this.#peers.delete(k);
      if (ep.discoKey !== undefined) this.#byDisco.delete(ep.discoKey.toString());
      for (const [a, e] of this.#byAddr) if (e === ep) this.#byAddr.delete(a);
    }
    if (this.#heldInits.size > 0) this.#replayHeldInitiations();
  }

  #holdInitiation(key: string, pkt: Uint8Array): void {
    this.#heldInits.delete(key);
    if (this.#heldInits.size >= HELD_INIT_MAX) {
      const oldest = this.#heldInits.keys().next().value;
      if (oldest !== undefined) this.#heldInits.delete(oldest);
    }
    this.#heldInits.set(key, { pkt: pkt.slice(), at: this.#clock.now() });
    this.counters.heldInitiations++;
  }

  /** Hands WireGuard the held initiations of senders the netmap now names (fresh ones only). */
  #replayHeldInitiations(): void {
    const now = this.#clock.now();
    for (const [key, h] of this.#heldInits) {
      if (now - h.at >= HELD_INIT_TTL_MS) {
        this.#heldInits.delete(key);
        continue;
      }
      const ep = this.#peers.get(key);
      if (ep === undefined) continue;
      this.#heldInits.delete(key);
      this.counters.replayedInitiations++;
      ep.stats.rxDerp++;
      this.#receive?.(h.pkt, key);
    }
  }

  /** A peer told us its disco key in-band (TSMP `'a'`): use it until control says otherwise. */
  notePeerDiscoKey(nodeKey: string, disco: DiscoPublic): void {
    const ep = this.#peers.get(nodeKey);
    if (ep === undefined || ep.discoKey?.equals(disco) === true) return;
    if (ep.discoKey !== undefined) this.#byDisco.delete(ep.discoKey.toString());
    ep.update(disco, ep.homeDerp, [], this.#clock.now());
    this.#byDisco.set(disco.toString(), ep);
  }

  /**
   * Turns direct UDP paths off (DERP only: no endpoints advertised, UDP disco ignored, sends over
   * DERP) or back on (endpoints advertised again, discovery resumes; running sessions move over).
   */
  setDirectEnabled(enabled: boolean): void {
    if (this.#directDisabled === !enabled) return;
    this.#directDisabled = !enabled;
    this.#logf('magicsock: direct paths %s', enabled ? 'enabled' : 'disabled');
    if (!enabled) for (const ep of this.#peers.values()) ep.resetPaths();
    this.#endpointsChanged();
    if (enabled) this.#stun();
  }

  /**
   * Sends a disco ping to a peer (by node key text) as `tailscale ping` does and resolves with the
   * first Pong's round trip and path, or rejects with `ETIMEDOUT` (`ENOTFOUND` for an unknown
   * peer, `EHOSTUNREACH` for one without disco or a path).
   */
  ping(nodeKey: string, timeoutMs = 5_000): Promise<DiscoPong> {
    const ep = this.#peers.get(nodeKey);
    if (ep === undefined) return Promise.reject(new TsnetError('ENOTFOUND', `ping: no peer ${nodeKey}`));
    return new Promise<DiscoPong>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => reject(new TsnetError('ETIMEDOUT', `ping: no pong within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const sent = ep.pingNow(this.#clock.now(), (pong) => {
        timer.cancel();
        resolve(pong);
      });
      if (!sent) {
        timer.cancel();
        reject(new TsnetError('EHOSTUNREACH', 'ping: the peer has no disco key or no path'));
      }
    });
  }

  /** The path to a peer (by node key text), or undefined if unknown. */
  peerPath(nodeKey: string): PeerPath | undefined {
    return this.#peers.get(nodeKey)?.path(this.#clock.now());
  }

  // ── receive ───────────────────────────────────────────────────────────────────────────

  #onUdp(msg: Buffer, address: string, port: number): void {
    if (this.#closed) return;
    const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const disco = looksLikeDisco(data);
    if (disco || isStunResponse(data)) {
      let src: AddrPort;
      try {
        src = new AddrPort(IPAddr.parse(address).unmap(), port);
      } catch {
        return;
      }
      if (disco) this.#handleDisco(data, src, undefined, 0);
      else this.#handleStun(data);
      return;
    }
    // WireGuard, the hot path: an IPv4 source's key is its text as Node gives it (no parse).
    const key = address.includes(':') ? udpAddrKey(address, port) : `${address}:${port}`;
    if (key === undefined) return;
    const ep = this.#byAddr.get(key);
    if (ep !== undefined) ep.stats.rxDirect++;
    this.counters.rxUdpWireguard++;
    this.#receive?.(data, ep?.keyText ?? `${UNKNOWN_PREFIX}${key}`);
  }

  #onDerp(pkt: Uint8Array, src: NodePublic, region: number): void {
    if (this.#closed) return;
    if (looksLikeDisco(pkt)) {
      this.#handleDisco(pkt, undefined, src, region);
      return;
    }
    const key = src.toString();
    const ep = this.#peers.get(key);
    if (ep !== undefined) ep.stats.rxDerp++;
    else if (isInitiation(pkt)) this.#holdInitiation(key, pkt);
    this.counters.rxDerpWireguard++;
    // The packet aliases the DERP client's read buffer; WireGuard decrypts in place.
    this.#receive?.(pkt.slice(), key);
  }

  #handleDisco(
    pkt: Uint8Array,
    udpSrc: AddrPort | undefined,
    derpSrc: NodePublic | undefined,
    region: number,
  ): void {
    // Only peers in the netmap may speak disco to us: look the sender up before any crypto.
    const ep = this.#byDisco.get(DiscoPublic.fromBytes(discoSender(pkt).slice()).toString());
    if (ep === undefined) {
      this.counters.dropDiscoUnknownPeer++;
      return;
    }
    const opened = this.#disco.open(pkt);
    if (opened === null) {
      this.counters.dropDiscoBadBox++;
      return;
    }
    this.counters.rxDisco++;
    const now = this.#clock.now();
    const m = opened.msg;
    switch (m.type) {
      case 'ping': {
        if (m.nodeKey !== undefined && !bytesEqual(m.nodeKey, ep.nodeKey.raw)) {
          this.counters.dropDiscoUnknownPeer++;
          return;
        }
        if (udpSrc !== undefined && this.#directDisabled) return;
        const from = udpSrc ?? derpMagicAddr(region);
        const pong = this.#io.sealDisco(opened.sender, { type: 'pong', txId: m.txId, src: from });
        if (udpSrc !== undefined) {
          this.#mapAddr(udpSrc, ep);
          this.#sendUdp(udpSrc, pong);
          ep.notePingFrom(udpSrc, now);
        } else if (derpSrc !== undefined) {
          this.#derp?.send(region, derpSrc, pong);
        }
        return;
      }
      case 'pong': {
        if (!ep.handlePong(m.txId, udpSrc, now)) {
          this.counters.dropDiscoUnknownPong++;
          return;
        }
        if (udpSrc !== undefined) this.#mapAddr(udpSrc, ep);
        return;
      }
      case 'callMeMaybe': {
        if (derpSrc === undefined || !derpSrc.equals(ep.nodeKey)) {
          this.counters.dropDiscoBadCallMeMaybe++;
          return;
        }
        ep.handleCallMeMaybe(m.endpoints, now);
        return;
      }
    }
  }

  // ── send helpers ──────────────────────────────────────────────────────────────────────

  #mapAddr(addr: AddrPort, ep: PeerEndpoint): void {
    const k = addr.toString();
    if (!this.#byAddr.has(k) && this.#byAddr.size >= MAX_ADDR_MAP) {
      const oldest = this.#byAddr.keys().next().value;
      if (oldest !== undefined) this.#byAddr.delete(oldest);
    }
    this.#byAddr.set(k, ep);
  }

  #sendUdp(addr: AddrPort, pkt: Uint8Array): boolean {
    const sock = this.#socket;
    if (sock === undefined || this.#closed) return false;
    // The host text per address object, computed once: this runs for every packet.
    let host = this.#udpHost.get(addr);
    if (host === undefined) {
      host = udpHostFor(addr.addr.unmap(), this.#family);
      this.#udpHost.set(addr, host);
    }
    if (host === null) return false;
    try {
      sock.send(pkt, addr.port, host, this.#onUdpSent);
      return true;
    } catch {
      this.counters.udpSendErrors++;
      return false;
    }
  }

  readonly #onUdpSent = (err: Error | null): void => {
    if (err) this.counters.udpSendErrors++;
  };

  // ── endpoints, STUN, timers ───────────────────────────────────────────────────────────

  #stun(): void {
    const map = this.#derpMap;
    if (map === undefined || this.#socket === undefined || this.#directDisabled) return;
    for (const region of Object.values(map.Regions)) {
      for (const node of region.Nodes) {
        const port = node.STUNPort ?? 0;
        if (port <= 0) continue;
        const host = node.IPv4 !== undefined && node.IPv4 !== 'none' ? node.IPv4 : node.HostName;
        const ip = IPAddr.tryParse(host);
        if (ip === null || !ip.is4()) continue;
        const txId = this.#crypto.randomBytes(12);
        if (this.#stunTx.size > 64) this.#stunTx.clear();
        this.#stunTx.add(Buffer.from(txId).toString('hex'));
        this.#sendUdp(new AddrPort(ip, port), stunRequest(txId));
      }
    }
  }

  #handleStun(data: Uint8Array): void {
    const r = parseStunResponse(data);
    if (r === null) return;
    const k = Buffer.from(r.txId).toString('hex');
    if (!this.#stunTx.delete(k)) return;
    this.counters.rxStun++;
    if (this.#stunEndpoints.size > 16) this.#stunEndpoints.clear();
    this.#stunEndpoints.set(r.addr.toString(), r.addr);
    this.#endpointsChanged();
  }

  #endpointsChanged(): void {
    const eps = this.endpoints();
    const key = eps.map((e) => `${e.addr.toString()}/${e.type}`).join(',');
    if (key === this.#lastEndpointsKey) return;
    this.#lastEndpointsKey = key;
    this.emit('endpoints', eps);
  }

  #scheduleTick(): void {
    if (this.#closed) return;
    this.#timer?.cancel();
    const t = this.#clock.setTimeout(() => {
      const now = this.#clock.now();
      for (const ep of this.#peers.values()) ep.tick(now);
      this.#scheduleTick();
    }, TICK_MS);
    t.unref();
    this.#timer = t;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The addresses to advertise for a socket bound to `host`. */
function localAddrs(host: string): IPAddr[] {
  const bound = IPAddr.tryParse(host);
  if (bound !== null && !bound.bytes.every((b) => b === 0)) return [bound];
  // '::' is the dual-stack socket: addresses of both families.
  const v6 = host.includes(':');
  const out: IPAddr[] = [];
  let loop: IPAddr | undefined;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (!v6 && a.family === 'IPv6') continue;
      const ip = IPAddr.tryParse(a.address);
      if (ip === null || ip.zone !== '') continue;
      if (a.internal) loop ??= ip;
      else out.push(ip);
    }
  }
  if (out.length === 0 && loop !== undefined) out.push(loop);
  return out;
}

export type { PeerEp };
