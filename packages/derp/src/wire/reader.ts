/**
 * An incremental, sans-IO reader of the DERP frame stream: bytes go in as they arrive (any
 * split), whole frames come out. Like Go's `derp.ReadFrameHeader` + `readFrame` on a
 * `bufio.Reader`, without the I/O.
 *
 * Memory is bounded: at most one frame (≤ `maxFrameLen` + 5 bytes) is buffered. A frame whose
 * header announces more than `maxFrameLen` makes the reader fail for good (`TooLarge`): the stream
 * cannot be resynchronised, and Go's client closes the connection in that case too.
 *
 * Zero-copy on the common path: when a pushed chunk holds whole frames, the payloads returned are
 * `subarray` views of that chunk; only a frame split across chunks is assembled in the reader's
 * own buffer. Either way a payload stays valid until the next `push` (so a caller may collect all
 * the frames of one chunk before using them), and not after.
 *
 * ```ts
 * const r = new FrameReader();
 * socket.on('data', (chunk) => {
 *   r.push(chunk);
 *   for (let f = r.next(); f !== null; f = r.next()) handle(f);
 * });
 * ```
 */

import { FRAME_HEADER_LEN, MAX_FRAME_LEN } from './constants.js';
import { readFrameLength } from './frames.js';

/** One raw frame: its type byte and payload (aliasing; valid until the next `push`). */
export interface RawFrame {
  /** The frame's type byte (`FRAME_TYPE`; unknown values are passed through). */
  frameType: number;
  /** The payload, without the 5-byte header; a view, not a copy. */
  payload: Uint8Array;
}

/** What `next()` returns when the stream is broken beyond repair. */
export interface ReaderFailure {
  /** Always -1, which tells a failure from a `RawFrame` (`isReaderFailure`). */
  frameType: -1;
  /** A frame announced a payload over `maxFrameLen`: the stream cannot be resynchronised. */
  error: 'TooLarge';
  /** The type byte of the offending frame. */
  offendingType: number;
  /** The payload length the offending frame's header announced, in bytes. */
  length: number;
}

/** Options of `FrameReader`. */
export interface FrameReaderOptions {
  /** The largest payload accepted; default 1 MiB (`MAX_FRAME_LEN`). */
  maxFrameLen?: number;
}

const INITIAL_BUFFER = 64 * 1024 + 64;
const KEEP_BUFFER_MAX = 256 * 1024;

/**
 * Splits the DERP byte stream into frames, holding at most one partial frame (see the module doc
 * for aliasing and the usage loop).
 */
export class FrameReader {
  readonly #maxFrameLen: number;
  /** Partial frame being assembled: bytes [0, #pendLen) of #pend. */
  #pend: Uint8Array;
  #pendLen = 0;
  /** The current pushed chunk and how far into it we are. */
  #cur: Uint8Array | null = null;
  #curOff = 0;
  #failure: ReaderFailure | null = null;
  /** A frame returned since the last push aliases #pend: do not overwrite it, allocate anew. */
  #pendLent = false;
  /** Total bytes pushed, for counters. */
  bytesIn = 0;

  constructor(options: FrameReaderOptions = {}) {
    const max = options.maxFrameLen ?? MAX_FRAME_LEN;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new RangeError(`maxFrameLen must be a u32, got ${max}`);
    }
    this.#maxFrameLen = max;
    this.#pend = new Uint8Array(Math.min(INITIAL_BUFFER, max + FRAME_HEADER_LEN));
  }

  /** The failure that stopped this reader, or null. */
  get failure(): ReaderFailure | null {
    return this.#failure;
  }

  /** Bytes held but not yet returned as frames. */
  get buffered(): number {
    return this.#pendLen + (this.#cur === null ? 0 : this.#cur.length - this.#curOff);
  }

  /**
   * Hands the reader the next bytes of the stream. The reader keeps a reference to `chunk` until
   * `next()` has returned null; the caller must not modify it before then. (Pushing again before
   * draining `next()` works, at the cost of a copy.)
   */
  push(chunk: Uint8Array): void {
    if (this.#failure !== null) return;
    this.bytesIn += chunk.length;
    this.#pendLent = false;
    const cur = this.#cur;
    if (cur !== null && this.#curOff < cur.length) {
      const rest = cur.subarray(this.#curOff);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.#cur = joined;
    } else {
      this.#cur = chunk;
    }
    this.#curOff = 0;
  }

  /** The next complete frame, null when more bytes are needed, or the sticky failure. */
  next(): RawFrame | ReaderFailure | null {
    if (this.#failure !== null) return this.#failure;
    if (this.#pendLen > 0) return this.#nextFromPending();
    const cur = this.#cur;
    if (cur === null) return null;
    const off = this.#curOff;
    const avail = cur.length - off;
    if (avail === 0) {
      this.#cur = null;
      return null;
    }
    if (avail >= FRAME_HEADER_LEN) {
      const len = readFrameLength(cur, off);
      if (len > this.#maxFrameLen) return this.#fail(cur[off]!, len);
      if (avail >= FRAME_HEADER_LEN + len) {
        this.#curOff = off + FRAME_HEADER_LEN + len;
        return { frameType: cur[off]!, payload: cur.subarray(off + FRAME_HEADER_LEN, this.#curOff) };
      }
    }
    // The chunk ends inside one frame (at most maxFrameLen + 5 bytes, checked above): keep its
    // bytes and wait for the rest.
    if (this.#pendLent) {
      const want = avail >= FRAME_HEADER_LEN ? FRAME_HEADER_LEN + readFrameLength(cur, off) : INITIAL_BUFFER;
      this.#pend = new Uint8Array(Math.min(Math.max(want, avail), this.#maxFrameLen + FRAME_HEADER_LEN));
      this.#pendLent = false;
    }
    this.#ensure(avail);
    this.#pend.set(cur.subarray(off));
    this.#pendLen = avail;
    this.#cur = null;
    this.#curOff = 0;
    return null;
  }

  #ensure(capacity: number): void {
    if (this.#pend.length >= capacity) return;
    const next = new Uint8Array(
      Math.max(capacity, Math.min(this.#pend.length * 2, this.#maxFrameLen + FRAME_HEADER_LEN)),
    );
    next.set(this.#pend.subarray(0, this.#pendLen));
    this.#pend = next;
  }

  #nextFromPending(): RawFrame | ReaderFailure | null {
    // Complete the header, then the payload, from the current chunk.
    if (this.#pendLen < FRAME_HEADER_LEN) {
      if (!this.#fill(FRAME_HEADER_LEN)) return null;
    }
    const len = readFrameLength(this.#pend, 0);
    if (len > this.#maxFrameLen) return this.#fail(this.#pend[0]!, len);
    const total = FRAME_HEADER_LEN + len;
    if (!this.#fill(total)) return null;
    const frame = { frameType: this.#pend[0]!, payload: this.#pend.subarray(FRAME_HEADER_LEN, total) };
    this.#pendLen = 0;
    this.#pendLent = true;
    if (this.#pend.length > KEEP_BUFFER_MAX && total > KEEP_BUFFER_MAX) {
      // Do not keep a large buffer around after a rare large frame; the returned view keeps the
      // old one alive until the caller is done with it.
      this.#pend = new Uint8Array(INITIAL_BUFFER);
    }
    return frame;
  }

  /** Moves bytes from the current chunk into pending until it holds `want`; true when it does. */
  #fill(want: number): boolean {
    const need = want - this.#pendLen;
    if (need <= 0) return true;
    const cur = this.#cur;
    if (cur === null) return false;
    const take = Math.min(need, cur.length - this.#curOff);
    this.#ensure(this.#pendLen + take);
    this.#pend.set(cur.subarray(this.#curOff, this.#curOff + take), this.#pendLen);
    this.#pendLen += take;
    this.#curOff += take;
    if (this.#curOff >= cur.length) this.#cur = null;
    return take === need;
  }

  #fail(offendingType: number, length: number): ReaderFailure {
    this.#failure = { frameType: -1, error: 'TooLarge', offendingType, length };
    this.#cur = null;
    this.#pend = new Uint8Array(0);
    this.#pendLen = 0;
    return this.#failure;
  }
}

/** Whether a `next()` result is the reader's failure. */
export function isReaderFailure(r: RawFrame | ReaderFailure): r is ReaderFailure {
  return r.frameType === -1;
}
