/**
 * In-memory seams for tests (wireguard-go `conn/bindtest.ChannelBind`, `tun/tuntest.ChannelTUN`):
 * a `ChannelNetwork` of `ChannelBind`s that deliver datagrams to each other by endpoint name, with
 * optional latency, seeded loss, duplication and reordering, and a `ChannelTun` that records what a
 * device delivers and injects what an application would send.
 *
 * Delivery is always asynchronous (never inside `send`): on the given clock after `latencyMs`, or on
 * a microtask without a clock. `send` passes ownership of the bytes to the receiver, as a real Bind
 * does; a duplicated datagram is delivered as a separate copy.
 */
import type { Clock } from '@tsnet/core';
import type { Bind, TunDevice } from '../bind.js';
import type { Endpoint } from '../context.js';

export interface ChannelNetworkOptions {
  /** Deliver on this clock after `latencyMs` (default: next microtask). */
  clock?: Clock | undefined;
  /** One-way latency in ms on `clock` (default 1). */
  latencyMs?: number | undefined;
  /** Probability of dropping a datagram (seeded). */
  loss?: number | undefined;
  /** Probability of delivering a datagram twice. */
  duplicate?: number | undefined;
  /** Probability of delaying a datagram by an extra `reorderDelayMs`, so later ones overtake it. */
  reorder?: number | undefined;
  reorderDelayMs?: number | undefined;
  /** PRNG seed for the faults (default 1). */
  seed?: number | undefined;
}

/** A datagram as the network saw it. */
export interface ChannelDatagram {
  from: Endpoint;
  to: Endpoint;
  data: Uint8Array;
}

export class ChannelNetwork {
  readonly #binds = new Map<Endpoint, ChannelBind>();
  readonly #opts: ChannelNetworkOptions;
  #seed: number;
  /** Called for every datagram sent; return false to drop it (after the random faults). */
  filter: ((d: ChannelDatagram) => boolean) | undefined;
  /** Every datagram sent, in order (copies), when `record` is true. */
  readonly log: ChannelDatagram[] = [];
  record = false;
  delivered = 0;
  dropped = 0;

  constructor(options: ChannelNetworkOptions = {}) {
    this.#opts = options;
    this.#seed = (options.seed ?? 1) >>> 0 || 1;
  }

  /** A Bind reachable at `endpoint`. */
  bind(endpoint: Endpoint): ChannelBind {
    if (this.#binds.has(endpoint)) throw new Error(`endpoint ${endpoint} is taken`);
    const b = new ChannelBind(this, endpoint);
    this.#binds.set(endpoint, b);
    return b;
  }

  /** Moves a bind to a new endpoint (roaming): later datagrams come from, and are delivered to, `to`. */
  rebind(bind: ChannelBind, to: Endpoint): void {
    this.#binds.delete(bind.endpoint);
    bind.endpoint = to;
    this.#binds.set(to, bind);
  }

  /** xorshift32, uniform in [0, 1). */
  random(): number {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x >>> 0;
    return this.#seed / 0x1_0000_0000;
  }

  /** Sends a copy of a datagram as if from `from` (tests use it to inject forged or replayed traffic). */
  transmit(from: Endpoint, to: Endpoint, data: Uint8Array): void {
    this.transmitOwned(from, to, new Uint8Array(data));
  }

  /** As `transmit`, taking ownership of `data` (no copy): what a ChannelBind's `send` uses. */
  transmitOwned(from: Endpoint, to: Endpoint, data: Uint8Array): void {
    const d = { from, to, data };
    if (this.record) this.log.push({ from, to, data: new Uint8Array(data) });
    const o = this.#opts;
    if ((o.loss ?? 0) > 0 && this.random() < o.loss!) {
      this.dropped++;
      return;
    }
    if (this.filter !== undefined && !this.filter(d)) {
      this.dropped++;
      return;
    }
    const copies = (o.duplicate ?? 0) > 0 && this.random() < o.duplicate! ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = o.latencyMs ?? 1;
      if ((o.reorder ?? 0) > 0 && this.random() < o.reorder!) delay += o.reorderDelayMs ?? 5;
      const data = i === 0 ? d.data : new Uint8Array(d.data);
      const deliver = () => {
        const b = this.#binds.get(to);
        if (b === undefined) {
          this.dropped++;
          return;
        }
        this.delivered++;
        b.deliver(data, from);
      };
      if (o.clock !== undefined) o.clock.setTimeout(deliver, delay);
      else queueMicrotask(deliver);
    }
  }
}

export class ChannelBind implements Bind {
  readonly #net: ChannelNetwork;
  endpoint: Endpoint;
  #receive: ((data: Uint8Array, from: Endpoint) => void) | undefined;

  constructor(net: ChannelNetwork, endpoint: Endpoint) {
    this.#net = net;
    this.endpoint = endpoint;
  }

  open(receive: (data: Uint8Array, from: Endpoint) => void): void {
    this.#receive = receive;
  }

  send(data: Uint8Array, to: Endpoint): void {
    this.#net.transmitOwned(this.endpoint, to, data);
  }

  /** Delivers a datagram to this bind's device now (used by the network, and by tests). */
  deliver(data: Uint8Array, from: Endpoint): void {
    this.#receive?.(data, from);
  }

  close(): void {
    this.#receive = undefined;
  }
}

/** A TUN in memory: `inject` plays the application sending a packet, `received` holds what the device wrote. */
export class ChannelTun implements TunDevice {
  #onPacket: ((packet: Uint8Array) => void) | undefined;
  readonly received: Uint8Array[] = [];
  /** Called for each packet the device writes (after it is recorded). */
  onWrite: ((packet: Uint8Array) => void) | undefined;

  open(onPacket: (packet: Uint8Array) => void): void {
    this.#onPacket = onPacket;
  }

  /** An IP packet from the application side into the tunnel. */
  inject(packet: Uint8Array): void {
    if (this.#onPacket === undefined) throw new Error('ChannelTun is not open');
    this.#onPacket(packet);
  }

  write(packet: Uint8Array): void {
    this.received.push(packet);
    this.onWrite?.(packet);
  }

  close(): void {
    this.#onPacket = undefined;
  }
}
