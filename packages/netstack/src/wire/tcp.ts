/**
 * TCP headers (RFC 9293 §3.1) and options: MSS (RFC 9293 §3.2), window scale and timestamps
 * (RFC 7323 §2, §3), SACK-permitted and SACK blocks (RFC 2018 §2, §3). Unknown options are skipped
 * by their length. `TcpPacket` is the checked view, `TcpRepr` the parsed value with `parse`/`emit`.
 *
 * Layout:
 *   0   source port(16) | destination port(16)
 *   4   sequence number(32) | 8 acknowledgment number(32)
 *   12  data offset(4) reserved(4) | flags(8: CWR ECE URG ACK PSH RST SYN FIN) | window(16)
 *   16  checksum(16) | urgent pointer(16) | 20 options, data
 */
import { finish, ones, pseudoHeader } from './checksum.js';
import { IP_PROTOCOL, type WireError } from './wire-error.js';

export const TCP_HEADER_LEN = 20;
export const TCP_FLAG = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;
const OPT = { EOL: 0, NOP: 1, MSS: 2, WSCALE: 3, SACK_PERMITTED: 4, SACK: 5, TIMESTAMPS: 8 } as const;
/** RFC 7323 §2.3: shifts above 14 are treated as 14. */
export const TCP_MAX_WINDOW_SHIFT = 14;
/** At most 4 SACK blocks fit in 40 option bytes (3 with timestamps), RFC 2018 §3. */
export const TCP_MAX_SACK_BLOCKS = 4;

export class TcpPacket {
  private constructor(readonly buffer: Uint8Array) {}
  static newChecked(buf: Uint8Array): TcpPacket | WireError {
    if (buf.length < TCP_HEADER_LEN) return 'truncated';
    const off = (buf[12]! >> 4) * 4;
    if (off < TCP_HEADER_LEN) return 'malformed';
    if (off > buf.length) return 'truncated';
    return new TcpPacket(buf);
  }
  get srcPort(): number {
    return (this.buffer[0]! << 8) | this.buffer[1]!;
  }
  get dstPort(): number {
    return (this.buffer[2]! << 8) | this.buffer[3]!;
  }
  get seq(): number {
    const b = this.buffer;
    return ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  }
  get ack(): number {
    const b = this.buffer;
    return ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
  }
  get headerLen(): number {
    return (this.buffer[12]! >> 4) * 4;
  }
  get flags(): number {
    return this.buffer[13]!;
  }
  get window(): number {
    return (this.buffer[14]! << 8) | this.buffer[15]!;
  }
  get urgent(): number {
    return (this.buffer[18]! << 8) | this.buffer[19]!;
  }
  get options(): Uint8Array {
    return this.buffer.subarray(TCP_HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen);
  }
  verifyChecksum(src: Uint8Array, dst: Uint8Array): boolean {
    const acc = pseudoHeader(src, dst, IP_PROTOCOL.TCP, this.buffer.length);
    return finish(ones(this.buffer, 0, this.buffer.length, acc)) === 0;
  }
}

/** A parsed TCP segment. Optional options are `undefined` when absent. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  /** The acknowledgment field; meaningful only with the ACK flag. */
  ack: number;
  /** Bit set of `TCP_FLAG`. */
  flags: number;
  /** The raw 16-bit window field (unscaled). */
  window: number;
  urgent: number;
  mss: number | undefined;
  windowShift: number | undefined;
  sackPermitted: boolean;
  /** SACK blocks as flat [left0, right0, left1, right1, ...] sequence numbers. */
  sack: number[];
  tsVal: number | undefined;
  tsEcr: number | undefined;
  payload: Uint8Array;
}

/** Parses the options area into `repr`; a length below 2 or past the end is malformed. */
function parseOptions(opts: Uint8Array, repr: TcpRepr): WireError | undefined {
  let i = 0;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === OPT.EOL) break;
    if (kind === OPT.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= opts.length) return 'malformed';
    const len = opts[i + 1]!;
    if (len < 2 || i + len > opts.length) return 'malformed';
    switch (kind) {
      case OPT.MSS:
        if (len !== 4) return 'malformed';
        repr.mss = (opts[i + 2]! << 8) | opts[i + 3]!;
        break;
      case OPT.WSCALE:
        if (len !== 3) return 'malformed';
        repr.windowShift = Math.min(opts[i + 2]!, TCP_MAX_WINDOW_SHIFT);
        break;
      case OPT.SACK_PERMITTED:
        if (len !== 2) return 'malformed';
        repr.sackPermitted = true;
        break;
      case OPT.SACK: {
        if ((len - 2) % 8 !== 0) return 'malformed';
        for (let j = i + 2; j < i + len; j += 4) {
          repr.sack.push(
            ((opts[j]! << 24) | (opts[j + 1]! << 16) | (opts[j + 2]! << 8) | opts[j + 3]!) >>> 0,
          );
        }
        break;
      }
      case OPT.TIMESTAMPS: {
        if (len !== 10) return 'malformed';
        const o = i + 2;
        repr.tsVal = ((opts[o]! << 24) | (opts[o + 1]! << 16) | (opts[o + 2]! << 8) | opts[o + 3]!) >>> 0;
        repr.tsEcr = ((opts[o + 4]! << 24) | (opts[o + 5]! << 16) | (opts[o + 6]! << 8) | opts[o + 7]!) >>> 0;
        break;
      }
      default:
        break; // Unknown options are skipped by length (RFC 9293 §3.2, MUST-6).
    }
    i += len;
  }
  return undefined;
}

function put32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

export const TcpRepr = {
  parse(pkt: TcpPacket, src: Uint8Array, dst: Uint8Array, verify = true): TcpRepr | WireError {
    if (pkt.srcPort === 0 || pkt.dstPort === 0) return 'malformed';
    if (verify && !pkt.verifyChecksum(src, dst)) return 'checksum';
    const flags = pkt.flags;
    // A segment with both SYN and FIN, or SYN and RST, is not something any stack should send.
    if ((flags & TCP_FLAG.SYN) !== 0 && (flags & (TCP_FLAG.FIN | TCP_FLAG.RST)) !== 0) return 'malformed';
    const repr: TcpRepr = {
      srcPort: pkt.srcPort,
      dstPort: pkt.dstPort,
      seq: pkt.seq,
      ack: pkt.ack,
      flags,
      window: pkt.window,
      urgent: pkt.urgent,
      mss: undefined,
      windowShift: undefined,
      sackPermitted: false,
      sack: [],
      tsVal: undefined,
      tsEcr: undefined,
      payload: pkt.payload,
    };
    const err = parseOptions(pkt.options, repr);
    if (err) return err;
    return repr;
  },

  /** Bytes the options of `repr` take, padded to a multiple of 4. */
  optionsLen(repr: TcpRepr): number {
    let n = 0;
    if (repr.mss !== undefined) n += 4;
    if (repr.windowShift !== undefined) n += 4; // NOP + 3
    if (repr.sackPermitted) n += repr.tsVal !== undefined ? 0 : 4; // rides in the TS padding otherwise
    if (repr.tsVal !== undefined) n += 12; // NOP NOP TS, or SACK-permitted + TS
    if (repr.sack.length > 0) n += 4 + (repr.sack.length / 2) * 8; // NOP NOP SACK
    return n;
  },

  headerLen(repr: TcpRepr): number {
    return TCP_HEADER_LEN + TcpRepr.optionsLen(repr);
  },

  bufferLen(repr: TcpRepr): number {
    return TcpRepr.headerLen(repr) + repr.payload.length;
  },

  /**
   * Writes the segment (header, options, payload, checksum) at `buf[0..)`. The payload is copied
   * unless `repr.payload` is already the view at `buf[headerLen..)` (then the copy is skipped).
   */
  emit(repr: TcpRepr, src: Uint8Array, dst: Uint8Array, buf: Uint8Array): void {
    const hl = TcpRepr.headerLen(repr);
    if (hl > 60) throw new RangeError(`TCP options of ${hl - 20} bytes exceed 40`);
    if (repr.sack.length % 2 !== 0) throw new RangeError('sack must hold pairs of sequence numbers');
    buf[0] = repr.srcPort >> 8;
    buf[1] = repr.srcPort & 0xff;
    buf[2] = repr.dstPort >> 8;
    buf[3] = repr.dstPort & 0xff;
    put32(buf, 4, repr.seq);
    put32(buf, 8, repr.ack);
    buf[12] = (hl / 4) << 4;
    buf[13] = repr.flags;
    buf[14] = repr.window >> 8;
    buf[15] = repr.window & 0xff;
    buf[16] = 0;
    buf[17] = 0;
    buf[18] = repr.urgent >> 8;
    buf[19] = repr.urgent & 0xff;
    let o = TCP_HEADER_LEN;
    if (repr.mss !== undefined) {
      buf[o++] = OPT.MSS;
      buf[o++] = 4;
      buf[o++] = repr.mss >> 8;
      buf[o++] = repr.mss & 0xff;
    }
    if (repr.windowShift !== undefined) {
      buf[o++] = OPT.NOP;
      buf[o++] = OPT.WSCALE;
      buf[o++] = 3;
      buf[o++] = repr.windowShift;
    }
    if (repr.tsVal !== undefined) {
      if (repr.sackPermitted) {
        buf[o++] = OPT.SACK_PERMITTED;
        buf[o++] = 2;
      } else {
        buf[o++] = OPT.NOP;
        buf[o++] = OPT.NOP;
      }
      buf[o++] = OPT.TIMESTAMPS;
      buf[o++] = 10;
      put32(buf, o, repr.tsVal);
      put32(buf, o + 4, repr.tsEcr ?? 0);
      o += 8;
    } else if (repr.sackPermitted) {
      buf[o++] = OPT.NOP;
      buf[o++] = OPT.NOP;
      buf[o++] = OPT.SACK_PERMITTED;
      buf[o++] = 2;
    }
    if (repr.sack.length > 0) {
      buf[o++] = OPT.NOP;
      buf[o++] = OPT.NOP;
      buf[o++] = OPT.SACK;
      buf[o++] = 2 + (repr.sack.length / 2) * 8;
      for (const s of repr.sack) {
        put32(buf, o, s);
        o += 4;
      }
    }
    const end = hl + repr.payload.length;
    if (repr.payload.buffer !== buf.buffer || repr.payload.byteOffset !== buf.byteOffset + hl) {
      buf.set(repr.payload, hl);
    }
    const c = finish(ones(buf, 0, end, pseudoHeader(src, dst, IP_PROTOCOL.TCP, end)));
    buf[16] = c >> 8;
    buf[17] = c & 0xff;
  },
};

/** A TcpRepr with every field at its empty value, to fill in. */
export function emptyTcpRepr(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    urgent: 0,
    mss: undefined,
    windowShift: undefined,
    sackPermitted: false,
    sack: [],
    tsVal: undefined,
    tsEcr: undefined,
    payload: new Uint8Array(0),
  };
}
