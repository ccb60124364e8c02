/**
 * An immutable map from NodeID to peer with cheap updates: 256 buckets by ID, and an update
 * copies only the bucket array and the buckets it touches, so a one-peer delta on a 10,000-peer
 * netmap copies about 40 entries instead of 10,000. Old tables stay valid (structural sharing),
 * which is what lets `applyMapResponse` be a pure function.
 */

const BUCKETS = 256;

function bucketOf(id: number): number {
  // IDs are small sequential integers (headscale) or large random ones (Tailscale): mix both.
  return ((id ^ (id / 0x1_0000_0000)) * 2654435761) >>> 24;
}

/** An immutable map from NodeID to peer with cheap updates (see the file header). */
export class PeerTable<V> {
  readonly #buckets: ReadonlyArray<ReadonlyMap<number, V> | undefined>;
  /** The number of peers. */
  readonly size: number;
  #sorted: readonly V[] | undefined;

  private constructor(buckets: ReadonlyArray<ReadonlyMap<number, V> | undefined>, size: number) {
    this.#buckets = buckets;
    this.size = size;
  }

  /** An empty table. */
  static empty<V>(): PeerTable<V> {
    return new PeerTable<V>(new Array(BUCKETS).fill(undefined), 0);
  }

  /** Builds a table from entries (a later entry with the same ID wins). */
  static from<V>(entries: Iterable<readonly [number, V]>): PeerTable<V> {
    const buckets: Array<Map<number, V> | undefined> = new Array(BUCKETS).fill(undefined);
    let size = 0;
    for (const [id, v] of entries) {
      const b = bucketOf(id);
      let m = buckets[b];
      if (m === undefined) buckets[b] = m = new Map();
      if (!m.has(id)) size++;
      m.set(id, v);
    }
    return new PeerTable(buckets, size);
  }

  /** The peer with this NodeID, or undefined. */
  get(id: number): V | undefined {
    return this.#buckets[bucketOf(id)]?.get(id);
  }

  /** Whether there is a peer with this NodeID. */
  has(id: number): boolean {
    return this.#buckets[bucketOf(id)]?.has(id) ?? false;
  }

  /** Applies sets (value) and deletes (`undefined`) and returns a new table; `this` is unchanged. */
  update(changes: Iterable<readonly [number, V | undefined]>): PeerTable<V> {
    let buckets: Array<ReadonlyMap<number, V> | undefined> | undefined;
    const copied = new Set<number>();
    let size = this.size;
    for (const [id, v] of changes) {
      const b = bucketOf(id);
      buckets ??= this.#buckets.slice();
      let m = buckets[b] as Map<number, V> | undefined;
      if (!copied.has(b)) {
        m = new Map(m ?? []);
        buckets[b] = m;
        copied.add(b);
      }
      const had = m!.has(id);
      if (v === undefined) {
        if (had) {
          m!.delete(id);
          size--;
        }
      } else {
        m!.set(id, v);
        if (!had) size++;
      }
    }
    return buckets === undefined ? this : new PeerTable(buckets, size);
  }

  /** All values ordered by ID (computed once per table). */
  sorted(idOf: (v: V) => number): readonly V[] {
    if (this.#sorted === undefined) {
      const all: V[] = [];
      for (const m of this.#buckets) if (m !== undefined) for (const v of m.values()) all.push(v);
      all.sort((a, b) => idOf(a) - idOf(b));
      this.#sorted = all;
    }
    return this.#sorted;
  }

  /** Every `[NodeID, peer]`, in no particular order. */
  *entries(): IterableIterator<[number, V]> {
    for (const m of this.#buckets) if (m !== undefined) yield* m.entries();
  }
}
