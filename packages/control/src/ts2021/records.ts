/**
 * ts2021 transport records (tailscale/tailscale `control/controlbase/conn.go`): sealing outgoing
 * plaintext into frames of at most 4096 bytes, and a streaming reader that reassembles incoming
 * frames from arbitrary chunks and opens them. Sans-IO: bytes in, bytes out.
 *
 * Nonces are 4 zero bytes ‖ a big-endian u64 counter (`nonceBE64`), one counter per direction
 * starting at 0. A frame that fails authentication, has the wrong type, or is larger than 4096
 * bytes kills the connection (`ControlProtocolError`): after that the two sides are out of sync.
 */
import { type CryptoProvider, getCryptoProvider, nonceBE64 } from '@tsnet/core';
import { ControlProtocolError } from '../errors.js';
import { HEADER_LEN, MAX_CIPHERTEXT_SIZE, MAX_PLAINTEXT_SIZE, MSG_TYPE_RECORD } from './messages.js';

/** Largest counter a JS number holds exactly; the connection is closed long before. */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** Seals plaintext into records. */
export class RecordSealer {
  #counter = 0;
  readonly #nonce = new Uint8Array(12);
  readonly #key: Uint8Array;
  readonly #crypto: CryptoProvider;

  constructor(key: Uint8Array, crypto: CryptoProvider = getCryptoProvider()) {
    this.#key = key;
    this.#crypto = crypto;
  }

  /** Number of records sealed so far (the next nonce). */
  get counter(): number {
    return this.#counter;
  }

  /**
   * Seals `plaintext` (split into ≤ 4077-byte pieces; an empty input gives one empty record) and
   * returns the frames as one buffer ready to write.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    const n = Math.max(1, Math.ceil(plaintext.length / MAX_PLAINTEXT_SIZE));
    const out = new Uint8Array(plaintext.length + n * (HEADER_LEN + 16));
    let off = 0;
    for (let i = 0; i < n; i++) {
      const piece = plaintext.subarray(i * MAX_PLAINTEXT_SIZE, (i + 1) * MAX_PLAINTEXT_SIZE);
      if (this.#counter >= MAX_COUNTER) throw new ControlProtocolError('cipher exhausted, no more nonces');
      const ctLen = piece.length + 16;
      out[off] = MSG_TYPE_RECORD;
      out[off + 1] = ctLen >>> 8;
      out[off + 2] = ctLen & 0xff;
      nonceBE64(this.#counter++, this.#nonce);
      this.#crypto.chacha20poly1305Seal(
        this.#key,
        this.#nonce,
        piece,
        undefined,
        out.subarray(off + HEADER_LEN, off + HEADER_LEN + ctLen),
      );
      off += HEADER_LEN + ctLen;
    }
    return out;
  }
}

/** Reassembles and opens records from a byte stream. */
export class RecordOpener {
  #counter = 0;
  readonly #nonce = new Uint8Array(12);
  readonly #key: Uint8Array;
  readonly #crypto: CryptoProvider;
  /** Buffered bytes of an incomplete frame (never more than one frame: ≤ 4096 bytes). */
  #pending: Uint8Array = new Uint8Array(0);
  #dead = false;

  constructor(key: Uint8Array, crypto: CryptoProvider = getCryptoProvider()) {
    this.#key = key;
    this.#crypto = crypto;
  }

  get counter(): number {
    return this.#counter;
  }

  /**
   * Feeds received bytes; returns the plaintexts of every frame completed (possibly none; empty
   * records give empty arrays and are skipped). Throws `ControlProtocolError` on a bad frame, after
   * which the opener refuses all input.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#dead) throw new ControlProtocolError('noise connection is desynchronized');
    let buf = chunk;
    if (this.#pending.length > 0) {
      buf = new Uint8Array(this.#pending.length + chunk.length);
      buf.set(this.#pending, 0);
      buf.set(chunk, this.#pending.length);
    }
    const out: Uint8Array[] = [];
    let off = 0;
    try {
      while (buf.length - off >= HEADER_LEN) {
        const type = buf[off]!;
        const len = (buf[off + 1]! << 8) | buf[off + 2]!;
        if (type !== MSG_TYPE_RECORD) {
          throw new ControlProtocolError(
            `received message with unexpected type ${type}, want ${MSG_TYPE_RECORD}`,
          );
        }
        if (len > MAX_CIPHERTEXT_SIZE) {
          throw new ControlProtocolError(
            `requested read of ${len + HEADER_LEN} bytes exceeds max allowed Noise frame size`,
          );
        }
        if (buf.length - off < HEADER_LEN + len) break;
        const ct = buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len);
        off += HEADER_LEN + len;
        if (len < 16) throw new ControlProtocolError('noise record shorter than its tag');
        if (this.#counter >= MAX_COUNTER) throw new ControlProtocolError('cipher exhausted, no more nonces');
        nonceBE64(this.#counter++, this.#nonce);
        const pt = new Uint8Array(len - 16);
        if (!this.#crypto.chacha20poly1305Open(this.#key, this.#nonce, ct, undefined, pt)) {
          throw new ControlProtocolError('noise record failed authentication');
        }
        if (pt.length > 0) out.push(pt);
      }
    } catch (e) {
      this.#dead = true;
      this.#pending = new Uint8Array(0);
      throw e;
    }
    this.#pending = off === buf.length ? new Uint8Array(0) : buf.slice(off);
    return out;
  }
}
