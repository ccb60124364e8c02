/**
 * The sans-IO WireGuard device: bytes and `now` in; datagrams, IP packets, events and the next
 * deadline (`pollAt`) out. It never reads a clock, sets a timer or touches a socket: the driver
 * (`device.ts`) does, and tests drive it directly on a fake clock.
 *
 * Inputs:  `receiveDatagram` (from the Bind), `sendPacket` (an IP packet to tunnel),
 *          `expireTimers(now)` (when `pollAt()` has passed), and the peer configuration methods.
 * Outputs: the `DeviceCoreOutput` given at construction, called synchronously.
 *
 * `now` is monotonic milliseconds (any origin). Wall-clock time (`wallNow`, Unix ms) is read only to
 * stamp handshake initiations (TAI64N) and `latestHandshake`.
 */
import { type CryptoProvider, getCryptoProvider, type Logf, parseBase64, toBase64 } from '@tsnet/core';
import { AllowedIps } from './allowed-ips.js';
import {
  DEFAULT_MTU,
  MAX_PEERS,
  UNDER_LOAD_AFTER_TIME_MS,
  UNDER_LOAD_HANDSHAKES,
  UNDER_LOAD_WINDOW_MS,
} from './constants.js';
import {
  type DeviceContext,
  type DeviceCoreOutput,
  type DeviceCounters,
  type Endpoint,
  newCounters,
} from './context.js';
import { CookieChecker } from './cookie.js';
import { IndexTable } from './index-table.js';
import { NoiseIdentity } from './noise/handshake.js';
import { Peer, type PeerStats } from './peer.js';
import { RateLimiter } from './ratelimiter.js';
import { receiveDatagram } from './receive.js';
import { expireTimers, peerPollAt } from './timers.js';

/** A 32-byte key as bytes or standard base64 text. */
export type KeyInput = Uint8Array | string;

/** A peer's configuration, as `wg set` takes it. */
export interface PeerConfig {
  /** The peer's static public key (32 bytes or base64), which identifies it; not our own. */
  publicKey: KeyInput;
  /** 32 bytes; absent or all zeros means none. */
  presharedKey?: KeyInput | undefined;
  /** Where to send until the peer roams: `ip:port` or `[ipv6]:port` (or a custom Bind's name). */
  endpoint?: Endpoint | undefined;
  /** Prefixes routed to this peer and accepted from it, e.g. `['10.0.0.2/32', 'fd00::2/128']`. */
  allowedIps?: readonly string[] | undefined;
  /** Seconds between keepalives when otherwise idle; 0 or absent is off. */
  persistentKeepalive?: number | undefined;
  /** Keep the configured endpoint even when authenticated packets arrive from elsewhere. */
  disableRoaming?: boolean | undefined;
}

/** A change to a peer: any field present replaces the current value (`allowedIps` replaces the whole list). */
export type PeerUpdate = Partial<Omit<PeerConfig, 'publicKey'>> & {
  /** Remove the preshared key. */
  removePresharedKey?: boolean;
};

/** Options of `new DeviceCore(…)`: our private key is required, the rest have defaults. */
export interface DeviceCoreOptions {
  /** Our static private key (32 bytes or base64). */
  privateKey: KeyInput;
  /** Defaults to `getCryptoProvider()` from @tsnet/core. */
  crypto?: CryptoProvider | undefined;
  /** Tunnel MTU, used for padding (default 1420). */
  mtu?: number | undefined;
  /** Debug log; never given keys. */
  logf?: Logf | undefined;
  /** Uniform random in [0, 1) for timer jitter (default `Math.random`). */
  random?: (() => number) | undefined;
  /** Unix-epoch milliseconds (default `Date.now`). */
  wallNow?: (() => number) | undefined;
  /** Handshake messages per second above which the device is "under load" and demands cookies (default 128; 0: always). */
  underLoadHandshakes?: number | undefined;
  /**
   * Lazy peers (Tailscale's `wgcfg.NewPeerLookupFunc`): called with the base64 public key of an
   * initiator we have no peer for; a returned config is added as a peer and the handshake goes on.
   * Only keys you return are ever added; the initiation must still authenticate to complete.
   */
  peerLookup?: ((publicKey: string) => PeerConfig | undefined) | undefined;
}

/** Parses a key argument, throwing a TypeError naming `name` if it is not 32 bytes or base64 of 32 bytes. */
export function parseKeyInput(name: string, key: KeyInput): Uint8Array {
  const k = typeof key === 'string' ? parseBase64(key) : key;
  if (!(k instanceof Uint8Array) || k.length !== 32) {
    throw new TypeError(`${name} must be a 32-byte key (Uint8Array or base64)`);
  }
  return k;
}

/** Throws (naming the field) for an allowed IP or keepalive a peer update cannot take. */
function validatePeerUpdate(update: PeerUpdate): void {
  if (update.allowedIps !== undefined) {
    const scratch = new AllowedIps<number>();
    for (const p of update.allowedIps) scratch.insert(p, 0);
  }
  const ka = update.persistentKeepalive;
  if (ka !== undefined && (!Number.isInteger(ka) || ka < 0 || ka > 65535)) {
    throw new RangeError('persistentKeepalive must be 0..65535 seconds');
  }
}

/**
 * The sans-IO device. Feed it datagrams, IP packets and time; it calls `output` synchronously.
 *
 * @example
 * ```ts
 * const core = new DeviceCore({ privateKey }, {
 *   sendDatagram: (data, to) => socket.send(data, to),
 *   deliverPacket: (ip) => stack.deliverPacket(ip),
 *   event: (e) => log(e.type),
 * });
 * core.addPeer({ publicKey, endpoint: '192.0.2.1:51820', allowedIps: ['10.0.0.0/24'] }, now());
 * core.sendPacket(ipPacket, now());            // starts the handshake, queues the packet
 * core.receiveDatagram(datagram, from, now()); // for every datagram from the network
 * if (now() >= core.pollAt()) core.expireTimers(now());
 * ```
 */
export class DeviceCore {
  readonly #ctx: DeviceContext;
  readonly #peers = new Map<string, Peer>();
  readonly #underLoadThreshold: number;
  #loadWindowStart = Number.NEGATIVE_INFINITY;
  #loadCount = 0;
  #underLoadUntil = Number.NEGATIVE_INFINITY;
  /** The `now` of the latest input (for peers added from inside the receive path). */
  #lastNow = 0;
  /** A lower bound of every peer's deadlines (see timers.ts). */
  #pollAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(options: DeviceCoreOptions, output: DeviceCoreOutput) {
    const crypto = options.crypto ?? getCryptoProvider();
    const id = new NoiseIdentity(crypto, parseKeyInput('privateKey', options.privateKey));
    const mtu = options.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 65535)
      throw new RangeError('mtu must be an integer in 0..65535');
    this.#underLoadThreshold = options.underLoadHandshakes ?? UNDER_LOAD_HANDSHAKES;
    const counters = newCounters();
    const logf: Logf = options.logf ?? (() => {});
    const peers = this.#peers;
    this.#ctx = {
      id,
      crypto,
      indexTable: new IndexTable<Peer>(crypto),
      allowedIps: new AllowedIps<Peer>(),
      cookieChecker: new CookieChecker(crypto, id.publicKey),
      rateLimiter: new RateLimiter(),
      out: output,
      counters,
      logf,
      mtu,
      random: options.random ?? Math.random,
      wallNow: options.wallNow ?? Date.now,
      send(data, endpoint) {
        if (endpoint === undefined) {
          counters.txNoEndpoint++;
          return false;
        }
        try {
          output.sendDatagram(data, endpoint);
        } catch (err) {
          counters.txErrors++;
          logf('send to %s failed: %s', endpoint, String(err));
          return false;
        }
        counters.txDatagrams++;
        counters.txBytes += data.length;
        return true;
      },
      lookupPeer: (pk) => {
        const key = toBase64(pk);
        const found = peers.get(key);
        if (found !== undefined || options.peerLookup === undefined || this.#closed) return found;
        const cfg = options.peerLookup(key);
        if (cfg === undefined) return undefined;
        try {
          this.addPeer({ ...cfg, publicKey: pk }, this.#lastNow);
        } catch (err) {
          logf('peerLookup returned an unusable config: %s', String(err));
          return undefined;
        }
        return peers.get(key);
      },
      isUnderLoad: (now) => this.#isUnderLoad(now),
      noteDeadline: (at) => {
        if (at < this.#pollAt) this.#pollAt = at;
      },
    };
  }

  /** Our static public key. */
  get publicKey(): Uint8Array {
    return this.#ctx.id.publicKey;
  }

  /** Device-wide counters (live object). */
  get counters(): Readonly<DeviceCounters> {
    return this.#ctx.counters;
  }

  /** The tunnel MTU in bytes (`options.mtu`, default DEFAULT_MTU 1420); transport padding stops at it. */
  get mtu(): number {
    return this.#ctx.mtu;
  }

  /** Handshake load accounting (wireguard-go `IsUnderLoad`, by message rate instead of queue depth). */
  #isUnderLoad(now: number): boolean {
    if (now - this.#loadWindowStart >= UNDER_LOAD_WINDOW_MS) {
      this.#loadWindowStart = now;
      this.#loadCount = 0;
    }
    this.#loadCount++;
    if (this.#loadCount > this.#underLoadThreshold) {
      this.#underLoadUntil = now + UNDER_LOAD_AFTER_TIME_MS;
      return true;
    }
    return this.#underLoadUntil > now;
  }

  // ---- peers -------------------------------------------------------------------------------

  /** Adds a peer; throws if it exists already or the key is ours. */
  addPeer(config: PeerConfig, now: number): void {
    const pk = parseKeyInput('publicKey', config.publicKey);
    const key = toBase64(pk);
    if (this.#peers.has(key)) throw new Error(`peer ${key} already exists`);
    if (this.#peers.size >= MAX_PEERS) throw new RangeError(`too many peers (max ${MAX_PEERS})`);
    if (toBase64(this.publicKey) === key) throw new TypeError('publicKey must not be the device’s own key');
    const psk =
      config.presharedKey === undefined ? undefined : parseKeyInput('presharedKey', config.presharedKey);
    // Validate the rest before the peer exists, so a bad field leaves nothing configured.
    validatePeerUpdate(config);
    const peer = new Peer(this.#ctx, pk, psk);
    this.#peers.set(key, peer);
    this.updatePeer(key, { ...config, presharedKey: undefined });
    void now; // peers start idle: nothing is sent until there is traffic or a keepalive
  }

  /** Changes a peer's configuration at run time. */
  updatePeer(publicKey: KeyInput, update: PeerUpdate): void {
    const peer = this.#peer(publicKey);
    // All or nothing: every field is checked before any is applied.
    validatePeerUpdate(update);
    const psk =
      update.presharedKey === undefined ? undefined : parseKeyInput('presharedKey', update.presharedKey);
    if (update.endpoint !== undefined) peer.endpoint = update.endpoint;
    if (update.disableRoaming !== undefined) peer.disableRoaming = update.disableRoaming;
    if (update.removePresharedKey) peer.setPresharedKey(undefined);
    if (psk !== undefined) peer.setPresharedKey(psk);
    if (update.allowedIps !== undefined) {
      const table = this.#ctx.allowedIps;
      table.removeByPeer(peer);
      for (const p of update.allowedIps) table.insert(p, peer);
    }
    if (update.persistentKeepalive !== undefined) {
      const ka = update.persistentKeepalive;
      peer.persistentKeepalive = ka;
      if (ka === 0) peer.timers.persistentKeepalive = Number.POSITIVE_INFINITY;
    }
  }

  /** Removes a peer, erasing its keys. */
  removePeer(publicKey: KeyInput): boolean {
    const key = toBase64(parseKeyInput('publicKey', publicKey));
    const peer = this.#peers.get(key);
    if (peer === undefined) return false;
    peer.zeroAndFlushAll();
    peer.handshake.zeroStatic();
    this.#ctx.allowedIps.removeByPeer(peer);
    // zeroAndFlushAll removed the peer's indices (its handshake's and its keypairs'): no table scan.
    this.#peers.delete(key);
    this.#recomputePollAt();
    return true;
  }

  /** True if the peer is configured. */
  hasPeer(publicKey: KeyInput): boolean {
    return this.#peers.has(toBase64(parseKeyInput('publicKey', publicKey)));
  }

  /** Statistics of one peer, as `wg show` reports them; `undefined` if unknown. */
  peerStats(publicKey: KeyInput): PeerStats | undefined {
    return this.#peers.get(toBase64(parseKeyInput('publicKey', publicKey)))?.stats();
  }

  /** Statistics of every peer. */
  peers(): PeerStats[] {
    return [...this.#peers.values()].map((p) => p.stats());
  }

  #peer(publicKey: KeyInput): Peer {
    const key = toBase64(parseKeyInput('publicKey', publicKey));
    const peer = this.#peers.get(key);
    if (peer === undefined) throw new Error(`no peer ${key}`);
    return peer;
  }

  /** Starts a handshake with a peer now (subject to the one-per-REKEY_TIMEOUT limit). */
  initiateHandshake(publicKey: KeyInput, now: number): void {
    if (this.#closed) return;
    this.#peer(publicKey).sendHandshakeInitiation(false, now);
  }

  /** Sends a keepalive to a peer (starting a handshake first if needed). */
  sendKeepalive(publicKey: KeyInput, now: number): void {
    if (this.#closed) return;
    this.#peer(publicKey).sendKeepalive(now);
  }

  /** Test and debug aid: entries in the index table (handshakes in flight and live keypairs). */
  debugIndexTableSize(): number {
    return this.#ctx.indexTable.size;
  }

  /** Test and debug aid: the peer's internal state. Not part of the stable API. */
  debugPeer(publicKey: KeyInput): Peer {
    return this.#peer(publicKey);
  }

  // ---- data path ---------------------------------------------------------------------------

  /** Handles a datagram from the Bind (takes ownership of `data`). Never throws for bad input. */
  receiveDatagram(data: Uint8Array, from: Endpoint, now: number): void {
    if (this.#closed) return;
    this.#lastNow = now;
    try {
      receiveDatagram(this.#ctx, data, from, now);
    } catch (err) {
      this.#ctx.counters.internalErrors++;
      this.#ctx.logf('internal error on receive: %s', String(err));
    }
  }

  /**
   * Routes an IP packet to its peer by destination address and sends it (takes ownership). Returns
   * false (counted) if it is not IPv4/IPv6 or no peer's allowed IPs contain the destination.
   * `inPlace`: the packet has SEND_HEADROOM/SEND_TAILROOM free bytes around it in its buffer, which
   * the device may use to seal without a copy (see `Device.sendWithHeadroom`).
   */
  sendPacket(packet: Uint8Array, now: number, inPlace = false): boolean {
    if (this.#closed) return false;
    this.#lastNow = now;
    const c = this.#ctx.counters;
    let dst: Uint8Array;
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (version === 4 && packet.length >= 20) dst = packet.subarray(16, 20);
    else if (version === 6 && packet.length >= 40) dst = packet.subarray(24, 40);
    else {
      c.dropBadOutbound++;
      return false;
    }
    const peer = this.#ctx.allowedIps.lookup(dst);
    if (peer === undefined) {
      c.dropNoRoute++;
      return false;
    }
    peer.sendPacket(packet, now, inPlace);
    return true;
  }

  // ---- timers ------------------------------------------------------------------------------

  /**
   * When to call `expireTimers` next (monotonic ms; `Infinity`: no timer pending). It is a lower
   * bound kept in O(1) as timers are armed: calling `expireTimers` at that time may find nothing
   * due, in which case the exact next deadline is computed then.
   */
  pollAt(): number {
    return this.#closed ? Number.POSITIVE_INFINITY : this.#pollAt;
  }

  #recomputePollAt(): void {
    let t = Number.POSITIVE_INFINITY;
    for (const p of this.#peers.values()) {
      const d = peerPollAt(p);
      if (d < t) t = d;
    }
    this.#pollAt = t;
  }

  /** Runs every timer due at `now`. */
  expireTimers(now: number): void {
    if (this.#closed) return;
    this.#lastNow = now;
    for (const p of this.#peers.values()) {
      try {
        expireTimers(p, now);
      } catch (err) {
        this.#ctx.counters.internalErrors++;
        this.#ctx.logf('internal error in timers: %s', String(err));
      }
    }
    this.#recomputePollAt();
  }

  /** Erases all keys and stops; every later call is a no-op. */
  close(): void {
    if (this.#closed) return;
    for (const p of this.#peers.values()) {
      p.zeroAndFlushAll();
      p.handshake.zeroStatic();
    }
    this.#ctx.id.privateKey.fill(0);
    this.#closed = true;
  }
}
