/**
 * One peer as magicsock sees it (tailscale `wgengine/magicsock/endpoint.go`): its node and disco
 * keys, home DERP region, candidate UDP addresses, the best direct address with its latency and how
 * long it stays trusted, and the disco pings in flight. Sans-IO: time comes in as `now`, packets go
 * out through `EndpointIO`.
 */
import { AddrPort, type DiscoPublic, IPAddr, type NodePublic } from '@tsnet/core';
import type { DiscoMessage } from '../disco/index.js';
import {
  DISCO_PING_INTERVAL_MS,
  GOOD_ENOUGH_LATENCY_MS,
  HEARTBEAT_INTERVAL_MS,
  MAX_CANDIDATES,
  MAX_PENDING_PINGS,
  PING_TIMEOUT_MS,
  SESSION_ACTIVE_TIMEOUT_MS,
  TRUST_UDP_ADDR_MS,
  UPGRADE_INTERVAL_MS,
} from './constants.js';

/** What an endpoint needs from its magicsock. */
export interface EndpointIO {
  /** Sends a WireGuard or disco datagram to a UDP address; false if it could not. */
  sendUdp(addr: AddrPort, pkt: Uint8Array): boolean;
  /** Sends through the DERP region to the peer's node key; false if dropped. */
  sendDerp(region: number, dst: NodePublic, pkt: Uint8Array): boolean;
  /** Seals a disco message to a disco key. */
  sealDisco(to: DiscoPublic, msg: DiscoMessage): Uint8Array;
  /** 12 random bytes. */
  txId(): Uint8Array;
  /** Our node key (sent in Pings). */
  readonly nodeKey: Uint8Array;
  /** Our current endpoints (for CallMeMaybe). */
  endpoints(): AddrPort[];
  /** Direct paths allowed at all. */
  readonly directEnabled: boolean;
  logf(format: string, ...args: unknown[]): void;
  /** The best path to this peer changed (for counters/observers). */
  pathChanged(ep: PeerEndpoint): void;
}

/**
 * Packets sent while a peer has no path at all (no home DERP region yet, no direct address) are
 * held, at most this many, and sent once the netmap gives it one. A new peer reports its home
 * region to control a moment after it registers; without this, our first handshake to it is lost
 * and WireGuard retries only after REKEY_TIMEOUT (5 s).
 */
export const NO_PATH_HOLD_MAX = 4;
/** How long a held packet is worth sending: WireGuard sends a fresh initiation after 5 s anyway. */
export const NO_PATH_HOLD_TTL_MS = 5_000;

interface Candidate {
  addr: AddrPort;
  lastPing: number;
}

interface PendingPing {
  at: number;
  /** UDP address pinged, or undefined for a ping via DERP. */
  to: AddrPort | undefined;
  /** For a ping someone asked for (`pingNow`): told of the Pong. */
  done?: ((pong: DiscoPong) => void) | undefined;
}

/** The answer to a disco ping: its round trip and the path it took. */
export interface DiscoPong {
  /** Round-trip time in ms. */
  latencyMs: number;
  /** The UDP address that answered, or undefined when the Pong came through DERP. */
  direct: AddrPort | undefined;
}

/** The path to a peer, as tests and status see it. */
export interface PeerPath {
  /** The direct UDP address in use, if any. */
  direct: string | undefined;
  /** True while `direct` is confirmed by a recent Pong (traffic then goes only there). */
  trusted: boolean;
  /** Round-trip time of the last Pong on `direct`, in ms. */
  latencyMs: number | undefined;
  /** The peer's home DERP region (0 if none). */
  derpRegion: number;
  /** WireGuard packets sent over UDP to this peer. */
  txDirect: number;
  /** WireGuard packets sent through DERP to this peer. */
  txDerp: number;
  /** WireGuard packets received from this peer over UDP. */
  rxDirect: number;
  /** WireGuard packets received from this peer through DERP. */
  rxDerp: number;
}

export class PeerEndpoint {
  readonly nodeKey: NodePublic;
  readonly keyText: string;
  discoKey: DiscoPublic | undefined;
  homeDerp = 0;
  readonly #candidates = new Map<string, Candidate>();
  readonly #pending = new Map<string, PendingPing>();
  #best: { addr: AddrPort; latency: number } | undefined;
  #trustUntil = 0;
  #lastSend = Number.NEGATIVE_INFINITY;
  #lastFullPing = Number.NEGATIVE_INFINITY;
  #lastCallMeMaybe = Number.NEGATIVE_INFINITY;
  #lastHeartbeat = Number.NEGATIVE_INFINITY;
  readonly stats = { txDirect: 0, txDerp: 0, rxDirect: 0, rxDerp: 0, heldNoPath: 0, sentHeld: 0 };
  #held: { pkt: Uint8Array; at: number }[] = [];
  readonly #io: EndpointIO;

  constructor(nodeKey: NodePublic, io: EndpointIO) {
    this.nodeKey = nodeKey;
    this.keyText = nodeKey.toString();
    this.#io = io;
  }

  /** Applies the peer's netmap fields. Returns addresses no longer candidates (to unmap). */
  update(
    discoKey: DiscoPublic | undefined,
    homeDerp: number,
    endpoints: readonly AddrPort[],
    now = Number.NEGATIVE_INFINITY,
  ): void {
    if (discoKey !== undefined && (this.discoKey === undefined || !this.discoKey.equals(discoKey))) {
      if (this.discoKey !== undefined)
        this.#io.logf('magicsock: peer %s has a new disco key', this.nodeKey.shortString());
      this.discoKey = discoKey;
      // A new disco key means the peer restarted: what we knew of its paths is stale.
      this.resetPaths();
    }
    this.homeDerp = homeDerp;
    for (const a of endpoints) this.addCandidate(a, false);
    if (this.#held.length > 0 && homeDerp !== 0) this.#sendHeld(now);
  }

  /** Sends what was held for want of a path, if still fresh, on the path there is now. */
  #sendHeld(now: number): void {
    const held = this.#held;
    this.#held = [];
    for (const h of held) {
      if (now - h.at >= NO_PATH_HOLD_TTL_MS) continue;
      this.stats.sentHeld++;
      this.send(h.pkt, now);
    }
  }

  /** Forgets the direct path and pings in flight (the peer restarted). */
  resetPaths(): void {
    this.#best = undefined;
    this.#trustUntil = 0;
    this.#pending.clear();
    this.#lastFullPing = Number.NEGATIVE_INFINITY;
    this.#lastCallMeMaybe = Number.NEGATIVE_INFINITY;
    for (const c of this.#candidates.values()) c.lastPing = Number.NEGATIVE_INFINITY;
    this.#io.pathChanged(this);
  }

  addCandidate(addr: AddrPort, _fromPeer: boolean): void {
    const k = addr.toString();
    if (this.#candidates.has(k)) return;
    if (this.#candidates.size >= MAX_CANDIDATES) {
      const first = this.#candidates.keys().next().value;
      if (first !== undefined) this.#candidates.delete(first);
    }
    this.#candidates.set(k, { addr, lastPing: Number.NEGATIVE_INFINITY });
  }

  candidates(): AddrPort[] {
    return [...this.#candidates.values()].map((c) => c.addr);
  }

  /** The direct address if it may be used alone now. */
  #trusted(now: number): AddrPort | undefined {
    return this.#best !== undefined && now < this.#trustUntil ? this.#best.addr : undefined;
  }

  path(now: number): PeerPath {
    return {
      direct: this.#best?.addr.toString(),
      trusted: this.#trusted(now) !== undefined,
      latencyMs: this.#best?.latency,
      derpRegion: this.homeDerp,
      ...this.stats,
    };
  }

  /** Sends a WireGuard datagram: direct when trusted, else DERP (and the untrusted direct path). */
  send(pkt: Uint8Array, now: number): boolean {
    this.#lastSend = now;
    const direct = this.#trusted(now);
    if (direct !== undefined) {
      this.stats.txDirect++;
      return this.#io.sendUdp(direct, pkt);
    }
    let ok = false;
    if (this.#best !== undefined && this.#io.directEnabled) {
      ok = this.#io.sendUdp(this.#best.addr, pkt) || ok;
      this.stats.txDirect++;
    }
    if (this.homeDerp !== 0) {
      ok = this.#io.sendDerp(this.homeDerp, this.nodeKey, pkt) || ok;
      this.stats.txDerp++;
    } else if (this.#best === undefined || !this.#io.directEnabled) {
      // No path yet: hold it (a copy; the caller reuses its buffer) until the netmap gives one.
      if (this.#held.length >= NO_PATH_HOLD_MAX) this.#held.shift();
      this.#held.push({ pkt: pkt.slice(), at: now });
      this.stats.heldNoPath++;
      // Disco may still find a direct path (a peer without DERP): the held packets go there.
      this.#discover(now);
      return true;
    }
    this.#discover(now);
    return ok;
  }

  /** Pings every candidate (rate limited) and asks for a CallMeMaybe: without a trusted direct path, or for a periodic upgrade. */
  #discover(now: number, evenIfTrusted = false): void {
    if (!this.#io.directEnabled || this.discoKey === undefined) return;
    if (!evenIfTrusted && this.#trusted(now) !== undefined) return;
    let sent = 0;
    for (const c of this.#candidates.values()) {
      if (now - c.lastPing < DISCO_PING_INTERVAL_MS) continue;
      c.lastPing = now;
      this.#ping(c.addr, now);
      sent++;
    }
    if (sent > 0) this.#lastFullPing = now;
    if (this.homeDerp !== 0 && now - this.#lastCallMeMaybe >= DISCO_PING_INTERVAL_MS) {
      this.#lastCallMeMaybe = now;
      this.#sendCallMeMaybe();
    }
  }

  #sendCallMeMaybe(): void {
    if (this.discoKey === undefined || this.homeDerp === 0) return;
    const endpoints = this.#io.endpoints();
    if (endpoints.length === 0) return;
    const pkt = this.#io.sealDisco(this.discoKey, { type: 'callMeMaybe', endpoints });
    this.#io.sendDerp(this.homeDerp, this.nodeKey, pkt);
  }

  /**
   * A disco ping someone asked for (LocalAPI `ping`, as `tailscale ping`): to the trusted direct
   * address alone, else to every candidate and through DERP; `done` hears the first Pong. False if
   * the peer has no disco key or no path at all.
   */
  pingNow(now: number, done: (pong: DiscoPong) => void): boolean {
    if (this.discoKey === undefined) return false;
    let first = true;
    const once = (p: DiscoPong) => {
      if (!first) return;
      first = false;
      done(p);
    };
    const trusted = this.#trusted(now);
    if (trusted !== undefined) {
      this.#ping(trusted, now, once);
      return true;
    }
    let sent = false;
    if (this.#io.directEnabled) {
      for (const c of this.#candidates.values()) {
        this.#ping(c.addr, now, once);
        sent = true;
      }
    }
    if (this.homeDerp !== 0) {
      this.#ping(undefined, now, once);
      sent = true;
    }
    return sent;
  }

  #ping(to: AddrPort | undefined, now: number, done?: (pong: DiscoPong) => void): void {
    if (this.discoKey === undefined) return;
    if (this.#pending.size >= MAX_PENDING_PINGS) this.#expirePings(now, true);
    const txId = this.#io.txId();
    const pkt = this.#io.sealDisco(this.discoKey, {
      type: 'ping',
      txId,
      nodeKey: this.#io.nodeKey,
      padding: 0,
    });
    this.#pending.set(Buffer.from(txId).toString('hex'), { at: now, to, done });
    if (to !== undefined) this.#io.sendUdp(to, pkt);
    else if (this.homeDerp !== 0) this.#io.sendDerp(this.homeDerp, this.nodeKey, pkt);
  }

  #expirePings(now: number, oldest = false): void {
    for (const [k, p] of this.#pending) {
      if (oldest || now - p.at > PING_TIMEOUT_MS) {
        this.#pending.delete(k);
        if (oldest) return;
      }
    }
  }

  /**
   * Periodic work: heartbeat the direct path of an active session, re-discover when it is
   * untrusted or the upgrade interval passed, expire pings.
   */
  tick(now: number): void {
    this.#expirePings(now);
    if (now - this.#lastSend > SESSION_ACTIVE_TIMEOUT_MS) return;
    if (!this.#io.directEnabled || this.discoKey === undefined) return;
    const best = this.#best;
    if (best !== undefined && now - this.#lastHeartbeat >= HEARTBEAT_INTERVAL_MS) {
      this.#lastHeartbeat = now;
      this.#ping(best.addr, now);
    }
    const stale = this.#trusted(now) === undefined;
    const upgrade =
      now - this.#lastFullPing >= UPGRADE_INTERVAL_MS && (best?.latency ?? Infinity) > GOOD_ENOUGH_LATENCY_MS;
    if (stale || upgrade) {
      if (best !== undefined && now >= this.#trustUntil && now - this.#trustUntil > UPGRADE_INTERVAL_MS) {
        // The direct path has been dead for a long time: stop sending copies to it.
        this.#io.logf('magicsock: direct path to %s lost; DERP only', this.nodeKey.shortString());
        this.#best = undefined;
        this.#io.pathChanged(this);
      }
      // A periodic upgrade looks past a trusted but slow path; a stale one is re-discovered.
      this.#discover(now, upgrade);
    }
  }

  /** A Pong from this peer arrived (`src` = UDP address it came from, undefined via DERP). */
  handlePong(txId: Uint8Array, src: AddrPort | undefined, now: number): boolean {
    const k = Buffer.from(txId).toString('hex');
    const p = this.#pending.get(k);
    if (p === undefined) return false;
    this.#pending.delete(k);
    p.done?.({ latencyMs: now - p.at, direct: p.to === undefined ? undefined : src });
    if (p.to === undefined || src === undefined) return true; // a DERP round trip: nothing to learn
    if (!p.to.equals(src)) {
      // Answered from another address than we pinged: learn it as a candidate, do not trust it.
      this.addCandidate(src, true);
      return true;
    }
    const latency = now - p.at;
    const cur = this.#best;
    const better =
      cur === undefined ||
      cur.addr.equals(src) ||
      now >= this.#trustUntil ||
      latency < cur.latency * 0.9 ||
      (isLoopbackOrPrivate(src.addr) && !isLoopbackOrPrivate(cur.addr.addr));
    if (better) {
      const changed = cur === undefined || !cur.addr.equals(src);
      this.#best = { addr: src, latency };
      this.#trustUntil = now + TRUST_UDP_ADDR_MS;
      if (this.#held.length > 0) this.#sendHeld(now);
      if (changed) {
        this.#io.logf(
          'magicsock: %s now direct via %s (%s ms)',
          this.nodeKey.shortString(),
          src.toString(),
          latency.toFixed(1),
        );
        this.#io.pathChanged(this);
      }
    }
    return true;
  }

  /** A Ping from this peer arrived over UDP from `src`: it is a path worth trying back. */
  notePingFrom(src: AddrPort, now: number): void {
    this.addCandidate(src, true);
    const c = this.#candidates.get(src.toString());
    if (c !== undefined && this.#trusted(now) === undefined && now - c.lastPing >= DISCO_PING_INTERVAL_MS) {
      c.lastPing = now;
      this.#ping(src, now);
    }
  }

  /** A CallMeMaybe (via DERP): ping each endpoint now. */
  handleCallMeMaybe(endpoints: readonly AddrPort[], now: number): void {
    if (!this.#io.directEnabled) return;
    for (const a of endpoints.slice(0, MAX_CANDIDATES)) {
      this.addCandidate(a, true);
      const c = this.#candidates.get(a.toString());
      if (c === undefined) continue;
      c.lastPing = now;
      this.#ping(a, now);
    }
  }
}

function isLoopbackOrPrivate(a: IPAddr): boolean {
  const b = a.unmap().bytes;
  if (b.length === 4) {
    return (
      b[0] === 127 ||
      b[0] === 10 ||
      (b[0] === 192 && b[1] === 168) ||
      (b[0] === 172 && ((b[1] ?? 0) & 0xf0) === 16)
    );
  }
  return a.equals(IPAddr.parse('::1')) || ((b[0] ?? 0) & 0xfe) === 0xfc;
}

/** `127.3.3.40:<region>`, the Pong source a DERP path shows. */
export function derpMagicAddr(region: number): AddrPort {
  return new AddrPort(IPAddr.parse('127.3.3.40'), region & 0xffff);
}
