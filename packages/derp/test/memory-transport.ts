// An in-memory ByteTransport pair for tests: what one side writes, the other receives, on the
// next microtask. `needDrain` can be forced to simulate a peer that does not read.
import type { ByteTransport, TransportHandlers } from '../src/transport.js';

export class MemoryTransport implements ByteTransport {
  readonly kind = 'socket';
  peer: MemoryTransport | null = null;
  #handlers: TransportHandlers | null = null;
  #closed = false;
  #paused = false;
  #inbox: Uint8Array[] = [];
  /** Every batch written, for tests that check the wire. */
  readonly written: Uint8Array[][] = [];
  /** Force backpressure: while true, `needDrain` is true and writes are still delivered. */
  stalled = false;
  /** A peer that never finishes a close: `end()` does nothing, only `destroy()` closes. */
  ignoreEnd = false;
  #stalledBatches: Uint8Array[][] = [];
  constructor(readonly remoteAddress = '127.0.0.1:40000') {}

  static pair(a = '127.0.0.1:40001', b = '127.0.0.1:443'): [MemoryTransport, MemoryTransport] {
    // Each end's remoteAddress is the other end's address.
    const x = new MemoryTransport(b);
    const y = new MemoryTransport(a);
    x.peer = y;
    y.peer = x;
    return [x, y];
  }

  get needDrain(): boolean {
    return this.stalled;
  }
  get bufferedBytes(): number {
    return 0;
  }
  get closed(): boolean {
    return this.#closed;
  }
  setHandlers(h: TransportHandlers): void {
    this.#handlers = h;
  }
  writeBatch(chunks: readonly Uint8Array[]): void {
    if (this.#closed) return;
    const copy = chunks.map((c) => c.slice());
    this.written.push(copy);
    if (this.stalled) {
      this.#stalledBatches.push(copy);
      return;
    }
    this.#deliver(copy);
  }
  #deliver(batch: Uint8Array[]): void {
    const p = this.peer;
    queueMicrotask(() => {
      if (p === null || p.#closed) return;
      for (const c of batch) p.#receive(c);
    });
  }
  #receive(c: Uint8Array): void {
    if (this.#paused) {
      this.#inbox.push(c);
      return;
    }
    this.#handlers?.onData(c);
  }
  /** Ends the stall: delivers what was held and signals drain. */
  unstall(): void {
    this.stalled = false;
    for (const b of this.#stalledBatches) this.#deliver(b);
    this.#stalledBatches = [];
    this.#handlers?.onDrain();
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    this.#paused = false;
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const c of inbox) {
      if (this.#paused) this.#inbox.push(c);
      else this.#handlers?.onData(c);
    }
  }
  end(): void {
    if (this.ignoreEnd) return;
    queueMicrotask(() => this.destroy());
  }
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers?.onClose();
    const p = this.peer;
    if (p !== null) queueMicrotask(() => p.destroy());
  }
}
