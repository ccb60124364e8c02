/**
 * Map response framing (tailscale/tailscale `control/controlclient/direct.go sendMapRequest`,
 * headscale `hscontrol/poll.go writeMap`): each message is a 4-byte **little-endian** u32 length
 * followed by that many bytes of body. The body is JSON when the request said `Compress: ""` (all
 * this client asks for) or an independent zstd frame for `"zstd"`.
 *
 * Sans-IO: `push(bytes)` returns the completed bodies. A length above the cap (default 64 MiB;
 * Go has none) or a zero length is a protocol error; memory held is at most one message.
 */
import { ControlProtocolError } from '../errors.js';

/** The default cap on one map message: 64 MiB. */
export const DEFAULT_MAX_MAP_MESSAGE = 64 << 20;

/** Splits the map stream into message bodies (4-byte little-endian length, then the body); sans-IO. */
export class MapFrameDecoder {
  readonly #max: number;
  #hdr = new Uint8Array(4);
  #hdrHave = 0;
  #body: Uint8Array | null = null;
  #bodyHave = 0;

  constructor(maxMessageBytes = DEFAULT_MAX_MAP_MESSAGE) {
    this.#max = maxMessageBytes;
  }

  /** Bytes buffered of an incomplete message. */
  get pending(): number {
    return this.#body === null ? this.#hdrHave : 4 + this.#bodyHave;
  }

  /**
   * Takes more bytes of the stream and returns the bodies it completed, in order. Throws
   * `ControlProtocolError` on a zero or oversized length.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.#body === null) {
        const n = Math.min(4 - this.#hdrHave, chunk.length - off);
        this.#hdr.set(chunk.subarray(off, off + n), this.#hdrHave);
        this.#hdrHave += n;
        off += n;
        if (this.#hdrHave < 4) break;
        const size = new DataView(this.#hdr.buffer).getUint32(0, true);
        this.#hdrHave = 0;
        if (size === 0) throw new ControlProtocolError('map response: zero-length frame');
        if (size > this.#max) {
          throw new ControlProtocolError(`map response frame size ${size} exceeds max ${this.#max}`);
        }
        // A whole message inside this chunk: no copy.
        if (chunk.length - off >= size) {
          out.push(chunk.subarray(off, off + size));
          off += size;
          continue;
        }
        this.#body = new Uint8Array(size);
        this.#bodyHave = 0;
      }
      const body = this.#body!;
      const n = Math.min(body.length - this.#bodyHave, chunk.length - off);
      body.set(chunk.subarray(off, off + n), this.#bodyHave);
      this.#bodyHave += n;
      off += n;
      if (this.#bodyHave === body.length) {
        out.push(body);
        this.#body = null;
      }
    }
    return out;
  }
}

/** Encodes one framed message (for servers and tests). */
export function encodeMapFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}
