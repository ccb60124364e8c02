/**
 * The plaintext side of the data path (DESIGN §2): WireGuard's `TunDevice` joined to netstack's
 * `LinkEndpoint` through the packet filter. Inbound packets (decrypted by WireGuard) are judged by
 * `PacketFilter.runIn`; TSMP goes to its handler; the rest reaches the stack. Outbound packets (from
 * the stack) are shown to `runOut` (flow tracking) and go to WireGuard. A TCP SYN the filter drops is
 * answered with a TSMP reject, as tailscaled does, so the dialer fails fast.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '@tsnet/core';
import type { LinkEndpoint } from '@tsnet/netstack';
import type { TunDevice } from '@tsnet/wireguard';
import type { PacketFilter } from '../filter/filter.js';
import { IPPROTO_TCP, parsePacket, TCP_ACK, TCP_SYN } from '../filter/packet.js';
import {
  buildTsmpPing,
  buildTsmpReject,
  handleTsmp,
  type TsmpCounters,
  type TsmpResult,
} from '../filter/tsmp.js';

/** TSMP pings of ours in flight at once (more get null at once). */
const MAX_TSMP_PINGS = 64;

/** The MTU of a Tailscale node's interface (Go's `tstun.DefaultTUNMTU`): 1280, IPv6's minimum. */
export const TAILSCALE_MTU = 1280;

/** What the datapath between WireGuard and netstack moved and dropped, in packets. */
export interface DatapathCounters {
  /** Inbound packets before the stack exists. */
  dropNoStack: number;
  /** Outbound packets before WireGuard is open. */
  dropNoTunnel: number;
  /** Packets from WireGuard handed to the stack (after the filter). */
  inbound: number;
  /** Packets from the stack handed to WireGuard. */
  outbound: number;
  /** TSMP rejects sent for a TCP SYN the filter dropped (the peer's dial fails fast). */
  rejectsSent: number;
}

export class Datapath implements TunDevice, LinkEndpoint {
  readonly mtu = TAILSCALE_MTU;
  /** Packet counters, live. */
  readonly counters: DatapathCounters = {
    dropNoStack: 0,
    dropNoTunnel: 0,
    inbound: 0,
    outbound: 0,
    rejectsSent: 0,
  };
  /** TSMP messages handled (pings answered, disco adverts, rejects received), live. */
  readonly tsmp: TsmpCounters = { pings: 0, discoAdverts: 0, rejectsReceived: 0, pongs: 0, ignored: 0 };
  /** The inbound filter from the netmap; undefined drops everything (no netmap yet). */
  filter: PacketFilter | undefined;
  /** Called with a disco key a peer advertised over TSMP and the packet's source address. */
  onDiscoAdvert: ((src: Uint8Array, key: Uint8Array) => void) | undefined;
  /** Called when a peer (at `src`) refused a connection of ours with a TSMP reject. */
  onReject: ((src: Uint8Array, r: NonNullable<TsmpResult['rejected']>) => void) | undefined;
  #toTunnel: ((pkt: Uint8Array) => void) | undefined;
  #toStack: ((pkt: Uint8Array) => void) | undefined;
  /** TSMP pings of ours waiting for their Pong, by the hex of their 8 bytes. */
  readonly #tsmpPings = new Map<string, () => void>();

  // TunDevice (WireGuard's side)
  open(onPacket: (packet: Uint8Array) => void): void {
    this.#toTunnel = onPacket;
  }

  write(packet: Uint8Array): void {
    const f = this.filter;
    if (f === undefined) {
      this.counters.dropNoStack++;
      return;
    }
    const noRule = f.counters.dropNoRule;
    const v = f.runIn(packet);
    if (v === 'drop') {
      if (f.counters.dropNoRule !== noRule) this.#maybeReject(packet);
      return;
    }
    if (v === 'tsmp') {
      const r = handleTsmp(packet, this.tsmp);
      if (r.reply !== undefined) this.#sendOut(r.reply);
      if (r.pong !== undefined) this.#tsmpPings.get(Buffer.from(r.pong).toString('hex'))?.();
      if (r.discoKey !== undefined || r.rejected !== undefined) {
        const p = parsePacket(packet);
        if (p !== null && r.discoKey !== undefined) this.onDiscoAdvert?.(p.src.slice(), r.discoKey);
        if (p !== null && r.rejected !== undefined) this.onReject?.(p.src.slice(), r.rejected);
      }
      return;
    }
    if (this.#toStack === undefined) {
      this.counters.dropNoStack++;
      return;
    }
    this.counters.inbound++;
    this.#toStack(packet);
  }

  close(): void {
    this.#toTunnel = undefined;
    this.#toStack = undefined;
  }

  /**
   * Sends a TSMP ping from `src` to `dst` (4 or 16 bytes each) into the tunnel and resolves with the
   * round trip in ms when the Pong comes back, or null after `timeoutMs` (at most 64 in flight).
   */
  pingTsmp(src: Uint8Array, dst: Uint8Array, timeoutMs: number, clock: Clock): Promise<number | null> {
    if (this.#tsmpPings.size >= MAX_TSMP_PINGS) return Promise.resolve(null);
    const data = randomBytes(8);
    const key = data.toString('hex');
    const started = clock.now();
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => {
        this.#tsmpPings.delete(key);
        resolve(null);
      }, timeoutMs);
      this.#tsmpPings.set(key, () => {
        timer.cancel();
        this.#tsmpPings.delete(key);
        resolve(clock.now() - started);
      });
      this.#sendOut(buildTsmpPing(src, dst, data));
    });
  }

  // LinkEndpoint (netstack's side)
  attach(deliver: (pkt: Uint8Array) => void): void {
    this.#toStack = deliver;
  }

  writePacket(pkt: Uint8Array): void {
    this.filter?.runOut(pkt);
    this.#sendOut(pkt);
  }

  #sendOut(pkt: Uint8Array): void {
    if (this.#toTunnel === undefined) {
      this.counters.dropNoTunnel++;
      return;
    }
    this.counters.outbound++;
    this.#toTunnel(pkt);
  }

  #maybeReject(packet: Uint8Array): void {
    const p = parsePacket(packet);
    if (p === null || p.proto !== IPPROTO_TCP || p.laterFragment) return;
    if ((p.tcpFlags & TCP_SYN) === 0 || (p.tcpFlags & TCP_ACK) !== 0) return;
    this.counters.rejectsSent++;
    this.#sendOut(buildTsmpReject(p));
  }
}
