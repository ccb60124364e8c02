/**
 * An in-memory point-to-point link for tests and benchmarks: two `LinkEndpoint`s joined back to
 * back, with a one-way delay, an optional bottleneck rate with a drop-tail queue, and a seeded
 * fault injector (loss, duplication, reordering, corruption) in the manner of smoltcp's
 * `FaultInjector`. Time comes from the injected `Clock`, so on a `FakeClock` runs are exact
 * and reproducible.
 */
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { type Random32, seededRandom } from '../random.js';
import type { LinkEndpoint } from './link.js';

/** Seeded fault injection, applied per packet and direction; each probability defaults to 0. */
export interface PipeFaults {
  /** Probability a packet is dropped (0..1). */
  loss?: number;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** Probability a packet is held back by up to `reorderDelayMs` (so later ones overtake it). */
  reorder?: number;
  /** Probability one random bit of the packet is flipped. */
  corrupt?: number;
}

/** Options of `createPipe`; both directions get the same settings. */
export interface PipeOptions {
  /** MTU of both ends (default 1280); larger packets are dropped and counted as `oversize`. */
  mtu?: number;
  /** Time source for delays and the bottleneck (default `systemClock`; a `FakeClock` makes runs exact). */
  clock?: Clock;
  /** One-way delay in ms (default 1). */
  delayMs?: number;
  /** Bottleneck rate in bits per second; unlimited when absent. */
  rateBps?: number;
  /** Packets the bottleneck queue holds before dropping (default 1000). */
  queueLimit?: number;
  /** Loss, duplication, reordering and corruption to inject (default none). */
  faults?: PipeFaults;
  /** Extra hold-back for reordered packets (default 2 × delayMs + 1). */
  reorderDelayMs?: number;
  /** Seed for the fault injector (default 1). */
  seed?: number;
}

/** Per-direction counters. */
export interface PipeStats {
  /** Packets written at this end (`writePacket` calls), dropped ones included. */
  sent: number;
  /** Packets handed to the other end's receiver, duplicates included. */
  delivered: number;
  /** Packets dropped by the `loss` fault. */
  lost: number;
  /** Packets delivered a second time by the `duplicate` fault. */
  duplicated: number;
  /** Packets held back by the `reorder` fault. */
  reordered: number;
  /** Packets with one bit flipped by the `corrupt` fault (they are still delivered). */
  corrupted: number;
  /** Packets dropped because `queueLimit` packets were already queued (drop-tail, only with `rateBps`). */
  queueDrops: number;
  /** Packets dropped for exceeding the MTU. */
  oversize: number;
}

interface Queued {
  at: number;
  pkt: Uint8Array;
}

class PipeEnd implements LinkEndpoint {
  peer!: PipeEnd;
  private deliver: ((pkt: Uint8Array) => void) | undefined;
  private queue: Queued[] = [];
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private txFree = 0;
  readonly stats: PipeStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    queueDrops: 0,
    oversize: 0,
  };

  constructor(
    readonly mtu: number,
    private readonly clock: Clock,
    private readonly opts: PipeOptions,
    private readonly rnd: Random32,
  ) {}

  attach(deliver: (pkt: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  private chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.rnd() / 0x100000000 < p;
  }

  writePacket(pkt: Uint8Array): void {
    const s = this.stats;
    s.sent++;
    if (pkt.length > this.mtu) {
      s.oversize++;
      return;
    }
    const f = this.opts.faults ?? {};
    if (this.chance(f.loss)) {
      s.lost++;
      return;
    }
    let p = pkt;
    if (this.chance(f.corrupt)) {
      p = pkt.slice();
      const bit = this.rnd() % (p.length * 8);
      p[bit >> 3]! ^= 1 << (bit & 7);
      s.corrupted++;
    }
    const now = this.clock.now();
    let at = now;
    const rate = this.opts.rateBps;
    if (rate !== undefined) {
      if (this.queue.length >= (this.opts.queueLimit ?? 1000)) {
        s.queueDrops++;
        return;
      }
      this.txFree = Math.max(this.txFree, now) + (p.length * 8 * 1000) / rate;
      at = this.txFree;
    }
    const delay = this.opts.delayMs ?? 1;
    at += delay;
    if (this.chance(f.reorder)) {
      const hold = this.opts.reorderDelayMs ?? 2 * delay + 1;
      at += 1 + (this.rnd() % Math.max(1, Math.floor(hold)));
      s.reordered++;
    }
    this.enqueue({ at, pkt: p });
    if (this.chance(f.duplicate)) {
      s.duplicated++;
      this.enqueue({ at: at + 0.001, pkt: p.slice() });
    }
  }

  private enqueue(q: Queued): void {
    const qu = this.queue;
    let i = qu.length;
    while (i > 0 && qu[i - 1]!.at > q.at) i--;
    qu.splice(i, 0, q);
    this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head || head.at >= this.timerAt) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timerAt = head.at;
    this.timer = this.clock.setTimeout(() => this.flush(), Math.max(0, head.at - this.clock.now()));
  }

  private flush(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const due: Uint8Array[] = [];
    while (this.queue.length > 0 && this.queue[0]!.at <= now + 1e-9) due.push(this.queue.shift()!.pkt);
    this.arm();
    for (const pkt of due) {
      this.stats.delivered++;
      this.peer.deliver?.(pkt);
    }
  }
}

/** The two ends of a pipe and their counters (`a.stats` counts what `a` sent). */
export interface Pipe {
  /** One end: give it to one `Stack` (or device); what it writes arrives at `b`. */
  a: LinkEndpoint & {
    /** What this end sent and what became of it. */
    readonly stats: PipeStats;
  };
  /** The other end: what it writes arrives at `a`. */
  b: LinkEndpoint & {
    /** What this end sent and what became of it. */
    readonly stats: PipeStats;
  };
}

/**
 * Creates two joined link endpoints. Whatever one end's `writePacket` receives is delivered to
 * the other end's attached receiver after the delay, subject to the faults.
 *
 * @example
 * const { a, b } = createPipe({ clock, delayMs: 5, faults: { loss: 0.01 }, seed: 7 });
 */
export function createPipe(options: PipeOptions = {}): Pipe {
  const clock = options.clock ?? systemClock;
  const mtu = options.mtu ?? 1280;
  const seed = options.seed ?? 1;
  const a = new PipeEnd(mtu, clock, { ...options }, seededRandom(seed));
  const b = new PipeEnd(mtu, clock, { ...options }, seededRandom(seed ^ 0x5bd1e995));
  a.peer = b;
  b.peer = a;
  return { a, b };
}
