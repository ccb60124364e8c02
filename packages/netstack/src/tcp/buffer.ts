/**
 * The byte stores behind a TCP connection: `SendBuffer` (bytes the app wrote, from SND.UNA's
 * first unacknowledged data byte onwards) and `RecvBuffer` (in-order bytes waiting for the app,
 * plus out-of-order ranges held in place until the hole before them fills — RFC 9293 §3.10.7.4
 * "segment text"). Both are rings with a fixed capacity (memory is bounded by construction) whose
 * storage grows on demand up to it.
 */

/** Initial backing storage; it doubles on demand up to the capacity. */
const INITIAL_STORAGE = 16 * 1024;

/**
 * A ring of bytes with a fixed capacity, whose backing storage starts small and grows on demand
 * (an idle connection costs kilobytes, not its full buffer sizes).
 */
class Ring {
  protected buf: Uint8Array;
  protected head = 0; // index of the first byte
  length = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(Math.min(capacity, INITIAL_STORAGE));
  }

  get free(): number {
    return this.capacity - this.length;
  }

  /** Bytes of backing storage allocated now. */
  get allocated(): number {
    return this.buf.length;
  }

  /** Makes room for offsets up to `span` past the head, keeping the first `keep` bytes. */
  private grow(span: number, keep: number): void {
    let size = this.buf.length;
    while (size < span) size = Math.min(size * 2, this.capacity);
    const next = new Uint8Array(size);
    this.copyOut(0, keep, next);
    this.buf = next;
    this.head = 0;
  }

  /**
   * Copies `src` into the ring at `offset` bytes past the first byte; the caller checks bounds.
   * `live` is how many bytes past the head hold data that must survive a growth.
   */
  protected writeAt(offset: number, src: Uint8Array, live: number): void {
    if (offset + src.length > this.buf.length) this.grow(offset + src.length, live);
    const size = this.buf.length;
    let at = (this.head + offset) % size;
    let i = 0;
    while (i < src.length) {
      const n = Math.min(src.length - i, size - at);
      this.buf.set(src.subarray(i, i + n), at);
      i += n;
      at = 0;
    }
  }

  /** Copies `len` bytes starting `offset` bytes past the first into `dst` at `dstAt`. */
  copyOut(offset: number, len: number, dst: Uint8Array, dstAt = 0): void {
    const size = this.buf.length;
    let at = (this.head + offset) % size;
    let i = 0;
    while (i < len) {
      const n = Math.min(len - i, size - at);
      dst.set(this.buf.subarray(at, at + n), dstAt + i);
      i += n;
      at = 0;
    }
  }

  /** A view of `len` bytes at `offset` when they are contiguous in memory, else null. */
  view(offset: number, len: number): Uint8Array | null {
    const at = (this.head + offset) % this.buf.length;
    return at + len <= this.buf.length ? this.buf.subarray(at, at + len) : null;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.head = (this.head + n) % this.buf.length;
    this.length -= n;
  }
}

/** Bytes written by the app and not yet acknowledged. */
export class SendBuffer extends Ring {
  /** Appends as much of `data` as fits; returns how many bytes were taken. */
  push(data: Uint8Array): number {
    const n = Math.min(data.length, this.free);
    if (n > 0) {
      this.writeAt(this.length, n === data.length ? data : data.subarray(0, n), this.length);
      this.length += n;
    }
    return n;
  }
}

/** Bytes received: a contiguous readable prefix, then out-of-order ranges inside the window. */
export class RecvBuffer extends Ring {
  /** Out-of-order ranges as [start, end) offsets past the readable prefix, sorted, disjoint. */
  private ranges: number[] = [];
  /** Most-recently-touched order of ranges, for SACK block order (RFC 2018 §4). */
  private recent: number[] = [];
  /** Upper bound on separate out-of-order ranges kept; past it, new ones are refused. */
  static readonly MAX_RANGES = 256;

  constructor(capacity: number) {
    super(capacity);
  }

  /**
   * Stores `data` that starts `offset` bytes after the readable prefix (offset ≥ 0; the caller
   * has trimmed it to the window, so `offset + data.length <= free`). Returns how many bytes
   * became readable, or -1 when the data was refused (too many holes).
   */
  write(offset: number, data: Uint8Array): number {
    const len = data.length;
    if (len === 0) return 0;
    if (offset + len > this.free) return -1;
    let start = offset;
    let end = offset + len;
    // Merge with overlapping or touching ranges.
    const r = this.ranges;
    const out: number[] = [];
    let inserted = false;
    for (let i = 0; i < r.length; i += 2) {
      const s = r[i]!;
      const e = r[i + 1]!;
      if (e < start) out.push(s, e);
      else if (s > end) {
        if (!inserted) {
          out.push(start, end);
          inserted = true;
        }
        out.push(s, e);
      } else {
        start = Math.min(start, s);
        end = Math.max(end, e);
      }
    }
    if (!inserted) out.push(start, end);
    // A range starting at 0 is consumed below, so only ranges past a hole count toward the limit.
    if ((out[0] === 0 ? out.length / 2 - 1 : out.length / 2) > RecvBuffer.MAX_RANGES) return -1;
    this.writeAt(this.length + offset, data, this.length + this.oooEnd);
    this.ranges = out;
    // Promote the range that now holds this segment to most recent.
    this.recent = this.recent.filter((x) => x < start || x >= end);
    this.recent.unshift(start);
    let readable = 0;
    if (out[0] === 0) {
      readable = out[1]!;
      out.splice(0, 2);
      for (let i = 0; i < out.length; i++) out[i]! -= readable;
      this.recent = this.recent.filter((x) => x >= readable).map((x) => x - readable);
      this.length += readable;
    }
    return readable;
  }

  /** Number of out-of-order ranges held. */
  get holes(): number {
    return this.ranges.length / 2;
  }

  /** Highest offset past the readable prefix that holds out-of-order data (0 when none). */
  get oooEnd(): number {
    return this.ranges.length > 0 ? this.ranges[this.ranges.length - 1]! : 0;
  }

  /** Up to `max` out-of-order ranges, most recently touched first, as [start, end) offsets. */
  sackRanges(max: number): number[] {
    const out: number[] = [];
    for (const s of this.recent) {
      for (let i = 0; i < this.ranges.length; i += 2) {
        const a = this.ranges[i]!;
        const b = this.ranges[i + 1]!;
        if (s >= a && s < b) {
          if (!out.includes(a)) out.push(a, b);
          break;
        }
      }
      if (out.length >= max * 2) break;
    }
    return out;
  }

  /** Removes and returns up to `max` readable bytes (a copy). */
  read(max: number): Uint8Array {
    const n = Math.min(max, this.length);
    const out = new Uint8Array(n);
    this.copyOut(0, n, out);
    this.consume(n);
    return out;
  }
}
