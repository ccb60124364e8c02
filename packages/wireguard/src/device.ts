/**
 * `Device`: a WireGuard interface in a process. It is the driver around the sans-IO `DeviceCore`:
 * it connects the core to a `Bind` and a `TunDevice`, owns the one timer that wakes the core at
 * `pollAt()`, reads time from an injected `Clock`, and dispatches events.
 *
 * @example
 * ```ts
 * import { Device } from '@tsnet/wireguard';
 * import { UdpBind } from '@tsnet/wireguard/node';
 * const dev = new Device({ privateKey, bind: new UdpBind({ port: 51820 }) });
 * dev.addPeer({ publicKey: serverKey, endpoint: '192.0.2.1:51820', allowedIps: ['10.0.0.0/24'] });
 * dev.on('packet', (ipPacket) => { ... });
 * await dev.up();
 * dev.send(ipPacket);
 * ```
 */
import { type Clock, type ClockTimer, systemClock } from '@tsnet/core';
import type { Bind, TunDevice } from './bind.js';
import { parseWgConfig, type WgConfig } from './config.js';
import { SEND_HEADROOM, SEND_TAILROOM } from './constants.js';
import type { DeviceCounters, DeviceEvent, Endpoint } from './context.js';
import {
  DeviceCore,
  type DeviceCoreOptions,
  type KeyInput,
  type PeerConfig,
  type PeerUpdate,
} from './device-core.js';
import type { PeerStats } from './peer.js';

/** Options of `new Device(…)`: `DeviceCoreOptions` (wall time comes from the clock) plus the seams. */
export interface DeviceOptions extends Omit<DeviceCoreOptions, 'wallNow'> {
  /** Where encrypted datagrams go: `UdpBind` from `@tsnet/wireguard/node`, `ChannelBind` in tests, or your own. */
  bind: Bind;
  /** Where decrypted IP packets go; without one, listen to the `'packet'` event and call `send`. */
  tun?: TunDevice | undefined;
  /** Defaults to the system clock; a `FakeClock` makes tests deterministic. `wallNow()` stamps handshakes. */
  clock?: Clock | undefined;
  /** Peers to add before `up()`. */
  peers?: readonly PeerConfig[] | undefined;
}

/** Event listeners of a `Device`. */
export interface DeviceEventMap {
  /** A handshake completed (we sent the initiation, or the peer confirmed our response). */
  handshake: (ev: Extract<DeviceEvent, { type: 'handshake' }>) => void;
  /** A peer's endpoint changed (roaming). */
  endpoint: (ev: Extract<DeviceEvent, { type: 'endpoint' }>) => void;
  /** A decrypted IP packet arrived (also written to the TunDevice, if any). `packet` is owned by the listener only if there is no TUN and one listener. */
  packet: (packet: Uint8Array, peerPublicKey: string) => void;
}

/**
 * A WireGuard interface (wireguard-go `device.Device`): `DeviceCore` driven by a `Bind`, an optional
 * `TunDevice` and a clock. Create, add peers, `up()`, then `send` IP packets and receive them as
 * `'packet'` events (or through the TunDevice); `close()` erases the keys. See the file header.
 */
export class Device {
  readonly #core: DeviceCore;
  readonly #bind: Bind;
  readonly #tun: TunDevice | undefined;
  readonly #clock: Clock;
  readonly #listeners: { [K in keyof DeviceEventMap]: Set<DeviceEventMap[K]> } = {
    handshake: new Set(),
    endpoint: new Set(),
    packet: new Set(),
  };
  #timer: ClockTimer | undefined;
  #scheduledAt = Number.POSITIVE_INFINITY;
  #state: 'down' | 'up' | 'closed' = 'down';

  constructor(options: DeviceOptions) {
    if (options.bind === undefined) throw new TypeError('bind is required');
    this.#bind = options.bind;
    this.#tun = options.tun;
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#core = new DeviceCore(
      { ...options, wallNow: () => clock.wallNow() },
      {
        sendDatagram: (data, to) => this.#bind.send(data, to),
        deliverPacket: (packet, pk) => {
          this.#tun?.write(packet);
          for (const fn of this.#listeners.packet) fn(packet, pk);
        },
        event: (ev) => {
          if (ev.type === 'handshake') for (const fn of this.#listeners.handshake) fn(ev);
          else for (const fn of this.#listeners.endpoint) fn(ev);
        },
      },
    );
    for (const p of options.peers ?? []) this.#core.addPeer(p, clock.now());
  }

  /**
   * A device from a WireGuard configuration file (`[Interface]`/`[Peer]`). `ListenPort` is not
   * applied here, where the Bind is yours: `deviceFromConfig` from `@tsnet/wireguard/node` makes a
   * `UdpBind` on it.
   */
  static fromConfig(config: string | WgConfig, options: Omit<DeviceOptions, 'privateKey' | 'peers'>): Device {
    const cfg = typeof config === 'string' ? parseWgConfig(config) : config;
    return new Device({
      ...options,
      mtu: options.mtu ?? cfg.interface.mtu,
      privateKey: cfg.interface.privateKey,
      peers: cfg.peers.map((p) => ({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey,
        endpoint: p.endpoint,
        allowedIps: p.allowedIps,
        persistentKeepalive: p.persistentKeepalive,
      })),
    });
  }

  /** Our public key (32 bytes). */
  get publicKey(): Uint8Array {
    return this.#core.publicKey;
  }

  /** Device-wide counters. */
  get counters(): Readonly<DeviceCounters> {
    return this.#core.counters;
  }

  /** The sans-IO core, for tests and advanced drivers. */
  get core(): DeviceCore {
    return this.#core;
  }

  /** Opens the Bind and the TunDevice; packets flow after this resolves. */
  async up(): Promise<void> {
    if (this.#state !== 'down') throw new Error(`device is ${this.#state}`);
    await this.#bind.open((data, from) => this.#receive(data, from));
    if (this.#tun !== undefined) {
      try {
        await this.#tun.open((p) => this.send(p));
      } catch (err) {
        // Leave nothing open: the device stays 'down' and up() may be tried again.
        await Promise.resolve(this.#bind.close()).catch(() => {});
        throw err;
      }
    }
    this.#state = 'up';
    // Peers with persistent keepalive start sending at once, as `wg` does on configuration.
    const now = this.#clock.now();
    for (const s of this.#core.peers()) {
      if (s.persistentKeepalive > 0 && s.endpoint !== undefined) this.#core.sendKeepalive(s.publicKey, now);
    }
    this.#schedule();
  }

  #receive(data: Uint8Array, from: Endpoint): void {
    if (this.#state !== 'up') return;
    this.#core.receiveDatagram(data, from, this.#clock.now());
    this.#schedule();
  }

  /** Sends an IP packet into the tunnel (takes ownership); false if there is no route for its destination. */
  send(packet: Uint8Array): boolean {
    if (this.#state !== 'up') return false;
    const ok = this.#core.sendPacket(packet, this.#clock.now());
    this.#schedule();
    return ok;
  }

  /**
   * Sends the IP packet `buffer[offset, offset + length)` and seals it in place, without a copy:
   * `buffer` must have SEND_HEADROOM (16) bytes before the packet and SEND_TAILROOM (31) after it.
   * Takes ownership of the whole `buffer` (it becomes the datagram handed to the Bind).
   *
   * @example
   * ```ts
   * const buf = new Uint8Array(SEND_HEADROOM + ip.length + SEND_TAILROOM);
   * buf.set(ip, SEND_HEADROOM);
   * dev.sendWithHeadroom(buf, SEND_HEADROOM, ip.length);
   * ```
   */
  sendWithHeadroom(buffer: Uint8Array, offset: number, length: number): boolean {
    if (!Number.isInteger(offset) || offset < SEND_HEADROOM)
      throw new RangeError(`offset must be an integer ≥ ${SEND_HEADROOM}`);
    if (!Number.isInteger(length) || length < 0 || offset + length + SEND_TAILROOM > buffer.length) {
      throw new RangeError(`length must leave ${SEND_TAILROOM} bytes of buffer after the packet`);
    }
    if (this.#state !== 'up') return false;
    const ok = this.#core.sendPacket(buffer.subarray(offset, offset + length), this.#clock.now(), true);
    this.#schedule();
    return ok;
  }

  /**
   * Adds a peer (as `wg set wg0 peer …`); throws if it exists, the key is ours or a field is invalid.
   * Once up, a peer with `persistentKeepalive` and an endpoint gets a keepalive (and so a handshake) at once.
   */
  addPeer(config: PeerConfig): void {
    const now = this.#clock.now();
    this.#core.addPeer(config, now);
    if (this.#state === 'up' && (config.persistentKeepalive ?? 0) > 0 && config.endpoint !== undefined) {
      this.#core.sendKeepalive(config.publicKey, now);
    }
    this.#schedule();
  }

  /**
   * Changes a configured peer: fields present in `update` replace the current values; throws for an
   * unknown peer. Turning persistent keepalive on sends a keepalive at once, as `wg set` does.
   */
  updatePeer(publicKey: KeyInput, update: PeerUpdate): void {
    const was = this.#core.peerStats(publicKey)?.persistentKeepalive ?? 0;
    const now = this.#clock.now();
    this.#core.updatePeer(publicKey, update);
    // Like `wg set … persistent-keepalive N`, turning it on sends a keepalive at once.
    const s = this.#core.peerStats(publicKey);
    if (
      this.#state === 'up' &&
      was === 0 &&
      s !== undefined &&
      s.persistentKeepalive > 0 &&
      s.endpoint !== undefined
    ) {
      this.#core.sendKeepalive(publicKey, now);
    }
    this.#schedule();
  }

  /** Removes a peer: erases its keys, drops its staged packets and allowed IPs; false if it was unknown. */
  removePeer(publicKey: KeyInput): boolean {
    const ok = this.#core.removePeer(publicKey);
    this.#schedule();
    return ok;
  }

  /** Starts a handshake with a peer now. */
  initiateHandshake(publicKey: KeyInput): void {
    if (this.#state !== 'up') throw new Error(`device is ${this.#state}`);
    this.#core.initiateHandshake(publicKey, this.#clock.now());
    this.#schedule();
  }

  /** `wg show` for one peer. */
  peerStats(publicKey: KeyInput): PeerStats | undefined {
    return this.#core.peerStats(publicKey);
  }

  /** `wg show` for every peer. */
  peers(): PeerStats[] {
    return this.#core.peers();
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof DeviceEventMap>(event: K, listener: DeviceEventMap[K]): () => void {
    const set = this.#listeners[event] as Set<DeviceEventMap[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves at the next completed handshake with `publicKey` (base64), or rejects after `timeoutMs` of the device's clock. */
  waitForHandshake(publicKey?: string, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        off();
        reject(new Error(`no handshake within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on('handshake', (ev) => {
        if (publicKey !== undefined && ev.publicKey !== publicKey) return;
        off();
        timer.cancel();
        resolve();
      });
    });
  }

  #schedule(): void {
    if (this.#state !== 'up') return;
    const at = this.#core.pollAt();
    if (at === this.#scheduledAt) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#scheduledAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    const timer = this.#clock.setTimeout(
      () => {
        if (this.#timer !== timer) return;
        this.#timer = undefined;
        this.#scheduledAt = Number.POSITIVE_INFINITY;
        this.#core.expireTimers(this.#clock.now());
        this.#schedule();
      },
      Math.max(0, at - this.#clock.now()),
    );
    timer.unref();
    this.#timer = timer;
  }

  /** Stops timers, erases keys, closes the Bind and the TunDevice. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#core.close();
    await this.#bind.close();
    await this.#tun?.close();
  }
}
