/**
 * The optional early payload (tailscale/tailscale `control/ts2021/conn.go` `readHeader`): the first
 * 9 plaintext bytes from the server are either an HTTP/2 frame header (passed on untouched) or
 * `ff ff ff 'T' 'S'` + a big-endian u32 length, followed by that much JSON (`tailcfg.EarlyNoise`).
 * headscale always sends one (`hscontrol/noise.go earlyNoise`); Tailscale's test control never
 * does. Sans-IO: `push(plaintext)` returns the bytes meant for HTTP/2.
 */
import { ControlProtocolError } from '../errors.js';
import { decodeJSON } from '../tailcfg/decode.js';
import { type EarlyNoise, EarlyNoiseSchema } from '../tailcfg/map.js';
import { EARLY_PAYLOAD_HEADER_LEN, EARLY_PAYLOAD_MAGIC } from './messages.js';

/** Largest early payload accepted. Go allows 10 MiB; a real one is ~90 bytes. */
export const MAX_EARLY_PAYLOAD = 1 << 20;

type State = 'header' | 'payload' | 'pass';

export class EarlyPayloadStripper {
  #state: State = 'header';
  #buf: Uint8Array[] = [];
  #have = 0;
  #want = EARLY_PAYLOAD_HEADER_LEN;
  /** The early payload, once seen (`undefined` before, `null` if the server sent none). */
  payload: EarlyNoise | null | undefined = undefined;

  /** Whether the stripper has finished and passes everything through. */
  get passing(): boolean {
    return this.#state === 'pass';
  }

  /** Feeds plaintext; returns what follows the early payload (HTTP/2 bytes), possibly empty. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#state === 'pass') return [chunk];
    this.#buf.push(chunk);
    this.#have += chunk.length;
    const out: Uint8Array[] = [];
    while (this.#have >= this.#want) {
      const all = this.#take();
      const head = all.subarray(0, this.#want);
      const rest = all.subarray(this.#want);
      if (this.#state === 'header') {
        let magic = true;
        for (let i = 0; i < EARLY_PAYLOAD_MAGIC.length; i++)
          if (head[i] !== EARLY_PAYLOAD_MAGIC[i]) magic = false;
        if (!magic) {
          this.payload = null;
          this.#state = 'pass';
          out.push(all);
          break;
        }
        const len = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(5, false);
        if (len > MAX_EARLY_PAYLOAD) throw new ControlProtocolError(`invalid early payload length ${len}`);
        this.#state = 'payload';
        this.#want = len;
      } else {
        this.payload = decodeJSON(EarlyNoiseSchema, head, 'EarlyNoise');
        this.#state = 'pass';
        if (rest.length > 0) out.push(rest);
        break;
      }
      this.#buf = rest.length > 0 ? [rest] : [];
      this.#have = rest.length;
    }
    return out;
  }

  #take(): Uint8Array {
    if (this.#buf.length === 1) return this.#buf[0]!;
    const all = new Uint8Array(this.#have);
    let off = 0;
    for (const b of this.#buf) {
      all.set(b, off);
      off += b.length;
    }
    return all;
  }
}
